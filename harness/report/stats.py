"""Seed-noise intervals: is a difference of means larger than what re-seeding alone produces?

Two samples (per-seed values of two configurations) are compared with Welch's t interval for the
difference of means; a sample against a fixed published number with the one-sample t interval.
A difference counts as "larger than seed noise" when its interval excludes zero. With a single
seed on a side there is no estimate of the noise and the verdict is ``"n/a (1 seed)"``.

The Student t quantiles come from SciPy.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from scipy import stats

NA_ONE_SEED = "n/a (1 seed)"


@dataclass(frozen=True)
class Interval:
    """A difference of means with its confidence interval.

    Attributes:
        diff: mean(a) - mean(b) (or mean(a) - value).
        low, high: interval bounds; NaN when there is no noise estimate.
        df: degrees of freedom of the t distribution (NaN when undefined).
        verdict: ``"yes"`` (interval excludes 0), ``"no"``, or :data:`NA_ONE_SEED`.
    """

    diff: float
    low: float
    high: float
    df: float
    verdict: str


def t_cdf(t: float, df: float) -> float:
    """CDF of Student's t distribution with ``df`` degrees of freedom (SciPy)."""
    return float(stats.t.cdf(t, df))


def t_quantile(p: float, df: float) -> float:
    """Quantile of Student's t (``p`` in (0, 1), ``df > 0``; SciPy)."""
    if not 0.0 < p < 1.0 or not df > 0:
        raise ValueError(f"t_quantile needs 0 < p < 1 and df > 0, got p={p}, df={df}")
    return float(stats.t.ppf(p, df))


def _mean_var(xs: Sequence[float]) -> tuple[float, float, int]:
    n = len(xs)
    mean = sum(xs) / n
    var = sum((x - mean) ** 2 for x in xs) / (n - 1) if n > 1 else math.nan
    return mean, var, n


def _interval(diff: float, se2: float, df: float, level: float) -> Interval:
    if se2 == 0.0:  # no spread at all: the difference is exact
        verdict = "yes" if diff != 0.0 else "no"
        return Interval(diff, diff, diff, df, verdict)
    half = t_quantile(0.5 + level / 2.0, df) * math.sqrt(se2)
    low, high = diff - half, diff + half
    return Interval(diff, low, high, df, "yes" if low > 0.0 or high < 0.0 else "no")


def welch_interval(a: Sequence[float], b: Sequence[float], level: float = 0.95) -> Interval:
    """Welch's t interval for ``mean(a) - mean(b)`` (unequal variances, Welch-Satterthwaite df).

    Args:
        a, b: per-seed values of the two configurations (each at least one value).
        level: confidence level, e.g. 0.95.
    """
    ma, va, na = _mean_var(a)
    mb, vb, nb = _mean_var(b)
    diff = ma - mb
    if na < 2 or nb < 2:
        return Interval(diff, math.nan, math.nan, math.nan, NA_ONE_SEED)
    sa, sb = va / na, vb / nb
    se2 = sa + sb
    df = se2 * se2 / (sa * sa / (na - 1) + sb * sb / (nb - 1)) if se2 > 0 else math.inf
    return _interval(diff, se2, df, level)


def one_sample_interval(a: Sequence[float], value: float, level: float = 0.95) -> Interval:
    """t interval for ``mean(a) - value`` where ``value`` is a fixed (published) number."""
    ma, va, na = _mean_var(a)
    diff = ma - value
    if na < 2:
        return Interval(diff, math.nan, math.nan, math.nan, NA_ONE_SEED)
    return _interval(diff, va / na, float(na - 1), level)
