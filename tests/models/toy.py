"""The hand-made forecast the model tests share: 40 steps of 4 nodes with coordinates and a path
graph, so every modality, layout tensor and encoder has something to read."""

from __future__ import annotations

import numpy as np

from stvlm.data.pipeline import ForecastData, prepare_forecast
from stvlm.data.protocols import Protocol
from stvlm.data.series import DatasetInfo, SpatioTemporalData

T, N, T_IN, T_OUT = 40, 4, 4, 3


def toy_forecast(channels: int = 2, seed: int = 0, nodes: int = N) -> ForecastData:
    """``channels`` of (speed, flow) on ``nodes`` nodes (4) on a path graph, 15-minute steps, a
    6:2:2 split, 4 -> 3 steps."""
    N = nodes  # the module's N unless asked for more
    rng = np.random.default_rng(seed)
    values = (rng.random((T, N, channels)) * 50 + 1).astype(np.float32)
    adjacency = np.eye(N, k=1, dtype=np.float32) + np.eye(N, k=-1, dtype=np.float32)
    info = DatasetInfo(name="toy", folder="TOY", title="toy", description="Hand-made speeds.",
                       nodes=N, steps=T, interval_minutes=15, channels=("speed", "flow")[:channels],
                       units=("mph", "veh")[:channels], coordinates="latlon", adjacency=True)
    data = SpatioTemporalData(info=info, values=values, tod=np.arange(T) % 96,
                              dow=np.zeros(T, dtype=np.int64), coords=rng.random((N, 2)),
                              adjacency=adjacency)
    proto = Protocol(name="standard", input_len=T_IN, output_len=T_OUT, report_horizons=(1, 3),
                     pooling="step", overall="horizon_mean", split=(0.6, 0.2, 0.2))
    return prepare_forecast(data, proto)
