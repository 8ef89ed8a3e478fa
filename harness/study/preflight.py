"""Checks that need the data, run once on the study driver before Ray starts any trial.

Building the arms' configs (:func:`harness.study.arms.build_arms`) checks names, types and ranges.
Some errors only show against the data: a protocol that does not fit the dataset, a few-shot
ratio that leaves no window, an image encoding the dataset's layout cannot support (grid heat
maps need coordinates), a fusion depth beyond the backbone's layers. :func:`preflight` loads
every distinct data selection once and builds every distinct model whose backbone is a random
``from_config`` preset (pretrained weights are not loaded here), so these fail with one line
before the first trial, and returns the protocol's metric names for the results schema.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

from harness.results.columns import result_key, score_column
from harness.study.arms import Arm
from stvlm.data.protocols import horizon_key, rankable
from stvlm.errors import ConfigError, STVLMError
from stvlm.monitor import reported_metrics

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PreflightResult:
    """What the checks learnt: the protocol's metrics and horizons, the time they took, and its name."""

    metrics: tuple[str, ...]
    horizons: tuple[int, ...]
    seconds: float
    protocol: str


def same_windows(arms: list[Arm], forecasts: dict[str, Any]) -> list[tuple[str, str, int]]:
    """Pairs of arms that differ in their data selection only and select the same training
    windows (a few-shot ratio above what the windows with their lookback allow names the whole
    pool, as 1.0 does): they would run the same trials twice under two labels. Each pair is
    logged as a warning and returned as ``(first arm, second arm, windows)``."""
    seen: dict[tuple[Any, ...], str] = {}
    pairs = []
    for arm in arms:
        exp = arm.experiment
        forecast = forecasts[exp.data.config_hash()]
        key = (forecast.splits.train.tobytes(), exp.data.replace(few_shot=type(exp.data.few_shot)()).config_hash(),
               exp.model.config_hash(), exp.train.config_hash())
        if key in seen:
            windows = len(forecast.splits.train)
            log.warning("arms %s and %s train on the same %d windows: the same trials run twice under "
                        "two labels", seen[key], arm.label, windows)
            pairs.append((seen[key], arm.label, windows))
        else:
            seen[key] = arm.label
    return pairs


def _fail(arm: Arm, err: STVLMError) -> STVLMError:
    return type(err)(f"arm {arm.label}: {err}")


def preflight(arms: list[Arm], *, build_models: bool = True) -> PreflightResult:
    """Load each distinct data selection and build each distinct random-preset model once.

    Raises:
        STVLMError: one line naming the arm and the problem.
    """
    from stvlm.data.pipeline import prepare
    from stvlm.models import build_model
    from stvlm.seed import seed_everything

    t0 = time.perf_counter()
    forecasts: dict[str, Any] = {}
    built: set[str] = set()
    for arm in arms:
        exp = arm.experiment
        key = exp.data.config_hash()
        try:
            if key not in forecasts:
                forecasts[key] = prepare(exp.data)
            model_key = exp.model.config_hash()
            if build_models and exp.model.backbone.pretrained is None and model_key not in built:
                seed_everything(exp.train.seed)
                build_model(exp.model, forecasts[key])  # built to validate, then dropped
                built.add(model_key)
        except STVLMError as err:
            raise _fail(arm, err) from None
    same_windows(arms, forecasts)
    protocol = next(iter(forecasts.values())).protocol
    seconds = time.perf_counter() - t0
    log.info("preflight: %d data selections, %d models in %.1f s", len(forecasts), len(built), seconds)
    return PreflightResult(tuple(protocol.metrics), tuple(protocol.report_horizons), seconds, protocol.name)


def check_metric(metric: str, checks: PreflightResult) -> None:
    """Fail before any trial when the study's ``metric`` (``val_<key>``) is not a key the
    trials will report under the protocol (its metrics and their registered means, overall and
    at each reported horizon): Tune would otherwise fail every trial on its first report.

    Raises:
        ConfigError: one line naming the metric, the protocol and what is allowed.
    """
    names = [n for n in reported_metrics(checks.metrics) if rankable(n)]  # the spec refuses the bias
    keys = [*names, *(horizon_key(n, h) for n in names for h in checks.horizons)]
    if result_key(metric) not in keys:
        raise ConfigError(
            f"metric = {metric!r} is not reported under protocol {checks.protocol!r}; allowed: "
            f"{', '.join(score_column('val', n) for n in names)} (and val_<metric>_h<k> for k in "
            f"{', '.join(map(str, checks.horizons))})")
