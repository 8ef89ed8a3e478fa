"""Tables over trials: status counts, mean/std/count over seeds, the best configuration per arm.

A *configuration* is every column that defines a run except the seed: the arm, the scientific
settings (:data:`CONFIG_KEYS`, the few-shot label without a random selection's seed) and the
sampled nuisance parameters (``params_json`` in canonical form, a ``seed`` key left out). Its
``config_id`` is a short hash of those values. A study searches the nuisance settings in each
(arm, seed) group on its own, so a sampled configuration seldom recurs in another seed: where a
seed of an arm holds several configurations that no other seed shares, the trial with the best
validation metric of each seed stands for the arm (:func:`per_seed_best`), and those winners
form one configuration whose mean is over seeds. Only ``completed`` trials enter means;
``failed`` and ``pruned`` ones are counted in :func:`status_table` and listed in
:func:`problem_trials`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence

import polars as pl

from harness.results.columns import score_column
from harness.study.axes import data_label
from harness.report.load import STATUSES, StudyResults, metric_columns
from harness.results.store import CONFIG_COLUMNS, DATA_COLUMNS
from harness.study.trial_config import SHARED_BASELINE_ARM, STVLM_KIND
from stvlm.configs import canonical_hash
from stvlm.configs.data import without_seed
from stvlm.data.protocols import higher_is_better

#: Columns that, with ``params``, identify a configuration (the seed is not one of them).
CONFIG_KEYS = (*CONFIG_COLUMNS, "params")
#: Columns that define "the same splits" (baselines are compared on equal values of these): the
#: label too, since a named budget or a window count leaves the ratio at 1.0.
SPLIT_KEYS = tuple(DATA_COLUMNS)  # dataset, protocol, few_shot_ratio, few_shot_method, few_shot_label
#: ``params`` of the configuration made of each seed's best trial (:func:`per_seed_best`).
PER_SEED = '{{"chosen in each seed by":"{}"}}'

SUMMARY_INDEX = ("label", "config_id") + CONFIG_KEYS
#: Row order of per-label tables: by study, ST-VLM before baselines, then by label.
ORDER, DESC = ("study", "kind", "label"), [False, True, False]


def canonical_params(text: str | None) -> str:
    """``params_json`` with sorted keys and without a ``seed`` key (``"{}"`` when empty)."""
    params = json.loads(text) if text else {}
    if isinstance(params, dict):
        params.pop("seed", None)
    return json.dumps(params, sort_keys=True, separators=(",", ":"))


def _config_id(row: dict) -> str:
    return canonical_hash([row[k] for k in CONFIG_KEYS], length=10)


def per_seed_best(frame: pl.DataFrame, metric: str) -> pl.DataFrame:
    """Where an arm (or baseline) ran several seeds, a seed of it holds several configurations and
    none of them recurs in another seed (a nuisance search run within each seed, as the study
    plans it), each seed's completed trial with the best ``val_<metric>`` (ties: the first trial
    id) gets ``params`` :data:`PER_SEED`, so the seeds' winners form one configuration; every
    other trial keeps its own. Configurations shared by seeds (a grid) are ranked by their mean
    over seeds instead. ``frame`` has ``params``."""
    column = score_column("val", metric)
    group = ["study", "arm", "kind", "model"]
    if column not in frame.columns:
        return frame
    configs = frame.group_by(*group, "seed").agg(pl.col("params").n_unique().alias("_configs"))
    seeds = frame.group_by(*group).agg(pl.col("seed").n_unique().alias("_seeds"))
    several = (configs.filter(pl.col("_configs") > 1).select(group).unique()  # one seed: the same pick
               .join(seeds.filter(pl.col("_seeds") > 1).select(group), on=group, how="semi"))
    shared = (frame.group_by(*group, "params").agg(pl.col("seed").n_unique().alias("_seeds"))
              .filter(pl.col("_seeds") > 1).select(group).unique())  # a grid: rank by mean over seeds
    searched = several.join(shared, on=group, how="anti")
    sign = -1.0 if higher_is_better(metric) else 1.0
    winners = (
        frame.join(searched, on=group, how="semi")
        .filter((pl.col("status") == "completed") & pl.col(column).is_not_null()
                & pl.col(column).is_not_nan())
        .sort(pl.col(column) * sign, "trial_id")
        .group_by(*group, "seed", maintain_order=True).first()
        .select("study", "trial_id", pl.lit(True).alias("_winner"))
    )
    return (frame.join(winners, on=["study", "trial_id"], how="left")
            .with_columns(pl.when(pl.col("_winner")).then(pl.lit(PER_SEED.format(column)))
                          .otherwise(pl.col("params")).alias("params"))
            .drop("_winner"))


def prepare(studies: Sequence[StudyResults], metric: str = "mae") -> pl.DataFrame:
    """All trials of all studies in one frame, with ``params``, ``config_id`` and ``label``;
    ``few_shot_label`` without a random selection's `` (seed N)``; each seed's best trial by
    ``val_<metric>`` where a seed holds several configurations (:func:`per_seed_best`).

    ``label`` names a compared series in figures and tables: the arm for ST-VLM rows, the
    baseline name (``"ridge @ few_shot_ratio=0.1"`` when the baseline row belongs to a data arm,
    named by its data axes only: a baseline has no image encoding)
    for baseline rows, prefixed with ``study/`` when there are several studies. Metric columns
    missing in one study (T-GCN's accuracy under ``standard``) become null there.
    """
    frame = pl.concat([s.trials for s in studies], how="diagonal_relaxed")
    frame = frame.with_columns(
        pl.col("params_json").map_elements(canonical_params, return_dtype=pl.String).alias("params"),
        pl.col("few_shot_label").map_elements(without_seed, return_dtype=pl.String),
    )
    frame = per_seed_best(frame, metric)
    frame = frame.with_columns(
        pl.struct(list(CONFIG_KEYS)).map_elements(_config_id, return_dtype=pl.String).alias("config_id"),
    )
    label = (
        pl.when(pl.col("kind") == STVLM_KIND).then(pl.col("arm"))
        .when(pl.col("arm") == SHARED_BASELINE_ARM).then(pl.col("model"))
        .otherwise(pl.format("{} @ {}", "model",
                             pl.col("arm").map_elements(data_label, return_dtype=pl.String)))
    )
    if len(studies) > 1:
        label = pl.format("{}/{}", "study", label)
    return frame.with_columns(label.alias("label"))


def status_table(trials: pl.DataFrame) -> pl.DataFrame:
    """Per study and compared series (label): trials completed, pruned, failed, and the total."""
    counts = [(pl.col("status") == s).sum().cast(pl.Int64).alias(s) for s in STATUSES]
    return (
        trials.group_by("study", "label", "arm", "kind", "model", maintain_order=True)
        .agg(*counts, pl.len().cast(pl.Int64).alias("total"))
        .sort(*ORDER, descending=DESC)
    )


def problem_trials(trials: pl.DataFrame) -> pl.DataFrame:
    """The failed and pruned trials with their error message and budget used."""
    return trials.filter(pl.col("status") != "completed").select(
        "study", "label", "trial_id", "seed", "status", "epochs_run", "error"
    ).sort("study", "label", "trial_id")


def seed_summary(trials: pl.DataFrame) -> pl.DataFrame:
    """Mean, std (ddof 1) and count over seeds of every metric, per configuration (long form).

    Returns:
        One row per (configuration, split, metric, horizon) with columns of
        :data:`SUMMARY_INDEX`, ``split`` ("val"/"test"), ``metric``, ``horizon`` (null =
        overall), ``mean``, ``std`` (null with one seed) and ``n`` (values that are neither null
        nor NaN; NaN means "nothing to score" and is left out). Only completed trials enter.
    """
    done = trials.filter(pl.col("status") == "completed")
    parsed = metric_columns(done, "val") + metric_columns(done, "test")
    cols = [c for c, _, _ in parsed]
    meta = pl.DataFrame(
        {
            "column": cols,
            "split": [c.split("_", 1)[0] for c in cols],
            "metric": [m for _, m, _ in parsed],
            "horizon": pl.Series([h for _, _, h in parsed], dtype=pl.Int64),
        }
    )
    long = (
        done.select(*SUMMARY_INDEX, *cols)
        .with_columns(pl.col(cols).cast(pl.Float64).fill_nan(None))  # NaN = not scored
        # [trials, index + metric columns] -> [trials x metric columns, index + column + value]
        .unpivot(index=list(SUMMARY_INDEX), on=cols, variable_name="column", value_name="value")
        .drop_nulls("value")
        .join(meta, on="column")
    )
    return (
        long.group_by(*SUMMARY_INDEX, "split", "metric", "horizon", maintain_order=True)
        .agg(
            pl.col("value").mean().alias("mean"),
            pl.col("value").std(ddof=1).alias("std"),
            pl.len().cast(pl.Int64).alias("n"),
        )
        .sort("study", "arm", "config_id", "split", "metric", pl.col("horizon").fill_null(0))
    )


def best_configs(summary: pl.DataFrame, metric: str) -> pl.DataFrame:
    """The best configuration per study and label (an ST-VLM arm, or a baseline in a data arm),
    ranked by mean ``val_<metric>`` (overall).

    Configurations without that validation metric are not ranked; when no configuration of a
    label has it, the one with the most seeds is taken and ``selected_by`` says so.

    Returns:
        One row per (study, label): :data:`SUMMARY_INDEX`, ``selected_by``, ``val_mean``
        (the ranking value) and ``n`` (seeds of that value).
    """
    configs = summary.select(*SUMMARY_INDEX).unique(maintain_order=True)
    val = summary.filter(
        (pl.col("split") == "val") & (pl.col("metric") == metric) & pl.col("horizon").is_null()
    ).select("config_id", pl.col("mean").alias("val_mean"), pl.col("n"))
    test_n = summary.filter(pl.col("split") == "test").group_by("config_id").agg(
        pl.col("n").max().alias("test_n")
    )
    ranked = configs.join(val, on="config_id", how="left").join(test_n, on="config_id", how="left")
    sign = -1.0 if higher_is_better(metric) else 1.0
    rows = []
    per_seed = PER_SEED.format(score_column("val", metric))
    for _, group in ranked.group_by("study", "label", maintain_order=True):
        scored = group.filter(pl.col("val_mean").is_not_null() & pl.col("val_mean").is_not_nan())
        if (scored["params"] == per_seed).any():  # searched within each seed: its winners
            best = scored.filter(pl.col("params") == per_seed).row(0, named=True)
            best["selected_by"] = (f"{'lowest' if sign > 0 else 'highest'} val_{metric} in each seed "
                                   "(the search of each seed), mean over seeds")
        elif scored.height:
            best = scored.sort(pl.col("val_mean") * sign, "config_id").row(0, named=True)
            best["selected_by"] = f"lowest mean val_{metric}" if sign > 0 else f"highest mean val_{metric}"
        else:
            best = group.sort(pl.col("test_n").fill_null(0), descending=True).row(0, named=True)
            best["selected_by"] = f"no val_{metric}: configuration with most seeds"
        rows.append(best)
    schema = {**configs.schema, "selected_by": pl.String, "val_mean": pl.Float64, "n": pl.Int64}
    if not rows:
        return pl.DataFrame(schema=schema)
    out = pl.DataFrame(rows, schema_overrides=dict(configs.schema))
    out = out.select(*SUMMARY_INDEX, "selected_by", "val_mean", pl.col("n").cast(pl.Int64))
    return out.sort(*ORDER, descending=DESC)


def seed_values(trials: pl.DataFrame, config_id: str, column: str) -> list[float]:
    """Per-seed values of ``column`` for one configuration's completed trials (nulls left out)."""
    if column not in trials.columns:
        return []
    values = trials.filter(
        (pl.col("config_id") == config_id) & (pl.col("status") == "completed")
    )[column].drop_nulls()
    return [float(v) for v in values if not math.isnan(float(v))]
