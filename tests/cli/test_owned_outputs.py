"""Outputs that would destroy another command's results are refused before any work
(harness/study/owned.py), and a failed or interrupted write leaves no mixed run folder."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import polars as pl
import pytest

from harness.cli.main import main
from harness.study.owned import (
    CHECKPOINT_MARKER, RUN_RECORDS, check_checkpoint_dir, check_not_owned, check_report_dir, folder_owner,
)
from stvlm.errors import ConfigError

REPO = Path(__file__).resolve().parents[2]
SMOKE = REPO / "results" / "fewshot-nycbike-drop-smoke"


def make_run(folder: Path) -> Path:
    """A `stvlm train` run's layout: records beside checkpoint/ (which holds experiment.json)."""
    (folder / "checkpoint").mkdir(parents=True)
    (folder / "checkpoint" / CHECKPOINT_MARKER).write_text("{}")
    (folder / "checkpoint" / "model.safetensors").write_bytes(b"weights")
    for name in RUN_RECORDS:
        (folder / name).write_text("{}")
    return folder


def test_the_markers_name_what_a_folder_holds(tmp_path: Path) -> None:
    run = make_run(tmp_path / "run")
    (tmp_path / "study").mkdir()
    (tmp_path / "study" / "trials.parquet").write_bytes(b"")
    assert [folder_owner(p) for p in (run, run / "checkpoint", tmp_path / "study", tmp_path, tmp_path / "nope")] == [
        "a `stvlm train` run", "an ST-VLM checkpoint", "a study's results", None, None]


def test_a_report_never_replaces_results_a_run_or_foreign_files(tmp_path: Path) -> None:
    results = tmp_path / "res" / "study"
    results.mkdir(parents=True)
    (results / "study.json").write_text("{}")
    run = make_run(tmp_path / "run")
    other = tmp_path / "other"
    other.mkdir()
    for name in "abcd":
        (other / name).write_text("")
    cases = {
        str(results): "is or holds the results folder",
        str(tmp_path / "res"): "is or holds the results folder",
        str(run): "holds a `stvlm train` run, and a report replaces its whole folder",
        str(run / "checkpoint"): "holds an ST-VLM checkpoint",
        str(other): r"holds other files \(a, b, c, \.\.\.\) and no report",
    }
    for path, message in cases.items():
        with pytest.raises(ConfigError, match=message):
            check_report_dir(path, "--out", [results])
    (tmp_path / "empty").mkdir()
    (tmp_path / "old-report").mkdir()
    (tmp_path / "old-report" / "report.md").write_text("")
    for ok in ("empty", "old-report", "new", "res/study/report"):
        assert check_report_dir(tmp_path / ok, "--out", [results]) == tmp_path / ok


def test_a_file_may_not_overwrite_a_checkpoint_or_a_record(tmp_path: Path) -> None:
    run = make_run(tmp_path / "run")
    (tmp_path / "study").mkdir()
    (tmp_path / "study" / "study.json").write_text("{}")
    for path, message in {
        run / "checkpoint" / "model.safetensors": "lies inside the checkpoint",
        run / "checkpoint" / "new.npz": "lies inside the checkpoint",
        run / "metrics.json": "is a file of a `stvlm train` run",
        tmp_path / "study" / "study.json": "is a file of a study's results",
    }.items():
        with pytest.raises(ConfigError, match=message):
            check_not_owned(path, "--out")
    (run / "pred.npz").write_bytes(b"")
    for ok in (run / "pred.npz", run / "new.json", tmp_path / "study" / "new.json", tmp_path / "x.json"):
        assert check_not_owned(ok, "--out") == ok


def test_a_checkpoint_folder_is_checked_before_the_model_loads(tmp_path: Path) -> None:
    run = make_run(tmp_path / "run")
    assert check_checkpoint_dir(run / "checkpoint") == run / "checkpoint"
    with pytest.raises(ConfigError, match=r"nope is not a checkpoint folder: experiment.json is missing$"):
        check_checkpoint_dir(tmp_path / "nope")
    with pytest.raises(ConfigError, match=r"run is not a checkpoint folder: experiment.json is missing; its "
                                          r"checkpoint is <run>/checkpoint$"):
        check_checkpoint_dir(run)


