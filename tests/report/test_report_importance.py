"""Parameter importance: from an Optuna storage, rebuilt from params_json, and the fallback."""

from __future__ import annotations

import json
from pathlib import Path

import optuna
import polars as pl
import pytest
from report_synthetic import write_study

from harness.report.aggregate import prepare
from harness.report.importance import _from_rows, eta_squared, param_importance
from harness.report.load import load_study


def test_eta_squared_by_hand() -> None:
    # a splits the targets at its median into {1,2} | {3,4}: between 1.0 of total 1.25;
    # b groups {1,3} | {2,4}: between 0.25. Normalised: 0.8 and 0.2.
    params = [{"a": 1, "b": "x"}, {"a": 2, "b": "y"}, {"a": 3, "b": "x"}, {"a": 4, "b": "y"}]
    assert eta_squared(params, [1.0, 2.0, 3.0, 4.0]) == pytest.approx({"a": 0.8, "b": 0.2}, abs=1e-12)
    assert eta_squared(params, [1.0, 1.0, 1.0, 1.0]) == {"a": 0.0, "b": 0.0}


def test_nothing_to_explain_gives_no_rows() -> None:
    assert _from_rows([{"a": 1.0}, {"a": 2.0}], [3.0, 3.0], minimize=True) == ({}, "none")  # flat target
    assert _from_rows([{"a": 1.0}, {"a": 1.0}], [1.0, 2.0], minimize=True) == ({}, "none")  # fixed param
    scores, method = _from_rows([{"a": 1.0, "b": "x"}, {"a": 2.0, "b": "x"}], [1.0, 2.0], minimize=True)
    assert list(scores) == ["a"] and method == "optuna PED-ANOVA (rebuilt from params_json)"


def test_rebuilt_from_params_json(demo_built: tuple[Path, Path]) -> None:
    study = load_study(demo_built[0])
    imp = param_importance(study, prepare([study]), "mae", minimize=True)
    assert set(imp["arm"]) == {"few_shot_ratio=0.1", "few_shot_ratio=0.5"}  # baselines sample nothing
    assert set(imp["param"]) == {"train.lr", "model.fusion.depth"}  # the "seed" key is left out
    assert set(imp["method"]) == {"optuna PED-ANOVA (rebuilt from params_json)"}
    for _, group in imp.group_by("arm"):
        assert group["importance"].sum() == pytest.approx(1.0)
    assert imp.filter(pl.col("arm") == "few_shot_ratio=0.1")["trials"].to_list() == [10, 10]  # completed only


def test_from_optuna_storage(tmp_path: Path) -> None:
    folder = write_study(tmp_path / "r", ratios=(0.1,))
    storage = f"sqlite:///{folder / 'optuna.db'}"
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    opt = optuna.create_study(study_name="arm-0.1", storage=storage, sampler=optuna.samplers.RandomSampler(seed=0))
    opt.optimize(lambda t: t.suggest_float("lr", 1e-4, 1e-2, log=True) * 100 + t.suggest_int("layers", 1, 4) * 0.01,
                 n_trials=12)
    (folder / "mlflow.db").write_bytes(b"an MLflow store sorts first but is never the Optuna storage")
    (folder / "copy.db").write_bytes(b"another file sorts first too; optuna.db wins")
    study = load_study(folder)
    assert study.storage == folder / "optuna.db"
    imp = param_importance(study, prepare([study]), "mae", minimize=True)
    assert imp["arm"].to_list() == ["arm-0.1", "arm-0.1"]
    assert set(imp["method"]) == {"optuna PED-ANOVA (optuna.db)"} and set(imp["trials"]) == {12}
    assert imp.sort("importance", descending=True)["param"][0] == "lr"
    # Ranked on another metric than the study's own (mae), the storage's objective does not apply:
    # the importance is rebuilt from the trials' params and that metric.
    other = param_importance(study, prepare([study]), "rmse", minimize=True)
    assert other.height and set(other["arm"]) <= set(prepare([study])["label"])
    assert not any(m.startswith("optuna PED-ANOVA (optuna.db") for m in other["method"])


def test_storage_named_in_the_spec(tmp_path: Path) -> None:
    folder = write_study(tmp_path / "r", ratios=(0.1,))
    db = tmp_path / "elsewhere.db"
    optuna.create_study(study_name="s", storage=f"sqlite:///{db}")
    spec = json.loads((folder / "study.json").read_text())
    spec["spec"]["optuna_storage"] = f"sqlite:///{db}"
    (folder / "study.json").write_text(json.dumps(spec))
    study = load_study(folder)
    assert study.storage == db
    # an Optuna study with no completed trials: fall back to the rows
    imp = param_importance(study, prepare([study]), "mae", minimize=True)
    assert set(imp["method"]) == {"optuna PED-ANOVA (rebuilt from params_json)"}


def test_not_an_optuna_storage_falls_back(tmp_path: Path) -> None:
    folder = write_study(tmp_path / "r", ratios=(0.1,))
    (folder / "junk.db").write_bytes(b"not sqlite")
    study = load_study(folder)
    imp = param_importance(study, prepare([study]), "mae", minimize=True)
    assert imp.height == 2 and set(imp["method"]) == {"optuna PED-ANOVA (rebuilt from params_json)"}
