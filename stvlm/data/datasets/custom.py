"""Bring-your-own datasets: a folder with ``dataset.toml`` and ``.npy`` arrays.

Any sub-folder of the data root that holds a ``dataset.toml`` is a dataset, listed by
``stvlm data list`` beside the built-in ones and loaded like them. Layout (see also
``docs/datasets.md``)::

    <data root>/my-city/
        dataset.toml        description (below)
        values.npy          [T, N, C] observations (any numeric dtype; loaded as float32)
        coords.npy          optional [N, 2] node positions (x, y): (lon, lat) or (col, row)
        adjacency.npy       optional [N, N] weighted adjacency (closeness, or distances with
                            adjacency_weights = "distance")
        timestamps.npy      optional [T] datetime64, or int64 seconds since 1970-01-01 UTC
        node_side_<name>.npy  optional [N] per-node side information
        step_side_<name>.npy  optional [T] or [T, N] per-step side information

``dataset.toml`` keys (unknown keys are an error)::

    name = "my-city"              # required; lower-case letters, digits, '-' and '_'
    interval_minutes = 15         # required; must divide 1440
    channels = ["speed"]          # required
    units = ["km/h"]              # required, one per channel
    title = "..."                 # optional (default: the name)
    description = "..."           # optional, a few sentences (used in text prompts)
    target_channels = [0]         # optional (default [0])
    missing_value = 0.0           # optional; omit when nothing is missing
    missing = "0 = no reading"    # optional, in words
    split = [0.7, 0.1, 0.2]       # optional (default [0.6, 0.2, 0.2])
    start = 2020-01-01T00:00:00   # optional start of step 0 (ignored with timestamps.npy)
    coordinates = "latlon"        # optional: "latlon", "projected" (metres) or "grid"
    grid_shape = [16, 8]          # optional (rows, cols) for row-major gridded nodes
    source = "..."; citation = "..."; notes = "..."   # optional text

    [files]                       # optional: other file names for the arrays above
    values = "values.npy"; coords = "coords.npy"; adjacency = "adjacency.npy"
    timestamps = "timestamps.npy"

Without ``timestamps.npy`` or ``start``, step 0 is taken as 00:00 of day 0 and the day of the
week counts days modulo 7 from it (0 = the first day, not necessarily a Monday).
"""

from __future__ import annotations

import datetime as dt
import re
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from stvlm.data.datasets.base import (
    counted_time_features,
    expect_shape,
    grid_coords,
    regular_timestamps,
    time_features,
)
from stvlm.data.graph import WEIGHT_KINDS, distance_to_closeness
from stvlm.data.series import DatasetInfo, FileSpec, SpatioTemporalData
from stvlm.errors import DataError

try:
    import tomllib
except ImportError:  # pragma: no cover - Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]

TOML_NAME = "dataset.toml"
NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
FILE_KEYS = {"values": "values.npy", "coords": "coords.npy", "adjacency": "adjacency.npy",
             "timestamps": "timestamps.npy"}
# key -> (accepted python types, description for messages)
TOP_KEYS: dict[str, tuple[tuple[type, ...], str]] = {
    "name": ((str,), "a string"),
    "title": ((str,), "a string"),
    "description": ((str,), "a string"),
    "interval_minutes": ((int,), "an integer dividing 1440"),
    "channels": ((list,), "a list of strings"),
    "units": ((list,), "a list of strings"),
    "target_channels": ((list,), "a list of channel indices"),
    "missing_value": ((int, float), "a number"),
    "missing": ((str,), "a string"),
    "split": ((list,), "a list of 3 fractions summing to 1"),
    "start": ((str, dt.datetime, dt.date), "a date-time"),
    "coordinates": ((str,), "'latlon', 'projected' or 'grid'"),
    "adjacency_weights": ((str,), "'closeness' or 'distance'"),
    "grid_shape": ((list,), "a list [rows, cols]"),
    "source": ((str,), "a string"),
    "citation": ((str,), "a string"),
    "notes": ((str,), "a string"),
    "files": ((dict,), "a table of file names"),
}
REQUIRED_KEYS = ("name", "interval_minutes", "channels", "units")
# (lon, lat) degrees, (x east, y north) metres of a projected system, or (col, row) cells: all are
# used as planar positions scaled to the image, so only their relative layout matters.
COORDINATES = ("latlon", "projected", "grid")


