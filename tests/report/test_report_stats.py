"""Seed-noise intervals: t quantiles, Welch's interval and the one-sample interval on tiny inputs."""

from __future__ import annotations

import math

import pytest

from harness.report.stats import NA_ONE_SEED, one_sample_interval, t_cdf, t_quantile, welch_interval


@pytest.mark.parametrize(
    ("df", "expected"),  # two-sided 95% critical values from standard t tables (to 12 digits)
    [(1, 12.7062047361747), (2, 4.30265272974946), (4, 2.77644510519779), (10, 2.22813885198627),
     (30, 2.04227245630124)],
)
def test_t_quantile_matches_tables(df: int, expected: float) -> None:
    assert t_quantile(0.975, df) == pytest.approx(expected, abs=1e-9)
    assert t_quantile(0.025, df) == pytest.approx(-expected, abs=1e-9)


@pytest.mark.parametrize("t", [-3.0, -0.5, 0.0, 0.7, 4.0])
def test_t_cdf_closed_forms(t: float) -> None:
    assert t_cdf(t, 1) == pytest.approx(0.5 + math.atan(t) / math.pi, abs=1e-12)  # Cauchy
    assert t_cdf(t, 2) == pytest.approx(0.5 + t / (2 * math.sqrt(2 + t * t)), abs=1e-12)


def test_t_quantile_inverts_cdf_at_fractional_df() -> None:
    q = t_quantile(0.9, 4.959183673469388)
    assert t_cdf(q, 4.959183673469388) == pytest.approx(0.9, abs=1e-11)


def test_t_quantile_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError, match="0 < p < 1 and df > 0"):
        t_quantile(1.0, 3)
    with pytest.raises(ValueError):
        t_quantile(0.5, 0)


def test_welch_interval_by_hand() -> None:
    # a: mean 2, var 1; b: mean 5.5, var 5/3. se^2 = 1/3 + 5/12 = 3/4; df = (9/16) / (49/432).
    iv = welch_interval([1.0, 2.0, 3.0], [4.0, 5.0, 6.0, 7.0], 0.95)
    df = 3888 / 784
    half = t_quantile(0.975, df) * math.sqrt(0.75)
    assert iv.diff == -3.5
    assert iv.df == pytest.approx(df, rel=1e-14)
    assert (iv.low, iv.high) == pytest.approx((-3.5 - half, -3.5 + half), rel=1e-14)
    assert iv.verdict == "yes"
    assert welch_interval([1.0, 2.0, 3.0], [1.5, 2.5, 2.0]).verdict == "no"


def test_welch_with_a_deterministic_side() -> None:
    iv = welch_interval([1.0, 2.0, 3.0], [2.5, 2.5, 2.5])  # df = n_a - 1 = 2
    half = 4.30265272974946 * math.sqrt(1 / 3)
    assert iv.df == pytest.approx(2.0, rel=1e-14)
    assert (iv.low, iv.high) == pytest.approx((-0.5 - half, -0.5 + half), abs=1e-9)
    exact = welch_interval([2.0, 2.0], [1.0, 1.0])
    assert (exact.diff, exact.low, exact.high, exact.verdict) == (1.0, 1.0, 1.0, "yes")
    assert welch_interval([2.0, 2.0], [2.0, 2.0]).verdict == "no"


def test_one_seed_has_no_noise_estimate() -> None:
    for iv in (welch_interval([1.0], [2.0, 3.0]), welch_interval([1.0, 2.0], [3.0]),
               one_sample_interval([1.0], 0.5)):
        assert iv.verdict == NA_ONE_SEED == "n/a (1 seed)"
        assert math.isnan(iv.low) and math.isnan(iv.high)
    assert welch_interval([1.0], [2.0, 3.0]).diff == -1.5


def test_one_sample_interval_by_hand() -> None:
    iv = one_sample_interval([1.0, 2.0, 3.0], 2.0, 0.95)
    half = 4.30265272974946 * math.sqrt(1 / 3)
    assert (iv.diff, iv.df, iv.verdict) == (0.0, 2.0, "no")
    assert (iv.low, iv.high) == pytest.approx((-half, half), abs=1e-9)
    assert one_sample_interval([1.0, 2.0, 3.0], -5.0).verdict == "yes"
