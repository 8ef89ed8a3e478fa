"""What a trial reports, called directly (no Ray): a real tiny ST-VLM run, its resume, a baseline, DDP shards."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
import torch

from harness.results.provenance import cpu_device_name
from harness.runtime.trial_metrics import evaluate_baseline_trial, prefixed, train_stvlm
from harness.runtime.sharding import ShardedForecast, eval_chunk, shard_indices
from harness.runtime.trial_runtime import load_state, save_state
from stvlm.data.pipeline import prepare
from stvlm.engine import EngineState
from stvlm.evaluation import evaluate_baseline
from stvlm.configs import ExperimentConfig


@pytest.fixture(scope="module")
def experiment(data_root: Path) -> ExperimentConfig:
    torch.set_num_threads(1)
    return ExperimentConfig.tiny("nycbike-drop").with_overrides([
        f"data.data_root={data_root}", "data.few_shot.ratio=0.1", "train.epochs=2",
        "train.max_batches_per_epoch=2", "train.batch_size=8", "train.patience=3",
    ])


def test_epoch_reports_then_final_report_and_resume(experiment: ExperimentConfig, tmp_path: Path) -> None:
    reports: list[tuple[dict, EngineState | None]] = []

    def report(metrics: dict, state: EngineState | None) -> None:
        reports.append((metrics, state))
        if metrics["epoch"] == 1:  # what the Tune adapter does every epoch: checkpoint now
            save_state(state, tmp_path)

    t0 = time.perf_counter()
    final = train_stvlm(experiment, report)
    wall = time.perf_counter() - t0
    assert [(m["epoch"], m["final"], s is not None) for m, s in reports] == [
        (1, 0, True), (2, 0, True), (2, 1, False)]
    assert [m["windows_seen"] for m, _ in reports] == [16, 32, 32]  # 2 batches of 8 per epoch
    assert "curve_json" not in reports[0][0]  # the curve travels as columns, one epoch per report
    first = reports[0][0]
    assert (first["train_windows"], first["num_workers"], first["device"], first["epochs_run"]) == (66, 1, cpu_device_name(), 1)
    assert first["resumed_from_epoch"] is None and first["trainable_parameters"] < first["total_parameters"]
    # val_* is the best epoch so far (lowest validation MAE), epoch_val_* each epoch's own
    own = [m["epoch_val_mae"] for m, _ in reports[:2]]
    assert [m["val_mae"] for m, _ in reports[:2]] == [min(own[: i + 1]) for i in range(2)]
    assert {k.removeprefix("epoch_") for k in reports[0][0] if k.startswith("epoch_val_")} == {
        k for k in reports[0][0] if k.startswith("val_")}
    assert all(m["epoch_seconds"] > 0 for m, _ in reports[:2]) and "epoch_val_mae" not in reports[-1][0]
    assert final is reports[-1][0] and final["epochs_run"] == 2 and final["best_epoch"] in (1, 2)
    # the time outside the epochs: setup (data, model build) and scoring (the test windows)
    assert final["setup_seconds"] > 0 and final["eval_seconds"] > 0
    assert final["setup_seconds"] + final["train_seconds"] + final["eval_seconds"] <= wall
    assert "setup_seconds" not in reports[0][0]  # the final report only
    # the protocol's metrics and the registered mean of two of them (mae_both)
    metrics = ("mae", "rmse", "mape", "wape", "mae_all", "rmse_all", "wape_all", "bias", "mae_both")
    assert {k for k in final if k.startswith("test_")} == {f"test_{k}" for k in (
        *metrics, *(f"{m}_h{h}" for h in (3, 6, 12) for m in metrics))}
    for report_, split in ((final, "test"), (final, "val"), (reports[0][0], "epoch_val")):
        for key in ("", "_h3", "_h12"):
            assert report_[f"{split}_mae_both{key}"] == (report_[f"{split}_mae{key}"] + report_[f"{split}_mae_all{key}"]) / 2

    # A crashed attempt resumes from the checkpoint of epoch 1 and reports the epochs after it.
    resume = load_state(tmp_path)
    assert resume.epoch == 1
    again: list[dict] = []
    resumed = train_stvlm(experiment, lambda m, s: again.append(m), resume=resume)
    assert [m["epoch"] for m in again] == [2, 2]
    assert again[0]["epoch_val_mae"] == pytest.approx(own[1])  # epoch 2 again, from the checkpoint
    assert resumed["resumed_from_epoch"] == 1 and resumed["epochs_run"] == 2 and resumed["windows_seen"] == 32


def test_baseline_trial_matches_a_direct_evaluation(experiment: ExperimentConfig) -> None:
    report = evaluate_baseline_trial(experiment, "last-value")
    direct = evaluate_baseline(prepare(experiment.data), "last-value", None, experiment.train)
    assert {k: report[k] for k in prefixed("test", direct.test)} == prefixed("test", direct.test)
    assert {k: report[k] for k in prefixed("val", direct.val)} == prefixed("val", direct.val)
    assert (report["final"], report["train_windows"], report["device"]) == (1, 66, cpu_device_name())
    assert not any(k.startswith("epoch_") for k in report)  # a baseline has no curve
    assert report["val_mae_both"] == (direct.val["mae"] + direct.val["mae_all"]) / 2


def test_shard_indices() -> None:
    assert shard_indices(5, 0, 2, seed=0, shuffle=False).tolist() == [0, 2, 4]
    assert shard_indices(5, 1, 2, seed=0, shuffle=False).tolist() == [1, 3, 0]  # padded by wrapping
    ranks = [shard_indices(10, r, 3, seed=7, shuffle=True) for r in range(3)]
    assert [len(r) for r in ranks] == [4, 4, 4]
    assert sorted(set(np.concatenate(ranks).tolist())) == list(range(10))
    order = torch.randperm(10, generator=torch.Generator().manual_seed(7)).tolist()
    assert ranks[0].tolist() == [order[0], order[3], order[6], order[9]]
    with pytest.raises(ValueError, match=r"rank 2 is outside \[0, 2\)"):
        shard_indices(4, 2, 2, seed=0, shuffle=False)


def test_sharded_forecast_splits_training_batches_only(experiment: ExperimentConfig) -> None:
    forecast = prepare(experiment.data)
    shards = [ShardedForecast(forecast, r, 2) for r in range(2)]
    starts = [torch.cat([b.start for b in s.batches("train", 8, shuffle=True, seed=3)]).tolist() for s in shards]
    assert [len(s) for s in starts] == [33, 33]
    assert sorted(starts[0] + starts[1]) == sorted(forecast.splits.train.tolist())
    val = [torch.cat([b.start for b in s.batches("val", 64)]).tolist() for s in shards]
    assert val[0] + val[1] == forecast.splits.val.tolist()  # contiguous chunks, in order
    assert [len(v) for v in val] == [109, 109]
    assert shards[1].protocol is forecast.protocol
    # each rank plans its schedule on its own steps: 33 windows an epoch, not the 66 of the part
    assert [s.num_windows("train") for s in shards] == [33, 33] and shards[1].full.num_windows("train") == 66
    assert [s.num_windows("val") for s in shards] == [109, 109]
    pred = forecast.targets("val")
    assert ShardedForecast(forecast, 0, 1).gather("val", pred) is pred  # one process: nothing to collect
    with pytest.raises(ValueError, match="training part is sharded per epoch"):
        shards[0].gather("train", pred)


def test_a_rank_plans_its_schedule_on_the_steps_it_takes(experiment: ExperimentConfig) -> None:
    """Two ranks of 66 windows each step through 33 an epoch: the warm-up and the cosine must be
    sized on those (5 batches of 8), not on the whole part's 9, or they stretch over 1.8x the run."""
    from stvlm.engine import Engine
    from stvlm.experiment import prepare_run

    cfg = experiment.with_overrides(["train.max_batches_per_epoch=null", "train.epochs=4"])
    forecast, model = prepare_run(cfg)
    one = Engine(model, ShardedForecast(forecast, 0, 1), cfg.train).planned_steps()
    two = Engine(model, ShardedForecast(forecast, 1, 2), cfg.train).planned_steps()
    assert (one, two) == (4 * 9, 4 * 5)
    steps = sum(1 for _ in ShardedForecast(forecast, 1, 2).batches("train", 8, shuffle=True, seed=0))
    assert two == 4 * steps


