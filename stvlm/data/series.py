"""The in-memory form of a spatial-temporal dataset, and its info record.

Axis convention (used everywhere in the project): ``T`` time steps, ``N`` nodes, ``C`` channels.
A loaded dataset is one contiguous series ``values[T, N, C]`` plus what is known about time
(timestamps or at least time-of-day / day-of-week per step), space (coordinates, adjacency, a
native grid) and side information.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from stvlm.data.missing import NonFinite
from stvlm.errors import DataError


@dataclass(frozen=True, kw_only=True)
class FileSpec:
    """One file of a dataset, relative to the dataset's folder, with its expected checksum.

    Args:
        name: path relative to the dataset folder (e.g. ``"los_speed.csv"``).
        sha256: expected hex digest; ``None`` for user-supplied files with no published digest.
        size: expected size in bytes (``None`` if unknown); checked before hashing, so a
            truncated file is reported as truncated.
        required: a missing optional file is not an error (e.g. side information).
        url: a public download address, when one exists (used by ``stvlm data fetch``).
    """

    name: str
    sha256: str | None = None
    size: int | None = None
    required: bool = True
    url: str | None = None


@dataclass(frozen=True, kw_only=True)
class DatasetInfo:
    """What a dataset is, independent of whether its files are present.

    Args:
        name: registry name (``"los-loop"``).
        folder: sub-folder of the data root holding the files (``"LOS-LOOP"``).
        title: one-line human description.
        description: a few sentences, also used in the text prompts of the model.
        nodes: number of nodes N.
        steps: number of time steps T of the (rebuilt) series, ``None`` when it depends on the
            user's file.
        interval_minutes: minutes between steps.
        channels: channel names (C entries).
        units: unit of each channel.
        target_channels: indices of the channels that are forecast.
        missing: the missing-value convention, in words.
        missing_value: the value that marks a missing observation (masked in metrics), if any.
        coordinates: ``"latlon"``, ``"projected"`` (metres), ``"grid"`` or ``None``.
        adjacency: whether a (weighted) adjacency matrix is available.
        side_information: names of side-information arrays (``"weather"``, ``"poi"``).
        split: default chronological split ratios (train, val, test) for the ``standard`` protocol.
        partial: ``True`` when only validation and test windows exist (see ``test_target_start``).
        files: the files and their checksums.
        source: where the files come from.
        citation: what to cite.
        notes: anything a user should know (inferred timestamps, deviations).
    """

    name: str
    folder: str
    title: str
    description: str
    nodes: int
    steps: int | None
    interval_minutes: int
    channels: tuple[str, ...]
    units: tuple[str, ...]
    target_channels: tuple[int, ...] = (0,)
    missing: str = "none"
    missing_value: float | None = None
    coordinates: str | None = None
    adjacency: bool = False
    side_information: tuple[str, ...] = ()
    split: tuple[float, float, float] = (0.6, 0.2, 0.2)
    partial: bool = False
    files: tuple[FileSpec, ...] = ()
    source: str = ""
    citation: str = ""
    notes: str = ""

    @property
    def steps_per_day(self) -> int:
        """Number of steps in one day (``1440 / interval_minutes``)."""
        return 1440 // self.interval_minutes

    def to_dict(self) -> dict:
        """A JSON-serialisable dict of the record (for ``stvlm data info --json``)."""
        return dataclasses.asdict(self)


@dataclass(frozen=True, kw_only=True, eq=False)
class SpatioTemporalData:
    """A loaded dataset: one contiguous series and what is known about it.

    Args:
        info: the dataset's info record.
        values: ``[T, N, C]`` float32 observations in original units.
        tod: ``[T]`` int64 step of the day, in ``[0, info.steps_per_day)``.
        dow: ``[T]`` int64 day of the week, 0 = Monday.
        timestamps: ``[T]`` ``datetime64[m]`` start time of each step, if known.
        coords: ``[N, 2]`` float64 node positions as (x, y): (longitude, latitude) for
            ``"latlon"`` data, (column, row) for grids; ``None`` if unknown.
        adjacency: ``[N, N]`` float32 weighted adjacency, if known.
        grid_shape: ``(rows, cols)`` for natively gridded data (node ``n`` is cell
            ``(n // cols, n % cols)``), else ``None``.
        node_side: per-node side information, each ``[N]`` (e.g. POI class).
        step_side: per-step side information, each ``[T]`` or ``[T, N]`` (e.g. weather).
        test_target_start: for partial datasets, the first step that is a published test
            target; protocols keep as test part exactly the windows whose first target step is
            at or after it (window start >= ``test_target_start - input_len``), so the test
            targets are the published ones whatever the input length.

    Non-finite values are data: ``nonfinite`` counts the NaN and Inf entries as given, Inf
    entries are stored as NaN (missing), and a series without a single finite value is a
    :class:`DataError`. See :mod:`stvlm.data.missing` for how models read missing entries.
    """

    info: DatasetInfo
    values: np.ndarray
    tod: np.ndarray
    dow: np.ndarray
    timestamps: np.ndarray | None = None
    coords: np.ndarray | None = None
    adjacency: np.ndarray | None = None
    grid_shape: tuple[int, int] | None = None
    node_side: dict[str, np.ndarray] = dataclasses.field(default_factory=dict)
    step_side: dict[str, np.ndarray] = dataclasses.field(default_factory=dict)
    test_target_start: int | None = None
    nonfinite: NonFinite = dataclasses.field(init=False, default=NonFinite(0, 0))

    def __post_init__(self) -> None:
        t, n, c = self.values.shape
        counts = NonFinite.of(self.values)
        object.__setattr__(self, "nonfinite", counts)
        if counts.total == self.values.size:
            raise DataError(
                f"dataset {self.info.name!r}: values has no finite entry "
                f"({counts.describe(self.values.size)})"
            )
        if counts.inf:
            clean = np.where(np.isinf(self.values), np.nan, self.values).astype(self.values.dtype)
            object.__setattr__(self, "values", clean)
        if self.tod.shape != (t,) or self.dow.shape != (t,):
            raise ValueError(f"tod/dow must be [T={t}], got {self.tod.shape} / {self.dow.shape}")
        if self.coords is not None and self.coords.shape != (n, 2):
            raise ValueError(f"coords must be [N={n}, 2], got {self.coords.shape}")
        if self.adjacency is not None and self.adjacency.shape != (n, n):
            raise ValueError(f"adjacency must be [N={n}, N={n}], got {self.adjacency.shape}")
        if self.timestamps is not None and self.timestamps.shape != (t,):
            raise ValueError(f"timestamps must be [T={t}], got {self.timestamps.shape}")
        if len(self.info.channels) != c:
            raise ValueError(f"info lists {len(self.info.channels)} channels, values have {c}")

    @property
    def num_steps(self) -> int:
        return int(self.values.shape[0])

    @property
    def num_nodes(self) -> int:
        return int(self.values.shape[1])

    @property
    def num_channels(self) -> int:
        return int(self.values.shape[2])
