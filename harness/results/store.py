"""The study's result tables: one row per trial, one row per epoch, written atomically.

The format is specified in ``docs/results-format.md`` (reports rely on it). This module holds
the schema, turns a finished trial (its config, last report and status) into a row, and keeps
``trials.parquet`` / ``curves.parquet`` up to date with :class:`ResultsStore`, which rewrites
each file through a temporary file and ``os.replace`` after every finished trial. It needs no
Ray: :mod:`harness.runtime.tune_callbacks` feeds it from a running study.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import polars as pl

from harness.results.columns import curve_scores, is_score_column, score_column
from harness.results.files import CURVES_FILE, TRIALS_FILE
from harness.study.axes import model_axes
from harness.study.trial_config import BASELINE_KIND, TrialConfig
from stvlm.configs import canonical_hash
from stvlm.data.protocols import horizon_key
from stvlm.io import atomic_target
from stvlm.monitor import reported_metrics

log = logging.getLogger(__name__)

# Version of the results format (docs/results-format.md); readers refuse other versions.
# Bump it when a column is removed or changes meaning.
FORMAT_VERSION = 1

STATUSES = ("completed", "pruned", "failed")
#: Folder (inside the results folder) with the curves of trials still running.
RUNNING_CURVES = ".running-curves"

_POLARS = {"str": pl.Utf8, "int": pl.Int64, "float": pl.Float64}
#: What every row is and which data selection it ran on (``few_shot_ratio`` is also an axis).
ID_COLUMNS = {
    "study": pl.Utf8, "trial_id": pl.Utf8, "arm": pl.Utf8, "kind": pl.Utf8, "model": pl.Utf8,
    "status": pl.Utf8, "error": pl.Utf8, "seed": pl.Int64,
}
DATA_COLUMNS = {
    "dataset": pl.Utf8, "protocol": pl.Utf8, "few_shot_ratio": pl.Float64,
    "few_shot_method": pl.Utf8, "few_shot_label": pl.Utf8,
}
#: One column per model axis of :data:`harness.study.axes.AXES`, typed by the axis.
AXIS_COLUMNS = {a.name: _POLARS[a.column] for a in model_axes()}
_HEAD = {
    **ID_COLUMNS, **DATA_COLUMNS, **AXIS_COLUMNS,
    "params_json": pl.Utf8, "config_json": pl.Utf8, "config_hash": pl.Utf8,
}
#: Columns that, with the sampled parameters, identify a configuration (the seed excluded).
CONFIG_COLUMNS = ("study", "arm", "kind", "model", *DATA_COLUMNS, *AXIS_COLUMNS)
#: Columns of the budget and the run's provenance; the ones in :data:`ADDED_COLUMNS` came after
#: the first format-1 files were written, so readers do not require them.
_TAIL = {
    "plan_index": pl.Int64, "best_epoch": pl.Int64, "epochs_run": pl.Int64, "windows_seen": pl.Int64,
    "train_windows": pl.Int64, "trainable_parameters": pl.Int64, "total_parameters": pl.Int64,
    "wall_seconds": pl.Float64, "train_seconds": pl.Float64, "setup_seconds": pl.Float64,
    "eval_seconds": pl.Float64, "device": pl.Utf8,
    "num_workers": pl.Int64, "num_failures": pl.Int64, "resumed_from_epoch": pl.Int64,
    "node_id": pl.Utf8, "versions_json": pl.Utf8, "git_commit": pl.Utf8,
    "started_at": pl.Utf8, "finished_at": pl.Utf8,
}
ADDED_COLUMNS = ("plan_index", "num_workers", "num_failures", "resumed_from_epoch", "node_id", "setup_seconds", "eval_seconds")
#: The columns a reader of ``trials.parquet`` may rely on (metric columns aside).
REQUIRED_COLUMNS = (*_HEAD, *(c for c in _TAIL if c not in ADDED_COLUMNS))


def metric_columns(prefix: str, metrics: Sequence[str], horizons: Sequence[int]) -> list[str]:
    """``val_mae, val_mae_h3, ..., val_rmse, ...`` for ``prefix="val"``."""
    return [score_column(prefix, key) for m in metrics for key in [m, *(horizon_key(m, k) for k in horizons)]]


def trials_schema(metrics: Sequence[str], horizons: Sequence[int]) -> dict[str, pl.DataType]:
    """Column -> type of ``trials.parquet`` for a protocol's metric names and horizons (and the
    registered means of its metrics, :func:`stvlm.monitor.reported_metrics`)."""
    metrics = reported_metrics(metrics)
    scores = metric_columns("val", metrics, horizons) + metric_columns("test", metrics, horizons)
    return {**_HEAD, **{c: pl.Float64 for c in scores}, **_TAIL}


def curves_schema(metrics: Sequence[str], horizons: Sequence[int]) -> dict[str, pl.DataType]:
    """Column -> type of ``curves.parquet`` (the validation columns as in :func:`trials_schema`)."""
    metrics = reported_metrics(metrics)
    return {
        "study": pl.Utf8, "trial_id": pl.Utf8, "arm": pl.Utf8, "seed": pl.Int64, "epoch": pl.Int64,
        "train_loss": pl.Float64,
        **{c: pl.Float64 for c in metric_columns("val", metrics, horizons)},
        "seconds": pl.Float64, "windows_seen": pl.Int64,
    }


def _cast(value: Any, dtype: pl.DataType) -> Any:
    if value is None:
        return None
    if dtype == pl.Float64:
        return float(value)
    if dtype == pl.Int64:
        return int(value)
    return str(value)


def conform(row: Mapping[str, Any], schema: Mapping[str, pl.DataType]) -> dict[str, Any]:
    """The row restricted to the schema's columns, values cast to the column types."""
    return {col: _cast(row.get(col), dtype) for col, dtype in schema.items()}


