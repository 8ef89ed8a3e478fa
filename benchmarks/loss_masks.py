"""Which training-loss mask suits count data scored two ways? Validation only.

On sparse counts (bike drop-offs) the literature's metric scores only ``true > 0`` while a zero
count is a real observation; ``TrainConfig``'s default loss covers every observation
(``loss_mask = "observed"``), ST-VLM's is the mean of that and the masked loss (``"both"``,
chosen with ``validation_runs.py --sweep both-masks``). This runs ST-VLM (the accuracy
benchmark's model, with the linear head and the patience (from the first epoch) it had when
``loss_masks.json`` was made, ``sweep_candidates.LINEAR_HEAD`` and ``PATIENCE_FROM_START``, and
its budget, ``benchmarks/fewshot_accuracy.py``) with each loss mask (``observed``, ``both``,
``protocol``) and with the Huber loss, and records the **validation** MAE both ways, so the
choice is made on validation, never on test:

    STVLM_DATA=../shared/data python benchmarks/loss_masks.py [--seeds 0 1]

Writes ``results/fewshot_accuracy/loss_masks.json`` (one row per run, with the command).
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from bench_paths import ACCURACY_DIR, REPO  # noqa: E402  (this folder is on sys.path)
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from fewshot_setup import check_data_root, train_settings  # noqa: E402
from validation_runs import forecast_of, validation_row  # noqa: E402
from sweep_candidates import LINEAR_HEAD, PATIENCE_FROM_START  # noqa: E402

from harness.cli.entry import positive_int  # noqa: E402
from harness.results.provenance import provenance  # noqa: E402
from stvlm.configs import TrainConfig  # noqa: E402
from stvlm.io import atomic_write_json  # noqa: E402

PAIRS = (("nycbike-drop", "st-llm-10%"), ("nycbike-drop", "10%"), ("nycbike1", "10%"))
# Every variant names its mask: ST-VLM's default mask changed ("observed" -> "both", f2d0b04), and
# a variant that left it out would change with it.
# Each also pins ST-VLM's patience when loss_masks.json was made (from the first epoch).
VARIANTS = tuple({**v, **PATIENCE_FROM_START} for v in (
    {"loss_mask": "observed"}, {"loss_mask": "both"}, {"loss_mask": "protocol"},
    {"loss": "huber", "loss_mask": "observed"}, {"loss": "huber", "loss_mask": "both"}))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1])
    parser.add_argument("--epochs", type=positive_int, default=40)
    parser.add_argument("--data-root", default=None)
    parser.add_argument("--out", type=Path, default=ACCURACY_DIR / "loss_masks.json")
    args = parser.parse_args()
    check_data_root(parser, args.data_root)
    logging.basicConfig(level=logging.WARNING)
    started, rows = provenance(), []
    for dataset, setting in PAIRS:
        data, forecast = forecast_of(dataset, setting, args.data_root)
        for variant in VARIANTS:
            train = TrainConfig(**{**train_settings("st-vlm"), **variant})  # as validation_row trains
            for seed in args.seeds:
                row = validation_row(data, forecast, seed=seed, epochs=args.epochs,
                                     train_changes=variant, model_changes=LINEAR_HEAD)
                rows.append({"dataset": dataset, "setting": setting, "loss": train.loss,
                             "loss_mask": train.loss_mask, **row})
                logging.warning("%s", rows[-1])
    command = " ".join(["python benchmarks/loss_masks.py", *sys.argv[1:]])
    atomic_write_json(args.out, {"command": command, **started, "rows": rows})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
