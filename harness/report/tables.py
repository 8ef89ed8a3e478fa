"""Everything a report shows, computed once from the loaded studies (:class:`ReportData`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import polars as pl

from harness.report import aggregate, deltas
from harness.report.config import ReportConfig
from harness.report.importance import param_importance
from harness.report.load import CURVE_COLUMNS, ResultsError, StudyResults, metric_columns
from harness.results.files import TRIALS_FILE
from stvlm.data.protocols import higher_is_better, rankable


@dataclass(frozen=True)
class ReportData:
    """The loaded studies and every derived table.

    Attributes:
        studies: the studies, in the order given.
        metric: the ranking/plotting metric (``mae`` ...).
        level: confidence level of the intervals.
        trials: all trials (prepared: ``params``, ``config_id``, ``label``).
        curves: the completed trials' curves, with the trial's ``label`` and ``config_id``.
        status: per-arm status counts.
        problems: failed and pruned trials.
        summary: mean/std/n over seeds (long form).
        best: best configuration per arm.
        baseline: deltas against baselines on the same splits.
        anchor: deltas against published numbers.
        cross: the cross-study table (empty for one study).
        importance: parameter importance.
        anchors_path: the anchors file used, if any.
        anchor_gap: why no published number got a delta (:func:`deltas.anchor_gap`), or ``""``.
    """

    studies: tuple[StudyResults, ...]
    metric: str
    level: float
    trials: pl.DataFrame
    curves: pl.DataFrame
    status: pl.DataFrame
    problems: pl.DataFrame
    summary: pl.DataFrame
    best: pl.DataFrame
    baseline: pl.DataFrame
    anchor: pl.DataFrame
    cross: pl.DataFrame
    importance: pl.DataFrame
    anchors_path: Path | None = field(default=None)
    anchor_gap: str = ""

    @cached_property
    def main(self) -> pl.DataFrame:
        """The paper's main results table (:func:`harness.report.paper.main_frame`), computed
        once for the CSV, the LaTeX and the Markdown copies."""
        from harness.report.paper import main_frame  # paper reads ReportData: import at use

        return main_frame(self)

    def csv_tables(self) -> dict[str, pl.DataFrame]:
        """The tables written to ``tables/<name>.csv`` (full precision)."""
        return {
            "status": self.status, "problem_trials": self.problems, "seed_summary": self.summary,
            "best_configs": self.best, "baseline_deltas": self.baseline,
            "anchor_deltas": self.anchor, "cross_study": self.cross,
            "param_importance": self.importance,
        }


def pick_metric(studies: Sequence[StudyResults], cfg: ReportConfig) -> str:
    """The configured metric, else the first study's spec ``metric`` (``val_`` stripped), else mae.

    Raises:
        ResultsError: no study has a ``test_<metric>`` column for it.
    """
    metric = cfg.metric or studies[0].metric
    known = sorted({m for s in studies for _, m, h in metric_columns(s.trials, "test")
                    if h is None and rankable(m)})  # the bias is signed: nothing ranks on it
    if metric not in known:
        why = ("is signed (mean prediction minus mean truth): no value of it is best" if not rankable(metric)
               else f"has no test_{metric} column in {studies[0].path / TRIALS_FILE}")
        raise ResultsError(f"metric = {metric!r} {why}; allowed: {', '.join(known)}")
    return metric


def _curves(studies: Sequence[StudyResults], trials: pl.DataFrame) -> pl.DataFrame:
    frames = [s.curves for s in studies if s.curves.height]
    if not frames:
        return pl.DataFrame(schema={c: pl.Null for c in CURVE_COLUMNS})
    curves = pl.concat(frames, how="diagonal_relaxed")
    # completed trials only, as every mean of the report: a pruned trial's curve stops early
    ids = (trials.filter(pl.col("status") == "completed")
           .select("study", "trial_id", "label", "config_id", "kind"))
    return curves.join(ids, on=["study", "trial_id"], how="inner")


def compute(studies: Sequence[StudyResults], anchors: pl.DataFrame | None, cfg: ReportConfig,
            anchors_path: Path | None = None) -> ReportData:
    """Aggregate the studies into every table of the report."""
    metric = pick_metric(studies, cfg)
    trials = aggregate.prepare(studies, metric)
    summary = aggregate.seed_summary(trials)
    best = aggregate.best_configs(summary, metric)
    minimize = not higher_is_better(metric)
    importance = [param_importance(s, trials.filter(pl.col("study") == s.name), metric, minimize)
                  for s in studies]
    return ReportData(
        studies=tuple(studies),
        metric=metric,
        level=cfg.level,
        trials=trials,
        curves=_curves(studies, trials),
        status=aggregate.status_table(trials),
        problems=aggregate.problem_trials(trials),
        summary=summary,
        best=best,
        baseline=deltas.baseline_deltas(trials, best, cfg.level),
        anchor=deltas.anchor_deltas(trials, best, anchors, cfg.level),
        cross=deltas.cross_study(summary, best, metric) if len(studies) > 1 else pl.DataFrame(),
        importance=pl.concat(importance),
        anchors_path=anchors_path,
        anchor_gap=deltas.anchor_gap(anchors, best) if anchors is not None else "",
    )
