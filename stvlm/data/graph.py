"""Adjacency weights: what a number in an adjacency matrix means, and one convention inside.

Every model here reads an adjacency as *closeness* (larger = more strongly linked, 0 = no link).
A matrix of *distances* (road metres, travel minutes) means the opposite, so it is converted
with the thresholded Gaussian kernel of DCRNN (Li et al., ICLR 2018, eq. 10):
``w_ij = exp(-(d_ij / sigma)^2)``, ``sigma`` the standard deviation of the finite positive
distances, weights below ``threshold`` set to 0. A distance of 0 or a non-finite one off the
diagonal means no link; the diagonal is 1.
"""

from __future__ import annotations

import numpy as np

from stvlm.errors import DataError

WEIGHT_KINDS = ("closeness", "distance")


def distance_to_closeness(distance: np.ndarray, threshold: float = 0.1) -> np.ndarray:
    """``[N, N]`` distances -> ``[N, N]`` float32 closeness weights in ``[0, 1]`` (see module).

    Raises:
        DataError: a negative distance, or no finite positive distance at all.
    """
    d = np.asarray(distance, dtype=np.float64)  # [N, N]
    if (d[np.isfinite(d)] < 0).any():
        raise DataError("adjacency distances must be >= 0 (a negative distance was found)")
    linked = np.isfinite(d) & (d > 0)  # [N, N]
    if not linked.any():
        raise DataError("adjacency distances have no finite positive entry: no link to weigh")
    sigma = float(d[linked].std()) or float(d[linked].mean())  # one distance: its own scale
    w = np.where(linked, np.exp(-np.square(np.where(linked, d, 0.0) / sigma)), 0.0)
    w[w < threshold] = 0.0
    np.fill_diagonal(w, 1.0)
    return w.astype(np.float32)


def neighbour_weights(adjacency: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each node's neighbour-mean weights, as sparse rows of a closeness adjacency.

    Row ``i`` holds the off-diagonal closeness weights ``A[i, j] > 0`` normalised to sum 1, so
    ``sum_j w_ij f_j`` is the closeness-weighted mean of node ``i``'s neighbours' features (its
    own features are not part of it). A node without a neighbour has no entry (its mean is 0).

    Args:
        adjacency: ``[N, N]`` non-negative closeness weights, ``A[i, j]`` from ``i`` to ``j``.

    Returns:
        ``index [2, E]`` int64 (rows ``i``, then neighbours ``j``) and ``weight [E]`` float32.

    Raises:
        DataError: an adjacency that is not square or has a negative or non-finite weight.
    """
    a = np.array(adjacency, dtype=np.float64)  # [N, N], a copy: its diagonal is cleared below
    if a.ndim != 2 or a.shape[0] != a.shape[1]:
        raise DataError(f"adjacency must be a square [N, N] matrix, got shape {a.shape}")
    if not np.isfinite(a).all() or (a < 0).any():
        raise DataError("adjacency closeness weights must be finite and >= 0")
    np.fill_diagonal(a, 0.0)
    rows, cols = np.nonzero(a)  # row-major order: each node's neighbours together
    total = a.sum(axis=1)  # [N]
    weight = a[rows, cols] / total[rows]  # [E]
    return np.stack([rows, cols]).astype(np.int64), weight.astype(np.float32)
