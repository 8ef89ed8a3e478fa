"""A readable live view of a running study, and Ray's log noise turned down.

:func:`quiet_ray` sets (without overriding what the user set) the environment variables that
silence the warnings reference/ray.md lists as noise, and selects the classic ``CLIReporter``
(``RAY_AIR_NEW_OUTPUT=0``: the new output engine ignores custom columns). Call it before Ray
starts. :func:`make_reporter` builds a ``CLIReporter`` whose table shows the arm, seed, the
sampled nuisance settings, the budget and the validation metric, refreshed at most every
``max_report_frequency`` seconds.
"""

from __future__ import annotations

import os

from ray.tune import CLIReporter

from harness.study.spec import StudySpec

#: Ray/Tune log-noise switches (values applied with ``os.environ.setdefault``).
QUIET_ENV = {
    # "Experiment state snapshotting has been triggered multiple times" (checkpoint every epoch).
    "TUNE_WARN_EXCESSIVE_EXPERIMENT_CHECKPOINT_SYNC_THRESHOLD_S": "0",
    # Train V2 migration warnings on every TorchTrainer.
    "RAY_TRAIN_ENABLE_V2_MIGRATION_WARNINGS": "0",
    # The classic progress table (honours metric/parameter columns).
    "RAY_AIR_NEW_OUTPUT": "0",
}


def quiet_ray(env: dict[str, str] | None = None) -> dict[str, str]:
    """Apply :data:`QUIET_ENV` to ``env`` (default ``os.environ``) where unset; returns ``env``."""
    target = os.environ if env is None else env
    for key, value in QUIET_ENV.items():
        target.setdefault(key, value)
    return target  # type: ignore[return-value]


def make_reporter(spec: StudySpec, *, total_samples: int, max_report_frequency: int = 15) -> CLIReporter:
    """The study's progress table: arm, seed, sampled settings, budget and validation metric."""
    parameters = {"kind": "kind", "arm": "arm", "seed": "seed"}
    for path in spec.nuisance:
        parameters[f"params/{path}"] = path.rsplit(".", 1)[-1]
    metrics = {
        spec.metric: spec.metric,
        "epoch": "epoch",
        "windows_seen": "windows",
        "final": "final",
    }
    return CLIReporter(
        metric_columns=metrics,
        parameter_columns=parameters,
        total_samples=total_samples,
        max_report_frequency=max_report_frequency,
        max_column_length=24,
        sort_by_metric=True,  # by the study's metric and mode (from TuneConfig)
    )
