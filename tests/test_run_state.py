"""Resumable accuracy-benchmark runs (``benchmarks/run_state.py``, ``fewshot_accuracy --state-dir``):
a run killed after an epoch continues from its saved state to the uninterrupted run's result."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import fewshot_accuracy as fa  # noqa: E402
from run_state import RunState, clear_pair, pair_folder  # noqa: E402
from test_engine import forecast  # noqa: E402

from stvlm.configs import ExperimentConfig, TrainConfig  # noqa: E402


class Killed(Exception):
    """The process dying after an epoch's state was written."""


def config(model: str) -> ExperimentConfig:
    train = TrainConfig(epochs=4, seed=1, num_threads=1, **fa.train_settings(model))
    return ExperimentConfig.tiny("toy").replace(train=train)


@pytest.mark.parametrize("model", ["gru", "st-vlm"])
def test_a_run_killed_after_an_epoch_resumes_to_the_uninterrupted_result(model, tmp_path, monkeypatch) -> None:
    fc, cfg = forecast(), config(model)
    whole = fa.run_model(fc, model, cfg)
    assert "resumed_from" not in whole

    folder = pair_folder(tmp_path, "toy", "10%")
    assert folder == tmp_path / "toy-10pct"
    save = RunState.save

    def save_then_die(self, record, state):
        save(self, record, state)
        if record.epoch == 2:
            raise Killed

    monkeypatch.setattr(RunState, "save", save_then_die)
    with pytest.raises(Killed):
        fa.run_model(fc, model, cfg, RunState(folder, model, 1, cfg.config_hash(), "aaa"))
    trained = []  # the epochs the resumed run trains: only those after the saved one

    def save_and_note(self, record, state):
        trained.append(record.epoch)
        save(self, record, state)

    monkeypatch.setattr(RunState, "save", save_and_note)
    path = folder / f"{model}-seed1-{cfg.config_hash()}.pt"
    assert json.loads(path.with_suffix(".json").read_text()) == {"git_commit": "aaa", "epoch": 2}

    state = RunState(folder, model, 1, cfg.config_hash(), "bbb")
    resumed = fa.run_model(fc, model, cfg, state)
    assert trained == [3, 4]
    np.testing.assert_array_equal(resumed["pred"], whole["pred"])
    assert (resumed["val"], resumed["test"]) == (whole["val"], whole["test"])
    assert (resumed["best_epoch"], resumed["epochs_run"]) == (whole["best_epoch"], whole["epochs_run"]) == (
        (4, 4) if model == "gru" else (whole["best_epoch"], 4))
    assert resumed["resumed_from"]["epoch"] == 2 and resumed["resumed_from"]["git_commit"] == "aaa"
    assert resumed["resumed_from"]["seconds"] > 0 and resumed["seconds"] > resumed["resumed_from"]["seconds"]
    assert json.loads(path.with_suffix(".json").read_text()) == {"git_commit": "bbb", "epoch": 4}

    other_seed = RunState(folder, model, 2, cfg.config_hash(), "bbb")
    assert other_seed.resume() is None and other_seed.resumed_from is None  # only its own run's state
    clear_pair(tmp_path, "toy", "10%")
    assert not folder.exists()
    clear_pair(None, "toy", "10%")  # no --state-dir: nothing to remove


def test_the_page_names_a_resumed_run_and_the_commit_that_trained_its_first_epochs() -> None:
    from fewshot_provenance import code_note

    split = {"git_commit": "c0ffee0123"}
    runs = [{"model": "staeformer", "seed": 1, "resumed_from": {"epoch": 12, "git_commit": "abcdef9876", "seconds": 3.0}},
            {"model": "staeformer", "seed": 0}]
    assert code_note(split, ["st-vlm", "staeformer"], runs) == (
        "code c0ffee0; staeformer seed 1 resumed from its saved state after epoch 12 (trained to there at abcdef9)")
    assert code_note(split, ["st-vlm", "staeformer"], runs[1:]) == "code c0ffee0"


def test_describe_reads_where_each_saved_run_stands(tmp_path, caplog) -> None:
    from run_state import describe, main

    from stvlm.engine import EngineState, EpochRecord

    def record(epoch: int, mae: float, best: bool) -> EpochRecord:
        return EpochRecord(epoch=epoch, train_loss=1.0, val={"mae": mae}, seconds=30.0 * epoch,
                           windows_seen=10 * epoch, is_best=best)

    history = [record(1, 4.5, True), record(2, 4.25, True), record(3, 4.375, False)]
    state = EngineState(epoch=3, best_epoch=2, bad_epochs=1, history=history)
    RunState(pair_folder(tmp_path, "los-loop", "full"), "staeformer", 0, "abc123", "0123456789").save(history[-1], state)
    start = EngineState(epoch=1, best_epoch=0, start_val={"mae": 2.0}, history=[record(1, 2.5, False)])
    RunState(pair_folder(tmp_path, "nycbike-drop", "10%"), "gru", 4, "def456", None).save(start.history[0], start)

    assert describe(tmp_path) == [
        {"pair": "los-loop-full", "run": "staeformer-seed0-abc123", "epoch": 3, "best_epoch": 2,
         "best_val_mae": 4.25, "bad_epochs": 1, "seconds": 180.0, "git_commit": "0123456789"},
        {"pair": "nycbike-drop-10pct", "run": "gru-seed4-def456", "epoch": 1, "best_epoch": 0,
         "best_val_mae": 2.0, "bad_epochs": 0, "seconds": 30.0, "git_commit": None},
    ]
    empty = tmp_path / "empty"
    empty.mkdir()
    assert describe(empty) == []
    with caplog.at_level("WARNING", logger="fewshot_accuracy"):
        assert main([str(tmp_path), str(empty)]) == 0
    assert [r.getMessage() for r in caplog.records] == [
        f"{tmp_path} los-loop-full staeformer-seed0-abc123: epoch 3 done, best epoch 2 (val MAE 4.2500), "
        "1 epochs since, 3 min, commit 0123456",
        f"{tmp_path} nycbike-drop-10pct gru-seed4-def456: epoch 1 done, best start (val MAE 2.0000), "
        "0 epochs since, 0 min, commit unknown",
        f"{empty}: no run states (none started, or every pair's results are written)",
    ]
    with pytest.raises(SystemExit) as exit_:
        main([str(tmp_path / "missing")])
    assert exit_.value.code == 2


def test_a_baseline_runs_with_the_options_it_is_given() -> None:
    """``run_model`` trains the baseline it is given, built with its options
    (``BASELINE_TRAIN``'s per-pair options): a GRU 8 wide trains that many parameters, fewer than
    the default 64. A baseline of another model is refused."""
    from stvlm.baselines import build_baseline

    fc, cfg = forecast(), config("gru")
    narrow = fa.run_model(fc, "gru", cfg, baseline=build_baseline("gru", {"hidden": 8}))
    default = fa.run_model(fc, "gru", cfg)
    module = build_baseline("gru", {"hidden": 8}).build(fc)
    assert narrow["parameters"] == sum(p.numel() for p in module.parameters()) < default["parameters"]
    with pytest.raises(ValueError, match="baseline 'stid' given for model 'gru'"):
        fa.run_model(fc, "gru", cfg, baseline=build_baseline("stid"))