def test_eval_chunk() -> None:
    assert [eval_chunk(5, r, 2) for r in range(2)] == [slice(0, 3), slice(3, 5)]
    assert [eval_chunk(7, r, 3) for r in range(3)] == [slice(0, 3), slice(3, 5), slice(5, 7)]
    assert [eval_chunk(1, r, 2) for r in range(2)] == [slice(0, 1), slice(1, 1)]  # an empty chunk
    with pytest.raises(ValueError, match=r"rank 3 is outside \[0, 3\)"):
        eval_chunk(4, 3, 3)


def _gather_rank(rank: int, world: int, data_root: str, init: str, out: str) -> None:
    """One gloo rank: predict its chunk of val (the targets themselves) and gather them; report an
    epoch whose training loss is ``rank + 1`` through a data-parallel trial's reporter."""
    import json

    import torch.distributed as dist

    from harness.runtime.trial_metrics import EpochReporter, _loss_mean
    from stvlm.configs import DataConfig, FewShotConfig
    from stvlm.engine import EpochRecord

    dist.init_process_group("gloo", init_method=init, rank=rank, world_size=world)
    try:
        forecast = prepare(DataConfig(dataset="nycbike-drop", data_root=data_root, few_shot=FewShotConfig(ratio=0.1)))
        shard = ShardedForecast(forecast, rank, world)
        mine = torch.cat([b.y for b in shard.batches("val", 50)]).numpy()  # [W_rank, T_out, N, C_out]
        np.save(f"{out}-{rank}.npy", shard.gather("val", mine))
        sent: list[dict] = []
        reporter = EpochReporter(lambda metrics, state: sent.append(metrics), world_size=world,
                                 mean_over_ranks=_loss_mean(shard, torch.nn.Linear(1, 1)))
        record = EpochRecord(epoch=1, train_loss=rank + 1.0, val={"mae": 2.5}, seconds=1.0, windows_seen=8, is_best=True)
        reporter(record, EngineState(epoch=1, best_metric=2.5, best_epoch=1, history=[record]))
        with open(f"{out}-{rank}.json", "w") as f:
            json.dump(sent[0]["train_loss"], f)
    finally:
        dist.destroy_process_group()


