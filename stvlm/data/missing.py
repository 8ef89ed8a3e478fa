"""Non-finite values (NaN, Inf) in a series: counted, never propagated.

A loaded series keeps its NaN entries (Inf is turned into NaN at load, see
:class:`~stvlm.data.series.SpatioTemporalData`): targets stay NaN so every metric and loss
leaves them out (:func:`stvlm.metrics.observed_mask`), while what a model *reads* (its inputs,
its lookback, a seasonal-naive lookup, a ridge feature) comes from :func:`fill_forward`, the
last finite value of the same node and channel, or the training mean before the first one.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class NonFinite:
    """How many entries of a series are NaN and how many are +-Inf."""

    nan: int
    inf: int

    @classmethod
    def of(cls, values: np.ndarray) -> NonFinite:
        """Counts of ``values`` (any shape)."""
        if not np.issubdtype(values.dtype, np.floating):
            return cls(0, 0)
        return cls(int(np.isnan(values).sum()), int(np.isinf(values).sum()))

    @property
    def total(self) -> int:
        return self.nan + self.inf

    def describe(self, size: int) -> str:
        """``"none"`` or ``"12 NaN, 3 Inf of 6,000 entries"``."""
        if not self.total:
            return "none"
        return f"{self.nan:,} NaN, {self.inf:,} Inf of {size:,} entries"


def fill_forward(values: np.ndarray, fallback: np.ndarray) -> np.ndarray:
    """Replace every non-finite entry of ``values [T, N, C]`` by the last finite value before it
    (same node and channel), or by ``fallback [C]`` where none precedes it.

    Returns ``values`` itself (no copy) when every entry is finite.
    """
    finite = np.isfinite(values)  # [T, N, C]
    if finite.all():
        return values
    steps = np.arange(values.shape[0])[:, None, None]  # [T, 1, 1]
    last = np.maximum.accumulate(np.where(finite, steps, -1), axis=0)  # [T, N, C] source step
    filled = np.take_along_axis(values, np.maximum(last, 0), axis=0)  # [T, N, C]
    fill = np.broadcast_to(np.asarray(fallback, dtype=values.dtype), values.shape)
    return np.where(last >= 0, filled, fill).astype(values.dtype, copy=False)
