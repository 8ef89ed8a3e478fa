"""Differences of the best configurations against baselines, published numbers and other studies.

Baselines are matched on the same splits (:data:`~harness.report.aggregate.SPLIT_KEYS`: dataset,
protocol, few-shot ratio, selection method and label) across every loaded study; the difference of
per-seed means gets Welch's t interval. Published numbers (anchors) are fixed values matched on
dataset, protocol, metric and few-shot selection (rows marked ``protocol_match = yes`` at the
arm's few-shot label; a file without that column: the ratio); the difference gets the one-sample t
interval, and :func:`anchor_gap` says why none matched.
"""

from __future__ import annotations

import math

import polars as pl

from harness.report.aggregate import SPLIT_KEYS, seed_values
from harness.report.load import metric_columns
from harness.report.stats import Interval, one_sample_interval, welch_interval
from harness.results.columns import score_column
from harness.study.trial_config import BASELINE_KIND, STVLM_KIND

DELTA_SCHEMA = {
    "study": pl.String, "label": pl.String, "config_id": pl.String, "against": pl.String,
    "source": pl.String, "metric": pl.String, "horizon": pl.Int64, "mean": pl.Float64,
    "n": pl.Int64, "reference": pl.Float64, "reference_n": pl.Int64, "delta": pl.Float64,
    "delta_pct": pl.Float64, "ci_low": pl.Float64, "ci_high": pl.Float64, "df": pl.Float64,
    "larger_than_noise": pl.String,
}


def _same(a: object, b: object) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return math.isclose(a, b, rel_tol=0.0, abs_tol=1e-9)
    return a == b


def _row(best: dict, against: str, source: str, metric: str, horizon: int | None,
         ours: list[float], reference: float, reference_n: int, iv: Interval) -> dict:
    return {
        "study": best["study"], "label": best["label"], "config_id": best["config_id"],
        "against": against, "source": source, "metric": metric, "horizon": horizon,
        "mean": sum(ours) / len(ours), "n": len(ours), "reference": reference,
        "reference_n": reference_n, "delta": iv.diff,
        # of |reference|: the sign is the delta's also for a signed metric (bias) below zero
        "delta_pct": 100.0 * iv.diff / abs(reference) if reference else math.nan,
        "ci_low": iv.low, "ci_high": iv.high, "df": iv.df, "larger_than_noise": iv.verdict,
    }


def baseline_deltas(trials: pl.DataFrame, best: pl.DataFrame, level: float) -> pl.DataFrame:
    """Best ST-VLM configuration of each arm minus the best configuration of each baseline arm.

    Args:
        trials: prepared trials (:func:`~harness.report.aggregate.prepare`).
        best: :func:`~harness.report.aggregate.best_configs`.
        level: confidence level of Welch's interval.

    Returns:
        One row per (arm, baseline, test metric, horizon) (columns :data:`DELTA_SCHEMA`); ``delta``
        is ours minus the baseline's mean, ``delta_pct`` relative to the baseline's mean.
    """
    tests = metric_columns(trials, "test")
    ours = best.filter(pl.col("kind") == STVLM_KIND).iter_rows(named=True)
    bases = list(best.filter(pl.col("kind") == BASELINE_KIND).iter_rows(named=True))
    rows = []
    for mine in ours:
        for base in bases:
            if not all(_same(mine[k], base[k]) for k in SPLIT_KEYS):
                continue
            for column, metric, horizon in tests:
                a = seed_values(trials, mine["config_id"], column)
                b = seed_values(trials, base["config_id"], column)
                if a and b:
                    iv = welch_interval(a, b, level)
                    rows.append(_row(mine, base["label"], f"study {base['study']}", metric, horizon,
                                     a, sum(b) / len(b), len(b), iv))
    return pl.DataFrame(rows, schema=DELTA_SCHEMA)


def _same_selection(anchor: dict, mine: dict) -> bool:
    """Whether a published row was scored under our protocol (test windows, metric) and few-shot
    selection; the anchors file's notes say where its models' inputs differ from ours."""
    if "protocol_match" not in anchor:  # legacy anchors (no such column): the ratio alone
        return _same(float(anchor["few_shot_ratio"]), float(mine["few_shot_ratio"]))
    return anchor["protocol_match"] == "yes" and anchor.get("few_shot_label") == mine.get("few_shot_label")


