"""Shared pieces of the dataset loaders: the registry, the entry type and small readers.

Every dataset family module registers one :class:`BuiltinDataset` per name in :data:`DATASETS`;
``stvlm.data.datasets`` imports those modules explicitly, so importing the package fills the
registry. An entry pairs the dataset's :class:`~stvlm.data.series.DatasetInfo` with a loader
that turns the dataset folder into a :class:`~stvlm.data.series.SpatioTemporalData`.
"""

from __future__ import annotations

import csv
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from stvlm.data.series import DatasetInfo, SpatioTemporalData
from stvlm.errors import DataError
from stvlm.registry import Registry

Loader = Callable[[DatasetInfo, Path], SpatioTemporalData]


@dataclass(frozen=True)
class BuiltinDataset:
    """A registry entry: what the dataset is, and how to load its folder.

    Args:
        info: the dataset record.
        loader: ``loader(info, folder) -> SpatioTemporalData``; files are verified before it runs.
    """

    info: DatasetInfo
    loader: Loader

    def load(self, folder: Path) -> SpatioTemporalData:
        """Load the dataset from its folder (``<data root>/<info.folder>``)."""
        return self.loader(self.info, Path(folder))


DATASETS: Registry[BuiltinDataset] = Registry("dataset")


def register(info: DatasetInfo, loader: Loader) -> BuiltinDataset:
    """Register ``BuiltinDataset(info, loader)`` under ``info.name`` and return it."""
    entry = BuiltinDataset(info=info, loader=loader)
    DATASETS.add(info.name, entry)
    return entry


# ----------------------------------------------------------------------------- time features

def regular_timestamps(start: str, steps: int, interval_minutes: int) -> np.ndarray:
    """``[steps]`` ``datetime64[m]`` timestamps ``start + k * interval``."""
    offsets = np.arange(steps, dtype=np.int64) * interval_minutes
    return np.datetime64(start, "m") + offsets.astype("timedelta64[m]")


def time_features(timestamps: np.ndarray, interval_minutes: int) -> tuple[np.ndarray, np.ndarray]:
    """Step of the day and day of the week (0 = Monday) of each timestamp.

    Args:
        timestamps: ``[T]`` ``datetime64`` values.
        interval_minutes: minutes per step.

    Returns:
        ``tod`` ``[T]`` int64 in ``[0, 1440 // interval)`` and ``dow`` ``[T]`` int64 in ``[0, 7)``.
    """
    minutes = timestamps.astype("datetime64[m]").astype(np.int64)
    days = np.floor_divide(minutes, 1440)
    tod = (minutes - days * 1440) // interval_minutes
    dow = (days + 3) % 7  # 1970-01-01 was a Thursday (3 when Monday = 0)
    return tod.astype(np.int64), dow.astype(np.int64)


def counted_time_features(
    steps: int, interval_minutes: int, first_tod: int = 0, first_dow: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """``tod``/``dow`` ``[steps]`` counted from the first step's values (no calendar needed)."""
    per_day = 1440 // interval_minutes
    absolute = first_tod + np.arange(steps, dtype=np.int64)
    return absolute % per_day, (first_dow + absolute // per_day) % 7


# ----------------------------------------------------------------------------- readers

def read_csv_matrix(path: Path, *, skip_header: bool = False, dtype=np.float64) -> np.ndarray:
    """A numeric comma-separated matrix ``[rows, cols]``; bad content raises a DataError."""
    try:
        return np.loadtxt(path, delimiter=",", skiprows=int(skip_header), dtype=dtype, ndmin=2)
    except ValueError as err:
        raise DataError(f"{path}: not a numeric CSV matrix ({err})") from None


def load_npz_array(path: Path, key: str) -> np.ndarray:
    """Array ``key`` of an ``.npz`` file; a missing key raises a DataError naming the keys."""
    try:
        with np.load(path, allow_pickle=False) as archive:
            if key not in archive.files:
                raise DataError(
                    f"{path}: has no array {key!r}; it holds {', '.join(archive.files) or 'none'}"
                )
            return archive[key]
    except (OSError, ValueError, zipfile.BadZipFile) as err:
        raise DataError(f"{path}: not a readable .npz file ({err})") from None


def expect_shape(path: Path, array: np.ndarray, expected: tuple, what: str) -> None:
    """Raise a DataError unless ``array.shape`` matches ``expected`` (``None`` = any size)."""
    ok = array.ndim == len(expected) and all(
        e is None or e == s for e, s in zip(expected, array.shape, strict=True)
    )
    if not ok:
        shown = "(" + ", ".join("*" if e is None else str(e) for e in expected) + ")"
        raise DataError(f"{path}: {what} has shape {array.shape}, expected {shown}")


def read_sensor_locations(path: Path, *, header: bool) -> tuple[list[str], np.ndarray]:
    """Sensor ids and coordinates from a DCRNN locations CSV.

    Args:
        path: the CSV (``[index,]sensor_id,latitude,longitude``).
        header: whether the first row is ``index,sensor_id,latitude,longitude``.

    Returns:
        ``ids`` (N strings, file order) and ``coords`` ``[N, 2]`` float64 as (longitude, latitude).
    """
    with Path(path).open(newline="") as handle:
        rows = [row for row in csv.reader(handle) if row]
    if header:
        rows = rows[1:]
    ids, coords = [], []
    for line, row in enumerate(rows, start=1 + int(header)):
        try:
            sensor, lat, lon = row[-3], float(row[-2]), float(row[-1])
        except (IndexError, ValueError):
            raise DataError(
                f"{path}: line {line} is {','.join(row)!r}, expected "
                f"{'index,' if header else ''}sensor_id,latitude,longitude"
            ) from None
        ids.append(sensor.strip())
        coords.append((lon, lat))
    return ids, np.asarray(coords, dtype=np.float64)


def grid_coords(rows: int, cols: int) -> np.ndarray:
    """``[rows * cols, 2]`` (column, row) of each cell of a row-major flattened grid."""
    index = np.arange(rows * cols)
    return np.stack([index % cols, index // cols], axis=1).astype(np.float64)  # [N, 2]
