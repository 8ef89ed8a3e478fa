"""Result tables: schema, rows from trial configs and reports, atomic upserts that survive restarts."""

from __future__ import annotations

import json
import os
from pathlib import Path

import polars as pl
import pytest

from harness.results.store import (
    RUNNING_CURVES, ResultsStore, atomic_write_parquet, curve_row, curves_schema, finished_entries, metric_columns,
    trial_row, trials_schema,
)
from stvlm.configs import ExperimentConfig

METRICS, HORIZONS = ("mae", "rmse"), (3, 12)


def stvlm_config() -> dict:
    cfg = ExperimentConfig.tiny("nycbike-drop").with_overrides(["data.few_shot.ratio=0.1", "train.seed=2"])
    return {"kind": "stvlm", "arm": "few_shot_ratio=0.1", "seed": 2, "group": "g", "model": "stvlm",
            "params": {"train.lr": 0.01, "model.head.dropout": None}, "experiment": cfg.to_dict()}


def baseline_config() -> dict:
    cfg = ExperimentConfig.tiny("nycbike-drop")
    return {"kind": "baseline", "arm": "baseline", "seed": 0, "group": "b", "model": "ridge",
            "params": {"train.lr": None}, "experiment": cfg.to_dict(), "options": {"alpha": 2.0}}


REPORT = {"val_mae": 2.0, "val_mae_h3": 1.5, "test_mae": 3, "epochs_run": 4.0, "best_epoch": 3,
          "windows_seen": 64, "device": "cpu", "final": 1, "num_workers": 1}


def test_schema_columns() -> None:
    assert metric_columns("val", METRICS, HORIZONS) == [
        "val_mae", "val_mae_h3", "val_mae_h12", "val_rmse", "val_rmse_h3", "val_rmse_h12"]
    schema = trials_schema(METRICS, HORIZONS)
    cols = list(schema)
    assert cols[:6] == ["study", "trial_id", "arm", "kind", "model", "status"]
    assert cols[cols.index("config_hash") + 1: cols.index("config_hash") + 13] == (
        metric_columns("val", METRICS, HORIZONS) + metric_columns("test", METRICS, HORIZONS))
    assert cols[-2:] == ["started_at", "finished_at"]
    assert (schema["lora_rank"], schema["fusion_depth"], schema["few_shot_ratio"]) == (pl.Int64, pl.Utf8, pl.Float64)
    assert list(curves_schema(METRICS, HORIZONS)) == [
        "study", "trial_id", "arm", "seed", "epoch", "train_loss", *metric_columns("val", METRICS, HORIZONS),
        "seconds", "windows_seen"]


def test_schema_holds_the_registered_means_of_the_protocols_metrics() -> None:
    """With the masked and the all-entries MAE a trial also reports their mean (mae_both):
    the files keep it in val, test and curve columns, after the protocol's own."""
    schema = trials_schema(("mae", "mae_all"), (3,))
    scores = [c for c in schema if c.startswith(("val_", "test_"))]
    assert scores == ["val_mae", "val_mae_h3", "val_mae_all", "val_mae_all_h3", "val_mae_both", "val_mae_both_h3",
                      "test_mae", "test_mae_h3", "test_mae_all", "test_mae_all_h3", "test_mae_both", "test_mae_both_h3"]
    assert [c for c in curves_schema(("mae", "mae_all"), (3,)) if c.startswith("val_")] == scores[:6]


def test_results_schema_and_report_keys_derive_from_the_axis_registry() -> None:
    """One column per model axis, typed by the axis, filled by the axis's reader; the report's
    required columns and configuration keys are the same lists, not copies."""
    from harness.study.axes import AXES, model_axes
    from harness.report.aggregate import CONFIG_KEYS
    from harness.report.load import TRIAL_COLUMNS
    from harness.results.store import AXIS_COLUMNS, CONFIG_COLUMNS, REQUIRED_COLUMNS

    kinds = {"str": pl.Utf8, "int": pl.Int64, "float": pl.Float64}
    model = [a.name for a in model_axes()]
    assert model == [n for n in AXES.names() if n != "few_shot_ratio"]
    assert AXIS_COLUMNS == {a.name: kinds[a.column] for a in model_axes()}
    schema = trials_schema(METRICS, HORIZONS)
    assert all(schema[n] == kinds[AXES.get(n).column] for n in AXES.names())  # the data axis too
    row = trial_row(study="s", trial_id="t1", config=stvlm_config(), result=REPORT, status="completed")
    cfg = ExperimentConfig.from_dict(stvlm_config()["experiment"])
    assert {n: row[n] for n in model} == {a.name: a.read(cfg) for a in model_axes()}
    assert TRIAL_COLUMNS is REQUIRED_COLUMNS and set(model) <= set(TRIAL_COLUMNS)
    assert CONFIG_KEYS == (*CONFIG_COLUMNS, "params") and CONFIG_COLUMNS[-len(model):] == tuple(model)