def _comparable(anchor: dict, mine: dict) -> bool:
    """Whether a published row gets a delta against one of our configurations."""
    return (anchor["dataset"] == mine["dataset"] and anchor["protocol"] == mine["protocol"]
            and _same_selection(anchor, mine))


def anchor_deltas(trials: pl.DataFrame, best: pl.DataFrame, anchors: pl.DataFrame | None,
                  level: float) -> pl.DataFrame:
    """Best configuration of every arm minus each matching published number (overall, test).

    Anchors match on dataset, protocol and metric, and on the few-shot selection: with a
    ``protocol_match`` column only rows marked ``yes`` whose ``few_shot_label`` equals the trial's
    count (a published number under another protocol gets no delta); without it, the few-shot
    ratio. Published numbers carry no seed spread, so the interval is the one-sample t interval
    of our seeds.
    """
    if anchors is None or anchors.height == 0:
        return pl.DataFrame(schema=DELTA_SCHEMA)
    rows = []
    for mine in best.iter_rows(named=True):
        for anchor in anchors.iter_rows(named=True):
            if not _comparable(anchor, mine):
                continue
            a = seed_values(trials, mine["config_id"], score_column("test", anchor["metric"]))
            if a:
                iv = one_sample_interval(a, float(anchor["value"]), level)
                rows.append(_row(mine, f"{anchor['model']} (published)", anchor["source"],
                                 anchor["metric"], None, a, float(anchor["value"]), 0, iv))
    return pl.DataFrame(rows, schema=DELTA_SCHEMA)


def anchor_gap(anchors: pl.DataFrame, best: pl.DataFrame) -> str:
    """Why no published number got a delta, in one sentence per (dataset, protocol) of the ST-VLM
    arms: the anchors file has no row for it, or its rows under our protocol are at other few-shot
    counts than the arms' (``""`` when some published number did match)."""
    arms = best.filter(pl.col("kind") == STVLM_KIND)
    if not arms.height or any(_comparable(a, m) for m in arms.iter_rows(named=True)
                              for a in anchors.iter_rows(named=True)):
        return ""
    legacy = "protocol_match" not in anchors.columns
    parts = []
    for (dataset, protocol), group in arms.group_by(["dataset", "protocol"], maintain_order=True):
        rows = anchors.filter((pl.col("dataset") == dataset) & (pl.col("protocol") == protocol))
        ours = ", ".join(str(v) for v in group["few_shot_ratio" if legacy else "few_shot_label"].unique(
            maintain_order=True))
        if not rows.height:
            parts.append(f"The anchors file has no row for {dataset} under protocol {protocol}.")
            continue
        if legacy:
            theirs = ", ".join(f"{v:g}" for v in rows["few_shot_ratio"].unique().sort())
            parts.append(f"The anchors file's {rows.height} rows for {dataset} ({protocol}) are at "
                         f"few-shot ratios {theirs}; these arms ran at {ours}.")
            continue
        match = rows.filter(pl.col("protocol_match") == "yes")
        theirs = ", ".join(str(v) for v in match["few_shot_label"].unique(maintain_order=True)) or "none"
        verb = "was" if match.height == 1 else "were"
        parts.append(f"The anchors file has {rows.height} rows for {dataset} ({protocol}); {match.height} "
                     f"{verb} scored on our protocol's test windows and metric (their models' inputs may "
                     f"differ: see the file's notes), at few-shot counts {theirs}; these arms ran "
                     f"at {ours}, so none is comparable.")
    return " ".join(parts)


def cross_study(summary: pl.DataFrame, best: pl.DataFrame, metric: str) -> pl.DataFrame:
    """Best configurations of all studies side by side: one row per split, arm and model (ST-VLM
    or a baseline), one column per study holding the mean test ``metric`` (overall) over seeds.

    Rows missing from a study hold null in that study's column.
    """
    chosen = summary.join(best.select("config_id"), on="config_id", how="semi").filter(
        (pl.col("split") == "test") & (pl.col("metric") == metric) & pl.col("horizon").is_null()
    )
    if chosen.height == 0:
        return pl.DataFrame()
    studies = chosen["study"].unique(maintain_order=True).to_list()
    index = [*SPLIT_KEYS, "kind", "model", "arm"]
    # [rows x studies, index + study + mean] -> [rows, index + one column per study]
    wide = chosen.pivot(on="study", index=index, values="mean", aggregate_function="first")
    order = [False] * len(SPLIT_KEYS) + [True, False, False]  # ST-VLM rows before baselines
    return wide.select(*index, *studies).sort(*index, descending=order)