def test_gather_collects_every_ranks_chunk_in_window_order(data_root: Path, tmp_path: Path) -> None:
    """Two real gloo processes: each holds the whole val part, in window order, after gather, and
    each reports the training loss of both ranks' shards (1 and 2: 1.5), not its own."""
    import json

    import torch.multiprocessing as mp

    init = f"file://{tmp_path / 'rendezvous'}"
    mp.spawn(_gather_rank, args=(2, str(data_root), init, str(tmp_path / "val")), nprocs=2, join=True)
    from stvlm.configs import DataConfig, FewShotConfig

    expected = prepare(DataConfig(dataset="nycbike-drop", data_root=str(data_root),
                                  few_shot=FewShotConfig(ratio=0.1))).targets("val")  # [W, T_out, N, C_out]
    for rank in range(2):
        assert np.array_equal(np.load(tmp_path / f"val-{rank}.npy"), expected)
        assert json.loads((tmp_path / f"val-{rank}.json").read_text()) == 1.5


def test_a_single_process_reports_its_own_loss(experiment: ExperimentConfig) -> None:
    """No averaging without ranks to average over: one process, or a one-rank shard."""
    from harness.runtime.trial_metrics import _loss_mean

    forecast = prepare(experiment.data)
    model = torch.nn.Linear(1, 1)
    assert _loss_mean(forecast, model) is None and _loss_mean(ShardedForecast(forecast, 0, 1), model) is None
    assert ShardedForecast(forecast, 0, 1).mean_over_ranks(0.25) == 0.25


def test_epoch_report_carries_the_starts_validation_while_the_start_is_best() -> None:
    """Under ``start_candidate`` the checkpoint to beat is the start (best_epoch 0): ``val_*`` are its
    metrics, ``epoch_val_*`` the epoch's own."""
    from harness.runtime.trial_metrics import EpochReporter
    from stvlm.engine import EpochRecord

    sent: list[dict] = []
    reporter = EpochReporter(lambda metrics, state: sent.append(metrics))
    record = EpochRecord(epoch=1, train_loss=0.5, val={"mae": 2.5}, seconds=1.0, windows_seen=8, is_best=False)
    state = EngineState(epoch=1, best_metric=2.0, best_epoch=0, history=[record], start_val={"mae": 2.0})
    reporter(record, state)
    assert (sent[0]["val_mae"], sent[0]["epoch_val_mae"], sent[0]["best_epoch"]) == (2.0, 2.5, 0)
    state = EngineState(epoch=1, best_metric=2.5, best_epoch=1, history=[record], start_val={"mae": 3.0})
    reporter(record, state)
    assert (sent[1]["val_mae"], sent[1]["best_epoch"]) == (2.5, 1)
