"""Paired intervals for two forecasts of the same test windows: a day-block bootstrap.

Neighbouring test windows share 23 of their 24 steps, so their errors are far from independent,
and a deterministic baseline has no seed spread at all: neither "mean +- 2 std over seeds" nor an
i.i.d. bootstrap over windows gives an honest interval. Here the windows are grouped into blocks
by the day of their first target step (24-hour days counted from the series' first step, which
need not be midnight: a block bootstrap needs contiguous blocks, not calendar ones), whole
blocks are resampled with replacement, and the
difference of the pooled MAEs of the two forecasts is recomputed on every resample (the same
resampled windows for both: a paired bootstrap). The percentile interval of those differences is
reported; it excludes zero when one forecast is better on most days, not on a few lucky windows.

Example::

    d = paired_block_bootstrap(pred_a, pred_b, true, mask, blocks=first_target_step // 48)
    d.diff, d.low, d.high  # MAE(a) - MAE(b) and its 95% interval
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from stvlm.errors import ProtocolError


#: Day blocks need enough days to resample: with fewer test days than this, blocks are
#: ``T_in + T_out`` steps long instead (a week-long series such as los-loop has 2 test days,
#: and a bootstrap over 2 blocks gives an interval that means nothing).
MIN_DAY_BLOCKS = 14


def window_blocks(first_target: np.ndarray, steps_per_day: int, window_steps: int) -> tuple[np.ndarray, str]:
    """Block id of every test window and the rule used, in words.

    Args:
        first_target: ``[W]`` step of each window's first target.
        steps_per_day: steps in one day.
        window_steps: ``T_in + T_out``, the span of one window.

    Returns:
        ``([W] block ids, "1 day" or "<window_steps> steps")``: days when the windows cover at
        least :data:`MIN_DAY_BLOCKS` days, else blocks of one window span.
    """
    first_target = np.asarray(first_target, dtype=np.int64)
    days = np.unique(first_target // steps_per_day).size
    if days >= MIN_DAY_BLOCKS:
        return first_target // steps_per_day, "1 day"
    return first_target // window_steps, f"{window_steps} steps (only {days} test days)"


@dataclass(frozen=True)
class PairedInterval:
    """``MAE(a) - MAE(b)`` on the test windows, with a day-block bootstrap interval.

    Attributes:
        diff: the difference on all windows (pooled over horizons and entries).
        low, high: percentile interval of the difference over the resamples.
        blocks: number of day blocks.
        resamples: bootstrap resamples drawn.
    """

    diff: float
    low: float
    high: float
    blocks: int
    resamples: int

    @property
    def excludes_zero(self) -> bool:
        """The interval lies entirely below or entirely above zero."""
        return self.high < 0 or self.low > 0


def window_abs_errors(pred: np.ndarray, true: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per window: the sum of absolute errors and the number of scored entries.

    Args:
        pred, true: ``[W, ...]`` forecast and truth in original units.
        mask: ``[W, ...]`` boolean, the scored entries.

    Returns:
        ``([W] float64 sums, [W] float64 counts)``.
    """
    if pred.shape != true.shape or mask.shape != true.shape:
        raise ProtocolError(
            f"pred {pred.shape}, true {true.shape} and mask {mask.shape} must have one shape"
        )
    err = np.where(mask, np.abs(pred.astype(np.float64) - true.astype(np.float64)), 0.0)
    w = true.shape[0]
    return err.reshape(w, -1).sum(axis=1), mask.reshape(w, -1).sum(axis=1).astype(np.float64)


def paired_block_bootstrap(
    pred_a: np.ndarray,
    pred_b: np.ndarray,
    true: np.ndarray,
    mask: np.ndarray,
    blocks: np.ndarray,
    *,
    resamples: int = 2000,
    level: float = 0.95,
    seed: int = 0,
) -> PairedInterval:
    """Day-block bootstrap interval of ``MAE(a) - MAE(b)`` on the same windows.

    Args:
        pred_a, pred_b: ``[W, T_out, N, C]`` two forecasts of the same windows.
        true: ``[W, T_out, N, C]`` truth.
        mask: ``[W, T_out, N, C]`` boolean, the scored entries (the same for both forecasts).
        blocks: ``[W]`` int block id of every window (e.g. the day of its first target step).
        resamples: bootstrap resamples.
        level: coverage of the percentile interval.
        seed: seed of the resampling.

    Raises:
        ProtocolError: shapes disagree, or no entry is scored (the MAE is undefined).
    """
    sum_a, count = window_abs_errors(pred_a, true, mask)
    sum_b, _ = window_abs_errors(pred_b, true, mask)
    return paired_block_bootstrap_sums(
        sum_a, sum_b, count, blocks, resamples=resamples, level=level, seed=seed
    )


def paired_block_bootstrap_sums(
    sum_a: np.ndarray,
    sum_b: np.ndarray,
    count: np.ndarray,
    blocks: np.ndarray,
    *,
    resamples: int = 2000,
    level: float = 0.95,
    seed: int = 0,
) -> PairedInterval:
    """:func:`paired_block_bootstrap` from per-window error sums (see :func:`window_abs_errors`).

    Seeded models pass the mean over seeds of their per-window sums, so the interval is that of
    the expected MAE of one seed against the other forecast.

    Args:
        sum_a, sum_b: ``[W]`` summed absolute errors of the two forecasts per window.
        count: ``[W]`` scored entries per window.
        blocks: ``[W]`` block id of every window.
    """
    blocks = np.asarray(blocks)
    if not (sum_a.shape == sum_b.shape == count.shape == blocks.shape) or blocks.ndim != 1:
        raise ProtocolError(
            f"sums {sum_a.shape} / {sum_b.shape}, counts {count.shape} and blocks {blocks.shape} "
            "must all be [W]"
        )
    if count.sum() == 0:
        raise ProtocolError("no scored entry in the test windows: the MAE difference is undefined")
    ids, inverse = np.unique(blocks, return_inverse=True)
    k = ids.size
    # Per block: the summed absolute-error difference and the scored entries.
    d_block = np.bincount(inverse, weights=sum_a - sum_b, minlength=k)  # [K]
    n_block = np.bincount(inverse, weights=count, minlength=k)  # [K]
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, k, size=(resamples, k))  # [R, K] resampled blocks
    den = n_block[draws].sum(axis=1)  # [R]
    diffs = d_block[draws].sum(axis=1) / np.where(den > 0, den, np.nan)  # [R]
    diffs = diffs[np.isfinite(diffs)]
    alpha = (1 - level) / 2
    low, high = np.quantile(diffs, [alpha, 1 - alpha])
    return PairedInterval(
        diff=float((sum_a - sum_b).sum() / count.sum()), low=float(low), high=float(high),
        blocks=int(k), resamples=int(resamples),
    )
