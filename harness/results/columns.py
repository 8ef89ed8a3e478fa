"""The names of a trial's score columns, built and read in this one place.

A trial row (``trials.parquet``) holds each result key of :func:`stvlm.metrics.evaluate_forecast`
(``mae``, ``mae_h3``: :func:`stvlm.data.protocols.horizon_key`) once per split, as
``<split>_<key>``: ``val_mae``, ``test_mae_h3``. A per-epoch report carries the epoch's own
validation scores as ``epoch_val_<key>`` (the ``val_`` columns hold the best epoch's so far);
a learning-curve row (``curves.parquet``) stores them back under ``val_<key>``.
"""

from __future__ import annotations

import re
from typing import NamedTuple

SPLITS = ("val", "test")
"""The splits a trial row scores, in column order."""

EPOCH_VAL = "epoch_val"
"""The prefix of a per-epoch report's own validation scores."""

_COLUMN = re.compile(rf"^(?P<split>{'|'.join(SPLITS)})_(?P<metric>[a-z][a-z0-9_]*?)(?:_h(?P<h>\d+))?$")


class ScoreColumn(NamedTuple):
    """A parsed score column: ``test_mae_h3`` -> ``("test", "mae", 3)``."""

    split: str
    metric: str
    horizon: int | None


def score_column(split: str, key: str) -> str:
    """``("val", "mae_h3")`` -> ``"val_mae_h3"``; ``split`` is one of :data:`SPLITS` or
    :data:`EPOCH_VAL`."""
    if split not in (*SPLITS, EPOCH_VAL):
        raise ValueError(f"split {split!r} is not one of {(*SPLITS, EPOCH_VAL)}")
    return f"{split}_{key}"


def parse_score_column(column: str) -> ScoreColumn | None:
    """``"test_mae_h3"`` -> ``ScoreColumn("test", "mae", 3)``; ``None`` for any other column
    (``epoch``, ``seed``, ``epoch_val_mae``)."""
    m = _COLUMN.match(column)
    if m is None:
        return None
    return ScoreColumn(m["split"], m["metric"], int(m["h"]) if m["h"] else None)


def split_of(column: str) -> str | None:
    """The split a score column names (``"val_mae"`` -> ``"val"``), ``None`` for a column that
    starts with no split of :data:`SPLITS`."""
    return next((s for s in SPLITS if column.startswith(f"{s}_")), None)


def is_score_column(column: str) -> bool:
    """Whether ``column`` is a trial row's score (``val_<key>`` or ``test_<key>``)."""
    return split_of(column) is not None


def result_key(column: str) -> str:
    """The result key of a score column or a study metric: ``"val_mae_h3"`` -> ``"mae_h3"``,
    ``"test_mae"`` -> ``"mae"``; a bare key is returned as it is."""
    split = split_of(column)
    return column if split is None else column[len(split) + 1:]


def curve_scores(report: dict) -> dict:
    """A per-epoch report's own validation scores under their curve column names:
    ``{"epoch_val_mae": 1.0, "val_mae": 0.9}`` -> ``{"val_mae": 1.0}``."""
    prefix = f"{EPOCH_VAL}_"
    return {score_column("val", k.removeprefix(prefix)): v for k, v in report.items() if k.startswith(prefix)}
