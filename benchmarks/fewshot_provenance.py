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


def elsewhere(result: dict[str, Any]) -> str:
    """``"; some merged seeds ran on <GPU> (named in Splits)"`` where a merge record names a GPU
    (``--merge`` of runs made on another machine), else ``""``: ``meta.machine`` is only the
    machine of the last process that wrote the table."""
    gpus = sorted({m["device"] for s in result["splits"].values() for m in s.get("merged", [])
                   if m.get("device") and not m["device"].startswith("cpu")})
    return f"; some merged seeds ran on {', '.join(gpus)} (named in Splits)" if gpus else ""


def code_note(split: dict[str, Any], models: list[str], runs: list[dict[str, Any]] = ()) -> str:
    """`` (code abc1234; every baseline reused from def5678)`` for one (dataset, setting) whose
    table lists ``models`` and whose runs are ``runs``, or ``""``; a run continued from a saved
    state (``--state-dir``) is named with the epochs trained before and the commit that trained
    them."""
    notes = [f"code {short_commit(split['git_commit'])}"] if split.get("git_commit") else []
    reused = split.get("reused", {})
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
    return f" ({'; '.join(notes)})" if notes else ""
