"""Read and validate study results folders and the published-numbers (anchors) file with Polars.

A results folder ``results/<study>/`` holds ``trials.parquet`` (one row per trial),
``curves.parquet`` (one row per trial and epoch; optional), ``study.json`` (spec, command line,
provenance) and perhaps an Optuna storage (``*.db``). Every problem with these files raises
:class:`ResultsError` with one line naming the file and what is wrong.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from harness.results.columns import parse_score_column, result_key
from harness.results.files import CURVES_FILE, STUDY_RECORD, TRIALS_FILE
from harness.results.store import FORMAT_VERSION, REQUIRED_COLUMNS  # the writer owns both
from harness.study.storage import MLFLOW_FILE, OPTUNA_FILE
from stvlm.errors import STVLMError

#: What the report needs in ``trials.parquet``: the results schema's required columns.
TRIAL_COLUMNS = REQUIRED_COLUMNS
CURVE_COLUMNS = ("study", "trial_id", "arm", "seed", "epoch", "train_loss", "seconds", "windows_seen")
ANCHOR_COLUMNS = ("dataset", "protocol", "model", "metric", "value", "source", "few_shot_ratio")
STATUSES = ("completed", "pruned", "failed")



class ResultsError(STVLMError):
    """A results folder, results file or anchors file is missing, empty or incompatible."""


@dataclass(frozen=True)
class StudyResults:
    """One study's results, validated.

    Attributes:
        name: the study name (``study`` column, equal to the folder name in practice).
        path: the results folder.
        trials: one row per trial (columns of :data:`TRIAL_COLUMNS` + metric columns).
        curves: one row per trial and epoch (empty frame when the study wrote none).
        spec: the content of ``study.json``.
        storage: an Optuna storage file beside the Parquet files, if any.
    """

    name: str
    path: Path
    trials: pl.DataFrame
    curves: pl.DataFrame
    spec: dict[str, Any]
    storage: Path | None

    @property
    def metric(self) -> str:
        """The metric the study ranked its trials on (its spec's, ``val_`` or ``test_`` stripped),
        else ``mae``."""
        spec = self.spec.get("spec") or {}
        metric = str(spec.get("metric", "mae")) if isinstance(spec, dict) else "mae"
        return result_key(metric)


def metric_columns(frame: pl.DataFrame, split: str = "test") -> list[tuple[str, str, int | None]]:
    """``(column, metric, horizon)`` for every ``<split>_<metric>[_h<k>]`` column of ``frame``."""
    parsed = ((col, parse_score_column(col)) for col in frame.columns)
    return [(col, p.metric, p.horizon) for col, p in parsed if p is not None and p.split == split]


def _version_of(path: Path, frame: pl.DataFrame, spec: dict[str, Any]) -> tuple[str | None, Path]:
    """The results format version and the file that states it (the Parquet file, else study.json)."""
    meta = pl.read_parquet_metadata(path)
    if "format_version" in meta:
        return str(meta["format_version"]), path
    if "format_version" in frame.columns and frame.height:
        return str(frame["format_version"][0]), path
    if "format_version" in spec:
        return str(spec["format_version"]), path.parent / STUDY_RECORD
    return None, path


def _first_line(err: Exception) -> str:
    """The first line of an error's message, or its type's name when the message is empty."""
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__


#: The most rows a results table may hold (a study of a million trials is far beyond any here; a
#: 1.8 MB file can declare 400 million rows and take 3.5 GB to read).
MAX_ROWS = 10_000_000


def _read_parquet(path: Path, required: tuple[str, ...], spec: dict[str, Any]) -> pl.DataFrame:
    try:
        rows = pl.scan_parquet(path).select(pl.len()).collect().item()  # the file's metadata only
        if rows > MAX_ROWS:
            raise ResultsError(f"{path}: declares {rows:,} rows, more than a results table holds "
                               f"({MAX_ROWS:,}); not read")
        frame = pl.read_parquet(path)
    except ResultsError:
        raise
    except Exception as err:  # polars raises several types for unreadable files
        raise ResultsError(f"{path}: not a readable Parquet file ({_first_line(err)})") from None
    version, where = _version_of(path, frame, spec)
    if version is not None and version != str(FORMAT_VERSION):
        raise ResultsError(
            f"{where}: results format_version {version} is not supported; this report reads "
            f"format_version {FORMAT_VERSION} (re-run the study or use a matching stvlm version)"
        )
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise ResultsError(
            f"{path}: missing required columns {', '.join(missing)} (written by an incompatible "
            f"version? see docs/results-format.md)"
        )
    return frame


def _read_spec(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise ResultsError(f"{path}: {STUDY_RECORD} is missing (every results folder has one)")
    try:
        spec = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as err:
        raise ResultsError(f"{path}: not valid JSON ({err})") from None
    if not isinstance(spec, dict):
        raise ResultsError(f"{path}: expected a JSON object, got {type(spec).__name__}")
    return spec


def load_study(folder: str | Path) -> StudyResults:
    """Read one results folder.

    Raises:
        ResultsError: the folder is missing or empty, a file is unreadable, has the wrong
            ``format_version`` or lacks required columns, the trials table has no rows, no
            ``test_<metric>`` column, an unknown status, a ``params_json`` that is not a JSON
            object, or a completed trial with a NaN or infinite score.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise ResultsError(f"{folder}: results folder does not exist")
    trials_path = folder / TRIALS_FILE
    if not trials_path.is_file():
        present = sorted(p.name for p in folder.iterdir())
        what = "is empty" if not present else f"has no {TRIALS_FILE} (found: {', '.join(present[:5])})"
        raise ResultsError(f"{folder}: results folder {what}; expected {TRIALS_FILE} and {STUDY_RECORD}")
    spec = _read_spec(folder / STUDY_RECORD)
    trials = _read_parquet(trials_path, TRIAL_COLUMNS, spec)
    if trials.height == 0:
        raise ResultsError(f"{trials_path}: has no trial rows")
    if not metric_columns(trials, "test"):
        raise ResultsError(f"{trials_path}: has no test_<metric> columns (e.g. test_mae)")
    bad = sorted(set(trials["status"].drop_nulls().unique()) - set(STATUSES))
    if bad or trials["status"].null_count():
        raise ResultsError(
            f"{trials_path}: column status has value {bad[0] if bad else None!r}; "
            f"allowed: {', '.join(STATUSES)}"
        )
    for text in trials["params_json"].drop_nulls().unique():
        try:
            ok = isinstance(json.loads(text), dict)
        except (json.JSONDecodeError, RecursionError):
            ok = False
        if not ok:
            raise ResultsError(f"{trials_path}: column params_json has value {text!r}; expected a JSON object")
    curves_path = folder / CURVES_FILE
    curves = (
        _read_parquet(curves_path, CURVE_COLUMNS, spec)
        if curves_path.is_file()
        else pl.DataFrame(schema={c: pl.Null for c in CURVE_COLUMNS})
    )
    name = str(trials["study"][0])
    _check_finite(trials, trials_path)
    return StudyResults(name, folder, trials, curves, spec, _optuna_storage(folder, spec))


def _check_finite(trials: pl.DataFrame, path: Path) -> None:
    """Refuse a completed trial with a NaN or infinite score: the project's writers never record
    one (:func:`stvlm.metrics.evaluate_forecast` raises on a metric that cannot be computed, and
    the trial fails), so the file is damaged or from elsewhere, and tables would rank on it."""
    done = trials.filter(pl.col("status") == "completed")
    for column in (c for c in done.columns if parse_score_column(c) and done.schema[c].is_numeric()):
        bad = done.filter(pl.col(column).is_not_null() & ~pl.col(column).is_finite())
        if bad.height:
            raise ResultsError(f"{path}: completed trial {bad['trial_id'][0]} has {column} = "
                               f"{bad[column][0]}; a completed trial's metrics are finite")


def _optuna_storage(folder: Path, spec: dict[str, Any]) -> Path | None:
    """The study's ``optuna.db``, else another ``*.db`` file in the folder (never the MLflow
    store beside it), else the spec's ``optuna_storage`` when it is an existing ``sqlite:///``
    file; ``None`` otherwise."""
    found = sorted(p for p in folder.glob("*.db") if p.name != MLFLOW_FILE)
    if found:
        return folder / OPTUNA_FILE if (folder / OPTUNA_FILE) in found else found[0]
    inner = spec.get("spec")
    url = inner.get("optuna_storage") if isinstance(inner, dict) else None
    if isinstance(url, str) and url.startswith("sqlite:///") and Path(url[len("sqlite:///"):]).is_file():
        return Path(url[len("sqlite:///"):])
    return None


def load_studies(folders: list[str | Path] | tuple[str | Path, ...]) -> list[StudyResults]:
    """Read several results folders; the same study given twice raises."""
    if not folders:
        raise ResultsError("no results folder given; pass at least one results/<study> folder")
    studies = [load_study(f) for f in folders]
    seen: dict[str, Path] = {}
    for s in studies:
        if s.name in seen:
            raise ResultsError(f"{s.path}: study {s.name!r} was already read from {seen[s.name]}")
        seen[s.name] = s.path
    return studies


def load_anchors(path: str | Path) -> pl.DataFrame:
    """Read the published-numbers CSV (columns :data:`ANCHOR_COLUMNS`, plus optional ``notes``,
    ``protocol_match`` and ``few_shot_label``).

    ``protocol_match`` says whether a published number was measured under a protocol that
    matches ours (``yes``/``no``); with it, deltas are computed only for ``yes`` rows whose
    ``few_shot_label`` equals the trial's (e.g. ``first-st-llm-10%``). Without the column, rows
    match on the few-shot ratio alone and the caller vouches for the protocol.
    """
    path = Path(path)
    if not path.is_file():
        raise ResultsError(f"{path}: anchors file does not exist")
    try:
        frame = pl.read_csv(path, infer_schema_length=0)  # all strings; cast below
    except Exception as err:  # as in _read_parquet
        raise ResultsError(f"{path}: not a readable CSV file ({_first_line(err)})") from None
    missing = [c for c in ANCHOR_COLUMNS if c not in frame.columns]
    if missing:
        raise ResultsError(
            f"{path}: anchors file is missing columns {', '.join(missing)}; "
            f"required: {', '.join(ANCHOR_COLUMNS)}"
        )
    for col in ("value", "few_shot_ratio"):
        cast = frame[col].cast(pl.Float64, strict=False)
        bad = frame.filter(cast.is_null())[col]
        if len(bad):
            raise ResultsError(f"{path}: column {col} has value {bad[0]!r}; expected a number")
        frame = frame.with_columns(cast.alias(col))
    if "notes" not in frame.columns:
        frame = frame.with_columns(pl.lit("").alias("notes"))
    optional = [c for c in ("protocol_match", "few_shot_label") if c in frame.columns]
    # A blank cell is null, and null.is_in(...) is null, not False: fill it so a row of unknown
    # protocol is refused instead of matching on its ratio like a legacy file's.
    bad = (frame.filter(~pl.col("protocol_match").is_in(["yes", "no"]).fill_null(False))
           if "protocol_match" in optional else None)
    if bad is not None and bad.height:
        value = bad["protocol_match"][0]
        raise ResultsError(
            f"{path}: column protocol_match has value {'a blank cell' if value is None else repr(value)}; "
            "allowed: yes, no"
        )
    return frame.select(*ANCHOR_COLUMNS, "notes", *optional)
