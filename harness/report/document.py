"""A report as a list of blocks, rendered to Markdown and HTML by separate modules.

Blocks hold text and already formatted table cells, so both renderers show the same content;
numbers are formatted once, here (:func:`fmt`, :func:`mean_std`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Union

import polars as pl

from harness.report.figures import FigureResult


@dataclass(frozen=True)
class Heading:
    level: int
    text: str


@dataclass(frozen=True)
class Para:
    text: str


@dataclass(frozen=True)
class Bullets:
    items: tuple[str, ...]


@dataclass(frozen=True)
class Code:
    text: str
    lang: str = ""


@dataclass(frozen=True)
class Table:
    """A table of strings: ``header`` names, ``rows`` of cells; ``note`` is printed below."""

    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    note: str = ""


@dataclass(frozen=True)
class Figure:
    """A drawn figure (``result.png`` is set) or a skipped one (``result.skipped`` says why)."""

    result: FigureResult


Block = Union[Heading, Para, Bullets, Code, Table, Figure]


def fmt(value: object, digits: int = 4) -> str:
    """A cell: floats with ``digits`` decimals, ``-`` for null/NaN, everything else ``str``."""
    if value is None:
        return "-"
    if isinstance(value, float):
        if math.isnan(value):
            return "-"
        return f"{value:.{digits}f}"
    return str(value)


def mean_std(mean: float | None, std: float | None, n: int | None, digits: int = 4) -> str:
    """``"1.2345 ± 0.0100"``; one seed (no std): ``"1.2345"``. The seed count goes in a column
    or caption of its own, not in every cell."""
    if mean is None or (isinstance(mean, float) and math.isnan(mean)):
        return "-"
    if std is None or (isinstance(std, float) and math.isnan(std)) or not n or n < 2:
        return f"{mean:.{digits}f}"
    return f"{mean:.{digits}f} ± {std:.{digits}f}"


def rounded_params(params: str, significant: int = 3) -> str:
    """Canonical params JSON -> ``"train.lr=0.00123, train.batch_size=16"`` (``"-"`` when empty)."""
    import json

    values = json.loads(params) if params else {}
    if not values:
        return "-"
    def one(v: object) -> str:
        return f"{v:.{significant}g}" if isinstance(v, float) else str(v)
    return ", ".join(f"{k}={one(v)}" for k, v in values.items())


def table(frame: pl.DataFrame, digits: int = 4, note: str = "", columns: list[str] | None = None) -> Table:
    """A :class:`Table` of a Polars frame (all columns, or ``columns`` in that order)."""
    frame = frame.select(columns) if columns else frame
    rows = tuple(tuple(fmt(v, digits) for v in row) for row in frame.iter_rows())
    return Table(tuple(frame.columns), rows, note)
