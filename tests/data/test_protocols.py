"""Protocols and their window splits: exact counts, chronology, partial datasets, error paths."""

from __future__ import annotations

import numpy as np
import pytest

from stvlm.data.protocols import PROTOCOLS, TGCN_SETTINGS, Protocol, resolve_protocol
from stvlm.data.series import DatasetInfo
from stvlm.data.splits import WINDOW_RULES, split_windows
from stvlm.errors import ConfigError, ProtocolError, UnknownNameError
from stvlm.metrics import METRICS, OVERALL, POOLINGS, evaluate_forecast


def make_info(name: str = "toy", split=(0.6, 0.2, 0.2), interval: int = 5) -> DatasetInfo:
    return DatasetInfo(
        name=name,
        folder=name.upper(),
        title="tiny test series",
        description="a hand-made series",
        nodes=2,
        steps=None,
        interval_minutes=interval,
        channels=("speed",),
        units=("mph",),
        split=split,
    )


def assert_chronological(splits, all_starts=None):
    train, val, test = splits.train_full, splits.val, splits.test
    assert train.max() < val.min() and val.max() < test.min()
    for part in (train, val, test):
        assert part.dtype == np.int64 and np.all(np.diff(part) > 0)
    if all_starts is not None:
        np.testing.assert_array_equal(np.concatenate([train, val, test]), all_starts)


def test_standard_protocol_fields_follow_the_dataset_split():
    protocol = PROTOCOLS.get("standard")(make_info(split=(0.7, 0.1, 0.2)))
    assert (protocol.input_len, protocol.output_len) == (12, 12)
    assert protocol.report_horizons == (3, 6, 12)
    assert protocol.split == (0.7, 0.1, 0.2)
    assert protocol.pooling == "step" and protocol.overall == "horizon_mean"
    assert protocol.mask == "positive"
    assert protocol.window_rule == "standard" and protocol.scaler == "zscore"
    assert "7:1:2" in protocol.description


def test_standard_split_dcrnn_rounding_6_2_2():
    protocol = resolve_protocol("standard", make_info(), 40)
    splits = split_windows(protocol, 40, dataset="toy")
    # 17 windows: test round(3.4) = 3, train round(10.2) = 10, val 4.
    np.testing.assert_array_equal(splits.train, np.arange(10))
    np.testing.assert_array_equal(splits.val, np.arange(10, 14))
    np.testing.assert_array_equal(splits.test, np.arange(14, 17))
    assert splits.counts() == {"train": 10, "train_full": 10, "val": 4, "test": 3}
    assert_chronological(splits, np.arange(17))


def test_standard_split_rounds_half_to_even_like_dcrnn():
    protocol = resolve_protocol("standard", make_info(split=(0.7, 0.1, 0.2)), 38)
    splits = split_windows(protocol, 38, dataset="toy")
    # 15 windows: train round(10.5) = 10 (Python rounds half to even), test 3, val 2.
    assert splits.counts() == {"train": 10, "train_full": 10, "val": 2, "test": 3}
    assert_chronological(splits, np.arange(15))


def test_partial_dataset_keeps_exactly_the_published_test_windows():
    protocol = resolve_protocol("standard", make_info(), 60, test_target_start=36)
    splits = split_windows(protocol, 60, dataset="toy", test_target_start=36)
    np.testing.assert_array_equal(splits.test, np.arange(24, 37))  # every start >= 36 - 12
    # 24 pre-test windows split 6:2 -> 3:1.
    np.testing.assert_array_equal(splits.train, np.arange(18))
    np.testing.assert_array_equal(splits.val, np.arange(18, 24))
    assert_chronological(splits, np.arange(37))


def test_partial_dataset_with_too_few_pre_test_windows_raises():
    message = "'standard' on dataset 'toy'.*val part holds no window"
    with pytest.raises(ProtocolError, match=message):
        resolve_protocol("standard", make_info(), 60, test_target_start=13)


def test_tgcn_protocol_fields_per_dataset():
    sz = PROTOCOLS.get("tgcn")(make_info("sz-taxi", interval=15))
    assert (sz.input_len, sz.output_len, sz.report_horizons) == (4, 4, (1, 2, 3, 4))
    assert "15/30/45/60 min" in sz.description
    los = PROTOCOLS.get("tgcn")(make_info("los-loop", interval=5))
    assert (los.input_len, los.output_len, los.report_horizons) == (12, 12, (3, 6, 9, 12))
    assert "15/30/45/60 min" in los.description
    assert (los.pooling, los.overall, los.mask, los.window_rule) == (
        "cumulative",
        "pooled",
        "none",
        "tgcn",
    )
    assert set(los.metrics) == {
        "mae", "rmse", "mape", "wape", "mae_all", "rmse_all", "wape_all", "bias", "accuracy", "r2", "var"
    }
    assert (los.lookback_days, los.missing_value) == ((1, 7), None)


