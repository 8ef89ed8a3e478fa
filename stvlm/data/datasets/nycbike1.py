"""NYCBike1 (ST-SSL): hourly bike in/outflow on a 16 x 8 grid of New York City (partial).

Files (Echo-Ji/ST-SSL ``data/NYCBike1``): ``val.npz`` and ``test.npz`` with
``x [W, 19, 128, 2]`` at offsets -73..-69, -49..-45, -25..-21, -3..0 hours (three daily periods
plus the last four hours) and ``y [W, 1, 128, 2]`` at offset +1, and ``adj_mx.npz`` (``adj_mx``
``[128, 128]`` 0/1 grid adjacency). Nodes are the 16 x 8 grid cells flattened row-major; the
two channels are inflow and outflow counts per hour. The training file is not available.

The loader rebuilds one contiguous hourly series from the offsets (every step between the
first sample's -73 and the last sample's +1 is covered) and checks that the first test sample
is the sample right after the last validation one.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from stvlm.data.datasets.base import (
    counted_time_features,
    expect_shape,
    grid_coords,
    load_npz_array,
    regular_timestamps,
    register,
    time_features,
)
from stvlm.data.datasets.sources import STSSL
from stvlm.data.datasets.rebuild import join, read_windowed_npz, stitch
from stvlm.data.series import DatasetInfo, FileSpec, SpatioTemporalData

logger = logging.getLogger(__name__)

GRID = (16, 8)
SPAN_START = "2014-04-01T00:00"  # BikeNYC (ST-ResNet): 2014-04-01 .. 2014-09-30, hourly
SPAN_STEPS = 4392


def _split_series(path: Path, nodes: int) -> tuple[np.ndarray, int, int]:
    """Flows ``[L, N, 2]``, window count and the span of one sample (max - min offset)."""
    x, y, x_off, y_off = read_windowed_npz(path)
    expect_shape(path, x, (None, None, nodes, 2), "x")
    expect_shape(path, y, (None, None, nodes, 2), "y")
    offsets = np.concatenate([x_off, y_off])  # [K_x + K_y]
    flows, _ = stitch(np.concatenate([x, y], axis=1), offsets, source=str(path))
    return flows, x.shape[0], int(offsets.max() - offsets.min())


def load_nycbike1(info: DatasetInfo, folder: Path) -> SpatioTemporalData:
    """Load the rebuilt NYCBike1 series (see the module docstring)."""
    val, val_windows, span = _split_series(folder / "val.npz", info.nodes)
    test, _, _ = _split_series(folder / "test.npz", info.nodes)
    flows = join(val, test, span, what=f"{folder / 'val.npz'} and {folder / 'test.npz'}")
    adj = load_npz_array(folder / "adj_mx.npz", "adj_mx")
    expect_shape(folder / "adj_mx.npz", adj, (info.nodes, info.nodes), "adj_mx")
    steps = flows.shape[0]
    # ST-SSL keeps the last round(0.2 * samples) samples as test, so the series ends on the
    # last hour of the BikeNYC span; the calendar follows from the length.
    offset = SPAN_STEPS - steps
    if offset >= 0:
        timestamps = regular_timestamps(SPAN_START, SPAN_STEPS, 60)[offset:]
        tod, dow = time_features(timestamps, 60)
    else:
        logger.warning("%s: %d steps exceed the BikeNYC span; timestamps left unset", folder,
                       steps)
        timestamps = None
        tod, dow = counted_time_features(steps, 60)
    return SpatioTemporalData(
        info=info, values=flows.astype(np.float32), tod=tod, dow=dow, timestamps=timestamps,
        coords=grid_coords(*GRID), adjacency=adj.astype(np.float32), grid_shape=GRID,
        # the first test sample (index val_windows) has its +1 h target `span` steps later
        test_target_start=val_windows + span,
    )


INFO = DatasetInfo(
    name="nycbike1",
    folder="NYCBike1_partial",
    title="NYCBike1: hourly Citi Bike inflow/outflow on a 16 x 8 grid of New York City (partial)",
    description=(
        "Hourly number of Citi Bike trips ending in (inflow) and starting from (outflow) each "
        "cell of a 16 x 8 grid over New York City, summer 2014. Manhattan cells are busy with "
        "strong weekday commute peaks at 8 and 17-18 o'clock; outer cells are often empty."
    ),
    nodes=128, steps=1369, interval_minutes=60,
    channels=("inflow", "outflow"), units=("trips/h", "trips/h"), target_channels=(0, 1),
    missing="none: 0 = no trips, a real count (trained and scored as one; the literature metrics still mask true > 0)", missing_value=None,
    coordinates="grid", adjacency=True, split=(0.7, 0.1, 0.2), partial=True,
    files=(
        FileSpec(name="val.npz", size=1781472,
                 sha256="5a01b775da98029da9e6db10932f85fa295c82d173602c8fe677956fd3a394ac",
                 url=STSSL.url("data/NYCBike1/val.npz")),
        FileSpec(name="test.npz", size=3542679,
                 sha256="076c2062e4fc8c8fd14a48262ded5aecb40704cf6969a5c6c7c358da34699378",
                 url=STSSL.url("data/NYCBike1/test.npz")),
        FileSpec(name="adj_mx.npz", size=631,
                 sha256="21e7556c2a05cbd41312154fc82ca07539b51be3299a9c53f5d19f676ba487ec",
                 url=STSSL.url("data/NYCBike1/adj_mx.npz")),
    ),
    source=STSSL.cite("data/NYCBike1/val.npz", "data/NYCBike1/test.npz",
                      "data/NYCBike1/adj_mx.npz"),
    citation=(
        "Ji et al., Spatio-Temporal Self-Supervised Learning for Traffic Flow Prediction "
        "(ST-SSL), AAAI 2023; raw data: Zhang et al., Deep Spatio-Temporal Residual Networks for "
        "Citywide Crowd Flows Prediction (ST-ResNet), AAAI 2017; NYC Citi Bike."
    ),
    notes=(
        "Partial: only val.npz (431 samples) and test.npz (864 samples) exist. Each sample "
        "spans offsets -73..+1 h; samples shift by one hour and the first test sample follows "
        "the last validation sample (checked), giving 431 + 864 + 74 = 1369 hourly steps. "
        "test_target_start = 505: the first test target (the first test sample's -73 h window "
        "starts at step 431), so under any protocol the test targets are ST-SSL's. Split: ST-SSL scripts/generate_training_data.py (commit "
        "f05201cb) keeps round(0.2 n) samples as test, round(0.7 n) as train, the rest as val "
        "(7:1:2); with n = 4392 - 74 = 4318 samples of the 4392-hour BikeNYC span that gives "
        "exactly 864 test and 431 val samples, so the series ends on the span's last hour. "
        "Timestamps (2014-08-04 23:00 to 2014-09-30 23:00), time of day and day of week are "
        "therefore inferred, not stored; they agree with the data (hourly minimum at 04:00, "
        "peaks at 08:00 and 17-18:00, weekend profiles on Saturdays and Sundays). Grid: 16 rows "
        "x 8 columns flattened row-major (ST-SSL reshapes (T, 2, 16, 8) to (T, 128, 2)); coords "
        "are (column, row). The adjacency has no self loops."
    ),
)

register(INFO, load_nycbike1)
