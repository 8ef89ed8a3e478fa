"""Every use of Ray's or Optuna's private API, in one place, checked against the pinned versions.

Written against ``ray==2.60.*`` and ``optuna>=5.0,<6`` (pyproject.toml);
``tests/harness/test_private_api.py`` fails when an installed version moves outside those pins
or when an attribute used here is gone, so an upgrade breaks one test, not a study.

| what | private name | why |
|---|---|---|
| a loopback-only local Ray instance | ``ray._private.ray_constants.ENABLE_RAY_CLUSTER`` | read at import; the variable alone comes too late |
| ASHA's per-trial bookkeeping | ``AsyncHyperBandScheduler._trial_info``, ``._num_stopped`` | register trials restored from a checkpoint, forget removed ones, count stops |
| ASHA's rungs | ``AsyncHyperBandScheduler._time_attr``, ``._metric``, ``._metric_op``, ``_Bracket.on_result`` | give a restored trial's earlier scores back to the rungs: ``Tuner.restore`` rebuilds the scheduler as it was when the experiment began (ray-project/ray#30838) |
| the Optuna study behind a Tune searcher | ``OptunaSearch._ot_study`` | reports and tests read a group's trials |
| the Optuna trials a Tune searcher asked | ``OptunaSearch._ot_trials`` | a restored searcher fails the trials its storage holds as running that it never knew (asked after the last saved state) |
| the Train controller's poll interval | ``ray.train.v2._internal.constants.HEALTH_CHECK_INTERVAL_S_ENV_VAR`` (``RAY_TRAIN_HEALTH_CHECK_INTERVAL_S``) | read by the controller from the environment its driver passes on; Ray's 2 s default costs a short Train trial seconds |
"""

from __future__ import annotations

import os
from typing import Any

#: The version ranges this module was written against (the pins of pyproject.toml).
RAY_VERSIONS = ("2.60.",)
OPTUNA_MAJOR = 5


def disable_ray_clusters() -> None:
    """Make a local Ray instance started by this process bind to 127.0.0.1 only."""
    from ray._private import ray_constants

    os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"
    ray_constants.ENABLE_RAY_CLUSTER = False


def asha_knows(asha: Any, trial_id: str) -> bool:
    """Whether an ASHA scheduler has bookkeeping for the trial."""
    return trial_id in asha._trial_info


def asha_forget(asha: Any, trial_id: str) -> None:
    """Drop a trial from an ASHA scheduler's bookkeeping (errored or removed trials)."""
    asha._trial_info.pop(trial_id, None)


def asha_replay(asha: Any, trial: Any, results: list[dict[str, Any]]) -> int:
    """Record a restored trial's earlier reports at the rungs of its ASHA bracket, in order, as
    they were recorded when it first ran (a rung keeps a trial's first score at or past its
    milestone), without acting on or counting the decisions they get now. The trial must be
    registered (``on_trial_add``). Returns how many reports carried the budget and the metric."""
    bracket = asha._trial_info[trial.trial_id]
    replayed = 0
    for result in results:
        if result.get(asha._time_attr) is None or result.get(asha._metric) is None:
            continue
        bracket.on_result(trial, result[asha._time_attr], asha._metric_op * result[asha._metric])
        replayed += 1
    return replayed


def asha_rungs(asha: Any) -> list[tuple[float, dict[str, float]]]:
    """Every bracket's rungs as ``(milestone, {trial_id: signed score})``, highest milestone first."""
    return [(milestone, dict(recorded)) for bracket in asha._brackets for milestone, recorded in bracket._rungs]


def asha_stopped(asha: Any) -> int:
    """How many trials an ASHA scheduler has stopped."""
    return int(asha._num_stopped)


def optuna_study_of(search: Any) -> Any:
    """The ``optuna.Study`` behind a Ray Tune ``OptunaSearch``."""
    return search._ot_study


def optuna_trials_of(search: Any) -> dict[str, Any]:
    """Tune trial id -> the ``optuna.Trial`` a Ray Tune ``OptunaSearch`` asked for it."""
    return dict(search._ot_trials)


def set_train_poll_interval(seconds: float) -> None:
    """Make the Train runs this process starts poll their workers every ``seconds`` (Ray reads
    the variable in the controller actor, which receives it from the driver's environment)."""
    from ray.train.v2._internal.constants import ENV_VARS_TO_PROPAGATE, HEALTH_CHECK_INTERVAL_S_ENV_VAR

    if HEALTH_CHECK_INTERVAL_S_ENV_VAR not in ENV_VARS_TO_PROPAGATE:
        raise RuntimeError(f"Ray no longer passes {HEALTH_CHECK_INTERVAL_S_ENV_VAR} to the Train controller")
    os.environ[HEALTH_CHECK_INTERVAL_S_ENV_VAR] = f"{seconds:g}"
