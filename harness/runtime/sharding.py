"""Sharding the training windows across DDP ranks (what ``DistributedSampler`` does for a Dataset).

:class:`ShardedForecast` wraps a :class:`stvlm.data.pipeline.ForecastData` for one rank of a
data-parallel run: ``batches("train", ...)`` draws the epoch's global order (the same seeded
permutation on every rank), pads it by wrapping around to a multiple of the world size, and
keeps every ``world_size``-th window starting at ``rank``. Every rank therefore sees the same
number of windows (DDP needs equal numbers of backward passes), the ranks together see every
window once per epoch, and the split changes every epoch. Validation and test windows are split
into ``world_size`` contiguous chunks, one per rank; :meth:`ShardedForecast.gather` collects
the ranks' predictions (``torch.distributed.all_gather_object``) back into window order, so every
rank scores every window and takes the same early-stopping decision, while each predicts only its
share; ``num_windows`` counts the rank's own share too (what the engine plans its steps on), and
:meth:`ShardedForecast.mean_over_ranks` averages a rank's number (its epoch's training loss) over
every rank.
Everything else is delegated to the wrapped forecast, so the engine cannot tell the difference.
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


def eval_chunk(num: int, rank: int, world_size: int) -> slice:
    """Rank ``rank``'s contiguous chunk of ``num`` evaluation windows: the chunks of ranks
    ``0 .. world_size - 1`` in order cover ``0 .. num - 1`` once, their sizes differ by at most one."""
    if not 0 <= rank < world_size:
        raise ValueError(f"rank {rank} is outside [0, {world_size})")
    base, extra = divmod(num, world_size)
    start = rank * base + min(rank, extra)
    return slice(start, start + base + (rank < extra))


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

    @property
    def full(self) -> Forecast:
        """The whole forecast this rank holds a view of."""
        return self._forecast

    def num_windows(self, part: str) -> int:
        """This rank's windows of ``part``: its training shard (``ceil(W / R)``, the padded share
        the engine steps through every epoch and sizes its learning-rate schedule and warm-up
        on; the whole count gave R times the steps a rank takes) or its evaluation chunk.
        ``full.num_windows`` counts the whole part."""
        total = self._forecast.num_windows(part)
        if part == "train":
            return -(-total // self.world_size)
        chunk = eval_chunk(total, self.rank, self.world_size)
        return chunk.stop - chunk.start

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
        """Like ``ForecastData.batches``: the ``train`` part yields this epoch's shard of the
        rank, the evaluation parts its contiguous chunk (:func:`eval_chunk`)."""
        starts = self._forecast.splits.part(part)  # [W]
        if part == "train":
            mine = shard_indices(len(starts), self.rank, self.world_size, seed=seed, shuffle=shuffle)
            shuffle = False
        else:
            mine = np.arange(len(starts))[eval_chunk(len(starts), self.rank, self.world_size)]
        view = copy.copy(self._forecast)  # shares the cached device tensors
        view.splits = dataclasses.replace(self._forecast.splits, **{part: starts[mine]})
        return view.batches(part, batch_size, shuffle=shuffle, seed=seed, device=device, drop_last=drop_last)

    def mean_over_ranks(self, value: float, device: str | torch.device = "cpu") -> float:
        """The mean of ``value`` over every rank (``all_reduce``; every rank must call it at the same
        point). A rank's epoch training loss is the mean over its shard's batches, and the shards
        hold equal numbers of batches, so the mean over ranks is the epoch's mean over every batch.
        ``device``: where the reduction runs (NCCL reduces CUDA tensors only)."""
        if self.world_size == 1:
            return float(value)
        import torch.distributed as dist

        total = torch.tensor([float(value)], dtype=torch.float64, device=device)  # [1]
        dist.all_reduce(total)
        return float(total.item()) / self.world_size

    def gather(self, part: str, pred: np.ndarray) -> np.ndarray:
        """Every rank's chunk of ``part`` (``pred [W_rank, T_out, N, C_out]`` here), concatenated
        in rank order: ``[W, T_out, N, C_out]`` in window order, on every rank. Training shards
        are never gathered."""
        if part == "train":
            raise ValueError("gather collects evaluation chunks; the training part is sharded per epoch")
        if self.world_size == 1:
            return pred
        import torch.distributed as dist

        chunks: list[Any] = [None] * self.world_size
        dist.all_gather_object(chunks, pred)
        full = np.concatenate(chunks)
        expected = self._forecast.num_windows(part)
        if full.shape[0] != expected:
            raise RuntimeError(f"gathered {full.shape[0]} {part} windows from {self.world_size} ranks; expected {expected}")
        return full
