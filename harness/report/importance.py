"""Parameter importance of the sampled nuisance settings, per study and arm.

Source, in order of preference:

1. an Optuna storage beside the Parquet files (``*.db``): every Optuna study in it, with the
   distributions Optuna actually sampled from (only when the report ranks on the study's own
   metric, the objective those Optuna studies hold);
2. otherwise an in-memory Optuna study rebuilt from the completed trials' ``params_json`` and
   ``val_<metric>`` (distributions inferred from the values: numbers -> a float/int range, log
   scale when positive and spanning two decades or more; anything else -> categorical).

Optuna's default evaluator (PED-ANOVA) scores the parameters. If it cannot (too few trials, or an
error), the fallback is the between-group share of variance (eta squared) of the target: numbers
are split at their median, categories by value; shares are normalised to sum to one.
"""

from __future__ import annotations

import json
import logging
import math
import statistics
from pathlib import Path

import polars as pl

from harness.report.load import StudyResults
from harness.results.columns import score_column

log = logging.getLogger(__name__)

SCHEMA = {"study": pl.String, "arm": pl.String, "param": pl.String, "importance": pl.Float64,
          "method": pl.String, "trials": pl.Int64}


def _distribution(values: list):
    from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

    if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
        lo, hi = min(values), max(values)
        if all(isinstance(v, int) for v in values):
            return IntDistribution(int(lo), int(hi), log=lo > 0 and hi / lo >= 100)
        return FloatDistribution(float(lo), float(hi), log=lo > 0 and hi / lo >= 100)
    return CategoricalDistribution(sorted({json.dumps(v) for v in values}))


def eta_squared(params: list[dict], target: list[float]) -> dict[str, float]:
    """Normalised between-group variance share of ``target`` per parameter (the fallback)."""
    total = statistics.pvariance(target) if len(target) > 1 else 0.0
    scores = {}
    for name in sorted({k for p in params for k in p}):
        vals = [p.get(name) for p in params]
        if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in vals):
            med = statistics.median(vals)
            keys = [v > med for v in vals]
        else:
            keys = [json.dumps(v) for v in vals]
        groups: dict = {}
        for k, y in zip(keys, target):
            groups.setdefault(k, []).append(y)
        mean = statistics.fmean(target)
        between = sum(len(g) * (statistics.fmean(g) - mean) ** 2 for g in groups.values()) / len(target)
        scores[name] = between / total if total > 0 else 0.0
    norm = sum(scores.values())
    return {k: (v / norm if norm > 0 else 0.0) for k, v in scores.items()}


def _from_rows(params: list[dict], target: list[float], minimize: bool) -> tuple[dict[str, float], str]:
    import optuna

    varying = [k for k in sorted({k for p in params for k in p})
               if len({json.dumps(p.get(k)) for p in params}) > 1 and all(k in p for p in params)]
    if not varying or len(set(target)) < 2:  # nothing varies, or every trial scored the same
        return {}, "none"
    params = [{k: p[k] for k in varying} for p in params]
    dists = {k: _distribution([p[k] for p in params]) for k in varying}
    study = optuna.create_study(direction="minimize" if minimize else "maximize")
    for p, y in zip(params, target):
        values = {k: (json.dumps(v) if type(dists[k]).__name__ == "CategoricalDistribution" else v)
                  for k, v in p.items()}
        study.add_trial(optuna.trial.create_trial(params=values, distributions=dists, value=y))
    try:
        scores = optuna.importance.get_param_importances(study)
        if scores and all(math.isfinite(v) for v in scores.values()) and sum(scores.values()) > 0:
            return dict(scores), "optuna PED-ANOVA (rebuilt from params_json)"
    except Exception as err:  # optuna refuses small or degenerate studies
        log.info("PED-ANOVA failed (%s); using eta squared", err)
    return eta_squared(params, target), "eta squared (fallback)"


def _from_storage(path: Path) -> list[tuple[str, dict[str, float], int]]:
    """Importance per Optuna study of the storage file ``path``, opened read-only (SQLite's
    ``mode=ro``): a report never writes into a database that a results folder names."""
    from urllib.parse import quote

    import optuna

    storage = f"sqlite:///file:{quote(str(Path(path).resolve()))}?mode=ro&uri=true"
    out = []
    for summary in optuna.get_all_study_summaries(storage):
        study = optuna.load_study(study_name=summary.study_name, storage=storage)
        done = [t for t in study.trials if t.state.name == "COMPLETE"]
        if len(done) >= 2:
            try:
                scores = dict(optuna.importance.get_param_importances(study))
                out.append((summary.study_name, scores, len(done)))
            except Exception as err:
                log.info("importance of %s failed: %s", summary.study_name, err)
    return out


def param_importance(study: StudyResults, trials: pl.DataFrame, metric: str, minimize: bool) -> pl.DataFrame:
    """Importance of each sampled parameter, per Optuna study (storage) or per label (rows).

    Rows are grouped by ``label`` (an ST-VLM arm or a baseline in a data arm; see
    :func:`~harness.report.aggregate.prepare`), which becomes the ``arm`` column here.

    Args:
        study: the study (for its storage file).
        trials: the prepared trials of this study.
        metric: ranking metric; the target is ``val_<metric>``.
        minimize: whether smaller targets are better.

    Returns:
        Columns of :data:`SCHEMA`; empty when nothing varies or fewer than two trials completed.
    """
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    rows = []
    if study.storage is not None and metric == study.metric:  # its objective is the study's metric
        try:
            found = _from_storage(study.storage)
        except Exception as err:  # not an Optuna storage after all (sqlite3 or Optuna errors)
            log.info("%s: not an Optuna storage (%s); using params_json", study.storage, err)
            found = []
        for name, scores, n in found:
            rows += [(study.name, name, k, float(v), f"optuna PED-ANOVA ({study.storage.name})", n)
                     for k, v in scores.items()]
        if rows:
            return pl.DataFrame(rows, schema=SCHEMA, orient="row")
    column = score_column("val", metric)
    if column not in trials.columns:
        return pl.DataFrame(schema=SCHEMA)
    done = trials.filter((pl.col("status") == "completed") & pl.col(column).is_not_null()
                         & pl.col(column).is_not_nan())
    for (arm,), group in done.group_by("label", maintain_order=True):
        if group.height < 2:
            continue
        params = [json.loads(p) if p else {} for p in group["params_json"]]
        for p in params:
            p.pop("seed", None)
        scores, method = _from_rows(params, group[column].to_list(), minimize)
        rows += [(study.name, arm, k, float(v), method, group.height) for k, v in scores.items()]
    frame = pl.DataFrame(rows, schema=SCHEMA, orient="row")
    return frame.sort("study", "arm", "importance", descending=[False, False, True], maintain_order=True)