def config_columns(config: Mapping[str, Any]) -> dict[str, Any]:
    """The columns that describe a trial's configuration (from its Tune config, parsed once)."""
    trial = TrialConfig.from_tune(config)
    exp = trial.experiment
    few = exp.data.few_shot
    cols: dict[str, Any] = {
        "arm": trial.arm, "kind": trial.kind, "model": trial.model, "seed": trial.seed,
        "plan_index": trial.plan_index, "dataset": exp.data.dataset, "protocol": exp.data.protocol, "few_shot_ratio": few.ratio,
        "few_shot_method": few.method, "few_shot_label": few.label,
        "params_json": json.dumps({k: v for k, v in trial.params.items() if v is not None}, sort_keys=True),
    }
    if trial.kind == BASELINE_KIND:
        cfg = {"data": exp.data.to_dict(), "train": exp.train.to_dict(),
               "baseline": {"name": trial.model, "options": dict(trial.options)}}
        identity = {**cfg, "data": exp.data.identity_dict(), "train": exp.train.identity_dict()}
        return {**cols, "config_json": json.dumps(cfg, sort_keys=True),
                "config_hash": canonical_hash(identity)}
    return {
        **cols,
        **{axis.name: axis.read(exp) for axis in model_axes()},
        "config_json": json.dumps(exp.to_dict(), sort_keys=True),
        "config_hash": exp.config_hash(),
    }