def _fail(path: Path, message: str) -> DataError:
    return DataError(f"{path}: {message}")


def _check_list(path: Path, key: str, value: list, kind: type, length: int | None = None) -> None:
    ok = all(isinstance(v, kind) and not isinstance(v, bool) for v in value)
    if kind is float:
        ok = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)
    if not ok or (length is not None and len(value) != length) or not value:
        size = f"{length} " if length else ""
        raise _fail(path, f"{key} = {value!r} must be a non-empty list of {size}{kind.__name__}s")


#: The optional keys' values when a ``dataset.toml`` leaves them out (filled in by
#: :func:`read_spec`, so validation and the dataset's record read the same default).
SPEC_DEFAULTS: dict[str, Any] = {
    "target_channels": [0], "split": [0.6, 0.2, 0.2], "coordinates": "latlon", "adjacency_weights": "closeness",
}


def read_spec(path: Path) -> dict:
    """Parse and validate a ``dataset.toml`` (keys, types and value ranges; not the arrays).

    Args:
        path: the ``dataset.toml`` file.

    Returns:
        The parsed table.

    Raises:
        DataError: unreadable TOML, an unknown or missing key, or a value of the wrong type.
    """
    try:
        spec = tomllib.loads(path.read_text())
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
        raise _fail(path, f"not valid TOML ({err})") from None
    for key, value in spec.items():
        if key not in TOP_KEYS:
            raise _fail(path, f"unknown key {key!r}; allowed: {', '.join(TOP_KEYS)}")
        kinds, text = TOP_KEYS[key]
        if not isinstance(value, kinds) or isinstance(value, bool):
            raise _fail(path, f"{key} = {value!r} must be {text}")
    missing = [k for k in REQUIRED_KEYS if k not in spec]
    if missing:
        raise _fail(path, f"missing required key(s) {', '.join(missing)}")
    spec = {**SPEC_DEFAULTS, **spec}
    if not NAME_PATTERN.match(spec["name"]):
        raise _fail(path, f"name = {spec['name']!r} must use lower-case letters, digits, - and _")
    if spec["interval_minutes"] <= 0 or 1440 % spec["interval_minutes"]:
        raise _fail(path, f"interval_minutes = {spec['interval_minutes']} must divide 1440")
    _check_list(path, "channels", spec["channels"], str)
    _check_list(path, "units", spec["units"], str, len(spec["channels"]))
    channels = len(spec["channels"])
    targets = spec["target_channels"]
    _check_list(path, "target_channels", targets, int)
    if any(not 0 <= t < channels for t in targets):
        raise _fail(path, f"target_channels = {targets} must be channel indices 0..{channels - 1}")
    split = spec["split"]
    _check_list(path, "split", split, float, 3)
    if any(s < 0 for s in split) or abs(sum(split) - 1.0) > 1e-6:
        raise _fail(path, f"split = {split} must be 3 non-negative fractions summing to 1")
    if spec["coordinates"] not in COORDINATES:
        raise _fail(path, f"coordinates = {spec['coordinates']!r}; allowed: {', '.join(COORDINATES)}")
    if spec["adjacency_weights"] not in WEIGHT_KINDS:
        raise _fail(path, f"adjacency_weights = {spec['adjacency_weights']!r}; allowed: "
                    f"{', '.join(WEIGHT_KINDS)}")
    if "grid_shape" in spec:
        _check_list(path, "grid_shape", spec["grid_shape"], int, 2)
        if min(spec["grid_shape"]) < 1:
            raise _fail(path, f"grid_shape = {spec['grid_shape']} must be two positive counts (rows, cols)")
    for key, value in spec.get("files", {}).items():
        if key not in FILE_KEYS:
            raise _fail(path, f"unknown key 'files.{key}'; allowed: {', '.join(FILE_KEYS)}")
        if not isinstance(value, str) or not value or value in (".", "..") or "/" in value or "\\" in value:
            raise _fail(path, f"files.{key} = {value!r} must be a file name in the dataset's folder "
                              "(no folder part)")
    if "start" in spec:
        _start(path, spec["start"])
    return spec


