"""The accuracy table's epoch cap, checked where it bound: 40 epochs or 80, chosen on validation.

Every learned model of ``fewshot_accuracy.py`` trains for at most ``--epochs`` (40) epochs with a
cosine schedule over them and early stopping on validation. Where a model's best epoch was its
last at that cap, it may have stopped short, and a win over it may be the cap's. ``CAPPED`` lists
the (model, pair)s of the table at 50706af whose best epoch was the 40th in at least two of five
seeds; ``validation_runs.py --sweep cap-<model>`` trains them for 80 epochs (validation metrics
only) and :func:`cap_choice` applies the rule written down before those runs: 80 replaces 40 for
that (model, pair) when its mean validation target metric over the seeds both ran is lower than
the table's 40-epoch runs'. The table then re-runs the chosen ones with ``--epochs 80 --only``,
and each run records its cap (``epochs``).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from fewshot_merge import run_epochs, split_option  # noqa: E402
from fewshot_setup import target_value  # noqa: E402

from harness.results.provenance import provenance  # noqa: E402
from stvlm.io import atomic_write_json  # noqa: E402

RESULTS = REPO / "results" / "fewshot_accuracy"

#: model -> the (dataset, setting) pairs where its best epoch was the 40th in >= 2 of 5 seeds.
CAPPED: dict[str, tuple[tuple[str, str], ...]] = {
    "st-vlm": (("los-loop", "10%"),),
    "gru": (("los-loop", "10%"), ("nycbike-drop", "10%"), ("nycbike1", "10%"), ("nycbike1", "full")),
    "stid": (("nycbike1", "10%"),),
    "gwnet": (("nycbike1", "10%"),),
}
SHORT, LONG = 40, 80
RULE = (f"per (model, dataset, setting) of CAPPED: {LONG} epochs replace {SHORT} when the mean over the seeds "
        "of the validation target metric (the mean of masked and all-entries MAE) is lower than the table's "
        f"{SHORT}-epoch runs' (written down at 65903b1, before the runs)")


def cap_choice(sweep_rows: list[dict[str, Any]], table_runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per (model, dataset, setting) of ``sweep_rows`` (a ``cap-*`` sweep's rows, 80 epochs): the
    mean validation target metric over the seeds it shares with the table's runs at 40 epochs
    (``table_runs``: runs without their own ``epochs`` or with 40), and the cap chosen.

    Returns rows ``{model, dataset, setting, seeds, short, long, epochs}`` in sweep order.

    Raises:
        ValueError: a (model, pair) whose seeds the table does not hold at 40 epochs.
    """
    groups: dict[tuple[str, str, str], dict[int, float]] = {}
    for r in sweep_rows:
        groups.setdefault((r["model"], r["dataset"], r["setting"]), {})[r["seed"]] = \
            target_value(r["val_mae"], r["val_mae_all"])
    out = []
    for (model, dataset, setting), long in groups.items():
        short = {r["seed"]: target_value(r["val"]["mae"], r["val"]["mae_all"]) for r in table_runs
                 if (r["model"], r["dataset"], r["setting"]) == (model, dataset, setting)
                 and run_epochs(r, SHORT) == SHORT}
        seeds = sorted(set(short) & set(long))
        if not seeds:
            raise ValueError(f"{model} {dataset} {setting}: the table has no {SHORT}-epoch run of seeds {sorted(long)}")
        s = sum(short[k] for k in seeds) / len(seeds)
        lg = sum(long[k] for k in seeds) / len(seeds)
        out.append({"model": model, "dataset": dataset, "setting": setting, "seeds": seeds,
                    "short": s, "long": lg, "epochs": LONG if lg < s else SHORT})
    return out


def only_commands(choices: list[dict[str, Any]], table: dict[str, Any]) -> list[str]:
    """The ``fewshot_accuracy.py --only`` runs that put the chosen 80-epoch caps in ``table``:
    one per (dataset, setting), naming every model chosen there, all five seeds, and skipping
    what the table's run of the pair skipped."""
    by: dict[tuple[str, str], list[str]] = {}
    for c in choices:
        if c["epochs"] == LONG:
            by.setdefault((c["dataset"], c["setting"]), []).append(c["model"])
    commands = []
    for (dataset, setting), models in by.items():
        skipped = split_option(table, table["splits"][f"{dataset}|{setting}"], "skipped")
        commands.append(f"python benchmarks/fewshot_accuracy.py --only {' '.join(models)} --seeds 0 1 2 3 4 "
                        f"--epochs {LONG} --datasets {dataset} --settings {setting}"
                        + (f" --skip {' '.join(skipped)}" if skipped else ""))
    return commands


def main() -> int:
    """Read ``validation-cap-*.json`` and the table, write ``epoch-cap.json`` (the choice per
    (model, pair) and the ``--only`` commands it calls for) and log them."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dir", type=Path, default=RESULTS, help="the accuracy table's folder")
    parser.add_argument("--table", type=Path, default=None,
                        help="the table whose 40-epoch runs are the reference (default: the folder's; once "
                        "the chosen runs replaced them: the committed one before, e.g. from git show)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    sweeps = [args.dir / f"validation-cap-{model}.json" for model in CAPPED]
    table_path = args.table or args.dir / "fewshot_accuracy.json"
    missing = [str(f) for f in [table_path, *sweeps] if not f.is_file()]
    if missing:
        parser.error(f"no such file: {', '.join(missing)} (run validation_runs.py --sweep cap-<model> first)")
    table = json.loads(table_path.read_text())
    rows = [r for f in sweeps for r in json.loads(f.read_text())["rows"]]
    try:
        choices = cap_choice(rows, table["runs"])
    except ValueError as err:
        parser.error(str(err))
    for c in choices:
        logging.info("%s %s %s: validation target %.4f at %d epochs, %.4f at %d -> %d",
                     c["model"], c["dataset"], c["setting"], c["short"], SHORT, c["long"], LONG, c["epochs"])
    out = {**provenance(), "command": " ".join(["python benchmarks/epoch_cap.py", *sys.argv[1:]]), "rule": RULE,
           "table_commit": table.get("git_commit"), "choices": choices, "only_commands": only_commands(choices, table)}
    atomic_write_json(args.dir / "epoch-cap.json", out)
    logging.info("wrote %s", args.dir / "epoch-cap.json")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
