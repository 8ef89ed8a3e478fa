"""Where the accuracy table's runs came from, as its page says it: the commit (with its
``-dirty`` mark), the runs reused from earlier commits, the seeds merged in from other processes
or machines, and the runs resumed from a saved state."""

from __future__ import annotations

from typing import Any

from fewshot_setup import VARIANTS


def short_commit(commit: str | None) -> str:
    """A commit as the page names it: 7 hex digits, and ``-dirty`` where the tree that ran held
    uncommitted changes (provenance's marking), so that the page does not hide it."""
    if not commit:
        return "?"
    return commit[:7] + ("-dirty" if commit.endswith("-dirty") else "")


def run_device(result: dict[str, Any], run: dict[str, Any]) -> str | None:
    """The device ``run`` ran on: its own record, else that of the merge record of its split
    that brought its (model, seed) in (``--merge``), else ``None`` (a run from before runs
    recorded their device)."""
    if run.get("device"):
        return run["device"]
    split = result.get("splits", {}).get(f"{run['dataset']}|{run['setting']}", {})
    return next((m["device"] for m in split.get("merged", [])
                 if m.get("device") and run["seed"] in m["runs"].get(run["model"], [])), None)


def unrecorded_machine(result: dict[str, Any]) -> str:
    """What the table said of the runs that recorded no device: its machine line as it read
    before the first writer on another machine (``meta.unrecorded_machine``), else the machine
    line of its last writer."""
    meta = result.get("meta", {})
    return meta.get("unrecorded_machine") or meta.get("machine") or "?"


def machine_line(result: dict[str, Any]) -> str:
    """The page's machine line: each device the runs recorded (:func:`run_device`), with how
    many runs and which models ran there, then the runs that recorded none, with the machine
    line the table had for them (:func:`unrecorded_machine`); ``meta.machine`` is only the
    machine of the last process that wrote the table."""
    by: dict[str | None, dict[str, int]] = {}
    for run in result["runs"]:
        models = by.setdefault(run_device(result, run), {})
        models[run["model"]] = models.get(run["model"], 0) + 1

    def part(device: str | None) -> str:
        models, n = by[device], sum(by[device].values())
        runs = f"{n} run{'s' if n != 1 else ''} ({', '.join(models)})"
        return runs if device is None else f"{device}: {runs}"

    recorded = [part(d) for d in sorted(d for d in by if d is not None)]
    line = ("Machines, from each run's record (its own, or its merge's): "
            + ("; ".join(recorded) if recorded else "none recorded"))
    if None in by:
        line += (f"; {part(None)} are older than that record (the table's machine line for them: "
                 f"{unrecorded_machine(result)})")
    return line + f". Last written on: {result['meta']['machine']}."


def code_note(split: dict[str, Any], models: list[str], runs: list[dict[str, Any]] = ()) -> str:
    """``code abc1234; every baseline reused from def5678`` for one (dataset, setting) whose
    table lists ``models`` and whose runs are ``runs``, or ``""``; a run continued from a saved
    state (``--state-dir``) is named with the epochs trained before and the commit that trained
    them."""
    notes = [f"code {short_commit(split['git_commit'])}"] if split.get("git_commit") else []
    reused = dict(split.get("reused", {}))
    seeds_at: dict[str, dict[str, list[int]]] = {}  # model -> commit -> seeds, from the runs
    for run in runs:
        if run["model"] in reused and run.get("git_commit"):
            seeds_at.setdefault(run["model"], {}).setdefault(run["git_commit"], []).append(run["seed"])
    for model, commits in seeds_at.items():
        if len(commits) > 1:  # the record names the first run's commit only: name each seed's
            del reused[model]
            notes.append(f"{model} reused from " + ", ".join(
                f"{short_commit(c)} (seed{'s' if len(s) > 1 else ''} {', '.join(map(str, sorted(s)))})"
                for c, s in commits.items()))
    for commit in dict.fromkeys(reused.values()):
        names = [m for m, c in reused.items() if c == commit]
        if set(names) == set(models):
            names = ["every model"]
        elif set(names) == {m for m in models if m not in VARIANTS}:
            names = ["every baseline"]
        notes.append(f"{', '.join(names)} reused from {short_commit(commit)}")
    added: dict[tuple[str, str, str], list[int]] = {}  # (model, commit, device) -> seeds merged in (--merge)
    for entry in split.get("merged", []):
        where = f" on {entry['device']}" if entry.get("device") else ""  # older records lack it
        for model, seeds in entry["runs"].items():
            added.setdefault((model, short_commit(entry.get("git_commit")), where), []).extend(seeds)
    for (model, commit, where), seeds in added.items():
        notes.append(f"{model} seed{'s' if len(seeds) > 1 else ''} {', '.join(map(str, sorted(seeds)))} "
                     f"run in separate processes at {commit}{where} and merged")
    for run in runs:
        if resumed := run.get("resumed_from"):
            notes.append(f"{run['model']} seed {run['seed']} resumed from its saved state after epoch "
                         f"{resumed['epoch']} (trained to there at {short_commit(resumed.get('git_commit'))})")
    return "; ".join(notes)
