"""``results/<study>/study.json``: what ran, how, where, and when (see docs/results-format.md).

The record is written when a study starts and updated when it ends; every launch of the same
study (a resume) appends to ``runs``. It also guards resumes: a study may only be resumed with
the spec and storage it was started with.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from harness.study.arms import Arm
from harness.results.files import CURVES_FILE, STUDY_RECORD, TRIALS_FILE
from harness.results.store import FORMAT_VERSION
from harness.study.spec import StudySpec
from stvlm.errors import ConfigError
from stvlm.configs.shown import shown
from stvlm.io import atomic_write_json

RECORD = STUDY_RECORD
#: The files of a study's results folder that hold one run of it (with the Optuna file when the
#: study uses its default storage there): set aside together when a study starts afresh.
RUN_FILES = (TRIALS_FILE, CURVES_FILE, RECORD)


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def read_record(folder: Path) -> dict[str, Any] | None:
    """The study record in ``folder``, or None."""
    path = folder / RECORD
    return json.loads(path.read_text()) if path.is_file() else None


def check_resumable(
    folder: Path, spec: StudySpec, experiment_path: str, mlflow_uri: str | None = None
) -> None:
    """Refuse to resume the Tune experiment at ``experiment_path`` into the results ``folder``
    without that folder's record (the study ran with another --results-dir, or its results were
    removed: the restored callbacks would write to the old folder, and finished trials are never
    re-run), with another spec, from another storage, or with MLflow tracking switched
    (``mlflow_uri``: Tune restores the first launch's callbacks, so a switch would not happen).

    Raises:
        ConfigError: one line saying what differs and how to start afresh.
    """
    previous = read_record(folder)
    if previous is None:
        raise ConfigError(
            f"study {spec.name!r} has a Tune experiment at {experiment_path} but no {RECORD} in "
            f"{folder}: resume it with the --results-dir it started with, or remove "
            f"{experiment_path} to start afresh"
        )
    if previous.get("spec_hash") != spec.config_hash():
        raise ConfigError(
            f"study {spec.name!r} already ran with a different spec ({spec_changes(previous.get('spec'), spec.to_dict())}; "
            "--num-samples and --optuna-storage are part of it): resume it with the spec it started "
            f"with, give the study another name, or remove {experiment_path} and its results folder "
            "to start afresh"
        )
    if "mlflow_uri" in previous and previous["mlflow_uri"] != mlflow_uri:
        raise ConfigError(
            f"study {spec.name!r} was launched with MLflow tracking "
            f"{_tracking(previous['mlflow_uri'])}, and a resume keeps its first launch's tracking: "
            f"resume it with the same --mlflow / --mlflow-uri (not {_tracking(mlflow_uri)}), or remove "
            f"{experiment_path} to start afresh"
        )
    if previous.get("experiment_path") != experiment_path:
        raise ConfigError(
            f"study {spec.name!r} is stored at {previous.get('experiment_path')}, not "
            f"{experiment_path}; pass --storage "
            f"{Path(str(previous.get('experiment_path'))).parent} to resume it"
        )


def spec_changes(old: Mapping[str, Any] | None, new: Mapping[str, Any]) -> str:
    """``num_samples: 2 -> 4, seeds: ...``: the first three dotted keys whose values differ."""
    before, after = _flat(old or {}), _flat(new)
    keys = sorted(k for k in before.keys() | after.keys() if before.get(k, _ABSENT) != after.get(k, _ABSENT))
    if not keys:
        return "the same settings under another spec hash"
    parts = [f"{k}: {_value(before.get(k, _ABSENT))} -> {_value(after.get(k, _ABSENT))}" for k in keys[:3]]
    return ", ".join(parts) + (f" and {len(keys) - 3} more" if len(keys) > 3 else "")


_ABSENT = object()


def _flat(tree: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in tree.items():
        if isinstance(value, Mapping) and value:
            out.update(_flat(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = list(value) if isinstance(value, tuple) else value
    return out


def _value(value: Any) -> str:
    return "(absent)" if value is _ABSENT else shown(value)


def _tracking(uri: str | None) -> str:
    return "off" if uri is None else f"to {uri}"


def check_fresh_start(
    folder: Path, spec: StudySpec, experiment_path: str, can_restore: Callable[[str], bool]
) -> None:
    """Refuse to start afresh (no Tune experiment at ``experiment_path``) into a results
    ``folder`` whose record names another experiment path that still holds the study's Tune
    experiment: the study ran with another --storage (or $STVLM_STORAGE), and starting over
    would set its results aside and run every trial again.

    Raises:
        ConfigError: one line naming both places and how to resume or start afresh.
    """
    previous = read_record(folder)
    stored = previous.get("experiment_path") if previous else None
    if stored and stored != experiment_path and can_restore(str(stored)):
        raise ConfigError(
            f"study {spec.name!r} is stored at {stored}, not {experiment_path}: pass --storage "
            f"{Path(str(stored)).parent} to resume it, or remove {stored} to start afresh"
        )


def start_record(
    folder: Path, *, spec: StudySpec, arms: list[Arm], provenance: Mapping[str, Any], storage: str,
    experiment_path: str, cluster: Mapping[str, float], resumed: bool, mlflow_uri: str | None = None,
) -> dict[str, Any]:
    """Write (or extend, on resume) the record at the start of a launch (``mlflow_uri``: where
    its trials are tracked, None: not; kept from the first launch on resume)."""
    record = read_record(folder) if resumed else None
    record = record or {"started_at": now(), "runs": []}
    record.update({
        "format_version": FORMAT_VERSION,
        "study": spec.name,
        "spec": spec.to_dict(),
        "spec_hash": spec.config_hash(),
        "arms": [
            {"label": a.label, "values": a.values, "config_hash": a.experiment.config_hash()}
            for a in arms
        ],
        "command": provenance.get("command"),
        "provenance": dict(provenance),
        "storage": storage,
        "experiment_path": experiment_path,
        "cluster": dict(cluster),
        "updated_at": now(),
        "finished_at": None,
    })
    if not resumed or "mlflow_uri" in record:  # a record from before it was kept: unknown
        record["mlflow_uri"] = mlflow_uri  # equal on resume (check_resumable)
    record["runs"].append({"started_at": now(), "finished_at": None, "resumed": resumed,
                           "command": provenance.get("command")})
    atomic_write_json(folder / RECORD, record)
    return record


def finish_record(folder: Path, record: dict[str, Any], *, counts: Mapping[str, int], complete: bool) -> None:
    """Stamp the end of a launch (``finished_at`` of the study only when every trial ran)."""
    record["updated_at"] = now()
    record["runs"][-1]["finished_at"] = now()
    record["runs"][-1]["trials"] = dict(counts)
    if complete:
        record["finished_at"] = now()
    atomic_write_json(folder / RECORD, record)


def set_aside(folder: Path, names: tuple[str, ...] = RUN_FILES) -> Path | None:
    """Move the files ``names`` of an earlier run that cannot be resumed into
    ``folder/previous/<UTC time>/`` (a new folder every time: nothing is overwritten, and the
    tables keep their study record); ``None`` when none of them exists."""
    present = [n for n in names if (folder / n).is_file()]
    if not present:
        return None
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    target, n = folder / "previous" / stamp, 1
    while target.exists():
        target, n = folder / "previous" / f"{stamp}-{n}", n + 1
    target.mkdir(parents=True)
    for name in present:
        (folder / name).replace(target / name)
    return target
