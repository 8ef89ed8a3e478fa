"""NYCBike drop-off (250 stations, 30 min): the validation and test windows of STIDGCN's release.

Files (LiuAoyu1998/STIDGCN ``data/bike_drop``): ``val.npz`` and ``test.npz`` with
``x [W, 12, 250, 3]`` (offsets -11..0; channels drop-off count, time-of-day fraction ``k/48``,
day-of-week index) and ``y [W, 12, 250, 1]`` (offsets 1..12), plus ``adj_mx.pkl`` (``[250, 250]``
weighted adjacency in [0, 1], diagonal 1). The training file is not available, so the dataset is
*partial*.

The loader rebuilds one contiguous series: samples shift by one step inside each file, and the
first test sample is the sample right after the last validation one (so the two series share
23 steps). ``test_target_start`` is the first test target step. Calendar: see ``INFO.notes``.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from stvlm.data.datasets.base import (
    counted_time_features,
    expect_shape,
    regular_timestamps,
    register,
    time_features,
)
from stvlm.data.datasets.rebuild import join, read_windowed_npz, stitch
from stvlm.data.datasets.sources import STIDGCN
from stvlm.data.safe_pickle import safe_load
from stvlm.data.series import DatasetInfo, FileSpec, SpatioTemporalData
from stvlm.errors import DataError

logger = logging.getLogger(__name__)

SPAN_START = "2016-04-01T00:00"  # the full benchmark: 2016-04-01 .. 2016-06-30, 30 min
SPAN_STEPS = 4368
FILE_DOW_SHIFT = 4  # file day index 0 is a Friday: Monday-based dow = (file + 4) % 7


def _split_series(path: Path, nodes: int) -> tuple[np.ndarray, np.ndarray, int]:
    """Counts ``[L, N, 1]``, time channels ``[L_x, 2]`` and the window count of one file."""
    x, y, x_off, y_off = read_windowed_npz(path)
    expect_shape(path, x, (None, None, nodes, 3), "x")
    expect_shape(path, y, (None, None, nodes, 1), "y")
    windows = np.concatenate([x[..., :1], y], axis=1)  # [W, K_x + K_y, N, 1]
    counts, _ = stitch(windows, np.concatenate([x_off, y_off]), source=str(path))
    if not np.array_equal(x[..., 1:], np.broadcast_to(x[:, :, :1, 1:], x[..., 1:].shape)):
        raise DataError(f"{path}: time-of-day / day-of-week channels differ between nodes")
    channels, _ = stitch(x[:, :, :1, 1:], x_off, source=str(path))  # [L_x, 1, 2]
    return counts, channels[:, 0, :], x.shape[0]


def _time_channels(path: Path, channels: np.ndarray, steps: int) -> tuple[np.ndarray, np.ndarray]:
    """File ``tod`` / ``dow`` ``[steps]`` from the channels ``[L_x, 2]``, checked and extended."""
    tod_scaled = channels[:, 0] * 48
    tod, dow = np.rint(tod_scaled).astype(np.int64), np.rint(channels[:, 1]).astype(np.int64)
    if not np.allclose(tod_scaled, tod, atol=1e-6) or tod.min() < 0 or tod.max() > 47:
        raise DataError(f"{path}: channel 1 is not a time-of-day fraction k/48")
    counted_tod, counted_dow = counted_time_features(steps, 30, int(tod[0]), int(dow[0]))
    if not (np.array_equal(counted_tod[: len(tod)], tod)
            and np.array_equal(counted_dow[: len(dow)], dow)):
        raise DataError(
            f"{path}: time-of-day / day-of-week channels do not advance by one 30-minute step "
            "per step and one day per midnight"
        )
    return counted_tod, counted_dow  # the last 12 steps have no channels: counted on


def load_nycbike_drop(info: DatasetInfo, folder: Path) -> SpatioTemporalData:
    """Load the rebuilt NYCBike drop-off series (see the module docstring)."""
    val_counts, val_channels, val_windows = _split_series(folder / "val.npz", info.nodes)
    test_counts, test_channels, _ = _split_series(folder / "test.npz", info.nodes)
    what = f"{folder / 'val.npz'} and {folder / 'test.npz'}"
    counts = join(val_counts, test_counts, len(val_counts) - val_windows, what=what)  # [T, N, 1]
    channels = join(val_channels, test_channels, len(val_channels) - val_windows, what=what)
    steps = counts.shape[0]
    file_tod, file_dow = _time_channels(folder / "val.npz", channels, steps)
    dow = (file_dow + FILE_DOW_SHIFT) % 7
    adj = safe_load(folder / "adj_mx.pkl")
    if not isinstance(adj, np.ndarray):
        raise DataError(f"{folder / 'adj_mx.pkl'}: expected a pickled numpy array")
    expect_shape(folder / "adj_mx.pkl", adj, (info.nodes, info.nodes), "adjacency")

    timestamps = None
    offset = SPAN_STEPS - steps  # where the series starts if it ends on the span's last step
    if offset >= 0 and file_tod[0] == offset % 48 and file_dow[0] == (offset // 48) % 7:
        timestamps = regular_timestamps(SPAN_START, SPAN_STEPS, 30)[offset:]
        calendar_tod, calendar_dow = time_features(timestamps, 30)
        if not (np.array_equal(calendar_tod, file_tod) and np.array_equal(calendar_dow, dow)):
            timestamps = None
    if timestamps is None:
        logger.warning("%s: rebuilt series does not fit the 2016-04-01..06-30 calendar; "
                       "timestamps left unset", folder)
    return SpatioTemporalData(
        info=info, values=counts.astype(np.float32), tod=file_tod, dow=dow,
        timestamps=timestamps, adjacency=adj.astype(np.float32),
        # x holds len(val_channels) - val_windows + 1 steps; the first test target follows them
        test_target_start=len(val_channels) + 1,
    )


INFO = DatasetInfo(
    name="nycbike-drop",
    folder="NYCBike_drop_partial",
    title="NYCBike drop-off: bike drop-offs at 250 New York Citi Bike stations, 30 min (partial)",
    description=(
        "Number of Citi Bike drop-offs every 30 minutes at the 250 busiest bike stations in "
        "New York City, spring 2016. Weekday demand peaks in the morning and evening commute, "
        "weekends have one broad midday peak, and many stations see no drop-off in a slot."
    ),
    nodes=250, steps=1762, interval_minutes=30,
    channels=("dropoff",), units=("trips/30min",),
    missing="none: 0 = no trips, a real count (trained and scored as one; the literature metrics still mask true > 0)", missing_value=None,
    coordinates=None, adjacency=True, split=(0.6, 0.2, 0.2), partial=True,
    files=(
        FileSpec(name="val.npz", size=3523917,
                 sha256="21e9b76af1538ba0e0fe313a04c0aa5a85d1ab1c75df6fbd367bd50ba3234525",
                 url=STIDGCN.url("data/bike_drop/val.npz")),
        FileSpec(name="test.npz", size=3650736,
                 sha256="1e219411e1024f97c6245598c7bc3982265d412ea11bf1c1ee9fff4cdfffb2df",
                 url=STIDGCN.url("data/bike_drop/test.npz")),
        FileSpec(name="adj_mx.pkl", size=500161,
                 sha256="382f9146730bcfb3d89d903df8ab283c42b9b4b29a38ba41ab34307dc6c39073",
                 url=STIDGCN.url("data/bike_drop/adj_mx.pkl")),
    ),
    source=STIDGCN.cite("data/bike_drop/val.npz", "data/bike_drop/test.npz",
                        "data/bike_drop/adj_mx.pkl"),
    citation=(
        "Liu and Zhang, Spatial-Temporal Interactive Dynamic Graph Convolution Network for "
        "Traffic Forecasting (STIDGCN), arXiv:2205.08689; data via Ye et al., Learning the "
        "Evolutionary and Multi-scale Graph Structure for Multivariate Time Series Forecasting "
        "(ESG), KDD 2022, and Ye et al., Coupled Layer-wise Graph Convolution for "
        "Transportation Demand Prediction (CCRNN), AAAI 2021. Source: NYC Citi Bike trip data."
    ),
    notes=(
        "Partial: only val.npz (870 windows) and test.npz (869 windows) exist. Each holds "
        "windows shifted by one step; the first test window starts one step after the last "
        "validation window (checked), giving one series of 870 + 869 + 23 = 1762 steps. "
        "test_target_start = 882 (the first test window starts at 870 with 12 input steps). values keep channel 0 (drop-offs); tod = round(48 * channel 1). "
        "Day of week: the file's channel 2 counts days modulo 7 from the first day of the data, "
        "not calendar weekdays. Evidence: its days 1 and 2 have weekend profiles (ratio of "
        "07:00-09:30 to 11:00-15:00 drop-offs 0.17 and 0.15 vs 0.77-1.24 for the others), so "
        "file day 0 is a Friday, as 2016-04-01 was; dow = (channel 2 + 4) % 7 (0 = Monday). "
        "Timestamps are inferred, not stored: placing the series so its last step is the last "
        "step of the 4368-step benchmark span (2016-04-01 00:00 to 2016-06-30 23:30) makes step 0 "
        "2016-05-25 07:00, which matches the file's time of day (07:00) and day index (54 % 7 = "
        "5) at step 0, and the 869 test windows equal round(0.2 * (4368 - 23)). The 870 "
        "validation windows do not follow from that rounding (869 expected), so the exact "
        "source split is not fully verified. The adjacency is weighted (values in [0, 1], "
        "diagonal 1, 20006 non-zeros), not 0/1. Standard protocol: the published test windows "
        "stay test, the pre-test windows are split train:val = 6:2."
    ),
)

register(INFO, load_nycbike_drop)
