"""How the modalities scale in the number of nodes N: the limits of the parts that are quadratic
(correlation images, one backbone token per node) with their exact errors, and the sparse
spectral layout that replaces the dense eigendecomposition on large graphs."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from stvlm.configs import ImageConfig, SeriesConfig, STVLMConfig
from stvlm.data.synthetic import knn_adjacency
from stvlm.errors import ConfigError
from stvlm.modalities import layout as layout_module
from stvlm.modalities.image import IMAGE_ENCODERS, build_image_encoder
from stvlm.modalities.layout import SpatialLayout, spectral_embedding
from stvlm.models import build_model
from stvlm.modalities.sparse_spectral import sparse_laplacian_eigenvectors, symmetric_graph
from tests.models.toy import toy_forecast

MEAN, STD = (0.5, 0.5, 0.5), (0.25, 0.25, 0.25)


def path_adjacency(n: int) -> torch.Tensor:
    a = torch.zeros(n, n)
    idx = torch.arange(n - 1)
    a[idx, idx + 1] = a[idx + 1, idx] = 1.0
    return a


def layout(n: int, name: str = "toy") -> SpatialLayout:
    coords = torch.stack([torch.linspace(0, 1, n), torch.linspace(1, 0, n)], dim=1)
    return SpatialLayout.build(num_nodes=n, coords=coords, adjacency=path_adjacency(n), name=name)


def encoder(name: str, lay: SpatialLayout, max_nodes: int):
    cfg = ImageConfig(encoding=name, max_nodes=max_nodes, grid=4, learnable_hidden=6)
    return build_image_encoder(cfg, lay, input_len=4, in_channels=1, image_size=8,
                               image_mean=MEAN, image_std=STD)


# -- image encoders: only correlation is quadratic -------------------------------------------

def test_only_correlation_is_quadratic() -> None:
    assert [n for n in IMAGE_ENCODERS.names() if IMAGE_ENCODERS.get(n).quadratic] == ["correlation"]


def test_correlation_is_refused_above_image_max_nodes() -> None:
    with pytest.raises(ConfigError) as err:
        encoder("correlation", layout(6, name="city"), max_nodes=5)
    assert str(err.value) == (
        "image.encoding = 'correlation' builds N x N images (cost grows with N^2) and takes at "
        "most image.max_nodes = 5 nodes; dataset 'city' has N = 6; use an encoding linear in N: "
        "grid_heatmap, spectral_grid, node_time, fft, learnable, flow"
    )


def test_correlation_at_the_limit_is_built_and_unchanged() -> None:
    x = torch.arange(24.0).view(1, 4, 6, 1) % 5  # [B, T, N, C]
    at_limit = encoder("correlation", layout(6), max_nodes=6)
    default = encoder("correlation", layout(6), max_nodes=2048)
    assert torch.equal(at_limit(x), default(x)) and at_limit(x).shape == (1, 3, 8, 8)


@pytest.mark.parametrize("name", ["grid_heatmap", "spectral_grid", "node_time", "fft",
                                  "learnable", "flow"])
def test_linear_encodings_ignore_the_limit(name: str) -> None:
    assert encoder(name, layout(6), max_nodes=1)(torch.randn(2, 4, 6, 1)).shape == (2, 3, 8, 8)


def test_the_limits_are_not_part_of_the_config_identity() -> None:
    assert ImageConfig(max_nodes=3).config_hash() == ImageConfig().config_hash()
    assert SeriesConfig(max_tokens=3).config_hash() == SeriesConfig().config_hash()
    assert (ImageConfig().max_nodes, SeriesConfig().max_tokens) == (2048, 4096)


# -- series tokens: one backbone token per node only up to max_tokens ------------------------


def test_node_tokens_are_refused_above_series_max_tokens() -> None:
    """The toy forecast has N = 4 nodes; the check sits where the model is built."""
    cfg = STVLMConfig.tiny()
    cfg = cfg.replace(series=cfg.series.replace(max_tokens=3))
    with pytest.raises(ConfigError) as err:
        build_model(cfg, toy_forecast())
    assert str(err.value) == (
        "series.num_latents = None sends N = 4 node tokens into the backbone's self-attention "
        "(cost grows with (L + N)^2), above series.max_tokens = 3; set series.num_latents "
        "(e.g. 256) to compress them to K tokens"
    )


@pytest.mark.parametrize("change", [
    {"series.max_tokens": 4},  # at the limit
    {"series.max_tokens": 3, "series.num_latents": 2},  # compressed
    {"series.max_tokens": 3, "fusion.depth": "late"},  # the tokens never enter the backbone
    {"series.max_tokens": 3, "use_series": False},
])
def test_node_tokens_at_the_limit_compressed_or_outside_the_backbone_are_built(change) -> None:
    model = build_model(STVLMConfig.tiny().with_values(change), toy_forecast())
    latents = change.get("series.num_latents")
    assert (model.compressor is None) == (latents is None)  # K latents only where asked for
    if latents is not None:
        assert model.compressor.latents.shape[0] == latents


# -- spectral layout: dense eigh up to DENSE_EIGH_MAX_NODES, sparse Lanczos above ------------

def test_symmetric_graph_clips_negatives_and_drops_the_diagonal() -> None:
    a = torch.tensor([[5.0, 2.0, 0.0], [0.0, 0.0, -4.0], [1.0, 0.0, 0.0]])
    assert symmetric_graph(a).toarray().tolist() == [[0.0, 1.0, 0.5], [1.0, 0.0, 0.0],
                                                     [0.5, 0.0, 0.0]]


def test_sparse_path_orders_a_path_graph_along_the_path() -> None:
    emb = spectral_embedding(path_adjacency(30), dense_max_nodes=10)  # sparse path
    dense = spectral_embedding(path_adjacency(30))
    assert torch.allclose(emb, dense, atol=1e-10, rtol=0.0)
    assert layout_module.fiedler_order(emb[:, 0]).tolist() == list(range(30))


def graph_with_parts() -> torch.Tensor:
    """A 120-node k-NN graph, a directed 4-node chain, a negative edge and 2 isolated nodes."""
    rng = np.random.default_rng(3)
    knn = torch.from_numpy(knn_adjacency(rng.random((120, 2)), 5))
    a = torch.zeros(128, 128)
    a[:120, :120] = knn
    a[120, 121], a[121, 122], a[122, 123] = 1.0, 2.0, 0.5  # one direction only
    a[124, 125] = -3.0  # clipped to 0: no edge
    return a


@pytest.mark.parametrize("k", [2, 5])
def test_sparse_path_matches_the_dense_eigenvectors(k: int) -> None:
    a = graph_with_parts()
    dense = spectral_embedding(a, k)
    sparse = spectral_embedding(a, k, dense_max_nodes=100)
    assert sparse.shape == (128, k) and sparse.dtype == torch.float64
    assert torch.allclose(sparse, dense, atol=1e-9, rtol=0.0)


def test_sparse_path_of_a_graph_without_edges_is_the_identity_basis() -> None:
    out = sparse_laplacian_eigenvectors(torch.zeros(5, 5), 2)
    assert out.tolist() == [[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [0.0, 0.0], [0.0, 0.0]]
    dense = spectral_embedding(torch.zeros(5, 5), 2)
    assert torch.equal(spectral_embedding(torch.zeros(5, 5), 2, dense_max_nodes=1), dense)


def test_layout_takes_the_sparse_path_above_the_limit(monkeypatch) -> None:
    a = graph_with_parts()
    dense = SpatialLayout.build(num_nodes=128, adjacency=a)
    monkeypatch.setattr(layout_module, "DENSE_EIGH_MAX_NODES", 100)
    sparse = SpatialLayout.build(num_nodes=128, adjacency=a)
    assert torch.equal(sparse.order, dense.order)
    assert torch.equal(sparse.pseudo_coords, dense.pseudo_coords)
