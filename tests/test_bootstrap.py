"""Day-block bootstrap of a paired MAE difference."""

from __future__ import annotations

import numpy as np
import pytest

from stvlm.bootstrap import paired_block_bootstrap, paired_block_bootstrap_sums, window_abs_errors, window_blocks
from stvlm.errors import ProtocolError


def test_window_sums_and_the_pooled_difference_by_hand():
    true = np.array([[1.0, 0.0], [2.0, 4.0], [3.0, 3.0]])  # [W=3, 2]
    a = np.array([[1.0, 1.0], [2.0, 4.0], [3.0, 5.0]])
    b = np.array([[2.0, 1.0], [0.0, 4.0], [3.0, 3.0]])
    mask = true > 0
    sums, counts = window_abs_errors(a, true, mask)
    np.testing.assert_array_equal(sums, [0.0, 0.0, 2.0])
    np.testing.assert_array_equal(counts, [1, 2, 2])
    iv = paired_block_bootstrap(a, b, true, mask, blocks=np.array([0, 0, 1]), resamples=200)
    # MAE(a) = 2 / 5, MAE(b) = (1 + 2) / 5 -> difference -0.2.
    assert iv.diff == pytest.approx(-0.2)
    assert iv.blocks == 2 and iv.resamples == 200
    # Block 0 favours a by 3 / 3, block 1 favours b by 2 / 2: resamples lie in [-1, +1].
    assert -1.0 <= iv.low <= iv.diff <= iv.high <= 1.0
    assert not iv.excludes_zero


def test_a_forecast_better_on_every_day_excludes_zero():
    rng = np.random.default_rng(0)
    true = rng.uniform(1, 5, size=(40, 3, 2, 1))
    a = true + rng.normal(0, 0.1, size=true.shape)
    b = true + rng.normal(0, 1.0, size=true.shape)
    iv = paired_block_bootstrap(a, b, true, true > 0, blocks=np.arange(40) // 4)
    assert iv.high < 0 and iv.excludes_zero and iv.blocks == 10
    # Same seed, same interval; swapped forecasts, mirrored difference.
    again = paired_block_bootstrap(a, b, true, true > 0, blocks=np.arange(40) // 4)
    assert (again.low, again.high) == (iv.low, iv.high)
    assert paired_block_bootstrap(b, a, true, true > 0, blocks=np.arange(40) // 4).diff == pytest.approx(-iv.diff)


def test_errors_name_what_is_wrong():
    z = np.zeros((3, 2))
    with pytest.raises(ProtocolError, match="no scored entry"):
        paired_block_bootstrap(z, z, z, z > 0, blocks=np.zeros(3))
    with pytest.raises(ProtocolError, match=r"must all be \[W\]"):
        paired_block_bootstrap_sums(np.zeros(3), np.zeros(3), np.ones(3), np.zeros(4))
    with pytest.raises(ProtocolError, match="must have one shape"):
        window_abs_errors(np.zeros((3, 2)), np.zeros((3, 1)), np.zeros((3, 1), dtype=bool))


def test_block_rule_days_when_there_are_enough_else_window_spans():
    steps = np.arange(0, 20 * 48, 6)  # first targets over 20 days of 30-min steps
    blocks, rule = window_blocks(steps, 48, 24)
    assert rule == "1 day" and np.array_equal(blocks, steps // 48) and np.unique(blocks).size == 20
    short = np.arange(100, 100 + 2 * 288)  # 2 days of 5-min steps (los-loop's test part)
    blocks, rule = window_blocks(short, 288, 24)
    assert rule == "24 steps (only 3 test days)" and np.array_equal(blocks, short // 24)
    assert np.unique(blocks).size == 25
