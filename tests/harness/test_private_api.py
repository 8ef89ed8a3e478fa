"""The private Ray and Optuna API the harness uses still exists in the installed versions, and
those versions are the ones pinned (harness/runtime/private_api.py lists every use)."""

from __future__ import annotations

import re
from pathlib import Path

import optuna
import ray
from ray.tune.schedulers import ASHAScheduler
from ray.tune.search.optuna import OptunaSearch

from harness.runtime import private_api

REPO = Path(__file__).resolve().parents[2]


def test_installed_versions_are_the_pinned_ones() -> None:
    assert ray.__version__.startswith(private_api.RAY_VERSIONS)
    assert int(optuna.__version__.split(".")[0]) == private_api.OPTUNA_MAJOR
    pins = (REPO / "pyproject.toml").read_text()
    assert '"ray[default,tune,train]==2.60.*"' in pins and '"optuna>=5.0,<6"' in pins


def test_every_private_name_exists() -> None:
    from ray._private import ray_constants

    assert isinstance(ray_constants.ENABLE_RAY_CLUSTER, bool)
    asha = ASHAScheduler(metric="val_mae", mode="min", max_t=4, grace_period=1)
    assert not private_api.asha_knows(asha, "t1") and private_api.asha_stopped(asha) == 0
    private_api.asha_forget(asha, "t1")  # a no-op for an unknown trial
    assert private_api.asha_rungs(asha) == [(4, {}), (1, {})]  # reduction factor 4
    from ray.tune.experiment import Trial

    trial = Trial("run_trial", config={}, trial_id="t1", stub=True)
    asha.on_trial_add(None, trial)
    assert private_api.asha_replay(asha, trial, [{"training_iteration": 2, "val_mae": 3.0}, {"val_mae": 1.0}]) == 1
    assert private_api.asha_rungs(asha) == [(4, {}), (1, {"t1": -3.0})]  # min: scores negated
    space = {"lr": optuna.distributions.FloatDistribution(1e-4, 1e-2, log=True)}
    search = OptunaSearch(space=space, metric="val_mae", mode="min", seed=0)
    search.set_search_properties("val_mae", "min", {})
    search.suggest("t1")
    assert isinstance(private_api.optuna_study_of(search), optuna.Study)
    assert [t.number for t in private_api.optuna_trials_of(search).values()] == [0]


def test_train_poll_interval_reaches_the_variable_ray_passes_to_its_controller(monkeypatch) -> None:
    from ray.train.v2._internal.constants import HEALTH_CHECK_INTERVAL_S_ENV_VAR, get_env_vars_to_propagate

    monkeypatch.delenv(HEALTH_CHECK_INTERVAL_S_ENV_VAR, raising=False)
    private_api.set_train_poll_interval(0.25)
    assert get_env_vars_to_propagate()[HEALTH_CHECK_INTERVAL_S_ENV_VAR] == "0.25"
    private_api.set_train_poll_interval(2.0)
    assert get_env_vars_to_propagate()[HEALTH_CHECK_INTERVAL_S_ENV_VAR] == "2"


def test_no_private_api_outside_its_module() -> None:
    """ray._private, Tune schedulers' and searchers' underscore attributes: only in private_api."""
    pattern = re.compile(r"ray\._private|\._trial_info|\._num_stopped|\._ot_study|\._ot_trials")
    offenders = [str(p.relative_to(REPO)) for p in (REPO / "harness").rglob("*.py")
                 if p.name != "private_api.py" and pattern.search(p.read_text())]
    assert offenders == []
