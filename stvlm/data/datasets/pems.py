"""PEMS03 / PEMS04 / PEMS07 / PEMS08 in the ASTGCN / STSGCN release format.

Files per folder (``PEMS04/``): ``PEMS04.npz`` with key ``data`` ``[T, N, C]`` (PEMS04/08: flow,
occupancy, speed; PEMS03/07: flow only), 5-minute steps, and an edge list ``distance.csv`` (or
``PEMS04.csv``) with header ``from,to,cost``. PEMS03's edge list names sensor ids; its
``PEMS03.txt`` lists the ids, one per line, in node order.

The arrays are not in the shared data root (users copy them in; there is no published digest),
only the PEMS04 / PEMS08 edge lists are. The adjacency built here is **binary connectivity**
(ASTGCN's convention): ``A[i, j] = A[j, i] = 1`` for every listed edge, plus self loops. The
edge list is optional: without it, the dataset loads with ``adjacency=None``.
"""

from __future__ import annotations

import csv
import logging
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np

from stvlm.data.datasets.base import (
    expect_shape,
    load_npz_array,
    regular_timestamps,
    register,
    time_features,
)
from stvlm.data.datasets.sources import ASTGCN
from stvlm.data.series import DatasetInfo, FileSpec, SpatioTemporalData
from stvlm.errors import DataError

logger = logging.getLogger(__name__)

CITATION = (
    "Guo et al., Attention Based Spatial-Temporal Graph Convolutional Networks for Traffic Flow "
    "Forecasting (ASTGCN), AAAI 2019; Song et al., Spatial-Temporal Synchronous Graph "
    "Convolutional Networks (STSGCN), AAAI 2020. Data: Caltrans PeMS, https://pems.dot.ca.gov."
)
THREE_CHANNELS = (("flow", "occupancy", "speed"), ("vehicles/5min", "occupancy", "mph"))
ONE_CHANNEL = (("flow",), ("vehicles/5min",))


@dataclass(frozen=True)
class PemsVariant:
    """What differs between the four PeMS releases."""

    name: str
    nodes: int
    steps: int
    start: str
    district: str
    period: str
    channels: tuple[tuple[str, ...], tuple[str, ...]]
    distance_sha256: str | None = None
    distance_size: int | None = None
    id_file: str | None = None

    @property
    def folder(self) -> str:
        return self.name.upper()


VARIANTS = (
    PemsVariant("pems03", 358, 26208, "2018-09-01T00:00", "District 3", "Sep-Nov 2018",
                ONE_CHANNEL, id_file="PEMS03.txt"),
    PemsVariant("pems04", 307, 16992, "2018-01-01T00:00", "District 4 (San Francisco Bay Area)",
                "Jan-Feb 2018", THREE_CHANNELS,
                "68ffaa80447eb34428a9999dc28363c61406ec0fd714686d0582d2386ac6f5f7", 4852),
    PemsVariant("pems07", 883, 28224, "2017-05-01T00:00", "District 7 (Los Angeles)",
                "May-Aug 2017", ONE_CHANNEL),
    PemsVariant("pems08", 170, 17856, "2016-07-01T00:00", "District 8 (San Bernardino)",
                "Jul-Aug 2016", THREE_CHANNELS,
                "859d68e7583ed4e6016588eaaca494d3ece286dae361614c5c1833017f87eaa7", 4032),
)


def read_edge_list(path: Path, nodes: int, id_file: Path | None = None) -> np.ndarray:
    """Binary symmetric adjacency with self loops from a ``from,to,cost`` edge list.

    Args:
        path: the CSV; a first row that is not numeric is taken as the header.
        nodes: number of nodes N.
        id_file: optional file of sensor ids, one per line in node order; when given, ``from``
            and ``to`` are sensor ids, otherwise node indices.

    Returns:
        ``[N, N]`` float32 0/1 matrix.
    """
    index = None
    if id_file is not None:
        ids = [line.strip() for line in id_file.read_text().splitlines() if line.strip()]
        if len(ids) != nodes:
            raise DataError(f"{id_file}: lists {len(ids)} sensor ids, expected {nodes}")
        index = {sensor: i for i, sensor in enumerate(ids)}
    adj = np.eye(nodes, dtype=np.float32)
    with path.open(newline="") as handle:
        for line, row in enumerate(csv.reader(handle), start=1):
            if not row or (line == 1 and not row[0].strip().lstrip("-").isdigit()):
                continue  # blank line or header
            try:
                a, b = (index[v.strip()] if index else int(v) for v in row[:2])
            except (KeyError, ValueError):
                known = "the ids in " + str(id_file) if index else f"node indices 0..{nodes - 1}"
                raise DataError(f"{path}: line {line} {row!r} must name {known}") from None
            if not (0 <= a < nodes and 0 <= b < nodes):
                bad = a if not 0 <= a < nodes else b  # the one out of range (-1 is, 3 may not be)
                raise DataError(
                    f"{path}: line {line} names node {bad}, expected 0..{nodes - 1} "
                    "(an edge list of sensor ids needs the id file)"
                )
            adj[a, b] = adj[b, a] = 1.0
    return adj


