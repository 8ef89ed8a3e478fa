"""Time-of-day / day-of-week helpers."""

from __future__ import annotations

import math

import numpy as np
import torch

from stvlm.data.timefeatures import (
    cyclic_encoding,
    dow_from_timestamps,
    make_timestamps,
    time_of_week,
    tod_fraction,
    tod_from_timestamps,
)


def test_timestamps_tod_and_dow():
    ts = make_timestamps("2012-03-01T23:30", 4, 15)  # Thursday 23:30 -> Friday 00:15
    assert ts.dtype == np.dtype("datetime64[m]")
    assert str(ts[-1]) == "2012-03-02T00:15"
    np.testing.assert_array_equal(tod_from_timestamps(ts, 15), [94, 95, 0, 1])
    np.testing.assert_array_equal(dow_from_timestamps(ts), [3, 3, 4, 4])
    monday = np.array(["2015-01-05T08:00", "1970-01-01T00:00"], dtype="datetime64[s]")
    np.testing.assert_array_equal(dow_from_timestamps(monday), [0, 3])


def test_time_of_week_and_fraction():
    tod, dow = np.array([0, 95, 3]), np.array([0, 0, 6])
    np.testing.assert_array_equal(time_of_week(tod, dow, 96), [0, 95, 579])
    tow = time_of_week(torch.tensor(tod), torch.tensor(dow), 96)
    torch.testing.assert_close(tow, torch.tensor([0, 95, 579]))
    np.testing.assert_allclose(tod_fraction(np.array([0, 24, 48]), 96), [0.0, 0.25, 0.5])
    frac = tod_fraction(torch.tensor([72]), 96)
    assert frac.dtype == torch.float32 and frac.item() == 0.75


def test_cyclic_encoding():
    enc = cyclic_encoding(np.array([0, 24, 48]), 96)  # 0, pi/2, pi
    assert enc.shape == (3, 2)
    np.testing.assert_allclose(enc, [[0, 1], [1, 0], [0, -1]], atol=1e-12)
    enc_t = cyclic_encoding(torch.tensor([[12]]), 48)  # quarter period
    assert enc_t.shape == (1, 1, 2) and enc_t.dtype == torch.float32
    torch.testing.assert_close(enc_t, torch.tensor([[[1.0, math.cos(math.pi / 2)]]]))
