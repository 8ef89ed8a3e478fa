"""SZ-TAXI: taxi speeds on 156 roads of Luohu, Shenzhen (T-GCN), with AST-GCN side information.

Files: ``SZ_taxi.npz`` (key ``data``, ``[2976, 156, 1]`` km/h, 15-minute steps, 0 = no taxi
observed; repackaged by ST-CGCN from T-GCN's ``sz_speed.csv``), ``SZ_taxi.csv`` (``[156, 156]``
0/1 road adjacency), and AST-GCN's ``sz_poi.csv`` (``[156, 2976]``, one POI class per road
repeated along time) and ``sz_weather.csv`` (``[2976, 156]`` weather class per step and road).
The two side-information files are optional.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from stvlm.data.datasets.base import (
    expect_shape,
    load_npz_array,
    read_csv_matrix,
    regular_timestamps,
    register,
    time_features,
)
from stvlm.data.datasets.sources import STCGCN, TGCN, TGCN_CITATION
from stvlm.data.series import DatasetInfo, FileSpec, SpatioTemporalData
from stvlm.errors import DataError

START = "2015-01-01T00:00"


def load_sz_taxi(info: DatasetInfo, folder: Path) -> SpatioTemporalData:
    """Load SZ-TAXI (see the module docstring)."""
    speed = load_npz_array(folder / "SZ_taxi.npz", "data")  # [T, N, 1]
    expect_shape(folder / "SZ_taxi.npz", speed, (None, info.nodes, 1), "data")
    steps = speed.shape[0]
    adj = read_csv_matrix(folder / "SZ_taxi.csv")
    expect_shape(folder / "SZ_taxi.csv", adj, (info.nodes, info.nodes), "adjacency")
    node_side, step_side = {}, {}
    poi_path = folder / "sz_poi.csv"
    if poi_path.is_file():
        poi = read_csv_matrix(poi_path, dtype=np.int64)  # [N, T]
        expect_shape(poi_path, poi, (info.nodes, steps), "POI classes")
        varying = np.flatnonzero((poi != poi[:, :1]).any(axis=1))
        if varying.size:
            raise DataError(
                f"{poi_path}: POI class must be constant along time, but road {varying[0]} "
                "changes"
            )
        node_side["poi"] = poi[:, 0]  # [N]
    weather_path = folder / "sz_weather.csv"
    if weather_path.is_file():
        weather = read_csv_matrix(weather_path, dtype=np.int64)  # [T, N]
        expect_shape(weather_path, weather, (steps, info.nodes), "weather classes")
        step_side["weather"] = weather
    timestamps = regular_timestamps(START, steps, info.interval_minutes)
    tod, dow = time_features(timestamps, info.interval_minutes)
    return SpatioTemporalData(
        info=info, values=speed.astype(np.float32), tod=tod, dow=dow, timestamps=timestamps,
        adjacency=adj.astype(np.float32), node_side=node_side, step_side=step_side,
    )


INFO = DatasetInfo(
    name="sz-taxi",
    folder="SZ-TAXI",
    title="SZ-taxi: taxi speeds on 156 roads of Luohu district, Shenzhen, January 2015",
    description=(
        "Average taxi speed in km/h every 15 minutes on 156 major roads of Luohu district, "
        "Shenzhen, during January 2015. Speeds come from taxi GPS traces, so a road with no "
        "taxi in a 15-minute slot has no reading (stored as 0). Each road carries its dominant "
        "point-of-interest category and each slot a weather class."
    ),
    nodes=156, steps=2976, interval_minutes=15,
    channels=("speed",), units=("km/h",),
    missing="0 = no taxi observed in the slot (24.8% of values; masked by true > 0, scored as a "
            "speed under the tgcn protocol, as T-GCN does)",
    missing_value=0.0,
    coordinates=None, adjacency=True, side_information=("poi", "weather"),
    split=(0.7, 0.1, 0.2),
    files=(
        FileSpec(name="SZ_taxi.npz", size=3714310,
                 sha256="b6f2008136f7223bf94adb6484da42b4f1235366eeff91dac38cb075ca916301",
                 url=STCGCN.url("data/SZ_taxi/SZ_taxi.npz")),
        FileSpec(name="SZ_taxi.csv", size=48672,
                 sha256="4e40e865b29d73df8404f6cc4c1a0c5ba55aa575aef97a4e9ce4fcd30aad16d6",
                 url=STCGCN.url("data/SZ_taxi/SZ_taxi.csv")),
        FileSpec(name="sz_poi.csv", size=928668, required=False,
                 sha256="500dbde4626d85cf2000f41c5a24d2e9f964798c43bfbde6a03f8f1128bab95a",
                 url=TGCN.url("AST-GCN/data/sz_poi.csv")),
        FileSpec(name="sz_weather.csv", size=931488, required=False,
                 sha256="fc0cfde12451e0dcd3c6c7941d01bf1aa795f63fb02c96976822dceb29b12561",
                 url=TGCN.url("AST-GCN/data/sz_weather.csv")),
    ),
    source=(
        f"{STCGCN.cite('data/SZ_taxi/SZ_taxi.npz', 'data/SZ_taxi/SZ_taxi.csv')}; "
        f"{TGCN.cite('AST-GCN/data/sz_poi.csv', 'AST-GCN/data/sz_weather.csv')}"
    ),
    citation=(
        TGCN_CITATION + " Packaging: Bao et al., ST-CGCN, EAAI 2023. Side information: Zhu et "
        "al., AST-GCN: Attribute-Augmented Spatiotemporal Graph Convolutional Network for "
        "Traffic Forecasting, IEEE Access 2021."
    ),
    notes=(
        "No timestamps in the files: steps are dated from 2015-01-01 00:00 every 15 minutes "
        "(T-GCN paper: January 2015). No coordinates; the adjacency is the released 0/1 road "
        "graph (not symmetric, no self loops). node_side['poi'] [156] holds POI classes 1-8 and "
        "step_side['weather'] [2976, 156] weather classes 1-5; the class-to-name mapping is not "
        "stated in the files. 78 speeds lie in (0, 5e-5] km/h, by their size a zero's "
        "floating-point residue (eight at 1e-17 to 6e-15, seventy at 1.5e-7 to 4.3e-5), and "
        "7,141 (those 78 included) lie below 0.5 km/h: the loader keeps the file's values, so "
        "they count as readings (true > 0; 24 validation and 36 test target entries of the "
        "standard protocol's windows). MAPE leaves out |true| <= 5e-5 "
        "(stvlm.metrics.MAPE_ZERO_TOL) and is still driven by the slow readings; WAPE is the "
        "relative error to read here."
    ),
)

register(INFO, load_sz_taxi)