def test_tgcn_split_forms_windows_inside_each_part():
    protocol = resolve_protocol("tgcn", make_info("sz-taxi", interval=15), 100)
    splits = split_windows(protocol, 100, dataset="sz-taxi")
    # 80 training steps -> 80 - 4 - 4 = 72 windows; the last 72 / 8 = 9 are validation.
    np.testing.assert_array_equal(splits.train_full, np.arange(63))
    np.testing.assert_array_equal(splits.val, np.arange(63, 72))
    # 20 test steps -> 12 windows from step 80; the last covers steps 91..98 (T-GCN's count leaves
    # out the window ending at step 99).
    np.testing.assert_array_equal(splits.test, np.arange(80, 92))
    assert splits.val.max() + 8 <= 80  # no training window reaches into the test part
    assert_chronological(splits)


def test_tgcn_split_on_the_los_loop_length():
    protocol = resolve_protocol("tgcn", make_info("los-loop"), 2016)
    counts = split_windows(protocol, 2016, dataset="los-loop").counts()
    # int(2016 * 0.8) = 1612 steps -> 1588 windows, round(1588 / 8) = 198 of them validation;
    # 404 test steps -> 380 windows.
    assert counts == {"train": 1390, "train_full": 1390, "val": 198, "test": 380}


def test_tgcn_scores_the_zeros_the_dataset_calls_missing():
    """T-GCN trains and scores on every SZ-taxi entry, its zeros (no taxi in the slot) included;
    the standard protocol leaves them out as the dataset's missing values."""
    info = DatasetInfo(**{**make_info("sz-taxi", interval=15).__dict__, "missing_value": 0.0})
    tgcn, standard = PROTOCOLS.get("tgcn")(info), PROTOCOLS.get("standard")(info)
    assert (tgcn.missing_value, standard.missing_value) == (None, 0.0)
    true = np.zeros((1, 4, 2, 1))
    true[0, :, 0, 0] = 4.0  # node 0 reads 4 at every step, node 1 is 0 (no taxi) throughout
    pred = np.full_like(true, 3.0)
    scores = evaluate_forecast(pred, true, tgcn)
    assert (scores["mae"], scores["mae_all"], scores["mae_h1"]) == (2.0, 2.0, 2.0)  # (1 + 3) / 2
    assert scores["bias"] == 1.0  # (-1 + 3) / 2


def test_tgcn_on_another_dataset_raises():
    message = "'tgcn' is defined for datasets sz-taxi, los-loop only, not 'toy'"
    with pytest.raises(ProtocolError, match=message):
        resolve_protocol("tgcn", make_info("toy"), 500)


def test_tgcn_training_part_without_a_window_raises():
    with pytest.raises(ProtocolError, match="'tgcn' on dataset 'los-loop'.*train/val/test = 0/0/0"):
        resolve_protocol("tgcn", make_info("los-loop"), 30)


def test_series_shorter_than_one_window_raises():
    message = "'toy': one window needs .* = 24 steps, the series has 20"
    with pytest.raises(ProtocolError, match=message):
        resolve_protocol("standard", make_info(), 20)


def test_series_with_a_single_window_has_no_validation_or_test_part():
    message = "val/test part holds no window.*1 windows over 24 steps"
    with pytest.raises(ProtocolError, match=message):
        resolve_protocol("standard", make_info(), 24)


def test_unknown_protocol_lists_the_known_ones():
    with pytest.raises(UnknownNameError, match="unknown protocol 'weekly'; known: standard, tgcn"):
        resolve_protocol("weekly", make_info(), 100)


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"report_horizons": (3, 13)}, "report_horizons .* each <= output_len=12"),
        ({"report_horizons": (6, 3)}, "strictly increasing"),
        ({"report_horizons": ()}, "non-empty"),
        ({"split": (0.5, 0.2, 0.2)}, "must sum to 1"),
        ({"pooling": "mean"}, "pooling = 'mean' is not allowed"),
    ],
)
def test_protocol_validation_errors(changes, message):
    base = PROTOCOLS.get("standard")(make_info())
    with pytest.raises(ConfigError, match=message):
        base.replace(**changes)


@pytest.mark.parametrize("name", PROTOCOLS.names())
def test_every_protocol_names_registered_rules(name):
    protocol = PROTOCOLS.get(name)(make_info("los-loop"))
    assert isinstance(protocol, Protocol)
    assert protocol.window_rule in WINDOW_RULES
    assert protocol.pooling in POOLINGS and protocol.overall in OVERALL
    assert all(metric in METRICS for metric in protocol.metrics)
    assert Protocol.from_dict(protocol.to_dict()) == protocol


def test_tgcn_settings_cover_15_to_60_minutes():
    intervals = {"sz-taxi": 15, "los-loop": 5}
    for name, (_, horizons) in TGCN_SETTINGS.items():
        assert [h * intervals[name] for h in horizons] == [15, 30, 45, 60]