def _start(path: Path, value) -> np.datetime64:
    """The ``start`` key as ``datetime64[m]``: the local wall clock, as every timestamp is read
    (``08:00-05:00`` is 08:00; converting it to UTC would put the morning rush at 13:00)."""
    if isinstance(value, dt.datetime) and value.tzinfo is not None:
        value = value.replace(tzinfo=None)
    try:
        return np.datetime64(value, "m")
    except ValueError:
        raise _fail(path, f"start = {value!r} is not a date-time like 2020-01-01T00:00") from None


class CustomDataset:
    """A bring-your-own dataset folder; same interface as the built-in registry entries.

    Args:
        folder: the folder holding ``dataset.toml``.
    """

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self.toml = self.folder / TOML_NAME
        self.spec = read_spec(self.toml)

    def _file(self, key: str) -> Path:
        return self.folder / self.spec.get("files", {}).get(key, FILE_KEYS[key])

    def _side_files(self, prefix: str) -> dict[str, Path]:
        return {p.stem[len(prefix):]: p for p in sorted(self.folder.glob(f"{prefix}*.npy"))}

    @cached_property
    def info(self) -> DatasetInfo:
        """The dataset record; N and T come from the header of the values file.

        A missing values file gives ``nodes=0, steps=None`` here (so listing and status work);
        loading then reports the missing file.
        """
        values_path = self._file("values")
        shape: tuple[int, ...] = (0, 0, len(self.spec["channels"]))
        if values_path.is_file():
            try:
                shape = np.load(values_path, mmap_mode="r").shape
            except (OSError, ValueError) as err:
                raise DataError(f"{values_path}: not a readable .npy file ({err})") from None
        if len(shape) != 3 or shape[2] != len(self.spec["channels"]):
            raise DataError(
                f"{values_path}: values have shape {shape}, expected (T, N, "
                f"{len(self.spec['channels'])}) with one channel per entry of channels"
            )
        s = self.spec
        explicit = s.get("files", {})
        files = [FileSpec(name=explicit.get("values", FILE_KEYS["values"]))] + [
            FileSpec(name=explicit.get(k, FILE_KEYS[k]), required=k in explicit)
            for k in ("coords", "adjacency", "timestamps")
        ]
        side = {**self._side_files("node_side_"), **self._side_files("step_side_")}
        has_coords = self._file("coords").is_file() or "grid_shape" in s
        return DatasetInfo(
            name=s["name"], folder=self.folder.name, title=s.get("title", s["name"]),
            description=s.get("description", ""), nodes=int(shape[1]),
            steps=int(shape[0]) if values_path.is_file() else None,
            interval_minutes=s["interval_minutes"], channels=tuple(s["channels"]),
            units=tuple(s["units"]), target_channels=tuple(s["target_channels"]),
            missing=s.get("missing", "none" if "missing_value" not in s else
                          f"{s['missing_value']} = missing"),
            # the marker as the float32 values hold it (-99.9 is stored as -99.90000153): every
            # comparison, in float32 or after a cast to float64, then finds it
            missing_value=float(np.float32(s["missing_value"])) if "missing_value" in s else None,
            coordinates=(("grid" if "grid_shape" in s else s["coordinates"])
                         if has_coords else None),
            adjacency=self._file("adjacency").is_file(), side_information=tuple(side),
            split=tuple(float(v) for v in s["split"]),
            files=tuple(files), source=s.get("source", f"user folder {self.folder}"),
            citation=s.get("citation", ""), notes=s.get("notes", ""),
        )

    @staticmethod
    def _array(path: Path, expected: tuple | None, what: str) -> np.ndarray:
        """Load a ``.npy`` file (no pickles) and check its shape (``None``: any shape)."""
        try:
            array = np.load(path, allow_pickle=False)
        except (OSError, ValueError) as err:
            raise DataError(f"{path}: not a readable .npy file ({err})") from None
        if expected is not None:
            expect_shape(path, array, expected, what)
        return array

    def _timestamps(self, steps: int) -> np.ndarray | None:
        path = self._file("timestamps")
        if path.is_file():
            raw = self._array(path, (steps,), "timestamps")
            if np.issubdtype(raw.dtype, np.datetime64):
                stamps = raw.astype("datetime64[m]")
            elif np.issubdtype(raw.dtype, np.integer):
                stamps = raw.astype("datetime64[s]").astype("datetime64[m]")
            else:
                raise DataError(f"{path}: dtype {raw.dtype}; expected datetime64 or int64 seconds")
            gaps = np.diff(stamps.astype(np.int64))  # minutes
            if steps > 1 and not (gaps > 0).all():
                raise DataError(f"{path}: timestamps must be strictly increasing")
            interval = self.spec["interval_minutes"]
            if steps > 1 and not (gaps == interval).all():  # windows and lookback lags count steps
                i = int(np.flatnonzero(gaps != interval)[0]) + 1
                raise DataError(
                    f"{path}: step {i} ({stamps[i]}) is {int(gaps[i - 1])} min after step {i - 1}, "
                    f"not interval_minutes = {interval}; the steps must be evenly spaced (a missing "
                    "step is a row of NaN)")
            return stamps
        if "start" in self.spec:
            start = _start(self.toml, self.spec["start"])
            return regular_timestamps(str(start), steps, self.spec["interval_minutes"])
        return None

    def load(self, folder: Path | None = None) -> SpatioTemporalData:
        """Load the arrays of ``folder`` (default: the folder this entry was discovered in).

        Returns:
            The dataset; values ``[T, N, C]`` float32.

        Raises:
            DataError: a file is unreadable or has the wrong shape or dtype.
        """
        if folder is not None and Path(folder).resolve() != self.folder.resolve():
            return CustomDataset(Path(folder)).load()
        info = self.info
        t, n = info.steps, info.nodes
        values = self._array(self._file("values"), (t, n, len(info.channels)), "values")
        if not (np.issubdtype(values.dtype, np.number) or values.dtype == bool):
            raise DataError(f"{self._file('values')}: dtype {values.dtype}; expected numbers")
        coords = adj = grid = None
        if self._file("coords").is_file():
            coords = self._array(self._file("coords"), (n, 2), "coords").astype(np.float64)
        if "grid_shape" in self.spec:
            grid = tuple(self.spec["grid_shape"])
            if grid[0] * grid[1] != n:
                raise DataError(f"{self.toml}: grid_shape = {list(grid)} has "
                                f"{grid[0] * grid[1]} cells, values have N = {n} nodes")
            coords = grid_coords(*grid) if coords is None else coords
        if self._file("adjacency").is_file():
            adj = self._array(self._file("adjacency"), (n, n), "adjacency").astype(np.float32)
            if self.spec["adjacency_weights"] == "distance":
                try:
                    adj = distance_to_closeness(adj)
                except DataError as err:
                    raise DataError(f"{self._file('adjacency')}: {err}") from None
        timestamps = self._timestamps(t)
        if timestamps is None:
            tod, dow = counted_time_features(t, info.interval_minutes)
        else:
            tod, dow = time_features(timestamps, info.interval_minutes)
        node_side = {k: self._array(p, (n,), f"node side '{k}'")
                     for k, p in self._side_files("node_side_").items()}
        step_side = {}
        for key, path in self._side_files("step_side_").items():
            array = self._array(path, None, "")
            expect_shape(path, array, (t,) if array.ndim == 1 else (t, n), f"step side '{key}'")
            step_side[key] = array
        return SpatioTemporalData(
            info=info, values=values.astype(np.float32), tod=tod, dow=dow,
            timestamps=timestamps, coords=coords, adjacency=adj, grid_shape=grid,
            node_side=node_side, step_side=step_side,
        )


def discover(root: Path | None) -> dict[str, CustomDataset]:
    """Bring-your-own datasets in the data root, by name.

    Args:
        root: the data root, or ``None`` (no custom datasets).

    Returns:
        ``{name: CustomDataset}`` for every sub-folder holding a ``dataset.toml``.

    Raises:
        DataError: a ``dataset.toml`` is invalid, or two folders declare the same name.
    """
    found: dict[str, CustomDataset] = {}
    if root is None:
        return found
    for toml in sorted(Path(root).glob(f"*/{TOML_NAME}")):
        entry = CustomDataset(toml.parent)
        name = entry.spec["name"]
        if name in found:
            raise DataError(f"{toml}: dataset name {name!r} is also used by {found[name].toml}")
        found[name] = entry
    return found
