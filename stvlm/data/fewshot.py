"""Few-shot selection: which training windows a run may use.

``first`` (default) keeps the first windows of the chronological training part, contiguous: the
leak-free STD-PLM convention (``train_range = [0, int(train_len * few_shot)]``), except that the
block starts at the first window whose periodic lookback lies inside the series (the pool handed
in), so every training window has its history. The budget is ``ratio`` of *all* training-part
windows (or ``windows``, or a named budget), counted in target windows.
``random`` keeps a seeded random subset of the same size (Time-VLM's ``randperm``); it sees more
diverse dates and gives optimistic numbers, so outputs carry ``FewShotConfig.label``.
Validation and test windows never change.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable

import numpy as np

from stvlm.configs import FewShotConfig
from stvlm.errors import ProtocolError
from stvlm.registry import Registry

logger = logging.getLogger(__name__)

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


def budget_count(cfg: FewShotConfig, num_windows: int, dataset: str) -> int:
    """Training windows a few-shot config asks for.

    Args:
        cfg: the selection.
        num_windows: windows of the whole training part (the base of ``ratio``).
        dataset: dataset name (named budgets are per dataset).
    """
    if cfg.budget is not None:
        from stvlm.data.budgets import budget_windows

        return budget_windows(cfg.budget, dataset)
    if cfg.windows is not None:
        return cfg.windows
    return few_shot_count(num_windows, cfg.ratio)


def select_few_shot(
    pool: np.ndarray, cfg: FewShotConfig, *, total: int | None = None, dataset: str = ""
) -> np.ndarray:
    """Pick the training windows of a few-shot run.

    Args:
        pool: ``[W]`` increasing starts of the training windows that may be used (those whose
            periodic lookback is available).
        cfg: budget, method and seed.
        total: windows of the whole training part, the base of ``cfg.ratio`` (default: the pool).
        dataset: dataset name, for named budgets and messages.

    Returns:
        ``[K]`` int64 increasing starts, ``K = min(budget, W)``; the whole pool when the budget
        covers it. The same config always gives the same windows.

    Raises:
        ProtocolError: the pool is empty, or a window budget exceeds the pool.
    """
    pool = np.asarray(pool, dtype=np.int64)
    if pool.size == 0:
        raise ProtocolError(
            f"few_shot = {cfg.label}: the training part holds no window with its periodic lookback"
        )
    k = budget_count(cfg, pool.size if total is None else total, dataset)
    if (cfg.windows is not None or cfg.budget is not None) and k > pool.size:
        raise ProtocolError(
            f"few_shot = {cfg.label} asks for {k} training windows, but dataset {dataset!r} has "
            f"{pool.size} training windows with their periodic lookback; allowed: <= {pool.size}"
        )
    if k >= pool.size:
        if k > pool.size and cfg.ratio < 1.0:
            # A ratio's base is the whole training part; windows without their lookback are not
            # in the pool, so a large ratio can ask for more than exist. Say so: two such ratios
            # are the same experiment.
            logger.warning(
                "few_shot = %s asks for %d training windows; dataset %r has %d with their periodic "
                "lookback, so all %d are used (ratios above %.3f all mean the whole pool)",
                cfg.label, k, dataset, pool.size, pool.size, pool.size / (total or pool.size),
            )
        return pool.copy()
    return FEW_SHOT_METHODS.get(cfg.method)(pool, k, cfg)
