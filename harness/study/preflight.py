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

from harness.study.arms import Arm
from stvlm.errors import STVLMError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PreflightResult:
    """What the checks learnt: the protocol's metrics and horizons, and the time they took."""

    metrics: tuple[str, ...]
    horizons: tuple[int, ...]
    seconds: float


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
    protocol = next(iter(forecasts.values())).protocol
    seconds = time.perf_counter() - t0
    log.info("preflight: %d data selections, %d models in %.1f s", len(forecasts), len(built), seconds)
    return PreflightResult(tuple(protocol.metrics), tuple(protocol.report_horizons), seconds)