def test_stvlm_and_baseline_rows() -> None:
    row = trial_row(study="s", trial_id="t1", config=stvlm_config(), result=REPORT, status="completed",
                    meta={"num_failures": 0})
    cfg = ExperimentConfig.from_dict(stvlm_config()["experiment"])
    assert {k: row[k] for k in ("arm", "kind", "model", "seed", "dataset", "protocol", "few_shot_ratio",
                                "few_shot_method", "few_shot_label", "fusion_depth", "image_encoding",
                                "lora_rank", "finetune", "backbone", "modality", "params_json")} == {
        "arm": "few_shot_ratio=0.1", "kind": "stvlm", "model": "stvlm", "seed": 2, "dataset": "nycbike-drop",
        "protocol": "standard", "few_shot_ratio": 0.1, "few_shot_method": "first", "few_shot_label": "first-10%",
        "fusion_depth": "1", "image_encoding": cfg.model.image.encoding, "lora_rank": 4, "finetune": "lora",
        "backbone": "vilt", "modality": "all", "params_json": '{"train.lr": 0.01}'}
    assert row["config_hash"] == cfg.config_hash() and json.loads(row["config_json"]) == cfg.to_dict()
    base = trial_row(study="s", trial_id="t2", config=baseline_config(), result=REPORT, status="completed")
    assert (base["model"], base.get("fusion_depth"), base.get("lora_rank"), base["params_json"]) == ("ridge", None, None, "{}")
    assert json.loads(base["config_json"])["baseline"] == {"name": "ridge", "options": {"alpha": 2.0}}
    frozen = stvlm_config()
    frozen["experiment"]["model"]["finetune"]["strategy"] = "frozen"
    assert trial_row(study="s", trial_id="t3", config=frozen, result={}, status="failed")["lora_rank"] is None
    with pytest.raises(ValueError, match="status 'done' is not one of"):
        trial_row(study="s", trial_id="t", config=stvlm_config(), result={}, status="done")


def epoch_report(epoch: int, **val: float) -> dict:
    """A per-epoch report: best-so-far ``val_*`` and the epoch's own ``epoch_val_*`` columns."""
    return {"epoch": epoch, "train_loss": 1.0 / epoch, "val_mae": 0.1, **{f"epoch_val_{k}": v for k, v in val.items()},
            "epoch_seconds": 0.5, "windows_seen": 8 * epoch, "final": 0}


def test_curve_row_reads_the_epochs_own_columns() -> None:
    row = curve_row(study="s", trial_id="t", config=stvlm_config(), result=epoch_report(2, mae=2.0, mae_h3=1.5))
    assert row == {"study": "s", "trial_id": "t", "arm": "few_shot_ratio=0.1", "seed": 2, "epoch": 2,
                   "train_loss": 0.5, "val_mae": 2.0, "val_mae_h3": 1.5, "seconds": 0.5, "windows_seen": 16}


def test_running_curves_are_kept_until_the_trial_is_written(tmp_path: Path) -> None:
    store = ResultsStore(tmp_path, METRICS, HORIZONS)
    rows = [curve_row(study="s", trial_id="t1", config=stvlm_config(), result=epoch_report(e, mae=float(e)))
            for e in (2, 1)]
    store.save_running_curve("t1", rows)
    again = ResultsStore(tmp_path, METRICS, HORIZONS)  # a restarted driver finds the epochs
    assert [(r["epoch"], r["val_mae"]) for r in again.running_curve("t1")] == [(2, 2.0), (1, 1.0)]
    assert again.running_curve("t2") == []
    again.upsert(trial_row(study="s", trial_id="t1", config=stvlm_config(), result=REPORT, status="completed"),
                 again.running_curve("t1"))
    assert pl.read_parquet(tmp_path / "curves.parquet")["epoch"].to_list() == [1, 2]  # sorted by epoch
    assert not (tmp_path / RUNNING_CURVES).exists()  # the last running curve folded in: folder gone


