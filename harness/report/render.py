"""Draw every registered figure of a report and write them as PNG + SVG."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

import matplotlib.pyplot as plt

from harness.report import plots  # noqa: F401  (registers the plot functions in FIGURES)
from harness.report.figures import FIGURES, FigureResult, SkipFigure, figure_bytes, has_data, style

if TYPE_CHECKING:
    from harness.report.config import ReportConfig
    from harness.report.tables import ReportData

log = logging.getLogger(__name__)


def render_all(data: ReportData, cfg: ReportConfig) -> list[FigureResult]:
    """Draw every registered figure; failures inside a plot are errors, skips are reported."""
    style()
    results = []
    for name in FIGURES.names():
        fn = FIGURES.get(name)
        title = (fn.__doc__ or name).strip().splitlines()[0].rstrip(".")
        try:
            fig = fn(data, cfg)
        except SkipFigure as why:
            log.info("figure %s skipped: %s", name, why)
            results.append(FigureResult(name, title, None, None, str(why)))
            continue
        try:
            if not has_data(fig):  # a guard: never ship an empty frame
                results.append(FigureResult(name, title, None, None, "nothing to plot"))
                continue
            png, svg = figure_bytes(fig, cfg.dpi)
        finally:
            plt.close(fig)
        results.append(FigureResult(name, title, png, svg))
    return results


def write_figures(results: list[FigureResult], folder: Path) -> list[Path]:
    """Write ``<name>.png`` and ``<name>.svg`` of each drawn figure into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for r in results:
        if r.png is None or r.svg is None:
            continue
        (folder / f"{r.name}.png").write_bytes(r.png)
        (folder / f"{r.name}.svg").write_text(r.svg)
        paths += [folder / f"{r.name}.png", folder / f"{r.name}.svg"]
    return paths