def test_report_onto_its_own_results_folder_is_refused_and_nothing_is_lost(tmp_path: Path, capsys) -> None:
    study = tmp_path / "study"
    shutil.copytree(SMOKE, study)
    before = sorted(p.name for p in study.iterdir())
    assert main(["report", str(study), "--out", str(study)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("stvlm: error: --out") and "is or holds the results folder" in err
    assert sorted(p.name for p in study.iterdir()) == before


def test_predict_and_evaluate_refuse_a_checkpoints_file(tmp_path: Path, capsys) -> None:
    run = make_run(tmp_path / "run")
    weights = run / "checkpoint" / "model.safetensors"
    argv = {
        ("predict", "--checkpoint", str(run / "checkpoint"), "--out", str(weights)): "lies inside the checkpoint",
        ("predict", "--checkpoint", str(run / "checkpoint"), "--out", str(tmp_path / "p.csv")): "is not a .npz file",
        ("predict", "--checkpoint", str(run), "--out", str(tmp_path / "p.npz")): "experiment.json is missing",
        ("evaluate", "--checkpoint", str(run / "checkpoint"), "--json", str(run / "metrics.json")):
            "is a file of a `stvlm train` run",
    }
    for args, message in argv.items():
        assert main(list(args)) == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and message in err, err
    assert weights.read_bytes() == b"weights" and (run / "metrics.json").read_text() == "{}"


def test_a_write_error_is_one_line_and_exit_1(monkeypatch, capsys) -> None:
    import harness.cli.commands.report as report

    def fail(args):
        raise PermissionError(13, "Permission denied", "t5/metrics.json")

    monkeypatch.setattr(report, "run_report", fail)
    assert main(["report", "somewhere"]) == 1
    assert capsys.readouterr().err == "stvlm: error: [Errno 13] Permission denied: 't5/metrics.json'\n"


def test_a_run_written_again_drops_its_old_scores_before_the_new_checkpoint(tmp_path: Path) -> None:
    from stvlm.configs import ExperimentConfig
    from stvlm.experiment import save_run

    class Unsaveable:
        def save_pretrained(self, path, extra_json):
            raise OSError(28, "No space left on device")

    run = make_run(tmp_path / "run")
    cfg = ExperimentConfig.tiny("los-loop")
    with pytest.raises(OSError, match="No space left"):
        save_run(run, cfg, Unsaveable(), outcome=None, records={"summary.json": {}})
    # no old scores beside whatever checkpoint the folder now holds; the new config is in
    assert sorted(p.name for p in run.iterdir()) == ["checkpoint", "config.json"]
    assert json.loads((run / "config.json").read_text()) == json.loads(json.dumps(cfg.to_dict()))


def test_a_report_with_a_nan_ranking_metric_is_refused(tmp_path: Path) -> None:
    from harness.report.load import ResultsError, load_study

    study = tmp_path / "study"
    shutil.copytree(SMOKE, study)
    trials = pl.read_parquet(study / "trials.parquet")
    first = trials.filter(pl.col("status") == "completed")["trial_id"][0]
    trials.with_columns(pl.when(pl.col("trial_id") == first).then(float("nan")).otherwise(pl.col("test_mae"))
                        .alias("test_mae")).write_parquet(study / "trials.parquet")
    with pytest.raises(ResultsError, match=f"completed trial {first} has test_mae = nan; a completed trial's"):
        load_study(study)


def test_evaluate_refuses_data_flags_and_another_dataset_before_the_checkpoint_loads(tmp_path: Path, capsys) -> None:
    """--verify with --checkpoint was accepted and ignored; a --dataset other than the checkpoint's
    was refused only after the model and its data had loaded."""
    run = make_run(tmp_path / "run")
    (run / "checkpoint" / CHECKPOINT_MARKER).write_text(json.dumps({"data": {"dataset": "los-loop"}}))
    ckpt = str(run / "checkpoint")
    for args, message in {
        ("--verify", "none"): "stvlm: error: --verify does not apply with --checkpoint: a checkpoint is scored on",
        ("--dataset", "sz-taxi"): "stvlm: error: --dataset 'sz-taxi' does not match the checkpoint's dataset "
                                  "'los-loop'; ST-VLM checkpoints hold per-node weights of their dataset",
    }.items():
        assert main(["evaluate", "--checkpoint", ckpt, *args]) == 2
        err = capsys.readouterr().err
        assert len(err.splitlines()) == 1 and err.startswith(message), err


def test_ctrl_c_during_training_is_one_line_exit_130_and_writes_nothing(tmp_path: Path, data_root: Path) -> None:
    """A real SIGINT once the first epoch has run: the run folder gets nothing, half-written or
    not, and the command ends with one line and the shell's interrupt status."""
    import signal
    import subprocess
    import sys

    from tests.load import patient, wait_until

    out, log = tmp_path / "run", tmp_path / "stderr.txt"
    argv = [sys.executable, "-m", "harness.cli.main", "-v", "train", "--dataset", "los-loop", "--few-shot", "0.1",
            "--data-root", str(data_root), "--set", "train.epochs=1000", "--set", "train.max_batches_per_epoch=1",
            "--set", "train.patience=1000", "--out", str(out)]
    with log.open("w") as err:
        proc = subprocess.Popen(argv, cwd=REPO, stdout=subprocess.DEVNULL, stderr=err,
                                env={**os.environ, "OMP_NUM_THREADS": "1", "STVLM_PROGRESS": "0"})
    try:
        wait_until(lambda: "epoch 1:" in log.read_text(), what="the first epoch", seconds=120,
                   alive=lambda: proc.poll() is None)
        proc.send_signal(signal.SIGINT)
        code = proc.wait(timeout=patient(60))
    finally:
        if proc.poll() is None:
            proc.kill()
    lines = log.read_text().strip().splitlines()
    assert code == 130 and lines[-1] == "stvlm: interrupted" and "Traceback" not in log.read_text()
    assert not out.exists() or list(out.iterdir()) == []
