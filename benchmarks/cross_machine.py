"""Do the accuracy table's runs of one model reproduce on this machine, and does its verdict?

fp32 training is deterministic on one machine, but another CPU (another vector width, another
BLAS code path) rounds differently, and over tens of epochs that can move the best epoch: the
same commit and seed then give another test MAE. A reviewer who re-runs a row gets such seeds.
This compares them with the committed ones, pair by pair:

    python benchmarks/fewshot_accuracy.py --out-dir <dir> --only st-vlm --seeds 0 1 2 3 4 --epochs <the row's cap> --datasets D --settings S
    python benchmarks/cross_machine.py --model st-vlm --rerun <dir> [<dir> ...]

each ``<dir>`` a copy of ``results/fewshot_accuracy`` that the first command re-ran rows in
(a baseline's rows the same way, ``--only <baseline>``: its re-run seeds are compared with the
committed ones and the verdicts are ST-VLM's committed runs against the re-run baseline). A
(dataset, setting) counts as re-run in a folder when a run of ``--model`` there is not the
committed record. For each: per seed the committed and the re-run test MAE (masked and every
observed entry), validation MAE, best epoch and device, the means, and the verdict both ways
(:func:`fewshot_verdict.not_beaten`: the baselines not beaten with the paired interval excluding
zero, computed in each file against the same committed baselines). Writes
``results/fewshot_accuracy/cross-machine-<model>.json``.
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import sys
from pathlib import Path
from typing import Any

from bench_paths import ACCURACY_TABLE, REPO  # noqa: E402  (this folder is on sys.path)
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from fewshot_provenance import run_device, unrecorded_machine  # noqa: E402
from fewshot_verdict import not_beaten  # noqa: E402

from harness.results.provenance import provenance  # noqa: E402
from stvlm.io import atomic_write_json  # noqa: E402

TABLE = ACCURACY_TABLE


def _seed_facts(run: dict[str, Any], result: dict[str, Any]) -> dict[str, Any]:
    """What a run of one seed of ``result`` shows: its test and validation MAE, best epoch,
    commit and device (:func:`fewshot_provenance.run_device`; records made before runs named
    their device say so, with the machine line the file had for them)."""
    return {"test_mae": run["test"]["mae"], "test_mae_all": run["test"]["mae_all"], "val_mae": run["val"]["mae"],
            "best_epoch": run.get("best_epoch"), "git_commit": run.get("git_commit"),
            "device": (run_device(result, run)
                       or f"not recorded (the file's machine line: {unrecorded_machine(result)})")}


def compare(committed: dict[str, Any], rerun: dict[str, Any], model: str) -> list[dict[str, Any]]:
    """One entry per (dataset, setting) whose runs of ``model`` in ``rerun`` are not the
    committed records, in the table's order.

    Raises:
        ValueError: a re-run seed that the committed table does not have (nothing to compare).
    """
    def runs(result: dict[str, Any]) -> dict[tuple[str, str, int], dict[str, Any]]:
        return {(r["dataset"], r["setting"], r["seed"]): r for r in result["runs"] if r["model"] == model}

    old, new = runs(committed), runs(rerun)
    changed = [key for key, run in new.items() if old.get(key) != run]
    missing = [key for key in changed if key not in old]
    if missing:
        raise ValueError(f"the committed table has no {model} run of {missing[0]} to compare with")
    pairs = list(dict.fromkeys(key[:2] for key in changed))
    out = []
    for dataset, setting in pairs:
        seeds = sorted(key[2] for key in changed if key[:2] == (dataset, setting))
        facts = [{"seed": s, "committed": _seed_facts(old[(dataset, setting, s)], committed),
                  "rerun": _seed_facts(new[(dataset, setting, s)], rerun)} for s in seeds]
        means = {side: {m: statistics.fmean(f[side][m] for f in facts) for m in ("test_mae", "test_mae_all", "val_mae")}
                 for side in ("committed", "rerun")}
        verdicts = {side: not_beaten(result["intervals"], dataset, setting)
                    for side, result in (("committed", committed), ("rerun", rerun))}
        out.append({
            "dataset": dataset, "setting": setting, "seeds": facts, "means": means,
            "max_abs_test_mae_diff": max(abs(f["rerun"]["test_mae"] - f["committed"]["test_mae"]) for f in facts),
            # None for a model without epochs (a closed-form or untrained baseline)
            "same_best_epoch": (sum(f["rerun"]["best_epoch"] == f["committed"]["best_epoch"] for f in facts)
                                if any(f[side]["best_epoch"] is not None for f in facts
                                       for side in ("committed", "rerun")) else None),
            "not_beaten": verdicts, "verdict_same": verdicts["committed"] == verdicts["rerun"],
            "command": rerun.get("command"),
        })
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="st-vlm", help="the model whose runs were re-run")
    parser.add_argument("--rerun", nargs="+", type=Path, required=True, metavar="DIR",
                        help="fewshot_accuracy.py --out-dir folders holding the re-run rows")
    parser.add_argument("--table", type=Path, default=TABLE, help="the committed result JSON")
    parser.add_argument("--out", type=Path, default=None,
                        help="default: results/fewshot_accuracy/cross-machine-<model>.json")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    files = [args.table] + [d / "fewshot_accuracy.json" for d in args.rerun]
    missing = [str(f) for f in files if not f.is_file()]
    if missing:
        parser.error(f"no such file: {', '.join(missing)}")
    committed = json.loads(args.table.read_text())
    pairs = []
    for folder, path in zip(args.rerun, files[1:], strict=True):
        try:
            found = compare(committed, json.loads(path.read_text()), args.model)
        except (KeyError, ValueError) as err:
            parser.error(f"{folder}: {err}")
        if not found:
            parser.error(f"{folder}: no run of {args.model} differs from the committed table: nothing was re-run")
        pairs += [{**p, "folder": str(folder)} for p in found]
    for p in pairs:
        epochs = ("no epochs" if p["same_best_epoch"] is None
                  else f"same best epoch {p['same_best_epoch']} of {len(p['seeds'])}")
        logging.info("%s %s: test MAE %.3f committed, %.3f re-run (max seed diff %.2g, %s); verdict %s",
                     p["dataset"], p["setting"], p["means"]["committed"]["test_mae"],
                     p["means"]["rerun"]["test_mae"], p["max_abs_test_mae_diff"], epochs,
                     "the same" if p["verdict_same"] else
                     f"{p['not_beaten']['committed']} -> {p['not_beaten']['rerun']}")
    out = args.out or TABLE.parent / f"cross-machine-{args.model}.json"
    atomic_write_json(out, {**provenance(), "model": args.model, "table": str(args.table), "pairs": pairs})
    logging.info("wrote %s", out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
