"""Tracking of the README's smoke study: TensorBoard event files of every trial (Ray Tune's TBX
logger) beside its checkpoints, with the validation metric the study optimises; every trial in
the default Optuna storage."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest


def test_every_trial_writes_tensorboard_events(smoke_study: Path) -> None:
    record = json.loads((smoke_study / "study.json").read_text())
    experiment = Path(record["experiment_path"])
    trials = pl.read_parquet(smoke_study / "trials.parquet")
    events = {p.parent.name.split("_", 1)[1]: p for p in experiment.glob("*_*/events.out.tfevents.*")}
    assert set(events) == set(trials["trial_id"]), (sorted(events), trials["trial_id"].to_list())
    stvlm = trials.filter(pl.col("kind") == "stvlm")["trial_id"].to_list()
    for trial_id in stvlm:
        data = events[trial_id].read_bytes()
        assert b"val_mae" in data and b"lr" in data  # the optimised scalar and the schedule


def test_every_trial_is_in_the_default_optuna_storage(smoke_study: Path) -> None:
    """Without --optuna-storage a study keeps its Optuna studies in <results>/optuna.db: one per
    arm and seed, each ST-VLM trial with the parameters and the value of the study's metric the
    results hold."""
    import optuna

    url = f"sqlite:///{smoke_study / 'optuna.db'}"
    names = optuna.study.get_all_study_names(url)
    assert sorted(names) == ["fewshot-nycbike-drop-smoke/few_shot_ratio=0.05|seed=0",
                             "fewshot-nycbike-drop-smoke/few_shot_ratio=0.1|seed=0"]
    stored = [t for n in names for t in optuna.load_study(study_name=n, storage=url).trials]
    rows = pl.read_parquet(smoke_study / "trials.parquet").filter(pl.col("kind") == "stvlm")
    assert len(stored) == rows.height == 2
    assert all(t.state == optuna.trial.TrialState.COMPLETE for t in stored)
    metric = json.loads((smoke_study / "study.json").read_text())["spec"]["metric"]  # what Optuna optimises
    assert metric == "val_mae_both"  # fewshot.toml, count data
    ours = sorted((v, json.loads(p)) for p, v in zip(rows["params_json"], rows[metric]))
    theirs = sorted((t.value, t.params) for t in stored)
    assert ours == theirs


@pytest.mark.filterwarnings("ignore:.*noload.*")  # MLflow's SQLAlchemy store, not ours
def test_every_trial_is_an_mlflow_run_with_its_parameters_and_epoch_metrics(smoke_study: Path) -> None:
    """``--mlflow``: one MLflow experiment named after the study, one finished run per trial, the
    trial's arm and seed as parameters, every epoch's validation metric as a metric history."""
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=f"sqlite:///{smoke_study / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("fewshot-nycbike-drop-smoke")
    assert experiment is not None
    runs = client.search_runs([experiment.experiment_id])
    trials = pl.read_parquet(smoke_study / "trials.parquet")
    assert len(runs) == trials.height == 6
    assert {r.info.status for r in runs} == {"FINISHED"}
    assert {r.info.run_name.split("_", 1)[1] for r in runs} == set(trials["trial_id"])
    commit = json.loads((smoke_study / "study.json").read_text())["provenance"]["git_commit"]
    assert {r.data.tags["git_commit"] for r in runs} == {commit}
    by_id = {r.info.run_name.split("_", 1)[1]: r for r in runs}
    for row in trials.filter(pl.col("kind") == "stvlm").iter_rows(named=True):
        run = by_id[row["trial_id"]]
        assert run.data.params["arm"] == row["arm"] and run.data.params["seed"] == str(row["seed"])
        history = client.get_metric_history(run.info.run_id, "val_mae")
        assert len(history) >= row["epochs_run"]  # one point per epoch (and the final report)
        # Each point is the kept checkpoint's so far, chosen by TrainConfig.monitor (ST-VLM's reads
        # the mean of both MAEs, so its masked val_mae need not fall): the last is the trial's.
        assert max(history, key=lambda m: m.step).value == pytest.approx(row["val_mae"])