def trial_row(
    *, study: str, trial_id: str, config: Mapping[str, Any], result: Mapping[str, Any],
    status: str, error: str | None = None, meta: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """One ``trials.parquet`` row (unconformed: :meth:`ResultsStore.upsert` casts it).

    Args:
        study: study name.
        trial_id: Tune trial id.
        config: the trial's Tune config (see :mod:`harness.runtime.trial`).
        result: its last report (empty for a trial that failed before reporting).
        status: ``completed``, ``pruned`` or ``failed``.
        error: the error line of a failed trial.
        meta: provenance and timing (versions_json, git_commit, started_at, finished_at,
            wall_seconds, num_failures).
    """
    if status not in STATUSES:
        raise ValueError(f"status {status!r} is not one of {STATUSES}")
    scores = {k: v for k, v in result.items() if is_score_column(k)}
    budget = {k: result.get(k) for k in _TAIL if k in result}
    return {
        "study": study, "trial_id": trial_id, "status": status, "error": error,
        **config_columns(config), **scores, **budget, **(meta or {}),
    }


def curve_row(
    *, study: str, trial_id: str, config: Mapping[str, Any], result: Mapping[str, Any]
) -> dict[str, Any]:
    """The ``curves.parquet`` row of one per-epoch report: the epoch's own columns
    (``epoch``, ``train_loss``, ``epoch_val_<metric>``, ``epoch_seconds``, ``windows_seen``)."""
    own = curve_scores(result)
    return {
        "study": study, "trial_id": trial_id, "arm": config["arm"], "seed": config["seed"],
        "epoch": result["epoch"], "train_loss": result["train_loss"], **own,
        "seconds": result["epoch_seconds"], "windows_seen": result["windows_seen"],
    }


def atomic_write_parquet(df: pl.DataFrame, path: Path) -> Path:
    """Write ``df`` to ``path`` through a temporary file in the same folder and ``os.replace``."""
    with atomic_target(path) as tmp:
        df.write_parquet(tmp)
    return path


def finished_entries(folder: str | Path) -> frozenset[int]:
    """The plan indices whose trial finished (``completed`` or ``pruned``) in the
    ``trials.parquet`` of ``folder`` (none without the file, or in a file from before
    ``plan_index`` was recorded). A failed trial's entry is not among them: it is tried again."""
    path = Path(folder) / TRIALS_FILE
    if not path.is_file() or "plan_index" not in pl.read_parquet_schema(path):
        return frozenset()
    rows = pl.read_parquet(path, columns=["plan_index", "status"])
    done = rows.filter(pl.col("status").is_in(["completed", "pruned"]) & pl.col("plan_index").is_not_null())
    return frozenset(int(i) for i in done["plan_index"])


class ResultsStore:
    """``trials.parquet`` + ``curves.parquet`` of one study, keyed by trial id.

    Existing files are loaded, so a resumed study keeps its earlier rows; :meth:`upsert`
    replaces a trial's row and curve (a re-run after an error), and the row of another trial id
    at the same ``plan_index`` (the planned trial run again under a new id, after a driver that
    stopped before Tune saved its state), and rewrites both files. The
    curve of a trial still running is kept in ``.running-curves/<trial id>.parquet``
    (:meth:`save_running_curve`, one small file per epoch), so a study whose driver stopped
    resumes its trials with the epochs they had reported; :meth:`upsert` folds it in.

    Args:
        folder: ``results/<study>``.
        metrics: the protocol's metric names.
        horizons: the protocol's report horizons.
    """

    def __init__(self, folder: str | Path, metrics: Sequence[str], horizons: Sequence[int]) -> None:
        self.folder = Path(folder)
        self.trials_path = self.folder / TRIALS_FILE
        self.curves_path = self.folder / CURVES_FILE
        self.running_dir = self.folder / RUNNING_CURVES
        self.schema = trials_schema(metrics, horizons)
        self.curve_schema = curves_schema(metrics, horizons)
        self._rows: dict[str, dict[str, Any]] = {}
        self._curves: dict[str, list[dict[str, Any]]] = {}
        if self.trials_path.is_file():
            for row in pl.read_parquet(self.trials_path).to_dicts():
                self._rows[row["trial_id"]] = conform(row, self.schema)
        if self.curves_path.is_file():
            for row in pl.read_parquet(self.curves_path).to_dicts():
                self._curves.setdefault(row["trial_id"], []).append(conform(row, self.curve_schema))

    def __len__(self) -> int:
        return len(self._rows)

    def row(self, trial_id: str) -> dict[str, Any] | None:
        """The row of a trial, or None."""
        return self._rows.get(trial_id)

    def rows(self) -> list[dict[str, Any]]:
        """All rows, in the order trials finished first."""
        return list(self._rows.values())

    def upsert(self, row: Mapping[str, Any], curve: Sequence[Mapping[str, Any]] = ()) -> None:
        """Add or replace a trial's row (and its curve, when given) and rewrite the files.

        A curve that starts after epoch 1 continues the stored one (a failed trial re-run from
        its last checkpoint reports only the epochs after it): the stored epochs before its first
        are kept, the later ones replaced."""
        trial_id = row["trial_id"]
        for other in self._same_entry(row):
            log.warning("trial %s runs plan entry %s again: it replaces trial %s's row",
                        trial_id, row["plan_index"], other)
            self._rows.pop(other)
            self._curves.pop(other, None)
        self._rows[trial_id] = conform(row, self.schema)
        if curve:
            new = sorted((conform(r, self.curve_schema) for r in curve), key=lambda r: r["epoch"])
            earlier = [r for r in self._curves.get(trial_id, []) if r["epoch"] < new[0]["epoch"]]
            self._curves[trial_id] = earlier + new
        self.write()
        self._running_path(trial_id).unlink(missing_ok=True)
        if self.running_dir.is_dir() and not any(self.running_dir.iterdir()):
            self.running_dir.rmdir()  # no trial running: the results folder holds its files only

    def _same_entry(self, row: Mapping[str, Any]) -> list[str]:
        """Other trial ids whose rows hold ``row``'s plan entry (none when it has no index)."""
        index = row.get("plan_index")
        if index is None:
            return []
        return [t for t, r in self._rows.items() if r["plan_index"] == index and t != row["trial_id"]]

    def _running_path(self, trial_id: str) -> Path:
        return self.running_dir / f"{trial_id}.parquet"

    def save_running_curve(self, trial_id: str, curve: Sequence[Mapping[str, Any]]) -> None:
        """Keep the curve a running trial has reported so far (atomically)."""
        self.running_dir.mkdir(parents=True, exist_ok=True)
        rows = [conform(r, self.curve_schema) for r in curve]
        atomic_write_parquet(pl.DataFrame(rows, schema=self.curve_schema), self._running_path(trial_id))

    def running_curve(self, trial_id: str) -> list[dict[str, Any]]:
        """The curve :meth:`save_running_curve` kept for ``trial_id`` (empty if none)."""
        path = self._running_path(trial_id)
        return pl.read_parquet(path).to_dicts() if path.is_file() else []

    def write(self) -> None:
        """Rewrite both files atomically (trials first)."""
        trials = pl.DataFrame(list(self._rows.values()), schema=self.schema)
        atomic_write_parquet(trials, self.trials_path)
        curves = [r for rows in self._curves.values() for r in rows]
        atomic_write_parquet(pl.DataFrame(curves, schema=self.curve_schema), self.curves_path)