def test_store_upserts_and_reloads(tmp_path: Path) -> None:
    store = ResultsStore(tmp_path, METRICS, HORIZONS)
    row = trial_row(study="s", trial_id="t1", config=stvlm_config(), result=REPORT, status="pruned")
    curve = [curve_row(study="s", trial_id="t1", config=stvlm_config(), result=epoch_report(1, mae=1.0, mae_h3=0.5))]
    store.upsert(row, curve)
    store.upsert(trial_row(study="s", trial_id="t2", config=baseline_config(), result=REPORT, status="completed"))
    store.upsert({**row, "status": "completed"})  # the same trial again replaces its row
    trials = pl.read_parquet(tmp_path / "trials.parquet")
    assert trials.schema == pl.Schema(trials_schema(METRICS, HORIZONS))
    assert trials.select("trial_id", "status", "test_mae", "epochs_run", "val_rmse").rows() == [
        ("t1", "completed", 3.0, 4, None), ("t2", "completed", 3.0, 4, None)]
    curves = pl.read_parquet(tmp_path / "curves.parquet")
    assert curves.select("trial_id", "epoch", "val_mae", "val_mae_h3", "val_mae_h12").rows() == [("t1", 1, 1.0, 0.5, None)]
    reloaded = ResultsStore(tmp_path, METRICS, HORIZONS)  # a resumed study keeps earlier rows
    assert [r["trial_id"] for r in reloaded.rows()] == ["t1", "t2"] and len(reloaded) == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["curves.parquet", "trials.parquet"]


def test_a_planned_trial_run_again_under_a_new_id_replaces_its_row(tmp_path: Path) -> None:
    """A driver killed after trial t1 ended but before Tune saved its state hands plan entry 4 out
    again on resume, as t9: the study keeps one row for the entry (it held two, and counted both
    towards the planned total)."""
    store = ResultsStore(tmp_path, METRICS, HORIZONS)
    first = {**stvlm_config(), "plan_index": 4}

    def curve(trial_id: str, mae: float) -> list:
        return [curve_row(study="s", trial_id=trial_id, config=first, result=epoch_report(1, mae=mae))]

    store.upsert(trial_row(study="s", trial_id="t1", config=first, result=REPORT, status="completed"), curve("t1", 1.0))
    store.upsert(trial_row(study="s", trial_id="t2", config={**first, "plan_index": 5}, result=REPORT, status="failed"))
    store.upsert(trial_row(study="s", trial_id="t9", config=first, result={**REPORT, "test_mae": 2.5},
                           status="completed"), curve("t9", 2.0))
    trials = pl.read_parquet(tmp_path / "trials.parquet")
    assert trials.select("trial_id", "plan_index", "test_mae").rows() == [("t2", 5, 3.0), ("t9", 4, 2.5)]
    assert pl.read_parquet(tmp_path / "curves.parquet").select("trial_id", "val_mae").rows() == [("t9", 2.0)]
    assert len(ResultsStore(tmp_path, METRICS, HORIZONS)) == 2
    assert finished_entries(tmp_path) == {4}  # the failed entry 5 is tried again


def test_rows_without_a_plan_index_are_never_merged(tmp_path: Path) -> None:
    """Files written before plan_index existed: rows stay keyed by trial id alone."""
    store = ResultsStore(tmp_path, METRICS, HORIZONS)
    for trial_id in ("t1", "t2"):
        store.upsert(trial_row(study="s", trial_id=trial_id, config=stvlm_config(), result=REPORT, status="completed"))
    assert len(store) == 2 and finished_entries(tmp_path) == frozenset()
    old = pl.read_parquet(tmp_path / "trials.parquet").drop("plan_index")
    atomic_write_parquet(old, tmp_path / "trials.parquet")
    assert finished_entries(tmp_path) == frozenset() and finished_entries(tmp_path / "nowhere") == frozenset()


