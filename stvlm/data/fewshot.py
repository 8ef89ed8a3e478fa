"""Few-shot selection: which training windows a run may use.

``first`` (default) keeps the first ``ratio`` of the chronological training windows, contiguous:
the leak-free STD-PLM convention (``train_range = [0, int(train_len * few_shot)]``).
``random`` keeps a seeded random subset of the same size (Time-VLM's ``randperm``); it sees more
diverse dates and gives optimistic numbers, so outputs carry ``FewShotConfig.label``.
Validation and test windows never change.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from stvlm.config import FewShotConfig
from stvlm.errors import ProtocolError
from stvlm.registry import Registry

FEW_SHOT_METHODS: Registry[Callable[[np.ndarray, int, FewShotConfig], np.ndarray]] = Registry(
    "few-shot method"
)


def few_shot_count(num_windows: int, ratio: float) -> int:
    """Windows kept: ``ceil(ratio * num_windows)``, at least 1.

    The product is rounded to 9 decimals first, so binary noise (``0.1 * 30 = 3.0000000000000004``)
    does not add a window.
    """
    return max(1, math.ceil(round(ratio * num_windows, 9)))


@FEW_SHOT_METHODS.register("first")
def _first(train_starts: np.ndarray, k: int, cfg: FewShotConfig) -> np.ndarray:
    return train_starts[:k]


@FEW_SHOT_METHODS.register("random")
def _random(train_starts: np.ndarray, k: int, cfg: FewShotConfig) -> np.ndarray:
    rng = np.random.default_rng(cfg.seed)
    picked = rng.choice(train_starts.size, size=k, replace=False)
    return train_starts[np.sort(picked)]


def select_few_shot(train_starts: np.ndarray, cfg: FewShotConfig) -> np.ndarray:
    """Pick the training windows of a few-shot run.

    Args:
        train_starts: ``[W]`` increasing starts of all training windows.
        cfg: ratio, method and seed.

    Returns:
        ``[K]`` int64 increasing starts, ``K = few_shot_count(W, cfg.ratio)``; all of them when
        ``ratio == 1``. The same config always gives the same windows.

    Raises:
        ProtocolError: there are no training windows to select from.
    """
    train_starts = np.asarray(train_starts, dtype=np.int64)
    if train_starts.size == 0:
        raise ProtocolError(f"few_shot = {cfg.label}: the training part holds no window")
    k = few_shot_count(train_starts.size, cfg.ratio)
    if k >= train_starts.size:
        return train_starts.copy()
    return FEW_SHOT_METHODS.get(cfg.method)(train_starts, k, cfg)