def load_pems(info: DatasetInfo, folder: Path, *, variant: PemsVariant) -> SpatioTemporalData:
    """Load one PeMS release (see the module docstring)."""
    npz = folder / f"{variant.folder}.npz"
    data = load_npz_array(npz, "data")  # [T, N, C]
    expect_shape(npz, data, (None, info.nodes, len(info.channels)), "data")
    adj = None
    edge_files = [folder / "distance.csv", folder / f"{variant.folder}.csv"]
    edges = next((p for p in edge_files if p.is_file()), None)
    id_file = folder / variant.id_file if variant.id_file else None
    if edges is None:
        logger.warning("%s: no edge list (%s); loading without adjacency", info.name,
                       " or ".join(p.name for p in edge_files))
    else:
        adj = read_edge_list(edges, info.nodes, id_file if id_file and id_file.is_file() else None)
    timestamps = regular_timestamps(variant.start, data.shape[0], info.interval_minutes)
    tod, dow = time_features(timestamps, info.interval_minutes)
    return SpatioTemporalData(info=info, values=data.astype(np.float32), tod=tod, dow=dow,
                              timestamps=timestamps, adjacency=adj)


def pems_info(variant: PemsVariant) -> DatasetInfo:
    """The :class:`DatasetInfo` of one PeMS release."""
    channels, units = variant.channels
    upper = variant.folder
    files = [FileSpec(name=f"{upper}.npz")]
    distance_url = None
    if variant.distance_sha256:
        distance_url = ASTGCN.url(f"data/{upper}/distance.csv")
    files.append(FileSpec(name="distance.csv", sha256=variant.distance_sha256,
                          size=variant.distance_size, required=False, url=distance_url))
    files.append(FileSpec(name=f"{upper}.csv", required=False))
    if variant.id_file:
        files.append(FileSpec(name=variant.id_file, required=False))
    measured = "flow, occupancy and speed" if len(channels) == 3 else "flow"
    source = f"{upper}.npz from the ASTGCN/STSGCN releases (user-supplied, no published digest)"
    if distance_url:
        source += f"; edge list {ASTGCN.cite(f'data/{upper}/distance.csv')}"
    return DatasetInfo(
        name=variant.name,
        folder=upper,
        title=f"{upper}: Caltrans PeMS {measured} from {variant.nodes} detectors, "
              f"{variant.district}",
        description=(
            f"Traffic {measured} every 5 minutes from {variant.nodes} loop detectors on the "
            f"freeways of Caltrans {variant.district}, California ({variant.period}). Flow is "
            "the number of vehicles passing a detector in 5 minutes; it follows a daily cycle "
            "with commute peaks, and detectors on the same freeway influence each other."
        ),
        nodes=variant.nodes, steps=variant.steps, interval_minutes=5,
        channels=channels, units=units, target_channels=(0,),
        missing="0 = no reading (masked by true > 0)", missing_value=0.0,
        coordinates=None, adjacency=True, split=(0.6, 0.2, 0.2),
        files=tuple(files), source=source, citation=CITATION,
        notes=(
            f"Canonical {upper}.npz: key 'data' [{variant.steps}, {variant.nodes}, "
            f"{len(channels)}]; not in the shared data root, copy it in by hand. The file has "
            f"no timestamps: steps are dated from {variant.start.replace('T', ' ')} every 5 "
            "minutes (the start of the period reported for the release). Adjacency: binary "
            "connectivity from the edge list (distance.csv or "
            f"{upper}.csv), symmetric, with self loops; costs are ignored."
            + (f" The edge list names sensor ids; {variant.id_file} maps them to node order."
               if variant.id_file else "")
        ),
    )


for _variant in VARIANTS:
    register(pems_info(_variant), partial(load_pems, variant=_variant))
