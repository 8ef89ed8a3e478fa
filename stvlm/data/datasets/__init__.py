"""The dataset registry and the four verbs the CLI needs: names, info, status, load.

Built-in datasets are registered by the family modules imported below (no filesystem scans);
bring-your-own datasets are sub-folders of the data root with a ``dataset.toml`` (see
:mod:`stvlm.data.datasets.custom`). Every entry has ``.info`` (a
:class:`~stvlm.data.series.DatasetInfo`) and ``.load(folder) -> SpatioTemporalData``.

Typical use::

    from stvlm.data.datasets import load_dataset
    data = load_dataset("los-loop", "/path/to/data")   # verified with SHA-256 first
    data.values.shape                                   # (2016, 207, 1)
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from stvlm.data.checksum import VerifyMode, file_path, verify_files
# Import order = listing order of `stvlm data list`.
from stvlm.data.datasets import los_loop, sz_taxi  # noqa: F401  (registers los-loop, sz-taxi)
from stvlm.data.datasets import nycbike1, nycbike_drop  # noqa: F401  (partial grids / stations)
from stvlm.data.datasets import pems, dcrnn  # noqa: F401  (pems03..08, metr-la, pems-bay)
from stvlm.data.datasets.base import DATASETS, BuiltinDataset
from stvlm.data.datasets.custom import CustomDataset, discover
from stvlm.data.root import optional_data_root, resolve_data_root
from stvlm.data.series import DatasetInfo, SpatioTemporalData
from stvlm.errors import DataError, UnknownNameError

DatasetStatus = Literal["present", "missing", "partial"]

__all__ = [
    "DATASETS",
    "BuiltinDataset",
    "CustomDataset",
    "dataset_entry",
    "dataset_info",
    "dataset_names",
    "dataset_status",
    "load_dataset",
]


def _custom(root: Path | None) -> dict[str, CustomDataset]:
    found = discover(root)
    for name, entry in found.items():
        if name in DATASETS:
            raise DataError(
                f"{entry.toml}: name {name!r} is a built-in dataset; choose another name"
            )
    return found


def dataset_names(data_root: str | Path | None = None) -> list[str]:
    """Built-in dataset names, then the bring-your-own datasets found in the data root.

    Args:
        data_root: the data root; ``None`` uses ``$STVLM_DATA`` when it is set (else only the
            built-in names are returned).
    """
    return DATASETS.names() + sorted(_custom(optional_data_root(data_root)))


def dataset_entry(name: str, data_root: str | Path | None = None) -> BuiltinDataset | CustomDataset:
    """The registry entry (built-in) or folder entry (bring-your-own) for ``name``.

    Raises:
        UnknownNameError: ``name`` is neither built in nor found in the data root; the message
            lists the known names.
        DataError: a bring-your-own dataset in the data root takes a built-in name.
    """
    if name in DATASETS:
        # A bring-your-own folder in the data root that reuses this name is an error (the
        # built-in record needs no data root, so a missing one is no error here).
        folder = Path(data_root) if data_root is not None else optional_data_root(None)
        if folder is not None and folder.is_dir():
            _custom(folder.expanduser().resolve())
        return DATASETS.get(name)
    root = optional_data_root(data_root)
    custom = _custom(root)
    if name in custom:
        return custom[name]
    known = DATASETS.names() + sorted(custom)
    where = f" (bring-your-own datasets are looked up in {root})" if root else ""
    raise UnknownNameError(f"unknown dataset {name!r}; known: {', '.join(known)}{where}")


def dataset_info(name: str, data_root: str | Path | None = None) -> DatasetInfo:
    """The :class:`DatasetInfo` of a dataset (no files are needed for built-in ones)."""
    return dataset_entry(name, data_root).info


def dataset_status(name: str, data_root: str | Path | None) -> DatasetStatus:
    """Whether a dataset's files are in the data root (existence only; nothing is hashed).

    Returns:
        ``"present"`` when every required file exists, ``"missing"`` when none of its files
        (required or optional) exists, else ``"partial"`` (e.g. PEMS04: graph without data).
    """
    root = resolve_data_root(data_root)
    info = dataset_info(name, root)
    folder = root / info.folder
    exists = [file_path(folder, spec).is_file() for spec in info.files]
    required = [e for e, spec in zip(exists, info.files, strict=True) if spec.required]
    if all(required):
        return "present"
    return "partial" if any(exists) else "missing"


def load_dataset(
    name: str, data_root: str | Path | None = None, verify: VerifyMode = "sha256"
) -> SpatioTemporalData:
    """Verify a dataset's files and load it.

    Args:
        name: dataset name (``dataset_names()`` lists them).
        data_root: the data root; ``None`` uses ``$STVLM_DATA``.
        verify: ``"sha256"`` (default), ``"size"`` or ``"none"`` (see :mod:`stvlm.data.checksum`).

    Returns:
        The dataset as one contiguous :class:`SpatioTemporalData` (values ``[T, N, C]``).

    Raises:
        UnknownNameError: unknown ``name``.
        DataError: missing / truncated / altered files, or contents that do not fit the format.
    """
    root = resolve_data_root(data_root)
    entry = dataset_entry(name, root)
    folder = root / entry.info.folder
    verify_files(entry.info, folder, verify)
    return entry.load(folder)