def test_a_curve_resumed_from_a_checkpoint_continues_the_stored_one(tmp_path: Path) -> None:
    """A failed trial wrote epochs 1-3; re-run on relaunch from its epoch-2 checkpoint it reports
    epochs 3-4 only. The stored curve keeps 1-2 and takes 3-4 from the re-run (it was replaced by
    3-4 alone, losing the early epochs)."""
    store = ResultsStore(tmp_path, METRICS, HORIZONS)
    row = trial_row(study="s", trial_id="t1", config=stvlm_config(), result=REPORT, status="failed")

    def curve(epochs: range, mae: float) -> list:
        return [curve_row(study="s", trial_id="t1", config=stvlm_config(), result=epoch_report(e, mae=mae))
                for e in epochs]

    store.upsert(row, curve(range(1, 4), 1.0))
    store.upsert({**row, "status": "completed"}, curve(range(3, 5), 2.0))
    curves = pl.read_parquet(tmp_path / "curves.parquet")
    assert curves.select("epoch", "val_mae").rows() == [(1, 1.0), (2, 1.0), (3, 2.0), (4, 2.0)]
    store.upsert(row, curve(range(1, 3), 3.0))  # a re-run from scratch replaces it whole
    assert pl.read_parquet(tmp_path / "curves.parquet").select("epoch", "val_mae").rows() == [(1, 3.0), (2, 3.0)]


