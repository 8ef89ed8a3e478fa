"""Atomic file writes: results are never left half-written."""

from __future__ import annotations

import glob
import json
import logging
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


@contextmanager
def atomic_target(path: str | Path) -> Iterator[Path]:
    """A temporary path beside ``path``; on success it is synced and renamed onto ``path``.

    Whatever the body writes to the yielded path replaces ``path`` in one ``os.replace``, so a
    reader sees the old file or the new one, never a half-written one; on an exception the
    temporary file is removed and ``path`` is untouched. The file gets the usual permissions
    (``0666`` less the umask), not ``mkstemp``'s ``0600``.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(name)
    umask = _umask()
    try:
        os.chmod(tmp, 0o666 & ~umask)
        yield tmp
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically (see :func:`atomic_target`)."""
    with atomic_target(path) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def atomic_write_json(path: str | Path, obj: Any) -> Path:
    """Write ``obj`` as indented JSON (NaN allowed, keys in insertion order) atomically."""
    return atomic_write_bytes(path, (json.dumps(obj, indent=2, default=str) + "\n").encode())


def _umask() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return umask


def _settle(folder: Path) -> None:
    """Sync every file under ``folder`` and give files and folders the umask's permissions
    (``mkdtemp`` creates ``0700``, ``mkstemp`` and safetensors ``0600``)."""
    umask = _umask()
    for root, _, files in os.walk(folder):
        os.chmod(root, 0o777 & ~umask)
        for name in files:
            file = os.path.join(root, name)
            os.chmod(file, 0o666 & ~umask)
            with open(file, "rb") as fh:
                os.fsync(fh.fileno())


@contextmanager
def atomic_folder(path: str | Path) -> Iterator[Path]:
    """An empty temporary folder beside ``path``; on success it replaces ``path`` as a whole.

    The old folder (if any) is moved aside with one rename, the new one renamed into place, and
    the old one removed afterwards, so ``path`` holds the old folder or the whole new one. Before
    the rename every file in it is synced to disk and given the usual permissions (``0666`` less
    the umask; libraries such as safetensors write ``0600`` files), its folders ``0777`` less the
    umask. On an exception the temporary folder is removed and ``path`` is untouched. An
    interrupt while the old copy is removed leaves the new folder in place (the interrupt still
    ends the program); the old copy's rest is removed by the next call for ``path``.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    for stale in path.parent.glob(f".{glob.escape(path.name)}.old.*"):  # an interrupted clean-up
        shutil.rmtree(stale, ignore_errors=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent))
    old = None
    try:
        yield tmp
        _settle(tmp)
        if path.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{path.name}.old.", dir=path.parent))
            os.rmdir(old)
            os.replace(path, old)
        os.replace(tmp, path)
    except BaseException:
        if old is not None and old.exists() and not path.exists():
            os.replace(old, path)  # the new folder did not land: the old one goes back
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if old is not None:
        _discard(old, path)


def _discard(old: Path, path: Path) -> None:
    """Remove the replaced copy ``old`` of ``path``; an interrupt (or the error an interrupted
    removal raises) is logged and re-raised as the interrupt: ``path`` already holds the new
    folder, and the next :func:`atomic_folder` call for it removes what is left."""
    try:
        shutil.rmtree(old, ignore_errors=True)
    except BaseException as err:
        interrupted = isinstance(err, KeyboardInterrupt) or isinstance(err.__context__, KeyboardInterrupt)
        log.warning("%s is in place; removing its old copy %s stopped (%s), the next write removes the rest",
                    path, old, type(err).__name__)
        if interrupted:
            raise KeyboardInterrupt from None
        raise
