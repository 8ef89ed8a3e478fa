"""Window starts, index arrays and gathers on tiny series."""

from __future__ import annotations

import numpy as np
import pytest

from stvlm.data.windows import covered_steps, gather_windows, window_index, window_starts


def test_window_starts_counts_every_fitting_window():
    starts = window_starts(40, 12, 12)
    assert starts.dtype == np.int64
    np.testing.assert_array_equal(starts, np.arange(17))  # 40 - 24 + 1


def test_window_starts_edges_and_stride():
    assert window_starts(23, 12, 12).size == 0
    np.testing.assert_array_equal(window_starts(24, 12, 12), [0])
    np.testing.assert_array_equal(window_starts(40, 12, 12, stride=4), [0, 4, 8, 12, 16])
    np.testing.assert_array_equal(window_starts(10, 3, 2, stride=3), [0, 3])


@pytest.mark.parametrize("args", [(40, 0, 12, 1), (40, 12, 0, 1), (40, 12, 12, 0)])
def test_window_starts_rejects_non_positive_lengths(args):
    with pytest.raises(ValueError, match="must be >= 1"):
        window_starts(*args)


def test_window_index_offsets_each_start():
    idx = window_index(np.array([0, 5]), length=3, offset=2)
    np.testing.assert_array_equal(idx, [[2, 3, 4], [7, 8, 9]])
    assert idx.dtype == np.int64


def test_gather_windows_copies_the_exact_steps():
    series = np.arange(20 * 2 * 1).reshape(20, 2, 1)  # [T, N, C], value = 2 * t + n
    x = gather_windows(series, np.array([3, 10]), length=4)
    y = gather_windows(series, np.array([3, 10]), length=2, offset=4)
    assert x.shape == (2, 4, 2, 1) and y.shape == (2, 2, 2, 1)
    np.testing.assert_array_equal(x[0, :, 0, 0], [6, 8, 10, 12])  # steps 3..6, node 0
    np.testing.assert_array_equal(y[1, :, 1, 0], [29, 31])  # steps 14..15, node 1


def test_covered_steps_spans_inputs_and_targets():
    assert covered_steps(np.array([2, 3, 9]), 4, 3) == (2, 16)
    with pytest.raises(ValueError, match="at least one"):
        covered_steps(np.array([], dtype=np.int64), 4, 3)
