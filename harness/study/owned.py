"""Output paths that would destroy another command's results, refused before any work.

Folders are told apart by the files their writers leave in them:

* a checkpoint (``stvlm train``'s ``<run>/checkpoint``) holds ``experiment.json``;
* a training run holds ``config.json`` and a ``checkpoint/`` folder;
* a study's results folder holds ``study.json`` or ``trials.parquet``;
* a report folder holds ``report.md``.

A report is written as a whole folder (:func:`stvlm.io.atomic_folder` replaces the folder and
everything in it), so its ``--out`` must be new, empty or a report; ``stvlm predict`` and
``stvlm evaluate --json`` write one file, which must not be a checkpoint's or replace a run's or
a study's own records.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from harness.results.files import STUDY_RECORD, TRIALS_FILE
from stvlm.errors import ConfigError
from stvlm.run_files import EXPERIMENT_FILE, RUN_CHECKPOINT, RUN_CONFIG, RUN_RECORDS

CHECKPOINT_MARKER = EXPERIMENT_FILE
RUN_MARKER = RUN_CONFIG
STUDY_MARKERS = (STUDY_RECORD, TRIALS_FILE)
REPORT_MARKER = "report.md"

CHECKPOINT, RUN, STUDY = "an ST-VLM checkpoint", "a `stvlm train` run", "a study's results"
"""What :func:`folder_owner` says a folder holds."""


def folder_owner(folder: Path) -> str | None:
    """What ``folder`` holds by its marker files: :data:`CHECKPOINT`, :data:`RUN`,
    :data:`STUDY`, or ``None`` (none of them, or not a folder)."""
    if not folder.is_dir():
        return None
    if (folder / CHECKPOINT_MARKER).is_file():
        return CHECKPOINT
    if (folder / RUN_MARKER).is_file() and (folder / RUN_CHECKPOINT).is_dir():
        return RUN
    if any((folder / m).is_file() for m in STUDY_MARKERS):
        return STUDY
    return None


def check_report_dir(path: str | os.PathLike[str], flag: str, results: Iterable[str | os.PathLike[str]]) -> Path:
    """A folder a report may replace as a whole: new, empty, or holding a report; never a results
    folder of ``results``, a folder above one, nor a run's, a study's or a checkpoint's.

    Raises:
        ConfigError: one line naming the flag, the folder and what it holds.
    """
    p = Path(path)
    if p.is_symlink():
        raise ConfigError(f"{flag} {str(path)!r} is a symbolic link, and a report replaces its whole folder; "
                          "give the folder itself")
    target = p.expanduser().resolve()
    for folder in results:
        source = Path(folder).expanduser().resolve()
        if target == source or target in source.parents:
            raise ConfigError(f"{flag} {str(path)!r} is or holds the results folder {str(folder)!r}, and a "
                              "report replaces its whole folder; choose a new or empty folder")
    if not p.is_dir():
        return p
    owner = folder_owner(p)
    if owner is not None:
        raise ConfigError(f"{flag} {str(path)!r} holds {owner}, and a report replaces its whole folder; "
                          "choose a new or empty folder")
    others = sorted(c.name for c in p.iterdir())
    if others and not (p / REPORT_MARKER).is_file():
        raise ConfigError(f"{flag} {str(path)!r} holds other files ({', '.join(others[:3])}"
                          f"{', ...' if len(others) > 3 else ''}) and no report, and a report replaces its "
                          "whole folder; choose a new or empty folder")
    return p


def check_not_owned(path: str | os.PathLike[str], flag: str) -> Path:
    """A file that may be written: not inside a checkpoint, and not an existing record of a
    training run (:data:`RUN_RECORDS`) or any existing file of a study's results folder.

    Raises:
        ConfigError: one line naming the flag, the file and what it belongs to.
    """
    p = Path(path)
    for folder in Path(os.path.abspath(p)).parents:
        if folder_owner(folder) == CHECKPOINT:
            raise ConfigError(f"{flag} {str(path)!r} lies inside the checkpoint {str(folder)!r}; write it "
                              "elsewhere")
    if p.exists():
        owner = folder_owner(p.parent if str(p.parent) else Path("."))
        if owner == STUDY or (owner == RUN and p.name in RUN_RECORDS):
            raise ConfigError(f"{flag} {str(path)!r} is a file of {owner} in {str(p.parent)!r}; nothing was "
                              "written: choose another path")
    return p


def check_checkpoint_dir(path: str | os.PathLike[str]) -> Path:
    """A checkpoint folder to read (``<run>/checkpoint`` of ``stvlm train``), checked before the
    model stack is imported, with :func:`stvlm.experiment.load_checkpoint`'s words.

    Raises:
        ConfigError: the folder holds no ``experiment.json`` (or does not exist).
    """
    p = Path(path)
    if not (p / CHECKPOINT_MARKER).is_file():
        hint = "; its checkpoint is <run>/checkpoint" if folder_owner(p) == RUN else ""
        raise ConfigError(f"{path} is not a checkpoint folder: {CHECKPOINT_MARKER} is missing{hint}")
    return p
