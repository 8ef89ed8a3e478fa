"""Comparison reports from study results: Polars tables, Seaborn figures, Markdown + HTML.

    from harness.report import build_report
    build_report(["runs/studies/fewshot-nycbike-drop"], anchors="results/anchors/published.csv")

Modules: ``load`` (read + validate results folders and the anchors file), ``aggregate`` (status,
mean/std/count over seeds, best configuration), ``stats`` (seed-noise intervals), ``deltas``
(against baselines, published numbers, other studies), ``importance`` (parameter importance),
``tables`` (everything computed once), ``figures`` + ``plots`` (Seaborn), ``document``,
``sections``, ``provenance``, ``markdown``, ``html`` (rendering) and ``build`` (the entry point).
"""

from __future__ import annotations

from harness.report.build import build_report
from harness.report.config import ReportConfig
from harness.report.load import ResultsError, StudyResults, load_anchors, load_studies, load_study

__all__ = [
    "ReportConfig", "ResultsError", "StudyResults", "build_report", "load_anchors", "load_studies",
    "load_study",
]
