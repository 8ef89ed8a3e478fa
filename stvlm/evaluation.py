"""One evaluation run of a baseline on a prepared forecast: fit, predict, score, describe."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from stvlm.baselines import build_baseline
from stvlm.configs import TrainConfig
from stvlm.data.forecast import Forecast
from stvlm.metrics import evaluate_forecast
from stvlm.monitor import with_means


@dataclass
class EvaluationResult:
    """Metrics of one model on one forecast's validation and test windows."""

    model: str
    options: dict[str, Any]
    val: dict[str, float]
    test: dict[str, float]
    fit: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable: the scores with the registered means of them
        (:func:`stvlm.monitor.with_means`), as every written result carries them."""
        return {
            "model": self.model,
            "options": self.options,
            "metrics": {"val": with_means(self.val), "test": with_means(self.test)},
            "fit": self.fit,
            "seconds": self.seconds,
        }


def evaluate_baseline(
    forecast: Forecast, name: str, options: Mapping[str, Any] | None = None, train: TrainConfig | None = None
) -> EvaluationResult:
    """Fit baseline ``name`` on ``forecast``'s training windows and score val and test.

    Args:
        forecast: a prepared :class:`~stvlm.data.pipeline.ForecastData`.
        name: a name in :data:`stvlm.baselines.BASELINES`.
        options: the baseline's settings (validated by its config).
        train: optimisation settings for the neural baselines.
    """
    train = train or TrainConfig()
    baseline = build_baseline(name, options)
    t0 = time.perf_counter()
    info = baseline.fit(forecast, train)
    scores = {
        part: evaluate_forecast(baseline.predict(forecast, part), forecast.targets(part), forecast.protocol)
        for part in ("val", "test")
    }
    return EvaluationResult(
        model=name,
        options=dict(options or {}),
        val=scores["val"],
        test=scores["test"],
        fit=info,
        seconds=time.perf_counter() - t0,
    )
