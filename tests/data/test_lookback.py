"""Periodic lookback, few-shot placement after the longest lag, and named budgets."""

from __future__ import annotations

import numpy as np
import pytest

from stvlm.configs import DataConfig, FewShotConfig
from stvlm.data.budgets import NAMED_BUDGETS, budget_windows
from stvlm.data.pipeline import prepare, prepare_forecast
from stvlm.data.protocols import resolve_protocol
from stvlm.data.series import DatasetInfo, SpatioTemporalData
from stvlm.errors import ConfigError, ProtocolError

SPD = 12  # 2-hour steps: one day = 12 steps = T_out, one week = 84 steps
T = 400  # 377 windows: 226 train, 76 val, 75 test (DCRNN rounding of 6:2:2)


def series(steps_per_day: int = SPD, t: int = T) -> SpatioTemporalData:
    """Value 10 * step + node + 1: every entry distinct and positive."""
    values = (10 * np.arange(t)[:, None] + np.arange(3)[None, :] + 1)[..., None].astype(np.float32)
    info = DatasetInfo(
        name="toy", folder="TOY", title="toy", description="toy", nodes=3, steps=t,
        interval_minutes=1440 // steps_per_day, channels=("v",), units=("u",),
    )
    steps = np.arange(t, dtype=np.int64)
    return SpatioTemporalData(info=info, values=values, tod=steps % steps_per_day,
                              dow=(steps // steps_per_day) % 7)


def forecast(data: SpatioTemporalData | None = None, **few):
    data = data or series()
    protocol = resolve_protocol("standard", data.info, data.num_steps)
    return prepare_forecast(data, protocol, FewShotConfig(**few))


def test_lags_and_the_few_shot_block_start_where_the_longest_lag_is_available():
    f = forecast(ratio=0.1)
    assert f.lookback_lags == (12, 84)
    assert f.splits.counts() == {"train": 23, "train_full": 142, "val": 76, "test": 75}
    np.testing.assert_array_equal(f.splits.train, np.arange(84, 107))  # ceil(0.1 * 226) = 23
    np.testing.assert_array_equal(f.splits.train_full, np.arange(84, 226))
    # The scaler is fitted on the whole training part, lookback history included: steps [0, 249).
    np.testing.assert_allclose(f.scaler.mean, f.data.values[:249].reshape(-1, 1).mean(axis=0))
    assert f.describe()["lookback_lags"] == [12, 84]


def test_lookback_values_are_the_lagged_steps_exactly():
    f = forecast(ratio=0.1)
    batch = next(f.batches("test", 4))
    assert tuple(batch.lookback.shape) == (4, 2, 24, 3, 1)  # [B, P, T_in + T_out, N, C_out]
    scaled = f.scaler.transform(f.data.values)
    for b, start in enumerate(batch.start.tolist()):
        for p, lag in enumerate((12, 84)):
            expected = scaled[start - lag : start - lag + 24]  # [24, N, 1]
            np.testing.assert_allclose(batch.lookback[b, p].numpy(), expected, rtol=1e-6)


def test_lookback_never_reads_a_target_step_of_its_own_window():
    base = forecast(ratio=1.0)
    start = int(base.splits.test[10])
    values = base.data.values.copy()
    values[start + 12 : start + 24] = -5e3  # the window's own targets
    changed = forecast(series_with(values), ratio=1.0)
    pick = lambda f: next(f.batches("test", 1000)).lookback[10]  # noqa: E731
    np.testing.assert_array_equal(pick(changed).numpy(), pick(base).numpy())
    # ... while the targets themselves did change.
    assert not np.array_equal(changed.targets("test")[10], base.targets("test")[10])


def series_with(values: np.ndarray) -> SpatioTemporalData:
    data = series()
    return SpatioTemporalData(info=data.info, values=values, tod=data.tod, dow=data.dow)


def test_a_lag_shorter_than_the_horizon_or_longer_than_the_history_is_left_out():
    short_day = forecast(series(steps_per_day=4))  # a day = 4 steps < T_out = 12; a week = 28
    assert short_day.lookback_lags == (28,)
    too_long = forecast(series(steps_per_day=48))  # a week = 336 > first validation start 226
    assert too_long.lookback_lags == (48,)
    np.testing.assert_array_equal(too_long.splits.train_full, np.arange(48, 226))


def test_window_budgets_and_their_errors():
    f = forecast(windows=30)
    np.testing.assert_array_equal(f.splits.train, np.arange(84, 114))
    assert f.few_shot.label == "first-30w"
    with pytest.raises(ProtocolError, match=r"asks for 500 training windows, but dataset 'toy' has 142"):
        forecast(windows=500)
    with pytest.raises(ProtocolError, match=r"'st-llm-10%' is defined for datasets nycbike-drop only"):
        forecast(budget="st-llm-10%")
    with pytest.raises(ProtocolError, match=r"budget = 'nope' is not a named budget; allowed: st-llm-10%"):
        budget_windows("nope", "toy")
    with pytest.raises(ConfigError, match="windows = 3 cannot be set together with budget"):
        FewShotConfig(budget="st-llm-10%", windows=3)


def test_random_method_draws_from_windows_with_their_history():
    f = forecast(ratio=0.1, method="random", seed=1)
    assert f.splits.train.size == 23 and f.splits.train.min() >= 84
    assert f.few_shot.label == "random-10% (seed 1)"


def test_st_llm_budget_on_nycbike_drop(data_root):
    """ST-LLM's 10%: round(0.6 * 4,345) = 2,607 training windows, 10% = 261 (stvlm.data.budgets)."""
    assert NAMED_BUDGETS["st-llm-10%"] == {"nycbike-drop": 261}
    f = prepare(DataConfig(dataset="nycbike-drop", data_root=str(data_root), verify="size",
                           few_shot=FewShotConfig(budget="st-llm-10%")))
    assert f.lookback_lags == (48, 336)  # one day and one week of 30-minute steps
    np.testing.assert_array_equal(f.splits.train, np.arange(336, 597))
    assert f.splits.counts() == {"train": 261, "train_full": 316, "val": 218, "test": 869}
    assert f.few_shot.label == "first-st-llm-10%"


def test_a_run_sets_its_own_periodic_lookback(data_root):
    """``DataConfig.lookback_days`` replaces the protocol's 1 and 7 days; the few-shot block
    moves to where the longest lag it keeps is available, and ``[]`` means no lookback."""

    def run(days):
        return prepare(DataConfig(dataset="nycbike-drop", data_root=str(data_root), verify="size",
                                  few_shot=FewShotConfig(budget="st-llm-10%"), lookback_days=days))

    day = run((1,))
    assert day.lookback_lags == (48,) and day.protocol.lookback_days == (1,)
    np.testing.assert_array_equal(day.splits.train, np.arange(48, 309))  # 261 windows from a day in
    assert day.splits.counts() == {"train": 261, "train_full": 604, "val": 218, "test": 869}
    assert day.protocol.description.endswith("This run's periodic lookback, in days: 1.")
    assert tuple(next(day.batches("train", 2)).lookback.shape) == (2, 1, 24, 250, 1)
    three = run((1, 2, 7))
    assert three.lookback_lags == (48, 96, 336)
    np.testing.assert_array_equal(three.splits.train, np.arange(336, 597))
    none = run(())
    assert none.lookback_lags == () and next(none.batches("train", 2)).lookback is None
    np.testing.assert_array_equal(none.splits.train, np.arange(0, 261))
    assert none.protocol.description.endswith("in days: none.")
    # Two weeks do not fit before the first validation window: left out, as the protocol's are.
    assert run((1, 14)).lookback_lags == (48,)