def test_atomic_write_keeps_the_old_file_when_writing_fails(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "trials.parquet"
    atomic_write_parquet(pl.DataFrame({"a": [1]}), path)
    umask = os.umask(0)
    os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask  # not mkstemp's private 0600

    def broken(self: pl.DataFrame, file: str, **kwargs: object) -> None:
        Path(file).write_bytes(b"PAR1 half a file")
        raise OSError("disk full")

    monkeypatch.setattr(pl.DataFrame, "write_parquet", broken)
    with pytest.raises(OSError, match="disk full"):
        atomic_write_parquet(pl.DataFrame({"a": [1, 2]}), path)
    monkeypatch.undo()
    assert pl.read_parquet(path)["a"].to_list() == [1]
    assert [p.name for p in tmp_path.iterdir()] == ["trials.parquet"]  # no temporary file left


def test_set_aside_never_overwrites_an_earlier_run(tmp_path: Path) -> None:
    from harness.results.study_record import set_aside

    assert set_aside(tmp_path) is None  # nothing to keep
    (tmp_path / "trials.parquet").write_text("run 1")
    (tmp_path / "study.json").write_text("{}")
    one = set_aside(tmp_path)
    (tmp_path / "trials.parquet").write_text("run 2")
    two = set_aside(tmp_path)
    assert one != two and one.parent == two.parent == tmp_path / "previous"
    assert sorted(p.name for p in one.iterdir()) == ["study.json", "trials.parquet"]
    assert ((one / "trials.parquet").read_text(), (two / "trials.parquet").read_text()) == ("run 1", "run 2")
    assert not (tmp_path / "trials.parquet").exists()


def test_a_tune_experiment_without_its_record_is_not_resumed(tmp_path: Path) -> None:
    """Relaunched with another --results-dir (or after its results were removed), Tune would
    restore the old callbacks, writing to the old folder, and never re-run finished trials."""
    from harness.results.study_record import check_resumable, start_record
    from harness.study.spec import StudySpec
    from stvlm.errors import ConfigError

    spec = StudySpec.from_dict({"name": "s", "dataset": "nycbike-drop"})
    with pytest.raises(ConfigError, match=rf"^study 's' has a Tune experiment at /ray/s but no study.json in "
                                          rf"{tmp_path}: resume it with the --results-dir it started with, or "
                                          r"remove /ray/s to start afresh$"):
        check_resumable(tmp_path, spec, "/ray/s")
    start_record(tmp_path, spec=spec, arms=[], provenance={}, storage="/ray", experiment_path="/ray/s",
                 cluster={}, resumed=False)
    check_resumable(tmp_path, spec, "/ray/s")  # its own record: resumable
    with pytest.raises(ConfigError, match="is stored at /ray/s, not /other/s"):
        check_resumable(tmp_path, spec, "/other/s")
    # the same name with another spec: resuming would mix the old trials with the new design's
    changed = spec.replace(seeds=(0, 1, 2, 3))
    with pytest.raises(ConfigError) as info:
        check_resumable(tmp_path, changed, "/ray/s")
    assert str(info.value) == (
        "study 's' already ran with a different spec (seeds: [0] -> [0, 1, 2, 3]; --num-samples and "
        "--optuna-storage are part of it): resume it with the spec it started with, give the study "
        "another name, or remove /ray/s and its results folder to start afresh")
    # MLflow tracking comes from the first launch's callbacks, which Tune restores: no switch
    with pytest.raises(ConfigError) as info:
        check_resumable(tmp_path, spec, "/ray/s", "file:///mlruns")
    assert str(info.value) == (
        "study 's' was launched with MLflow tracking off, and a resume keeps its first launch's "
        "tracking: resume it with the same --mlflow / --mlflow-uri (not to file:///mlruns), or remove "
        "/ray/s to start afresh")
    record = json.loads((tmp_path / "study.json").read_text())
    del record["mlflow_uri"]  # a record from before the tracking was kept: not checked
    (tmp_path / "study.json").write_text(json.dumps(record))
    check_resumable(tmp_path, spec, "/ray/s", "file:///mlruns")


def test_spec_changes_name_the_first_three_settings_that_differ() -> None:
    from harness.results.study_record import spec_changes

    old = {"num_samples": 2, "fixed": {"train.epochs": 3, "train.lr": 0.1}, "seeds": [0]}
    assert spec_changes(old, {**old, "num_samples": 4}) == "num_samples: 2 -> 4"
    new = {"num_samples": 4, "fixed": {"train.epochs": 5}, "seeds": [0], "sampler": "tpe", "name": "x"}
    assert spec_changes(old, new) == (
        "fixed.train.epochs: 3 -> 5, fixed.train.lr: 0.1 -> (absent), name: (absent) -> 'x' and 2 more")
    assert spec_changes(None, {}) == "the same settings under another spec hash"


def test_a_study_stored_elsewhere_is_not_started_over(tmp_path: Path) -> None:
    """Relaunched with another --storage, nothing can be restored at the new place: starting
    afresh would set the results aside and run every trial again while the experiment waits at
    the old place."""
    from harness.results.study_record import check_fresh_start, start_record
    from harness.study.spec import StudySpec
    from stvlm.errors import ConfigError

    spec = StudySpec.from_dict({"name": "s", "dataset": "nycbike-drop"})
    check_fresh_start(tmp_path, spec, "/new/s", lambda path: True)  # no record: a new study
    start_record(tmp_path, spec=spec, arms=[], provenance={}, storage="/ray", experiment_path="/ray/s",
                 cluster={}, resumed=False)
    with pytest.raises(ConfigError) as info:
        check_fresh_start(tmp_path, spec, "/new/s", lambda path: path == "/ray/s")
    assert str(info.value) == ("study 's' is stored at /ray/s, not /new/s: pass --storage /ray to resume it, "
                               "or remove /ray/s to start afresh")
    check_fresh_start(tmp_path, spec, "/new/s", lambda path: False)  # the old experiment is gone: afresh
    check_fresh_start(tmp_path, spec, "/ray/s", lambda path: False)  # its own place, removed: afresh


def test_a_resumed_launch_writes_rows_that_name_its_own_code(tmp_path: Path) -> None:
    """Tune restores the first launch's callbacks from their pickle; the rows a resume writes
    named the first launch's commit and package versions."""
    import pickle

    from harness.results.provenance import provenance
    from harness.runtime.tune_callbacks import ResultsCallback

    first = ResultsCallback(str(tmp_path), "s", list(METRICS), list(HORIZONS), {"git_commit": "0" * 40, "versions": {}})
    restored = pickle.loads(pickle.dumps(first))
    restored.setup()
    now = provenance()
    assert restored.provenance["git_commit"] == now["git_commit"] != "0" * 40
    assert restored.provenance["versions"] == now["versions"]
