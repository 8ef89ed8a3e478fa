"""METR-LA and PEMS-BAY in DCRNN's release format.

Files per dataset folder (Li et al., ICLR 2018, repository liyaguang/DCRNN):

* ``metr-la.h5`` / ``pems-bay.h5``: pandas frame under key ``df``, ``[T, N]`` speeds (mph) with a
  5-minute DatetimeIndex and sensor ids as columns. Not in the shared data root (no public
  download without Google Drive): users copy it in. Read with h5py (see ``pandas_h5``).
* sensor locations CSV: METR-LA with header ``index,sensor_id,latitude,longitude``, PEMS-BAY
  without header (``sensor_id,latitude,longitude``).
* adjacency pickle ``[sensor_ids, sensor_id_to_index, adj [N, N]]`` (a Python-2 pickle, loaded
  with the restricted unpickler): thresholded Gaussian kernel of road distance.

The loader checks that the h5 columns, the pickle's sensor order and the locations agree.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path

import numpy as np

from stvlm.data.datasets.base import (
    expect_shape,
    read_sensor_locations,
    register,
    time_features,
)
from stvlm.data.datasets.pandas_h5 import read_h5_frame
from stvlm.data.datasets.sources import DCRNN, DCRNN_CITATION
from stvlm.data.safe_pickle import safe_load
from stvlm.data.series import DatasetInfo, FileSpec, SpatioTemporalData
from stvlm.errors import DataError


def read_dcrnn_adjacency(path: Path, nodes: int) -> tuple[list[str], np.ndarray]:
    """Sensor ids and ``[N, N]`` float32 adjacency from a DCRNN ``adj_mx.pkl``."""
    obj = safe_load(path)
    if not (isinstance(obj, (list, tuple)) and len(obj) == 3 and isinstance(obj[2], np.ndarray)):
        raise DataError(f"{path}: expected a pickled [sensor_ids, sensor_id_to_ind, adj_mx] list")
    ids = [str(s) for s in obj[0]]
    adj = obj[2]
    expect_shape(path, adj, (nodes, nodes), "adj_mx")
    return ids, adj.astype(np.float32)


def _match(path: Path, what: str, ids: list[str], expected: tuple[str, ...]) -> None:
    if tuple(ids) != expected:
        first = next(
            (i for i, (a, b) in enumerate(zip(ids, expected, strict=False)) if a != b),
            min(len(ids), len(expected)),
        )
        raise DataError(
            f"{path}: {what} do not match the sensor order of the data ({len(ids)} vs "
            f"{len(expected)} sensors, first difference at position {first})"
        )


def load_dcrnn(info: DatasetInfo, folder: Path, *, h5: str, locations: str, header: bool,
               adjacency: str) -> SpatioTemporalData:
    """Load a DCRNN-format dataset (see the module docstring)."""
    frame = read_h5_frame(folder / h5)
    expect_shape(folder / h5, frame.values, (None, info.nodes), "df")
    adj_ids, adj = read_dcrnn_adjacency(folder / adjacency, info.nodes)
    _match(folder / adjacency, "sensor ids", adj_ids, frame.columns)
    loc_ids, coords = read_sensor_locations(folder / locations, header=header)
    where = {sensor: i for i, sensor in enumerate(loc_ids)}
    absent = [s for s in frame.columns if s not in where]
    if absent:
        raise DataError(f"{folder / locations}: no location for sensors {absent[:5]}")
    coords = coords[[where[s] for s in frame.columns]]  # [N, 2] in column order
    timestamps = frame.index.astype("datetime64[ns]").astype("datetime64[m]")
    tod, dow = time_features(timestamps, info.interval_minutes)
    return SpatioTemporalData(
        info=info,
        values=frame.values.astype(np.float32)[:, :, None],  # [T, N, 1]
        tod=tod, dow=dow, timestamps=timestamps, coords=coords, adjacency=adj,
    )


METR_LA = DatasetInfo(
    name="metr-la",
    folder="METR-LA",
    title="METR-LA: traffic speed from 207 loop detectors on Los Angeles County highways",
    description=(
        "Traffic speed in miles per hour measured every 5 minutes by 207 loop detectors on the "
        "highways of Los Angeles County, March to June 2012. Sensors are placed along freeways; "
        "nearby sensors on the same road tend to move together, and rush hours cause sharp "
        "drops in speed. A reading of 0 means the sensor reported nothing."
    ),
    nodes=207, steps=34272, interval_minutes=5,
    channels=("speed",), units=("mph",),
    missing="0 = no reading (masked by true > 0)", missing_value=0.0,
    coordinates="latlon", adjacency=True, split=(0.7, 0.1, 0.2),
    files=(
        FileSpec(name="metr-la.h5"),
        FileSpec(name="graph_sensor_locations.csv", size=6341,
                 sha256="eb8ea96e07358b45d0e4ba3b89c2673fa20c54af50150249e627389e749ade6f",
                 url=DCRNN.url("data/sensor_graph/graph_sensor_locations.csv")),
        FileSpec(name="adj_mx.pkl", size=680459,
                 sha256="a35687c6e15aa228dc45027b0ed2a0ea0f4ec78f573deb992c595092d12f61b3",
                 url=DCRNN.url("data/sensor_graph/adj_mx.pkl")),
        FileSpec(name="graph_sensor_ids.txt", size=1448, required=False,
                 sha256="3ba026caa2e6263ab0ea54b0fa1b125dbfa7216544cd05313b555e826292b990",
                 url=DCRNN.url("data/sensor_graph/graph_sensor_ids.txt")),
    ),
    source=(
        f"{DCRNN.cite('data/sensor_graph/')} (locations, ids, adj_mx.pkl); metr-la.h5 "
        "from the DCRNN release (Google Drive), not in the shared data root"
    ),
    citation=DCRNN_CITATION + " Data: Jagadish et al., Big data and its technical challenges, "
    "CACM 2014.",
    notes=(
        "Canonical file metr-la.h5: 34272 steps (2012-03-01 00:00 to 2012-06-27 23:55); "
        "timestamps, time of day and day of week come from the file's index. The graph files "
        "can be fetched; the h5 must be copied in by hand."
    ),
)

PEMS_BAY = DatasetInfo(
    name="pems-bay",
    folder="PEMS-BAY",
    title="PEMS-BAY: traffic speed from 325 Caltrans sensors in the San Francisco Bay Area",
    description=(
        "Traffic speed in miles per hour every 5 minutes from 325 Caltrans PeMS sensors in the "
        "San Francisco Bay Area in the first half of 2017. Speeds are high and stable most of "
        "the day, with recurring congestion dips at commute hours on weekdays."
    ),
    nodes=325, steps=52116, interval_minutes=5,
    channels=("speed",), units=("mph",),
    missing="0 = no reading (masked by true > 0)", missing_value=0.0,
    coordinates="latlon", adjacency=True, split=(0.7, 0.1, 0.2),
    files=(
        FileSpec(name="pems-bay.h5"),
        FileSpec(name="graph_sensor_locations_bay.csv", size=9750,
                 sha256="276ee01059610774d4e59572507f7e32eaac21f1f5882fcd9e3d7d426a4b7a6c",
                 url=DCRNN.url("data/sensor_graph/graph_sensor_locations_bay.csv")),
        FileSpec(name="adj_mx_bay.pkl", size=1681480,
                 sha256="116275f5704d0d492018e14c047f7ae5004385b450aa907f88424055a4a97370",
                 url=DCRNN.url("data/sensor_graph/adj_mx_bay.pkl")),
        FileSpec(name="distances_bay_2017.csv", size=175771, required=False,
                 sha256="e5feed06bfa1ba4c554a946d0e03d99f2018365eec5a8f28fd8504dea9d082b5",
                 url=DCRNN.url("data/sensor_graph/distances_bay_2017.csv")),
    ),
    source=(
        f"{DCRNN.cite('data/sensor_graph/')} (locations, distances, adj_mx_bay.pkl); "
        "pems-bay.h5 from the DCRNN release (Google Drive), not in the shared data root"
    ),
    citation=DCRNN_CITATION + " Data: Caltrans Performance Measurement System (PeMS).",
    notes=(
        "Canonical file pems-bay.h5: 52116 steps from 2017-01-01 00:00 (the DCRNN paper says "
        "Jan-May 2017). Timestamps, time of day and day of week are read from the file's index, "
        "not counted, so gaps in the index (e.g. a daylight-saving hour) are respected. The "
        "graph files can be fetched; the h5 must be copied in by hand."
    ),
)

register(METR_LA, partial(
    load_dcrnn, h5="metr-la.h5", locations="graph_sensor_locations.csv", header=True,
    adjacency="adj_mx.pkl"))
register(PEMS_BAY, partial(
    load_dcrnn, h5="pems-bay.h5", locations="graph_sensor_locations_bay.csv", header=False,
    adjacency="adj_mx_bay.pkl"))
