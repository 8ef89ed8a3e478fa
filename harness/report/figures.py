"""Seaborn figures: one style, a registry of plot functions, PNG + SVG output.

A plot function takes the :class:`~harness.report.tables.ReportData` and the
:class:`~harness.report.config.ReportConfig` and returns a matplotlib ``Figure`` with labelled
axes (units included), or raises :class:`SkipFigure` with the reason it would say nothing (for
example a heat map whose two axes each have one value). The reason goes into the report instead
of a blank figure. Drawing them all is :mod:`harness.report.render`'s job, which imports the
plot functions (:mod:`harness.report.plots`), so this registry imports neither.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

import matplotlib

matplotlib.use("Agg")  # headless: files only, never a window

import matplotlib.pyplot as plt  # noqa: E402
import seaborn as sns  # noqa: E402

from stvlm.data.protocols import higher_is_better, metric_of_key  # noqa: E402
from stvlm.metrics import PERCENT_METRICS  # noqa: E402
from stvlm.registry import Registry  # noqa: E402

if TYPE_CHECKING:
    import polars as pl
    from matplotlib.figure import Figure

    from harness.report.config import ReportConfig
    from harness.report.tables import ReportData


PlotFn = Callable[["ReportData", "ReportConfig"], "Figure"]
FIGURES: Registry[PlotFn] = Registry("report figure")



class SkipFigure(Exception):
    """Raised by a plot function whose figure would carry no information; ``str`` is why."""


@dataclass(frozen=True)
class FigureResult:
    """One figure of the report.

    Attributes:
        name: registry name (also the file stem).
        title: one-line caption.
        png: PNG bytes (``None`` when skipped).
        svg: SVG text (``None`` when skipped).
        skipped: the reason the figure was not drawn, or ``None``.
    """

    name: str
    title: str
    png: bytes | None
    svg: str | None
    skipped: str | None = None


def style() -> None:
    """The one style of every report figure (colour-blind palette, white grid, text kept in SVG)."""
    sns.set_theme(context="notebook", style="whitegrid", palette="colorblind", font_scale=0.9)
    plt.rcParams.update({"svg.fonttype": "none", "figure.autolayout": False, "svg.hashsalt": "stvlm"})


def dataset_unit(datasets: list[str]) -> str:
    """The forecast channel's unit when every dataset shares one, else ``"original units"``."""
    from stvlm.data.datasets import dataset_info
    from stvlm.errors import STVLMError

    units = set()
    for name in datasets:
        try:
            info = dataset_info(name)
        except STVLMError:  # a dataset this install does not know, or an unreadable folder
            return "original units"
        units.update(info.units[i] for i in info.target_channels)
    return units.pop() if len(units) == 1 else "original units"


def metric_label(metric: str, datasets: list[str], split: str = "test") -> str:
    """Axis label of a metric with its unit, e.g. ``"test MAE (trips/30min)"``."""
    if metric_of_key(metric) in PERCENT_METRICS:
        unit = "%"
    elif higher_is_better(metric):  # T-GCN's accuracy, R2, explained variance
        unit = "unitless"
    else:
        unit = dataset_unit(datasets)
    return f"{split} {metric.upper()} ({unit})"


#: How ``TrainConfig.loss_mask`` selects the entries of the training loss, for axis labels.
LOSS_MASK_WORDS = {"observed": "observed entries", "protocol": "metric's mask",
                   "both": "mean of observed and masked"}


def train_loss_label(trials: pl.DataFrame, datasets: list[str]) -> str:
    """Axis label of the training loss of ``trials`` (their ``config_json``'s ``train.loss`` and
    ``train.loss_mask``) on two lines, e.g. ``"train loss (trips/30min)\nMAE: observed entries"``;
    several settings are joined with ``" | "``, and a trial without them (an older study) leaves
    the second line out rather than guess it."""
    kinds = []
    for text in trials["config_json"].to_list() if "config_json" in trials.columns else []:
        train = json.loads(text or "{}").get("train", {})
        if "loss" not in train or "loss_mask" not in train:
            kinds = []
            break
        kind = f"{train['loss'].upper()}: {LOSS_MASK_WORDS.get(train['loss_mask'], train['loss_mask'])}"
        if kind not in kinds:
            kinds.append(kind)
    settings = "\n" + " | ".join(sorted(kinds)) if kinds else ""
    return f"train loss ({dataset_unit(datasets)}){settings}"


def step_minutes(datasets: list[str]) -> int | None:
    """Minutes per step when all datasets share one interval, else ``None``."""
    from stvlm.data.datasets import dataset_info
    from stvlm.errors import STVLMError

    minutes = set()
    for name in datasets:
        try:
            minutes.add(dataset_info(name).interval_minutes)
        except STVLMError:  # as in dataset_unit
            return None
    return minutes.pop() if len(minutes) == 1 else None


def figure_bytes(fig: Figure, dpi: int) -> tuple[bytes, str]:
    """Render a figure as PNG bytes and SVG text (deterministic metadata, no dates)."""
    png, svg = io.BytesIO(), io.StringIO()
    fig.savefig(png, format="png", dpi=dpi, bbox_inches="tight", metadata={"Software": None})
    fig.savefig(svg, format="svg", bbox_inches="tight", metadata={"Date": None, "Creator": None})
    return png.getvalue(), svg.getvalue()


def has_data(fig: Figure) -> bool:
    """Whether any axes of ``fig`` shows data (a line with points, markers, bars or an image)."""
    for ax in fig.axes:
        if any(len(line.get_xdata()) for line in ax.get_lines()):
            return True
        if ax.collections or ax.images or any(p.get_height() for p in ax.patches if hasattr(p, "get_height")):
            return True
    return False
