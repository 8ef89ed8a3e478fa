"""``build_report``: results folders in, one report folder out (written atomically).

The report folder holds ``report.md``, ``report.html`` (self-contained), ``figures/*.png`` and
``figures/*.svg``, ``tables/*.csv``, the main results table as ``tables/main_results.tex``
(booktabs) and every horizon of the best configurations in ``tables/horizons.parquet``. Everything is written into a temporary sibling folder
first, which then replaces the old report folder by renames, so a reader never sees a
half-written report.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

from harness.report import html, markdown, paper
from harness.report.config import ReportConfig
from harness.report.render import render_all, write_figures
from harness.report.load import ResultsError, load_anchors, load_studies
from harness.report.sections import document
from harness.report.tables import ReportData, compute
from harness.study.owned import check_report_dir
from stvlm.io import atomic_folder

log = logging.getLogger(__name__)


def default_out_dir(results_dirs: Sequence[str | Path]) -> Path:
    """``<first results folder>/report``."""
    return Path(results_dirs[0]) / "report"


def write_report(data: ReportData, out_dir: Path, cfg: ReportConfig, command: str | None = None) -> Path:
    """Write every file of the report for already computed ``data`` into ``out_dir`` atomically."""
    check_report_dir(out_dir, "--out", [s.path for s in data.studies])  # it replaces the whole folder
    out_dir = Path(out_dir).resolve()
    if out_dir.exists() and not out_dir.is_dir():
        raise ResultsError(f"{out_dir}: --out exists and is not a folder")
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    figures = render_all(data, cfg)
    blocks = document(data, figures, cfg, command)
    with atomic_folder(out_dir) as tmp:
        (tmp / "tables").mkdir()
        for name, frame in data.csv_tables().items():
            frame.write_csv(tmp / "tables" / f"{name}.csv", float_precision=None)
        data.main.write_csv(tmp / "tables" / "main_results.csv", float_precision=None)
        (tmp / "tables" / "main_results.tex").write_text(
            paper.to_latex(data.main, cfg.markdown_digits, data.level))
        paper.horizon_frame(data).write_parquet(tmp / "tables" / "horizons.parquet")
        write_figures(figures, tmp / "figures")
        (tmp / "report.md").write_text(markdown.render(blocks))
        title = "Study report: " + ", ".join(s.name for s in data.studies)
        (tmp / "report.html").write_text(html.render(blocks, title, cfg.embed))
    log.info("wrote report %s", out_dir)
    return out_dir


def build_report(
    results_dirs: Sequence[str | Path],
    out_dir: str | Path | None = None,
    anchors: str | Path | None = None,
    *,
    config: ReportConfig | None = None,
    command: str | None = None,
) -> Path:
    """Aggregate one or several studies into a Markdown + HTML report with figures and CSV tables.

    Args:
        results_dirs: ``results/<study>`` folders (each with trials.parquet and study.json).
        out_dir: output folder; default ``<first results folder>/report``.
        anchors: CSV of published numbers (dataset, protocol, model, metric, value, source,
            few_shot_ratio[, notes]), e.g. ``results/anchors/published.csv``.
        config: report options (metric, confidence level, figure size ...).
        command: the command line that made this report, recorded in its provenance.

    Returns:
        The report folder.

    Raises:
        ResultsError: a results folder or the anchors file is missing, empty or incompatible.
    """
    cfg = config or ReportConfig()
    if not results_dirs:
        raise ResultsError("no results folder given; pass at least one results/<study> folder")
    studies = load_studies(list(results_dirs))
    anchor_frame = load_anchors(anchors) if anchors is not None else None
    data = compute(studies, anchor_frame, cfg, Path(anchors) if anchors is not None else None)
    target = Path(out_dir) if out_dir is not None else default_out_dir(results_dirs)
    return write_report(data, target, cfg, command)
