"""Baselines that learn nothing or only averages: last value, seasonal naive, seasonal mean,
historical average."""

from __future__ import annotations

from typing import Any, Literal

import numpy as np

from stvlm.baselines.base import Baseline, target_steps, training_steps
from stvlm.configs import Config, TrainConfig, config_class, field
from stvlm.data.forecast import Forecast
from stvlm.errors import ProtocolError


def _targets_of(forecast: Forecast, *, filled: bool = True) -> np.ndarray:
    """``[T, N, C_out]`` values of the target channels: as models read them (NaN carried
    forward, see :mod:`stvlm.data.missing`), or with ``filled=False`` as observed (NaN kept)."""
    values = forecast.filled_values if filled else forecast.data.values
    return values[..., list(forecast.data.info.target_channels)]


@config_class
class NoOptions(Config):
    """Baselines without settings."""


class LastValue(Baseline):
    """Repeats the last observed input step for every horizon."""

    name = "last-value"

    def __init__(self, cfg: NoOptions | None = None) -> None:
        self.cfg = cfg or NoOptions()

    def fit(self, forecast: Forecast, train: TrainConfig) -> dict[str, Any]:
        return {}

    def predict(self, forecast: Forecast, part: str) -> np.ndarray:
        values = _targets_of(forecast)
        steps = target_steps(forecast, part)  # [W, T_out]
        last = steps[:, :1] - 1  # [W, 1] last input step
        return np.repeat(values[last[:, 0]][:, None], steps.shape[1], axis=1)  # [W, T_out, N, C]


@config_class
class SeasonalConfig(Config):
    """Seasonal naive settings."""

    days: int = field(7, ge=1, help="the season in days: 1 (yesterday) or 7 (last week)")


class SeasonalNaive(Baseline):
    """Predicts the value observed one season (a day or a week) before each target step, or
    whole seasons before where one season back is still a target step of the window (a season
    shorter than the output length: ``y[t + h - m * ceil(h / m)]``, the textbook seasonal naive
    of Hyndman and Athanasopoulos, FPP3 section 5.2).

    Targets whose lagged step precedes the series start fall back to the last input value.
    """

    name = "seasonal-naive"

    def __init__(self, cfg: SeasonalConfig | None = None) -> None:
        self.cfg = cfg or SeasonalConfig()

    def fit(self, forecast: Forecast, train: TrainConfig) -> dict[str, Any]:
        return {}

    def predict(self, forecast: Forecast, part: str) -> np.ndarray:
        values = _targets_of(forecast)
        period = self.cfg.days * forecast.data.info.steps_per_day
        steps = target_steps(forecast, part)  # [W, T_out]
        horizon = steps - steps[:, :1] + 1  # [W, T_out], 1-based
        lagged = steps - period * -(-horizon // period)  # never after the last input step
        fallback = np.broadcast_to(steps[:, :1] - 1, steps.shape)  # last input step
        source = np.where(lagged >= 0, lagged, fallback)  # [W, T_out]
        return values[source]  # [W, T_out, N, C]


class SeasonalMean(Baseline):
    """Predicts, at each target step, the mean of the values one periodic-lookback lag before it
    (the forecast's ``lookback_lags``, e.g. one day and one week; values as models read them,
    missing ones carried forward).

    This is the seasonal prior ST-VLM's residual head starts from (``head.residual =
    "lookback"``), as a forecast of its own: where ST-VLM keeps an untrained start whose
    highway is at zero, the two forecasts are the same.
    """

    name = "seasonal-mean"

    def __init__(self, cfg: NoOptions | None = None) -> None:
        self.cfg = cfg or NoOptions()

    @staticmethod
    def _lags(forecast: Forecast) -> np.ndarray:
        lags = np.asarray(getattr(forecast, "lookback_lags", ()), dtype=np.int64)  # [P]
        if not lags.size:
            raise ProtocolError(
                "seasonal-mean needs a periodic lookback, and this forecast has no lookback lag "
                "(protocol lookback_days, data.lookback_days)"
            )
        return lags

    def fit(self, forecast: Forecast, train: TrainConfig) -> dict[str, Any]:
        return {"lags": self._lags(forecast).tolist()}

    def predict(self, forecast: Forecast, part: str) -> np.ndarray:
        lags = self._lags(forecast)
        steps = target_steps(forecast, part)  # [W, T_out]
        lagged = _targets_of(forecast)[steps[..., None] - lags]  # [W, T_out, P, N, C]
        return lagged.mean(axis=2)  # [W, T_out, N, C]


@config_class
class HistoryConfig(Config):
    """Which steps a historical average averages."""

    history: Literal["train", "all"] = field(
        "train",
        help="'train': the steps of the (few-shot) training windows; 'all': every step before "
        "the first test target (lookback history, training and validation parts), a reference "
        "line that uses more data than the few-shot budget (its validation score is in-sample)",
    )


class HistoricalAverage(Baseline):
    """Mean of the history at the same time of week, per node and channel.

    Missing observations (the protocol's ``missing_value``, NaN and Inf) are left out of the
    averages; a time-of-week slot never seen falls back to the node's mean.
    """

    name = "historical-average"

    def __init__(self, cfg: HistoryConfig | None = None) -> None:
        self.cfg = cfg or HistoryConfig()
        self.table: np.ndarray | None = None

    @staticmethod
    def _time_of_week(forecast: Forecast, steps: np.ndarray) -> np.ndarray:
        data = forecast.data
        return data.dow[steps] * data.info.steps_per_day + data.tod[steps]

    def fit(self, forecast: Forecast, train: TrainConfig) -> dict[str, Any]:
        values = _targets_of(forecast, filled=False).astype(np.float64)  # missing left out below
        if self.cfg.history == "all":
            first_test_target = int(forecast.splits.test.min()) + forecast.protocol.input_len
            steps = np.arange(first_test_target, dtype=np.int64)  # [S]
        else:
            steps = training_steps(forecast)
        x = values[steps]  # [S, N, C]
        missing = forecast.protocol.missing_value  # the protocol's: tgcn reads sz-taxi's zeros
        valid = np.isfinite(x) if missing is None else np.isfinite(x) & (x != missing)
        slots = 7 * forecast.data.info.steps_per_day
        tow = self._time_of_week(forecast, steps)  # [S]
        sums = np.zeros((slots,) + x.shape[1:])
        counts = np.zeros((slots,) + x.shape[1:])
        np.add.at(sums, tow, np.where(valid, x, 0.0))
        np.add.at(counts, tow, valid.astype(np.float64))
        node_mean = np.where(valid, x, 0.0).sum(0) / np.maximum(valid.sum(0), 1)  # [N, C]
        self.table = np.where(counts > 0, sums / np.maximum(counts, 1), node_mean[None])
        return {"slots_seen": int((counts.sum(axis=(1, 2)) > 0).sum()), "slots": slots}

    def predict(self, forecast: Forecast, part: str) -> np.ndarray:
        if self.table is None:
            raise RuntimeError("historical-average: call fit() before predict()")
        tow = self._time_of_week(forecast, target_steps(forecast, part))  # [W, T_out]
        return self.table[tow].astype(np.float32)  # [W, T_out, N, C]
