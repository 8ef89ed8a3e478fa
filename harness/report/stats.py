"""Seed-noise intervals: is a difference of means larger than what re-seeding alone produces?

Two samples (per-seed values of two configurations) are compared with Welch's t interval for the
difference of means; a sample against a fixed published number with the one-sample t interval.
A difference counts as "larger than seed noise" when its interval excludes zero. With a single
seed on a side there is no estimate of the noise and the verdict is ``"n/a (1 seed)"``.

The Student t quantile comes from the regularised incomplete beta function (continued fraction,
Numerical Recipes 6.4) inverted by bisection, so no SciPy is needed.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

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


def _betacf(a: float, b: float, x: float) -> float:
    """Continued fraction of the incomplete beta function (modified Lentz)."""
    tiny, eps = 1e-300, 1e-15

    def guard(v: float) -> float:
        return v if abs(v) > tiny else tiny

    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c, d = 1.0, 1.0 / guard(1.0 - qab * x / qap)
    h = d
    for m in range(1, 400):
        m2 = 2 * m
        for aa in (
            m * (b - m) * x / ((qam + m2) * (a + m2)),
            -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2)),
        ):
            d = 1.0 / guard(1.0 + aa * d)
            c = guard(1.0 + aa / c)
            h *= d * c
        if abs(d * c - 1.0) < eps:
            break
    return h


def betainc(a: float, b: float, x: float) -> float:
    """Regularised incomplete beta function ``I_x(a, b)`` for ``0 <= x <= 1``."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    log_front = math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)
    if x < (a + 1.0) / (a + b + 2.0):
        return math.exp(log_front) * _betacf(a, b, x) / a
    return 1.0 - math.exp(log_front) * _betacf(b, a, 1.0 - x) / b


def t_cdf(t: float, df: float) -> float:
    """CDF of Student's t distribution with ``df`` degrees of freedom."""
    tail = 0.5 * betainc(df / 2.0, 0.5, df / (df + t * t))
    return 1.0 - tail if t > 0 else tail


def t_quantile(p: float, df: float) -> float:
    """Quantile of Student's t (``p`` in (0, 1), ``df > 0``), accurate to about 1e-10."""
    if not 0.0 < p < 1.0 or not df > 0:
        raise ValueError(f"t_quantile needs 0 < p < 1 and df > 0, got p={p}, df={df}")
    if p < 0.5:
        return -t_quantile(1.0 - p, df)
    lo, hi = 0.0, 1.0
    while t_cdf(hi, df) < p:
        hi *= 2.0
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if t_cdf(mid, df) < p:
            lo = mid
        else:
            hi = mid
        if hi - lo < 1e-12 * max(1.0, hi):
            break
    return 0.5 * (lo + hi)


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
