"""ForecastData: splits, scaler fit range, exact batch gathers, shuffling and provenance."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from stvlm.configs import DataConfig, FewShotConfig
from stvlm.data.pipeline import ForecastData, prepare, prepare_forecast
from stvlm.data.protocols import resolve_protocol
from stvlm.data.series import DatasetInfo, SpatioTemporalData
from stvlm.errors import ConfigError, ProtocolError

T, N = 40, 3


def make_data(
    values: np.ndarray | None = None,
    name: str = "toy",
    target_channels=(0,),
    test_target_start: int | None = None,
) -> SpatioTemporalData:
    """A series with value 1000 * c + 10 * t + n + 1 (all positive, every entry distinct)."""
    if values is None:
        t, n, c = np.meshgrid(np.arange(T), np.arange(N), np.arange(2), indexing="ij")
        values = (1000 * c + 10 * t + n + 1).astype(np.float32)  # [T, N, C=2]
    steps = values.shape[0]
    info = DatasetInfo(
        name=name,
        folder=name.upper(),
        title="tiny",
        description="hand-made series",
        nodes=values.shape[1],
        steps=steps,
        interval_minutes=15,
        channels=tuple(f"c{i}" for i in range(values.shape[2])),
        units=("u",) * values.shape[2],
        target_channels=tuple(target_channels),
    )
    return SpatioTemporalData(
        info=info,
        values=values,
        tod=np.arange(steps, dtype=np.int64) % 96,
        dow=(np.arange(steps, dtype=np.int64) // 7) % 7,
        test_target_start=test_target_start,
    )


def make_forecast(
    data: SpatioTemporalData | None = None, protocol: str = "standard", **few
) -> ForecastData:
    data = data or make_data()
    proto = resolve_protocol(
        protocol, data.info, data.num_steps, test_target_start=data.test_target_start
    )
    return prepare_forecast(data, proto, FewShotConfig(**few))


def test_splits_and_scaler_fit_on_the_training_steps_only():
    f = make_forecast()
    assert f.splits.counts() == {"train": 10, "train_full": 10, "val": 4, "test": 3}
    fit_steps = f.data.values[:33]  # last training start 9 + 24 steps
    np.testing.assert_allclose(f.scaler.mean, fit_steps.reshape(-1, 2).mean(axis=0))
    np.testing.assert_allclose(f.scaler.std, fit_steps.reshape(-1, 2).std(axis=0))


def test_changing_a_test_value_does_not_move_the_scaler():
    base = make_forecast()
    values = base.data.values.copy()
    values[35] = 1e6  # only test/val windows reach step 35
    np.testing.assert_array_equal(make_forecast(make_data(values)).scaler.mean, base.scaler.mean)
    values[32] = 1e6  # the last training window's target
    assert make_forecast(make_data(values)).scaler.mean[0] != base.scaler.mean[0]


def test_batch_gathers_the_exact_window_values():
    f = make_forecast(make_data(target_channels=(1,)))
    raw = f.data.values
    batch = next(f.batches("val", batch_size=3))
    assert batch.x.shape == (3, 12, N, 2) and batch.y.shape == (3, 12, N, 1)
    assert batch.x.dtype == torch.float32 and batch.start.tolist() == [10, 11, 12]
    expected_x = (raw[10:22] - f.scaler.mean) / f.scaler.std  # window 10, every channel scaled
    np.testing.assert_allclose(batch.x[0].numpy(), expected_x, rtol=1e-6)
    np.testing.assert_array_equal(batch.y[0].numpy(), raw[22:34, :, 1:2])  # raw target channel 1
    np.testing.assert_array_equal(batch.y[2, 0, :, 0].numpy(), [1241, 1242, 1243])  # step 24
    np.testing.assert_array_equal(batch.x_tod[0].numpy(), np.arange(10, 22) % 96)
    np.testing.assert_array_equal(batch.y_dow[1].numpy(), (np.arange(23, 35) // 7) % 7)


def test_targets_match_the_batches_in_order():
    f = make_forecast()
    targets = f.targets("test")
    assert targets.shape == (3, 12, N, 1) and targets.dtype == np.float32
    stacked = torch.cat([b.y for b in f.batches("test", batch_size=2)]).numpy()
    np.testing.assert_array_equal(stacked, targets)
    assert targets[0, 0, 0, 0] == 10 * 26 + 1  # window 14, first target step 26, node 0


def test_shuffle_is_seeded_and_covers_the_part():
    f = make_forecast()

    def order(**kw):
        return torch.cat([b.start for b in f.batches("train", 4, **kw)]).tolist()

    assert order() == list(range(10))
    shuffled = order(shuffle=True, seed=1)
    assert shuffled == order(shuffle=True, seed=1)
    assert shuffled != order(shuffle=True, seed=2) and shuffled != list(range(10))
    assert sorted(shuffled) == list(range(10))


def test_batch_sizes_and_drop_last():
    f = make_forecast()
    assert [len(b) for b in f.batches("train", 4)] == [4, 4, 2]
    assert [len(b) for b in f.batches("train", 4, drop_last=True)] == [4, 4]
    with pytest.raises(ConfigError, match="batch_size = 0 is out of range"):
        next(f.batches("train", 0))
    with pytest.raises(ConfigError, match="part = 'dev' is not allowed"):
        f.num_windows("dev")


def test_scaled_series_is_computed_once(monkeypatch):
    f = make_forecast()
    calls = []
    original = f.scaler.transform
    monkeypatch.setattr(f.scaler, "transform", lambda *a, **k: calls.append(1) or original(*a, **k))
    for part in ("train", "val", "test"):
        for _ in range(2):
            list(f.batches(part, 2))
    assert calls == []


def test_few_shot_trains_on_a_prefix_with_the_full_scaler():
    full = make_forecast()
    few = make_forecast(ratio=0.3)
    np.testing.assert_array_equal(few.splits.train, [0, 1, 2])
    np.testing.assert_array_equal(few.splits.train_full, np.arange(10))
    np.testing.assert_array_equal(few.splits.val, full.splits.val)
    np.testing.assert_array_equal(few.scaler.mean, full.scaler.mean)
    rnd = make_forecast(ratio=0.3, method="random", seed=5)
    assert np.isin(rnd.splits.train, np.arange(10)).all() and rnd.num_windows("train") == 3
    assert rnd.describe()["few_shot"] == "random-30% (seed 5)"


def test_describe_reports_counts_and_step_ranges():
    info = make_forecast(ratio=0.5).describe()
    assert info["protocol"] == "standard" and info["few_shot"] == "first-50%"
    assert info["windows"] == {"train": 5, "train_full": 10, "val": 4, "test": 3}
    assert info["parts"]["train_full"] == {
        "windows": 10,
        "first_start": 0,
        "last_start": 9,
        "steps": [0, 33],
    }
    assert info["parts"]["test"]["steps"] == [14, 40]
    assert info["scaler"]["kind"] == "zscore"


def test_partial_dataset_tests_on_the_fixed_windows():
    f = make_forecast(make_data(test_target_start=24))
    np.testing.assert_array_equal(f.splits.test, np.arange(12, 17))
    assert f.splits.counts() == {"train": 9, "train_full": 9, "val": 3, "test": 5}


def test_tgcn_protocol_through_the_pipeline():
    values = np.arange(100 * 2, dtype=np.float32).reshape(100, 2, 1)
    f = make_forecast(make_data(values, name="sz-taxi"), protocol="tgcn")
    assert f.splits.counts() == {"train": 63, "train_full": 63, "val": 9, "test": 12}
    batch = next(f.batches("test", 12))
    assert batch.x.shape == (12, 4, 2, 1) and batch.y.shape == (12, 4, 2, 1)
    # The last test window (start 91) ends at step 98; T-GCN's count leaves out the one ending
    # at step 99.
    np.testing.assert_array_equal(batch.y[-1, -1, :, 0].numpy(), [196, 197])
    np.testing.assert_allclose(f.scaler.mean, values[:70].mean())  # last train start 62 + 8 steps


def test_split_without_windows_raises():
    data = make_data(np.ones((24, 1, 1), dtype=np.float32))
    proto = resolve_protocol("standard", make_data().info, 40)
    with pytest.raises(ProtocolError, match="train/val/test = 1/0/0"):
        prepare_forecast(data, proto)


def test_bad_target_channel_raises():
    data = make_data(target_channels=(2,))
    with pytest.raises(ConfigError, match=r"target_channels \(2,\) must lie in \[0, 2\)"):
        make_forecast(data)


def test_prepare_loads_los_loop_under_the_tgcn_protocol(data_root):
    cfg = DataConfig(dataset="los-loop", data_root=str(data_root), protocol="tgcn", verify="size")
    f = prepare(cfg)
    # One week of 5-minute steps: the week lag does not fit, the day lag (288 steps) does, and
    # training windows start where it is available: 1390 - 288 = 1102 of them.
    assert f.lookback_lags == (288,)
    assert f.splits.counts() == {"train": 1102, "train_full": 1102, "val": 198, "test": 380}
    assert f.targets("test").shape == (380, 12, 207, 1)
    batch = next(f.batches("train", 8))
    np.testing.assert_array_equal(batch.y[0].numpy(), f.data.values[300:312, :, :1])
    scaled = f.scaler.transform(f.data.values)[..., :1]
    np.testing.assert_allclose(batch.lookback[0, 0].numpy(), scaled[0:24], rtol=1e-6)


def test_a_lookback_that_reads_its_own_targets_or_starts_before_the_series_raises():
    f = make_forecast()  # output_len 12; the training part starts at step 0
    parts = dict(data=f.data, protocol=f.protocol, scaler=f.scaler, splits=f.splits, few_shot=f.few_shot)
    with pytest.raises(ConfigError, match="lookback lag 11 steps is shorter than output_len = 12: "
                                          "it would read a target step of the same window"):
        ForecastData(**parts, lookback_lags=(11, 24))
    with pytest.raises(ConfigError, match=r"dataset 'toy': the train part starts at step 0, before "
                                          r"the longest lookback \(12 steps\) is available"):
        ForecastData(**parts, lookback_lags=(12,))
