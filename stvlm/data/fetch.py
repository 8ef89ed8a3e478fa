"""Downloading dataset files that have a public source (``stvlm data fetch``).

Each :class:`~stvlm.data.series.FileSpec` with a ``url`` is downloaded into
``<data root>/<dataset folder>/``: streamed to a temporary file beside the target, checked
against the recorded size and SHA-256, then atomically renamed into place, so an interrupted or
corrupted download never leaves a file that looks valid. Files already present and intact are
left alone. The built-in URLs point at the exact GitHub commits the shared copies came from.

Why not pooch: it does the same download + checksum + cache, but this module also needs what
pooch leaves to the caller: the bring-your-own folder layout (files beside ``dataset.toml``,
not in a cache), one-line errors that name the folder to copy a file into by hand when a
source is gone, the same size/SHA-256 check that ``stvlm data info`` runs on copied files
(:mod:`stvlm.data.checksum`), and a progress bar that follows ``STVLM_PROGRESS``. That is about
60 lines of urllib here against a dependency plus the same glue around it.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from stvlm.data.checksum import CHUNK_BYTES, check_file, file_path
from stvlm.data.datasets import dataset_info
from stvlm.data.root import resolve_data_root
from stvlm.data.series import DatasetInfo, FileSpec
from stvlm.errors import DataError
from stvlm.progress import bar

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class FetchResult:
    """What :func:`fetch_dataset` did, file by file (absolute paths).

    Args:
        downloaded: files fetched in this call.
        present: files that were already there and passed their checks.
        manual: required files that are missing and have no download source.
    """

    downloaded: tuple[Path, ...] = ()
    present: tuple[Path, ...] = ()
    manual: tuple[Path, ...] = ()


def _download_error(info: DatasetInfo, url: str, folder: Path, reason: object) -> DataError:
    return DataError(
        f"could not download {url} for dataset {info.name!r}: {reason}; copy the files into "
        f"{folder} by hand (see `stvlm data info {info.name}`)"
    )


def download_file(
    info: DatasetInfo, spec: FileSpec, folder: Path, *, timeout: float = 30
) -> Path:
    """Download one file to ``folder/spec.name`` via a verified temporary file.

    Args:
        info: the dataset (named in error messages).
        spec: the file; ``spec.url`` must be set.
        folder: the dataset folder.
        timeout: socket timeout in seconds.

    Returns:
        The path of the downloaded file.

    Raises:
        DataError: the download failed, or its size / digest differs from ``spec``.
    """
    assert spec.url is not None
    dest = file_path(folder, spec)
    dest.parent.mkdir(parents=True, exist_ok=True)
    handle = tempfile.NamedTemporaryFile(
        dir=dest.parent, prefix=f".{dest.name}.", suffix=".part", delete=False
    )
    tmp = Path(handle.name)
    try:
        digest, size = hashlib.sha256(), 0
        with handle:
            try:
                with urllib.request.urlopen(spec.url, timeout=timeout) as response, bar(
                    spec.size, f"fetch {dest.name}", unit="B", unit_scale=True
                ) as ticker:
                    while chunk := response.read(CHUNK_BYTES):
                        handle.write(chunk)
                        digest.update(chunk)
                        size += len(chunk)
                        ticker.update(len(chunk))
            except urllib.error.URLError as err:
                reason = err if isinstance(err, urllib.error.HTTPError) else err.reason
                raise _download_error(info, spec.url, dest.parent, reason) from None
            except (OSError, ValueError) as err:  # timeouts, resets, malformed URLs
                raise _download_error(info, spec.url, dest.parent, err) from None
        if spec.size is not None and size != spec.size:
            raise _download_error(
                info, spec.url, dest.parent, f"received {size} bytes, expected {spec.size}"
            )
        if spec.sha256 is not None and digest.hexdigest() != spec.sha256.lower():
            raise _download_error(
                info, spec.url, dest.parent,
                f"checksum mismatch: sha256 {digest.hexdigest()}, expected {spec.sha256.lower()}",
            )
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)
    logger.info("downloaded %s (%d bytes) to %s", spec.url, size, dest)
    return dest


def fetch_files(info: DatasetInfo, folder: Path, *, timeout: float = 30) -> FetchResult:
    """Bring a dataset folder up to date from the files' download sources.

    Args:
        info: the dataset record.
        folder: the dataset folder (created if needed).
        timeout: socket timeout per request, in seconds.

    Returns:
        A :class:`FetchResult`.

    Raises:
        DataError: no file of the dataset has a download source, a download failed, or a present
            file without a source fails its checks.
    """
    if not any(spec.url for spec in info.files):
        raise DataError(
            f"dataset {info.name!r} has no public download source; copy its files into "
            f"{folder} by hand (see `stvlm data info {info.name}`)"
        )
    downloaded, present, manual = [], [], []
    for spec in info.files:
        path = file_path(folder, spec)
        if path.is_file():
            try:
                check_file(info, spec, path, "sha256")
                present.append(path)
                continue
            except DataError as err:
                if spec.url is None:
                    raise
                logger.warning("%s; downloading it again", err)
        if spec.url is not None:
            downloaded.append(download_file(info, spec, folder, timeout=timeout))
        elif spec.required:
            manual.append(path)
    if manual:
        logger.warning(
            "dataset %r: no download source for %s; copy them into %s by hand",
            info.name, ", ".join(str(p) for p in manual), folder,
        )
    return FetchResult(tuple(downloaded), tuple(present), tuple(manual))


def fetch_dataset(name: str, data_root: str | Path | None, *, timeout: float = 30) -> FetchResult:
    """Download the files of a registered dataset into the data root.

    Args:
        name: dataset name (``"los-loop"``).
        data_root: the data root; ``None`` uses ``$STVLM_DATA``.
        timeout: socket timeout per request, in seconds.

    Returns:
        A :class:`FetchResult` listing downloaded, already present and hand-copy files.

    Raises:
        UnknownNameError: ``name`` is not a dataset.
        DataError: see :func:`fetch_files`.
    """
    root = resolve_data_root(data_root)
    info = dataset_info(name, root)
    return fetch_files(info, root / info.folder, timeout=timeout)
