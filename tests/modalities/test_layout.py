"""SpatialLayout: coordinate normalisation, spectral layout, Fiedler order, errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from stvlm.data.series import DatasetInfo, SpatioTemporalData
from stvlm.errors import DataError
from stvlm.modalities.layout import SpatialLayout, spectral_embedding


def path_adjacency(n: int) -> torch.Tensor:
    a = torch.zeros(n, n)
    idx = torch.arange(n - 1)
    a[idx, idx + 1] = 1.0
    a[idx + 1, idx] = 1.0
    return a


def make_data(n: int, *, coords=None, adjacency=None, grid_shape=None, kind=None):
    info = DatasetInfo(
        name="toy", folder="TOY", title="toy", description="Toy.", nodes=n, steps=4,
        interval_minutes=60, channels=("v",), units=("u",), coordinates=kind,
        adjacency=adjacency is not None,
    )
    return SpatioTemporalData(
        info=info, values=np.zeros((4, n, 1), np.float32), tod=np.arange(4),
        dow=np.zeros(4, np.int64),
        coords=coords, adjacency=adjacency, grid_shape=grid_shape,
    )


def test_fiedler_order_of_a_path_is_the_path_order() -> None:
    layout = SpatialLayout.build(num_nodes=7, adjacency=path_adjacency(7))
    assert layout.order.tolist() == list(range(7))


def test_fiedler_order_of_a_relabelled_path_walks_the_path_from_the_lower_sign_end() -> None:
    perm = torch.tensor([3, 0, 5, 1, 4, 2])  # path position p holds node perm[p]
    a = torch.zeros(6, 6)
    for p in range(5):
        a[perm[p], perm[p + 1]] = a[perm[p + 1], perm[p]] = 1.0
    order = SpatialLayout.build(num_nodes=6, adjacency=a).order.tolist()
    # Node 0 sits at path position 1, so its entry is significant and made negative: its end
    # of the path (node 3 first) comes first.
    assert order == [3, 0, 5, 1, 4, 2]


def test_directed_adjacency_is_symmetrised() -> None:
    a = torch.triu(path_adjacency(5))  # edges i -> i+1 only
    directed = SpatialLayout.build(num_nodes=5, adjacency=a)
    undirected = SpatialLayout.build(num_nodes=5, adjacency=path_adjacency(5))
    assert directed.order.tolist() == undirected.order.tolist()
    assert torch.allclose(directed.pseudo_coords, undirected.pseudo_coords)


def test_pseudo_coords_of_a_path() -> None:
    layout = SpatialLayout.build(num_nodes=5, adjacency=path_adjacency(5))
    xy = layout.pseudo_coords
    # Random-walk eigenvectors of a path are cos(k pi i / (n-1)): k = 1 gives x (monotone, so
    # ranks 0..4), k = 2 gives y = cos(pi i / 2) up to sign: ends tie, i = 1 and 3 tie.
    assert xy[:, 0].tolist() == [0.0, 0.25, 0.5, 0.75, 1.0]
    assert xy[:, 1].tolist() == [0.125, 0.625, 1.0, 0.625, 0.125]


def test_spectral_embedding_pads_tiny_graphs() -> None:
    emb = spectral_embedding(path_adjacency(2), k=2)
    assert emb.shape == (2, 2)
    assert emb[:, 1].tolist() == [0.0, 0.0]
    assert emb[0, 0] < 0 < emb[1, 0]
    layout = SpatialLayout.build(num_nodes=2, adjacency=path_adjacency(2))
    assert layout.pseudo_coords.tolist() == [[0.0, 0.5], [1.0, 0.5]]


def test_without_adjacency_order_is_identity_and_no_pseudo_coords() -> None:
    layout = SpatialLayout.build(num_nodes=3)
    assert layout.order.tolist() == [0, 1, 2]
    assert layout.pseudo_coords is None and layout.adjacency is None
    assert not layout.has_coordinates and not layout.has_adjacency
    assert layout.describe() == "3 nodes without coordinates."


def test_from_data_latlon_is_min_max_scaled_with_north_up() -> None:
    lonlat = np.array([[-118.0, 34.0], [-117.0, 34.5], [-117.5, 35.0]])
    layout = SpatialLayout.from_data(make_data(3, coords=lonlat, kind="latlon"))
    assert layout.coords.tolist() == [[0.0, 1.0], [1.0, 0.5], [0.5, 0.0]]
    assert layout.name == "toy" and layout.has_coordinates
    assert layout.describe() == "3 nodes with map coordinates."


def test_from_data_grid_uses_cell_centres() -> None:
    data = make_data(6, grid_shape=(2, 3), adjacency=np.ones((6, 6), np.float32))
    layout = SpatialLayout.from_data(data)
    expected = [[(c + 0.5) / 3, (r + 0.5) / 2] for r in range(2) for c in range(3)]
    assert torch.allclose(layout.coords, torch.tensor(expected))
    assert layout.grid_shape == (2, 3)
    assert layout.describe() == "6 cells of a 2x3 grid and a graph of 15 edges."


def test_from_data_grid_coordinates_without_grid_shape() -> None:
    cols_rows = np.array([[0, 0], [1, 0], [0, 1], [1, 1]], dtype=np.float64)
    layout = SpatialLayout.from_data(make_data(4, coords=cols_rows, kind="grid"))
    assert layout.coords.tolist() == [[0.25, 0.25], [0.75, 0.25], [0.25, 0.75], [0.75, 0.75]]


def test_to_moves_every_tensor() -> None:
    layout = SpatialLayout.build(num_nodes=3, coords=torch.rand(3, 2), adjacency=path_adjacency(3))
    moved = layout.to("meta")
    for name in ("coords", "adjacency", "pseudo_coords", "order"):
        assert getattr(moved, name).device.type == "meta"
    assert layout.coords.device.type == "cpu" and moved.num_nodes == 3


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"num_nodes": 0}, "num_nodes = 0"),
        ({"num_nodes": 2, "coords": torch.tensor([[0.0, 0.0], [1.5, 0.0]])}, "coords must be"),
        ({"num_nodes": 2, "coords": torch.zeros(3, 2)}, r"got shape \(3, 2\)"),
        ({"num_nodes": 2, "adjacency": torch.zeros(3, 3)}, r"adjacency must be \[N=2, N=2\]"),
    ],
)
def test_build_errors(kwargs, match) -> None:
    with pytest.raises(DataError, match=match):
        SpatialLayout.build(**kwargs)


def test_grid_shape_must_match_nodes() -> None:
    with pytest.raises(DataError, match=r"grid_shape \(2, 2\) has 4 cells for 6 nodes"):
        SpatialLayout.from_data(make_data(6, grid_shape=(2, 2)))


def test_real_los_loop_coordinates(data_root) -> None:
    path = data_root / "METR-LA" / "graph_sensor_locations.csv"
    table = np.loadtxt(path, delimiter=",", skiprows=1)
    lonlat = table[:, [3, 2]]  # columns index, sensor_id, latitude, longitude
    layout = SpatialLayout.from_data(make_data(207, coords=lonlat, kind="latlon"))
    xy = layout.coords
    assert xy.shape == (207, 2)
    assert xy.min(dim=0).values.tolist() == [0.0, 0.0]
    assert xy.max(dim=0).values.tolist() == [1.0, 1.0]
    assert xy[int(np.argmax(lonlat[:, 1])), 1] == 0.0  # the northmost sensor is on the top row
    assert xy[int(np.argmin(lonlat[:, 0])), 0] == 0.0  # the westmost sensor is on the left


def test_disconnected_graph_skips_every_component_indicator() -> None:
    a = torch.zeros(7, 7)
    a[:5, :5] = path_adjacency(5)  # path 0-1-2-3-4 and a separate edge 5-6
    a[5, 6] = a[6, 5] = 1.0
    emb = spectral_embedding(a, k=2)
    # Eigenvalue 0 twice (two components): the first kept vector is the path's own Fiedler
    # vector, zero on the other component.
    assert torch.allclose(emb[5:, 0], torch.zeros(2, dtype=torch.float64))
    assert emb[:5, 0].diff().gt(0).all()
    order = SpatialLayout.build(num_nodes=7, adjacency=a).order.tolist()
    assert order == [0, 1, 2, 5, 6, 3, 4]  # ties (the zero entries) in index order, mid-path
