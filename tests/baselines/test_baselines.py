"""Baselines on tiny hand-made series: exact predictions, and every registry entry runs."""

from __future__ import annotations

import numpy as np
import pytest

from stvlm.baselines import BASELINES, build_baseline
from stvlm.configs import FewShotConfig, TrainConfig
from stvlm.data.pipeline import prepare_forecast
from stvlm.data.protocols import resolve_protocol
from stvlm.data.series import DatasetInfo, SpatioTemporalData
from stvlm.errors import ConfigError, ProtocolError, UnknownNameError
from stvlm.evaluation import evaluate_baseline

STEPS_PER_DAY = 4  # 6-hour steps: a week is 28 steps
WEEK = 7 * STEPS_PER_DAY


def tiny(values: np.ndarray, missing_value: float | None = None) -> SpatioTemporalData:
    t, n, c = values.shape
    info = DatasetInfo(
        name="tiny", folder="TINY", title="tiny", description="a tiny series", nodes=n, steps=t,
        interval_minutes=1440 // STEPS_PER_DAY, channels=("v",) * c, units=("u",) * c,
        missing_value=missing_value, split=(0.6, 0.2, 0.2),
    )
    steps = np.arange(t)
    return SpatioTemporalData(
        info=info, values=values.astype(np.float32), tod=steps % STEPS_PER_DAY,
        dow=(steps // STEPS_PER_DAY) % 7,
    )


def forecast_of(data: SpatioTemporalData, ratio: float = 1.0, lookback: bool = True):
    protocol = resolve_protocol("standard", data.info, data.num_steps)
    if not lookback:
        protocol = protocol.replace(lookback_days=())
    return prepare_forecast(data, protocol, FewShotConfig(ratio=ratio))


def weekly_series(t: int = 140, n: int = 2) -> np.ndarray:
    steps = np.arange(t)[:, None]
    return ((steps % WEEK) + 1 + 100 * np.arange(n)[None, :])[..., None].astype(np.float32)  # [T, N, 1]


def test_last_value_repeats_last_input() -> None:
    fc = forecast_of(tiny(weekly_series()))
    pred = build_baseline("last-value").predict(fc, "test")
    starts = fc.splits.test
    expected = fc.data.values[starts + 11]  # [W, N, 1]
    assert pred.shape == (starts.size, 12, 2, 1)
    np.testing.assert_array_equal(pred, np.repeat(expected[:, None], 12, axis=1))


def test_seasonal_naive_week_is_exact_on_a_weekly_series() -> None:
    fc = forecast_of(tiny(weekly_series()))
    model = build_baseline("seasonal-naive")
    pred = model.predict(fc, "test")
    np.testing.assert_array_equal(pred, fc.targets("test"))
    # One day back is wrong by exactly one day's worth of steps wherever no week wrap happens.
    day = build_baseline("seasonal-naive-day").predict(fc, "test")
    start = int(fc.splits.test[0])
    t0 = start + 12
    assert day[0, 0, 0, 0] == fc.data.values[t0 - STEPS_PER_DAY, 0, 0]


def test_a_season_shorter_than_the_output_never_reads_a_target() -> None:
    """A day of 4 steps and 12 output steps: one day before output step 5 is output step 1 of the
    same window. The forecast goes back whole days until it reaches the inputs."""
    fc = forecast_of(tiny(weekly_series()))
    pred = build_baseline("seasonal-naive-day").predict(fc, "test")
    t0 = int(fc.splits.test[0]) + 12  # first target step of the first test window
    for h in range(1, 13):
        back = STEPS_PER_DAY * -(-h // STEPS_PER_DAY)  # 4 for h 1-4, 8 for h 5-8, 12 for h 9-12
        assert t0 + h - 1 - back <= t0 - 1
        assert pred[0, h - 1, 0, 0] == fc.data.values[t0 + h - 1 - back, 0, 0], h


def test_seasonal_naive_falls_back_to_last_input_before_the_series_start() -> None:
    fc = forecast_of(tiny(weekly_series()), lookback=False)  # training windows from step 0
    pred = build_baseline("seasonal-naive").predict(fc, "train")
    first = int(fc.splits.train[0])  # 0: targets at steps 12..23 < 28, no week back
    assert first == 0
    np.testing.assert_array_equal(pred[0, :, :, 0], np.repeat(fc.data.values[11:12, :, 0], 12, axis=0))


def test_seasonal_mean_averages_the_lookback_lags() -> None:
    """On v[t] = t + 1 + 100 n, lags of one and two weeks (28 and 56 steps) average to the
    target minus 42, exactly; with one missing lagged value carried forward."""
    steps = np.arange(140)[:, None]
    values = (steps + 1 + 100 * np.arange(2)[None, :])[..., None].astype(np.float32)  # [T, N, 1]
    data = tiny(values)
    protocol = resolve_protocol("standard", data.info, data.num_steps).replace(lookback_days=(7, 14))
    fc = prepare_forecast(data, protocol, FewShotConfig())
    assert fc.lookback_lags == (28, 56)
    model = build_baseline("seasonal-mean")
    assert model.fit(fc, TrainConfig()) == {"lags": [28, 56]}
    for part in ("train", "val", "test"):
        pred = model.predict(fc, part)
        assert pred.shape == fc.targets(part).shape
        np.testing.assert_array_equal(pred, fc.targets(part) - 42)
    # The one-week lag of the first test window's first target step, missing (NaN): the value
    # before it is used, one less.
    t0 = int(fc.splits.test[0]) + 12
    values[t0 - 28, 1, 0] = np.nan
    fc = prepare_forecast(tiny(values), protocol, FewShotConfig())
    pred = model.predict(fc, "test")
    assert pred[0, 0, 1, 0] == (t0 + 1 + 100 - 42) - 0.5
    assert pred[0, 0, 0, 0] == t0 + 1 - 42


def test_seasonal_mean_needs_a_lookback() -> None:
    fc = forecast_of(tiny(weekly_series()), lookback=False)
    with pytest.raises(ProtocolError, match=r"^seasonal-mean needs a periodic lookback, and this forecast has no lookback lag"):
        build_baseline("seasonal-mean").fit(fc, TrainConfig())


def test_historical_average_by_time_of_week() -> None:
    values = weekly_series()
    values[5, 0, 0] = 0.0  # a missing observation, left out of the average
    fc = forecast_of(tiny(values, missing_value=0.0))
    model = build_baseline("historical-average")
    info = model.fit(fc, TrainConfig())
    assert info == {"slots_seen": 28, "slots": 28}
    pred = model.predict(fc, "test")
    np.testing.assert_allclose(pred, weekly_series()[fc.splits.test[:, None] + 12 + np.arange(12)])


def test_historical_average_unseen_slot_uses_node_mean() -> None:
    values = weekly_series(t=80)  # 57 windows, 34 for training
    fc = forecast_of(tiny(values), ratio=0.05, lookback=False)  # ceil(1.7) = 2 windows: steps 0..24 seen
    assert list(fc.splits.train) == [0, 1]
    model = build_baseline("historical-average")
    assert model.fit(fc, TrainConfig()) == {"slots_seen": 25, "slots": 28}
    node_mean = values[:25, :, 0].mean(axis=0)
    for slot in (25, 26, 27):
        np.testing.assert_allclose(model.table[slot, :, 0], node_mean)
    np.testing.assert_allclose(model.table[24, :, 0], values[24, :, 0])


def test_historical_average_all_reads_every_step_before_the_first_test_target() -> None:
    """On a trend (value = step) the slot means tell which steps were read: every step before the
    first test target, the few-shot block's or not, and no test target (a leak would raise them)."""
    values = np.arange(140, dtype=np.float32)[:, None, None]  # [T, 1, 1]
    fc = forecast_of(tiny(values), ratio=0.05, lookback=False)
    first_test_target = int(fc.splits.test.min()) + 12
    assert first_test_target == 106  # 117 windows of 24 steps; the last 23 (0.2) start at 94..116
    model = build_baseline("historical-average-all")
    assert model.fit(fc, TrainConfig()) == {"slots_seen": 28, "slots": 28}
    # slot 0: steps 0, 28, 56, 84 (112 is a test target); slot 6: 6, 34, 62, 90; slot 27: 27, 55, 83
    assert model.table[0, 0, 0] == (0 + 28 + 56 + 84) / 4
    assert model.table[6, 0, 0] == (6 + 34 + 62 + 90) / 4
    assert model.table[27, 0, 0] == (27 + 55 + 83) / 3
    few = build_baseline("historical-average")  # the few-shot block's steps only: 0..24 (2 windows)
    few.fit(fc, TrainConfig())
    assert few.table[0, 0, 0] == 0.0 and few.table[6, 0, 0] == 6.0


def test_ridge_recovers_a_linear_map() -> None:
    rng = np.random.default_rng(0)
    t, n = 120, 3
    values = np.cumsum(rng.normal(size=(t, n, 1)), axis=0) + 50.0  # random walks
    fc = forecast_of(tiny(values.astype(np.float32)))
    ridge = build_baseline("ridge", {"alpha": 0.0, "shared": False})
    ridge.fit(fc, TrainConfig())
    # With alpha 0 the training fit is least squares: residuals orthogonal to the features.
    pred = ridge.predict(fc, "train")
    assert pred.shape == (fc.num_windows("train"), 12, n, 1)
    resid = (fc.targets("train") - pred)[:, :, 0, 0]  # node 0, [W, T_out]
    feats = ridge._features(fc, "train")[0]  # [W, F+1]
    np.testing.assert_allclose(feats.T @ resid, 0.0, atol=1e-2)


def test_shared_ridge_pools_every_node_and_reads_the_lookback() -> None:
    rng = np.random.default_rng(1)
    values = (np.cumsum(rng.normal(size=(140, 2, 1)), axis=0) + 50.0).astype(np.float32)
    fc = forecast_of(tiny(values))
    assert fc.lookback_lags == (28,)  # a week of 6-hour steps (a day, 4 steps, is < T_out)
    ridge = build_baseline("ridge", {"alpha": 0.0})  # shared by default
    ridge.fit(fc, TrainConfig())
    assert ridge.weights.shape == (1, 12 + 24 + 1, 12)  # [1, F + 1, T_out]: one map for all nodes
    pred = ridge.predict(fc, "train")
    resid = (fc.targets("train") - pred)[..., 0]  # [W, T_out, N]
    feats = ridge._features(fc, "train")  # [N, W, F+1]
    pooled = np.einsum("nwf,wtn->ft", feats, resid)  # residuals orthogonal to the pooled features
    np.testing.assert_allclose(pooled, 0.0, atol=1e-2)
    plain = build_baseline("ridge", {"alpha": 0.0, "lookback": False})
    plain.fit(fc, TrainConfig())
    assert plain.weights.shape == (1, 13, 12)


def test_ridge_penalty_shrinks_weights() -> None:
    fc = forecast_of(tiny(weekly_series()))
    small, large = build_baseline("ridge", {"alpha": 0.01}), build_baseline("ridge", {"alpha": 1e6})
    small.fit(fc, TrainConfig())
    large.fit(fc, TrainConfig())
    assert np.abs(large.weights[:, :-1]).max() < np.abs(small.weights[:, :-1]).max()


@pytest.mark.parametrize("name", BASELINES.names())
def test_every_baseline_runs_and_scores(name: str) -> None:
    fc = forecast_of(tiny(weekly_series()))
    train = TrainConfig(epochs=2, batch_size=16, seed=1)
    result = evaluate_baseline(fc, name, {}, train)
    assert set(result.test) >= {"mae", "rmse", "mape", "wape", "mae_h3", "mae_h12"}
    assert np.isfinite(result.test["mae"]) and np.isfinite(result.val["mae"])


@pytest.mark.parametrize("name", ["gru", "stid"])
def test_neural_baselines_are_deterministic(name: str) -> None:
    fc = forecast_of(tiny(weekly_series()))
    train = TrainConfig(epochs=2, batch_size=16, seed=3)
    a = evaluate_baseline(fc, name, {}, train).test
    b = evaluate_baseline(fc, name, {}, train).test
    assert a == b


def test_unknown_baseline_and_bad_options() -> None:
    with pytest.raises(UnknownNameError, match=r"^unknown model 'arima'; known: historical-average, "):
        build_baseline("arima")
    with pytest.raises(ConfigError, match=r"^unknown key gru.width in GRUConfig; allowed: hidden, layers, dropout, lookback$"):
        build_baseline("gru", {"width": 3})
    with pytest.raises(ConfigError, match=r"^ridge.alpha = -1 is out of range; allowed: >= 0$"):
        build_baseline("ridge", {"alpha": -1})


def test_predict_before_fit_raises() -> None:
    fc = forecast_of(tiny(weekly_series()))
    for name in ("historical-average", "ridge", "gru"):
        with pytest.raises(RuntimeError, match="call fit"):
            build_baseline(name).predict(fc, "test")


def test_stid_time_features_have_no_row_that_unseen_days_leave_untrained() -> None:
    import torch

    fc = forecast_of(tiny(weekly_series()), ratio=0.05)  # a block of a few days
    module = build_baseline("stid").build(fc)
    assert not any(isinstance(m, torch.nn.Embedding) for m in module.modules())
    batch = next(fc.batches("train", 64))
    module(batch).sum().backward()
    assert module.tod.weight.grad.abs().sum() > 0 and module.dow.weight.grad.abs().sum() > 0
    table = build_baseline("stid", {"time_encoding": "table"}).build(fc)
    table(batch).sum().backward()
    seen = set(batch.x_dow[:, -1].tolist())
    unseen = [d for d in range(7) if d not in seen]
    assert unseen and table.dow.weight.grad[unseen].abs().sum() == 0  # why cyclic is the default


def test_historical_average_leaves_out_what_the_protocol_calls_missing() -> None:
    """Under tgcn a zero is a reading (T-GCN scores and trains on sz-taxi's zeros); under standard
    the dataset's marker (0) is missing. The average follows the protocol, as the loss and the
    metrics do."""
    values = weekly_series()
    values[::2] = 0.0  # every other step reads 0
    data = tiny(values, missing_value=0.0)
    model = build_baseline("historical-average")
    model.fit(forecast_of(data), TrainConfig())
    assert (model.table > 0).all()  # the zeros were left out
    protocol = resolve_protocol("standard", data.info, data.num_steps).replace(missing_value=None)
    model.fit(prepare_forecast(data, protocol, FewShotConfig(ratio=1.0)), TrainConfig())
    assert (model.table == 0).any()  # the zeros count: slots seen only at even steps average 0
