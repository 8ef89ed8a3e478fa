"""Checking dataset files against their recorded size and SHA-256 digest.

Three modes (``DataConfig.verify``):

* ``"sha256"``: every present file with a recorded size is size-checked, then hashed and
  compared with its recorded digest;
* ``"size"``: sizes only (fast; catches truncated copies);
* ``"none"``: only checks that the required files exist.

Digests are computed in chunks and cached in-process per (path, size, mtime), so loading the same
dataset twice in one process hashes each file once.
"""

from __future__ import annotations

import hashlib
import logging
import os
from pathlib import Path
from typing import Literal

from stvlm.data.series import DatasetInfo, FileSpec
from stvlm.errors import ConfigError, DataError

logger = logging.getLogger(__name__)

VerifyMode = Literal["sha256", "size", "none"]
VERIFY_MODES: tuple[str, ...] = ("sha256", "size", "none")
CHUNK_BYTES = 1 << 20

# (absolute path, size, mtime_ns) -> hex digest
_DIGEST_CACHE: dict[tuple[str, int, int], str] = {}


def sha256_file(path: Path) -> str:
    """SHA-256 hex digest of a file, read in 1 MiB chunks and cached per (path, size, mtime).

    Args:
        path: the file.

    Returns:
        The 64-character lower-case hex digest.
    """
    path = Path(path).resolve()
    stat = path.stat()
    key = (str(path), stat.st_size, stat.st_mtime_ns)
    cached = _DIGEST_CACHE.get(key)
    if cached is not None:
        return cached
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK_BYTES):
            digest.update(chunk)
    hexdigest = digest.hexdigest()
    _DIGEST_CACHE[key] = hexdigest
    logger.debug("hashed %s (%d bytes)", path, stat.st_size)
    return hexdigest


def file_path(folder: Path, spec: FileSpec) -> Path:
    """Absolute path of ``spec`` inside a dataset folder (``..`` parts collapsed, links kept)."""
    return Path(os.path.normpath(Path(folder).absolute() / spec.name))


def missing_file_message(info: DatasetInfo, path: Path) -> str:
    """The one-line message for a required file that is not there."""
    return f"dataset {info.name!r}: missing file {path} (see `stvlm data info {info.name}`)"


def check_file(info: DatasetInfo, spec: FileSpec, path: Path, mode: str) -> None:
    """Check one present file's size (and digest in ``"sha256"`` mode).

    Raises:
        DataError: the size or the digest differs from the recorded one.
    """
    if mode == "none":
        return
    if spec.size is not None:
        size = path.stat().st_size
        if size != spec.size:
            raise DataError(
                f"dataset {info.name!r}: {path} is truncated or altered: {size} bytes, "
                f"expected {spec.size}"
            )
    if mode == "sha256" and spec.sha256 is not None:
        actual = sha256_file(path)
        if actual != spec.sha256.lower():
            raise DataError(
                f"dataset {info.name!r}: checksum mismatch for {path}: sha256 {actual}, "
                f"expected {spec.sha256.lower()}"
            )


def verify_files(info: DatasetInfo, folder: Path, mode: VerifyMode = "sha256") -> None:
    """Check that a dataset's files are present and intact.

    Args:
        info: the dataset record listing its files.
        folder: the dataset folder (``<data root>/<info.folder>``).
        mode: ``"sha256"``, ``"size"`` or ``"none"`` (see the module docstring).

    Raises:
        ConfigError: ``mode`` is not one of the three modes.
        DataError: a required file is missing, or a present file fails its size / digest check.
    """
    if mode not in VERIFY_MODES:
        raise ConfigError(
            f"verify: {mode!r} is not a verify mode; allowed: {', '.join(VERIFY_MODES)}"
        )
    for spec in info.files:
        path = file_path(folder, spec)
        if not path.is_file():
            if spec.required:
                raise DataError(missing_file_message(info, path))
            continue
        check_file(info, spec, path, mode)
