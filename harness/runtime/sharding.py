"""Sharding the training windows across DDP ranks (what ``DistributedSampler`` does for a Dataset).

:class:`ShardedForecast` wraps a :class:`stvlm.data.pipeline.ForecastData` for one rank of a
data-parallel run: ``batches("train", ...)`` draws the epoch's global order (the same seeded
permutation on every rank), pads it by wrapping around to a multiple of the world size, and
keeps every ``world_size``-th window starting at ``rank``. Every rank therefore sees the same
number of windows (DDP needs equal numbers of backward passes), the ranks together see every
window once per epoch, and the split changes every epoch. Validation and test batches are not
sharded. Everything else is delegated to the wrapped forecast, so the engine cannot tell the
difference.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Iterator
from typing import Any

import numpy as np
import torch

from stvlm.data.batch import STBatch
from stvlm.data.forecast import Forecast


def shard_indices(num: int, rank: int, world_size: int, *, seed: int, shuffle: bool) -> np.ndarray:
    """Indices into ``num`` windows that rank ``rank`` of ``world_size`` visits this epoch.

    Args:
        num: number of windows W.
        rank: this rank, in ``[0, world_size)``.
        world_size: number of ranks R.
        seed: the epoch's shuffle seed (identical on every rank).
        shuffle: permute before sharding (else the chronological order).

    Returns:
        ``[ceil(W / R)]`` int64 indices (the padded tail repeats the first indices of the order).
    """
    if not 0 <= rank < world_size:
        raise ValueError(f"rank {rank} is outside [0, {world_size})")
    if shuffle:
        order = torch.randperm(num, generator=torch.Generator().manual_seed(seed)).numpy()  # [W]
    else:
        order = np.arange(num)  # [W]
    per_rank = -(-num // world_size)
    padded = np.resize(order, per_rank * world_size)  # [ceil(W/R) * R], wraps around
    return padded[rank::world_size].astype(np.int64)  # [ceil(W/R)]


class ShardedForecast:
    """A rank's view of a forecast: training batches sharded, everything else shared.

    Args:
        forecast: the full :class:`~stvlm.data.pipeline.ForecastData`.
        rank: this worker's rank.
        world_size: number of workers.
    """

    def __init__(self, forecast: Forecast, rank: int, world_size: int) -> None:
        self._forecast = forecast
        self.rank = rank
        self.world_size = world_size

    def __getattr__(self, name: str) -> Any:
        return getattr(self._forecast, name)

    def batches(
        self,
        part: str,
        batch_size: int,
        *,
        shuffle: bool = False,
        seed: int = 0,
        device: str | torch.device = "cpu",
        drop_last: bool = False,
    ) -> Iterator[STBatch]:
        """Like ``ForecastData.batches``; the ``train`` part yields only this rank's shard."""
        if part != "train":
            return self._forecast.batches(
                part, batch_size, shuffle=shuffle, seed=seed, device=device, drop_last=drop_last
            )
        starts = self._forecast.splits.train  # [W]
        mine = shard_indices(len(starts), self.rank, self.world_size, seed=seed, shuffle=shuffle)
        view = copy.copy(self._forecast)  # shares the cached device tensors
        view.splits = dataclasses.replace(self._forecast.splits, train=starts[mine])
        return view.batches("train", batch_size, shuffle=False, device=device, drop_last=drop_last)
