"""Why ST-VLM keeps its fitted start: what each epoch does on the training windows and on
validation, and whether any point between the start and a trained epoch is better.

On the pairs where the accuracy benchmark's ST-VLM runs kept their untrained start in every seed
under the all-entries loss (``validation_runs.KEPT_START``), this trains ST-VLM with the
benchmark's config and budget (``benchmarks/fewshot_setup.py``) and that loss (``loss_mask =
"observed"``, :data:`LOSS`: ST-VLM's loss when these runs were made; its default is now the mean
of both masks), the patience of then (from the first epoch,
``sweep_candidates.PATIENCE_FROM_START``) and the linear head it had then
(``sweep_candidates.LINEAR_HEAD``; its default is now an MLP head) for the first ``--epochs``
epochs and records, per epoch, the learning rate, the training loss, the MAE of the model (in
eval mode) on the **training** windows and on the **validation** windows, masked (``true > 0``)
and on every observed entry. Then it scores the straight line in weight space between the start
and the best trained epoch (WiSE-FT, Wortsman et al., CVPR 2022: ``(1 - a) * start + a *
trained`` for every trainable weight, ``a`` in 0, 0.1, ..., 1) on validation. Per pair it also
records the mean target of the training and validation windows (every finite entry, and entries
> 0): a training block whose level differs from validation's cannot teach a correction that
transfers. The test windows are never predicted:

    STVLM_DATA=../shared/data python benchmarks/kept_start.py --seeds 0 1

Writes ``results/fewshot_accuracy/kept-start.json`` (with the command and the code's commit).
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import Any

import numpy as np
import torch

from bench_paths import ACCURACY_DIR, REPO  # noqa: E402  (this folder is on sys.path)
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from fewshot_setup import check_data_root, train_settings  # noqa: E402
from validation_runs import forecast_of, stvlm_engine  # noqa: E402
from sweep_candidates import KEPT_START, LINEAR_HEAD, PATIENCE_FROM_START  # noqa: E402

from harness.cli.entry import positive_int  # noqa: E402
from harness.results.provenance import provenance  # noqa: E402
from stvlm.configs import DataConfig, TrainConfig  # noqa: E402
from stvlm.data.forecast import Forecast  # noqa: E402
from stvlm.engine import EngineState, EpochRecord, load_trainable_state, trainable_state  # noqa: E402
from stvlm.io import atomic_write_json  # noqa: E402

#: The interpolation weights ``a`` of the trained epoch (0: the start, 1: the trained epoch).
ALPHAS = tuple(round(0.1 * i, 1) for i in range(11))
#: The training loss these runs study: the all-entries loss under which ST-VLM kept its start on
#: the ``KEPT_START`` pairs (its loss until f2d0b04, when the mean of both masks replaced it),
#: with the patience of then (counted from the first epoch), no level augmentation and early
#: stopping on the masked MAE: ST-VLM's settings when ``kept-start.json`` was made (3ca231d),
#: pinned so that a re-run reproduces it (``train_settings`` has gained both since).
LOSS = {"loss_mask": "observed", **PATIENCE_FROM_START, "augment_scale": 1.0, "monitor": "mae"}


def levels(forecast: Forecast) -> dict[str, float]:
    """Mean target of the training and validation windows: every finite entry, and entries > 0."""
    out = {}
    for part in ("train", "val"):
        y = forecast.targets(part)  # [W, T_out, N, C_out]
        finite = y[np.isfinite(y)]
        out[f"{part}_mean"] = float(finite.mean())
        out[f"{part}_mean_positive"] = float(finite[finite > 0].mean())
    return out


def trajectory(forecast: Forecast, data: DataConfig, *, seed: int, epochs: int) -> dict[str, Any]:
    """Train ST-VLM for its first ``epochs`` epochs (the benchmark's patience may end the run
    sooner); the per-epoch record on the training and validation windows, and the validation
    MAE along the start-to-trained line."""
    # The benchmark's 40-epoch plan, so the warm-up and cosine schedule are the benchmark's too.
    train = TrainConfig(**{**train_settings("st-vlm"), **LOSS, "epochs": 40, "seed": seed, "num_threads": 1})
    engine = stvlm_engine(data, forecast, train, LINEAR_HEAD)  # ST-VLM's head when these ran
    module = engine.model
    start = trainable_state(module)

    def scored(part: str) -> tuple[float, float]:
        metrics = engine.evaluate(part)
        return metrics["mae"], metrics["mae_all"]

    (train_mae, train_all), (val_mae, val_all) = scored("train"), scored("val")
    rows = [{"epoch": 0, "lr": 0.0, "train_loss": None, "train_mae": train_mae, "train_mae_all": train_all,
             "val_mae": val_mae, "val_mae_all": val_all}]
    best: dict[str, Any] = {"val_mae": np.inf}

    def record(rec: EpochRecord, state: EngineState) -> bool:
        train_mae, train_all = scored("train")
        rows.append({"epoch": rec.epoch, "lr": rec.lr, "train_loss": rec.train_loss, "train_mae": train_mae,
                     "train_mae_all": train_all, "val_mae": rec.val["mae"], "val_mae_all": rec.val["mae_all"]})
        if rec.val["mae"] < best["val_mae"]:
            best.update(val_mae=rec.val["mae"], epoch=rec.epoch, state=dict(state.model_state))
        return rec.epoch >= epochs

    engine.fit([record])  # start_candidate as benchmarked: its patience may end the run first
    line = []
    for a in ALPHAS:
        load_trainable_state(module, {k: (1 - a) * start[k] + a * best["state"][k] for k in start})
        mae, mae_all = scored("val")
        line.append({"a": a, "val_mae": mae, "val_mae_all": mae_all})
    return {"seed": seed, "epochs": rows, "trained_epoch": best["epoch"], "interpolation": line}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1])
    parser.add_argument("--epochs", type=positive_int, default=10, help="the first epochs of the benchmark's "
                        "40-epoch plan each run trains, at most 40 (its runs stopped at epoch 10 on these pairs)")
    parser.add_argument("--data-root", default=None)
    parser.add_argument("--out", type=Path, default=ACCURACY_DIR / "kept-start.json")
    args = parser.parse_args()
    if args.epochs > 40:  # the runs follow the 40-epoch plan (its warm-up and cosine schedule)
        parser.error(f"--epochs {args.epochs} is not allowed; the runs follow the benchmark's 40-epoch plan: "
                     "give 1 to 40")
    check_data_root(parser, args.data_root)
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    torch.set_num_threads(1)
    started, pairs = provenance(), []
    for dataset, setting in KEPT_START:
        data, forecast = forecast_of(dataset, setting, args.data_root)
        runs = [trajectory(forecast, data, seed=seed, epochs=args.epochs) for seed in args.seeds]
        pairs.append({"dataset": dataset, "setting": setting, **levels(forecast), "runs": runs})
        for run in runs:
            first, last = run["epochs"][0], run["epochs"][-1]
            logging.warning("%s %s seed %d: train MAE %.4f -> %.4f (all %.4f -> %.4f), val %.4f -> %.4f "
                            "(all %.4f -> %.4f) over %d epochs", dataset, setting, run["seed"],
                            first["train_mae"], last["train_mae"], first["train_mae_all"], last["train_mae_all"],
                            first["val_mae"], last["val_mae"], first["val_mae_all"], last["val_mae_all"],
                            last["epoch"])
    command = " ".join(["python benchmarks/kept_start.py", *sys.argv[1:]])
    atomic_write_json(args.out, {**started, "command": command, "pairs": pairs})
    logging.warning("wrote %s", args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
