"""Adjacency conventions: distances to closeness, and each node's neighbour-mean weights."""

from __future__ import annotations

import numpy as np
import pytest

from stvlm.data.graph import distance_to_closeness, neighbour_weights
from stvlm.errors import DataError


def test_neighbour_weights_are_off_diagonal_rows_normalised_to_one() -> None:
    a = np.array([[1.0, 2.0, 0.0, 2.0],
                  [1.0, 0.0, 3.0, 0.0],
                  [0.0, 0.0, 5.0, 0.0],   # only a self loop: no neighbour, no entry
                  [0.0, 4.0, 4.0, 0.0]], dtype=np.float32)
    index, weight = neighbour_weights(a)
    assert index.dtype == np.int64 and weight.dtype == np.float32
    assert index.tolist() == [[0, 0, 1, 1, 3, 3], [1, 3, 0, 2, 1, 2]]
    assert weight.tolist() == [0.5, 0.5, 0.25, 0.75, 0.5, 0.5]


def test_neighbour_weights_reject_bad_adjacency() -> None:
    with pytest.raises(DataError, match=r"square \[N, N\] matrix, got shape \(2, 3\)"):
        neighbour_weights(np.zeros((2, 3)))
    with pytest.raises(DataError, match="finite and >= 0"):
        neighbour_weights(np.array([[0.0, -1.0], [1.0, 0.0]]))
    with pytest.raises(DataError, match="finite and >= 0"):
        neighbour_weights(np.array([[0.0, np.nan], [1.0, 0.0]]))


def test_distance_to_closeness_is_the_thresholded_gaussian_kernel() -> None:
    d = np.array([[0.0, 1.0, 3.0], [1.0, 0.0, np.inf], [3.0, np.inf, 0.0]])
    w = distance_to_closeness(d)
    sigma = np.std([1.0, 3.0, 1.0, 3.0])  # the finite positive distances: 1.0
    assert w[0, 1] == pytest.approx(np.exp(-(1.0 / sigma) ** 2))  # e^-1 = 0.368
    assert w[0, 2] == 0.0  # e^-9 is below the 0.1 threshold
    assert w[1, 2] == 0.0 and np.diag(w).tolist() == [1.0, 1.0, 1.0]
    with pytest.raises(DataError, match="must be >= 0"):
        distance_to_closeness(np.array([[0.0, -1.0], [1.0, 0.0]]))
    with pytest.raises(DataError, match="no finite positive entry"):
        distance_to_closeness(np.zeros((2, 2)))
