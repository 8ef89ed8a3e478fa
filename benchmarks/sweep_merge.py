"""Merge the files of one validation sweep run as several processes (say, one per seed) into
the file a single run of every seed would have written (``validation_runs.py --merge``)."""

from __future__ import annotations

from typing import Any

#: ``validation_runs.py``'s default ``--epochs``.
DEFAULT_EPOCHS = 40
#: ``--epochs table``: each pair at the cap its model's rows have in the accuracy table.
TABLE = "table"


def epochs_of(name: str, run: dict[str, Any]) -> int | str:
    """The epoch cap a sweep file ran with: :data:`TABLE` where its command says ``--epochs
    table`` (each row records its pair's cap), else its rows' ``epochs`` (recorded since
    2026-12-05), else its command's ``--epochs``, else the default. Raises ``ValueError`` naming
    the file when its rows disagree."""
    words = (run.get("command") or "").split()
    given = words[words.index("--epochs") + 1] if "--epochs" in words[:-1] else None
    if given == TABLE:
        return TABLE
    recorded = {r["epochs"] for r in run["rows"] if "epochs" in r}
    if len(recorded) > 1:
        raise ValueError(f"{name}: rows ran with different epoch caps {sorted(recorded)}")
    if recorded:
        return int(recorded.pop())
    return int(given) if given is not None else DEFAULT_EPOCHS


def merge_runs(sweep: str, pairs: tuple[tuple[str, str], ...], labels: list[str],
               sources: list[tuple[str, dict[str, Any]]]) -> dict[str, Any]:
    """One file of ``sweep`` (its ``pairs`` and candidate ``labels``) from ``sources`` (name,
    content): the rows in the order a single run of every seed writes them (pair, candidate,
    seed), the first file's versions, commit and device, the command of that single run (with
    ``--epochs`` where the cap is not the default), and ``merged_from`` (per file, in the order
    given: its name, commit, device, command, seeds and any note).

    Raises ``ValueError`` naming the file for a row of another sweep (pair or candidate not in
    ``sweep``), a (pair, candidate, seed) that two rows share, another epoch cap than the first
    file's, or (``--epochs table``) a pair whose rows ran with another cap than an earlier row's."""
    order: dict[tuple[str, str, str, int], tuple[int, int, int]] = {}
    rows: list[dict[str, Any]] = []
    merged_from = []
    pair_caps: dict[tuple[str, str], int] = {}
    epochs = epochs_of(*sources[0]) if sources else DEFAULT_EPOCHS
    for name, run in sources:
        if epochs_of(name, run) != epochs:
            raise ValueError(f"{name}: ran {epochs_of(name, run)} epochs, the first file {epochs}")
        for r in run["rows"]:
            pair, label = (r["dataset"], r["setting"]), r["candidate"]
            if pair not in pairs or label not in labels:
                raise ValueError(f"{name}: row {pair[0]} {pair[1]} {label!r} is not in sweep {sweep!r}")
            if "epochs" in r and pair_caps.setdefault(pair, r["epochs"]) != r["epochs"]:
                raise ValueError(f"{name}: {pair[0]} {pair[1]} ran {r['epochs']} epochs, an earlier row "
                                 f"{pair_caps[pair]}")
            key = (*pair, label, r["seed"])
            if key in order:
                raise ValueError(
                    f"{name}: {pair[0]} {pair[1]} {label!r} seed {r['seed']} is already in an earlier file")
            order[key] = (pairs.index(pair), labels.index(label), r["seed"])
            rows.append(r)
        merged_from.append({"file": name, "git_commit": run.get("git_commit"), "device": run.get("device"),
                            "command": run.get("command"), "seeds": sorted({r["seed"] for r in run["rows"]}),
                            **({"note": run["note"]} if "note" in run else {})})
    if not rows:
        raise ValueError(f"no rows to merge for sweep {sweep!r}")
    rows.sort(key=lambda r: order[(r["dataset"], r["setting"], r["candidate"], r["seed"])])
    seeds = " ".join(str(s) for s in sorted({r["seed"] for r in rows}))
    cap = "" if epochs == DEFAULT_EPOCHS else f" --epochs {epochs}"
    first = sources[0][1]
    return {"versions": first.get("versions"), "git_commit": first.get("git_commit"), "device": first.get("device"),
            "command": f"python benchmarks/validation_runs.py --sweep {sweep}{cap} --seeds {seeds}",
            "merged_from": merged_from, "rows": rows}
