"""LOS-LOOP: one week of METR-LA speeds as released with T-GCN.

Files (repository lehaifeng/T-GCN): ``LOS-LOOP/los_speed.csv`` (header = the 207 METR-LA sensor
ids, then 2016 rows of speeds in mph, 5-minute steps, gaps already filled by linear
interpolation) and ``LOS-LOOP/los_adj.csv`` (``[207, 207]`` weighted adjacency, no header).
Coordinates come from DCRNN's ``METR-LA/graph_sensor_locations.csv`` beside it in the data root;
the loader checks that its sensor order equals the CSV header.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from stvlm.data.datasets.base import (
    expect_shape,
    read_csv_matrix,
    read_sensor_locations,
    regular_timestamps,
    register,
    time_features,
)
from stvlm.data.datasets.sources import DCRNN, TGCN, TGCN_CITATION
from stvlm.data.series import DatasetInfo, FileSpec, SpatioTemporalData
from stvlm.errors import DataError

START = "2012-03-01T00:00"
LOCATIONS = "../METR-LA/graph_sensor_locations.csv"


def load_los_loop(info: DatasetInfo, folder: Path) -> SpatioTemporalData:
    """Load LOS-LOOP (see the module docstring)."""
    speed_path = folder / "los_speed.csv"
    with speed_path.open() as handle:
        header = [s.strip() for s in handle.readline().strip().split(",")]
    speed = read_csv_matrix(speed_path, skip_header=True)  # [T, N]
    expect_shape(speed_path, speed, (None, info.nodes), "speed matrix")
    if len(header) != info.nodes:
        raise DataError(f"{speed_path}: header has {len(header)} sensor ids, expected {info.nodes}")
    loc_path = (folder / LOCATIONS).resolve()
    ids, coords = read_sensor_locations(loc_path, header=True)
    if ids != header:
        first = next((i for i, (a, b) in enumerate(zip(ids, header, strict=False)) if a != b),
                     min(len(ids), len(header)))
        raise DataError(
            f"{loc_path}: sensor order differs from the header of {speed_path} (first at "
            f"column {first}); both must list the METR-LA sensors in the same order"
        )
    adj = read_csv_matrix(folder / "los_adj.csv")
    expect_shape(folder / "los_adj.csv", adj, (info.nodes, info.nodes), "adjacency")
    timestamps = regular_timestamps(START, speed.shape[0], info.interval_minutes)
    tod, dow = time_features(timestamps, info.interval_minutes)
    return SpatioTemporalData(
        info=info,
        values=speed.astype(np.float32)[:, :, None],  # [T, N, 1]
        tod=tod, dow=dow, timestamps=timestamps, coords=coords,
        adjacency=adj.astype(np.float32),
    )


INFO = DatasetInfo(
    name="los-loop",
    folder="LOS-LOOP",
    title="Los-loop: one week of highway speeds from 207 Los Angeles loop detectors",
    description=(
        "Traffic speed in miles per hour every 5 minutes from 207 loop detectors on Los Angeles "
        "highways during the first week of March 2012 (a slice of METR-LA). Free-flow speeds "
        "are around 65 mph; weekday rush hours bring congestion that spreads along connected "
        "road segments. Missing readings were filled by linear interpolation in the release."
    ),
    nodes=207, steps=2016, interval_minutes=5,
    channels=("speed",), units=("mph",),
    missing="none (gaps were linearly interpolated in the source)", missing_value=None,
    coordinates="latlon", adjacency=True, split=(0.7, 0.1, 0.2),
    files=(
        FileSpec(name="los_speed.csv", size=3402125,
                 sha256="7b732d86ae32b2930595becba28aff39dacbfb2197e250fc0332e1744ce2cbf4",
                 url=TGCN.url("data/los_speed.csv")),
        FileSpec(name="los_adj.csv", size=111686,
                 sha256="7a6eb41e10677992b5af50f5ab187c6c05c5c3a92cb973950cfddbf857361e76",
                 url=TGCN.url("data/los_adj.csv")),
        FileSpec(name=LOCATIONS, size=6341,
                 sha256="eb8ea96e07358b45d0e4ba3b89c2673fa20c54af50150249e627389e749ade6f",
                 url=DCRNN.url("data/sensor_graph/graph_sensor_locations.csv")),
    ),
    source=(
        f"{TGCN.cite('data/los_speed.csv', 'data/los_adj.csv')}; coordinates "
        f"{DCRNN.cite('data/sensor_graph/graph_sensor_locations.csv')}"
    ),
    citation=TGCN_CITATION + " Sensor locations: Li et al., DCRNN, ICLR 2018.",
    notes=(
        "The CSV has no timestamps: steps are dated from 2012-03-01 00:00 every 5 minutes as "
        "stated in the T-GCN paper (2012-03-01 to 2012-03-07). Coordinates (longitude, "
        "latitude) are joined from METR-LA/graph_sensor_locations.csv, whose sensor order "
        "equals the CSV header (checked on load). Adjacency is T-GCN's los_adj.csv as released."
    ),
)

register(INFO, load_los_loop)
