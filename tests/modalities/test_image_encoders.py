"""Spatial-to-image encoders: shapes, normalisation, exact pixels on tiny inputs, errors."""

from __future__ import annotations

import math

import pytest
import torch

from stvlm.errors import ConfigError, UnknownNameError
from stvlm.modalities.image import IMAGE_ENCODERS, build_image_encoder
from stvlm.modalities.image.base import ImageSpec, fit_to_square, minmax_per_channel
from stvlm.modalities.image.correlation import gcn_normalised
from stvlm.modalities.image.grid_heatmap import GridHeatmap
from stvlm.modalities.image.node_time import NodeTime
from stvlm.modalities.image.spectral_grid import SpectralGrid
from stvlm.modalities.layout import SpatialLayout
from stvlm.configs import ImageConfig

MEAN = (0.5, 0.4, 0.3)
STD = (0.2, 0.25, 0.5)
ALL = ["grid_heatmap", "spectral_grid", "node_time", "correlation", "fft", "learnable", "flow"]


def path_adjacency(n: int) -> torch.Tensor:
    a = torch.zeros(n, n)
    idx = torch.arange(n - 1)
    a[idx, idx + 1] = a[idx + 1, idx] = 1.0
    return a


def full_layout(n: int = 6) -> SpatialLayout:
    coords = torch.linspace(0, 1, n)[:, None].repeat(1, 2)
    coords[:, 1] = coords[:, 1].flip(0)
    return SpatialLayout.build(num_nodes=n, coords=coords, adjacency=path_adjacency(n), name="toy")


def build(name: str, layout: SpatialLayout, *, t: int = 12, c: int = 2, s: int = 16, **cfg):
    cfg.setdefault("learnable_hidden", 6)
    return build_image_encoder(
        ImageConfig(encoding=name, **cfg), layout, input_len=t, in_channels=c, image_size=s,
        image_mean=MEAN, image_std=STD,
    )


def window(values: torch.Tensor, c: int = 1) -> torch.Tensor:
    """[B, T, N] values -> [B, T, N, C] with zero extra channels."""
    return torch.cat([values[..., None], torch.zeros(*values.shape, c - 1)], dim=-1)


def test_registry_names_in_method_order() -> None:
    assert IMAGE_ENCODERS.names() == ALL


@pytest.mark.parametrize("size", [8, 16, 24])
@pytest.mark.parametrize("name", IMAGE_ENCODERS.names())
def test_shapes_range_and_normalisation(name: str, size: int) -> None:
    torch.manual_seed(0)
    enc = build(name, full_layout(), s=size, grid=4)
    x = torch.randn(3, 12, 6, 2)
    out = enc(x)
    pix = enc.pixels(x)
    assert out.shape == (3, 3, size, size) and enc.output_size == size
    assert torch.isfinite(out).all()
    assert pix.min() >= 0 and pix.max() <= 1
    expected = (pix - torch.tensor(MEAN).view(1, 3, 1, 1)) / torch.tensor(STD).view(1, 3, 1, 1)
    assert torch.allclose(out, expected)
    if not enc.learned:  # fixed encoders are min-maxed per channel
        assert torch.allclose(pix.amin(dim=(2, 3)), torch.zeros(3, 3))
        assert torch.allclose(pix.amax(dim=(2, 3)), torch.ones(3, 3))
    pos = enc.node_positions()
    assert pos.shape == (6, 2) and pos.min() >= 0 and pos.max() <= 1
    assert enc.description.endswith(".") and "\n" not in enc.description


@pytest.mark.parametrize("name", IMAGE_ENCODERS.names())
def test_many_nodes_are_pooled_to_the_image(name: str) -> None:
    enc = build(name, full_layout(40), s=8, grid=16)
    assert enc(torch.randn(2, 12, 40, 2)).shape == (2, 3, 8, 8)


def test_fit_to_square_pools_long_axes_then_nearest() -> None:
    img = torch.arange(8.0).view(1, 1, 4, 2)  # rows [0,1], [2,3], [4,5], [6,7]
    out = fit_to_square(img, 2)  # rows pooled in pairs, columns kept
    assert out.tolist() == [[[[1.0, 2.0], [5.0, 6.0]]]]
    up = fit_to_square(torch.tensor([[[[1.0, 2.0]]]]), 4)
    assert up.tolist() == [[[[1.0, 1.0, 2.0, 2.0]] * 4]]


def test_minmax_constant_channel_is_zero() -> None:
    img = torch.stack([torch.full((2, 2), 3.0), torch.tensor([[1.0, 3.0], [5.0, 2.0]])])[None]
    out = minmax_per_channel(img)
    assert out[0, 0].tolist() == [[0.0, 0.0], [0.0, 0.0]]
    assert out[0, 1].tolist() == [[0.0, 0.5], [1.0, 0.25]]


# -- grid_heatmap ----------------------------------------------------------------------------

CORNERS = torch.tensor([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])


@pytest.mark.parametrize("blur", [0.0, 1.0])
def test_grid_heatmap_corner_node_lands_in_its_pixel_block(blur: float) -> None:
    layout = SpatialLayout.build(num_nodes=4, coords=CORNERS)
    enc = build("grid_heatmap", layout, t=2, c=1, s=8, grid=4, blur=blur)
    values = torch.zeros(1, 2, 4)
    values[0, 1, 3] = 1.0  # node 3 at (x=1, y=1): cell (row 3, col 3), last frame only
    pix = enc.pixels(window(values))[0, 0]  # last-frame channel
    assert (pix[6:, 6:] == 1.0).all()
    rest = pix.clone()
    rest[6:, 6:] = -1.0
    if blur == 0:
        assert (rest[rest >= 0] == 0).all()
    else:
        assert rest.max() < 1.0 and rest[rest >= 0].min() == 0.0
    assert enc.node_positions().tolist() == CORNERS.tolist()


def test_grid_heatmap_channels_and_cell_mean() -> None:
    coords = torch.tensor([[0.1, 0.1], [0.2, 0.2], [0.9, 0.9]])  # nodes 0 and 1 share cell 0
    layout = SpatialLayout.build(num_nodes=3, coords=coords)
    enc = build("grid_heatmap", layout, t=3, c=1, grid=2, blur=0.0)
    values = torch.tensor([[[1.0, 3.0, 10.0], [2.0, 5.0, 10.0], [4.0, 7.0, 13.0]]])  # [1, T, N]
    grid = enc.grid(window(values))[0]  # [3, 2, 2]
    # nodes 0 and 1: last (4, 7), mean (7/3, 5), trend (3, 4) -> their means
    assert torch.allclose(grid[:, 0, 0], torch.tensor([5.5, 11 / 3, 3.5]))
    assert grid[:, 1, 1].tolist() == [13.0, 11.0, 3.0]
    assert grid[:, 0, 1].tolist() == [0.0, 0.0, 0.0]


def test_grid_heatmap_blur_fills_empty_cells_only() -> None:
    coords = torch.tensor([[0.1, 0.1], [0.9, 0.1]])  # cells (0, 0) and (0, 2) of a 3x3 grid
    layout = SpatialLayout.build(num_nodes=2, coords=coords)
    enc = build("grid_heatmap", layout, t=1, c=1, grid=3, blur=1.0)
    grid = enc.grid(window(torch.tensor([[[1.0, 3.0]]])))[0, 0]
    assert grid[0, 0] == 1.0 and grid[0, 2] == 3.0  # occupied cells keep their value
    assert torch.allclose(grid[:, 1], torch.full((3,), 2.0))  # equidistant: the plain mean
    assert grid[1, 0] < 2.0 < grid[1, 2]


def test_grid_heatmap_uses_a_native_grid_as_is() -> None:
    centres = [[(c + 0.5) / 4, (r + 0.5) / 2] for r in range(2) for c in range(4)]
    layout = SpatialLayout.build(num_nodes=8, coords=torch.tensor(centres), grid_shape=(2, 4))
    enc = build("grid_heatmap", layout, t=1, c=1, grid=16, blur=1.0)
    values = torch.arange(8.0).view(1, 1, 8)
    grid = enc.grid(window(values))
    assert grid.shape == (1, 3, 2, 4)
    assert grid[0, 0].tolist() == [[0.0, 1.0, 2.0, 3.0], [4.0, 5.0, 6.0, 7.0]]
    assert "2x4 grid as the dataset's own grid" in enc.description


def test_spectral_grid_uses_pseudo_coordinates() -> None:
    layout = SpatialLayout.build(num_nodes=5, adjacency=path_adjacency(5))
    enc = build("spectral_grid", layout, grid=4)
    assert torch.equal(enc.node_positions(), layout.pseudo_coords)
    assert enc.grid_shape == (4, 4)


# -- node_time, correlation, fft ---------------------------------------------------------------

def relabelled_path() -> SpatialLayout:
    a = torch.zeros(3, 3)  # path 1 - 0 - 2; node 0 is the middle (Fiedler entry 0), so the
    a[2, 0] = a[0, 2] = a[0, 1] = a[1, 0] = 1.0  # first significant entry is node 1's
    layout = SpatialLayout.build(num_nodes=3, adjacency=a)
    assert layout.order.tolist() == [1, 0, 2]
    return layout


def test_node_time_matrix_rows_follow_the_fiedler_order() -> None:
    enc = build("node_time", relabelled_path(), t=3, c=1)
    values = torch.tensor([[[0.0, 10.0, 20.0], [1.0, 12.0, 20.0], [2.0, 14.0, 20.0]]])  # [1, T, N]
    m = enc.matrix(window(values))[0]  # [3, N, T]
    assert m[0].tolist() == [[10.0, 12.0, 14.0], [0.0, 1.0, 2.0], [20.0, 20.0, 20.0]]
    assert m[1].tolist() == [[0.0, 2.0, 2.0], [0.0, 1.0, 1.0], [0.0, 0.0, 0.0]]
    z = math.sqrt(1.5)
    assert torch.allclose(m[2, :2], torch.tensor([-z, 0.0, z]).expand(2, 3), atol=1e-5)
    assert m[2, 2].tolist() == [0.0, 0.0, 0.0]
    expected = torch.tensor([[0.5, 1 / 2], [0.5, 1 / 6], [0.5, 5 / 6]])
    assert torch.allclose(enc.node_positions(), expected)


def test_correlation_of_perfectly_correlated_nodes() -> None:
    layout = SpatialLayout.build(num_nodes=3, adjacency=path_adjacency(3))
    enc = build("correlation", layout, t=4, c=1)
    t = torch.arange(4.0)
    values = torch.stack([t, 2 * t + 1, -t], dim=1)[None]  # [1, T, N]
    img = enc.matrix(window(values))[0]  # [3, N, N]
    expected = torch.tensor([[1.0, 1.0, -1.0], [1.0, 1.0, -1.0], [-1.0, -1.0, 1.0]])
    assert torch.allclose(img[0], expected, atol=1e-5)
    adj = gcn_normalised(path_adjacency(3))
    assert torch.allclose(img[1], adj)
    assert torch.allclose(img[2], adj * img[0])
    assert torch.allclose(adj[0], torch.tensor([0.5, 1 / math.sqrt(6), 0.0]))
    assert torch.allclose(enc.node_positions(), torch.tensor([[1 / 6] * 2, [0.5] * 2, [5 / 6] * 2]))


def test_correlation_without_adjacency_uses_dynamic_channels() -> None:
    enc = build("correlation", SpatialLayout.build(num_nodes=2), t=4, c=1)
    values = torch.tensor([[[0.0, 0.0], [1.0, -1.0], [3.0, -3.0], [6.0, -6.0]]])  # [1, T, N]
    img = enc.matrix(window(values))[0]
    anti = torch.tensor([[1.0, -1.0], [-1.0, 1.0]])
    assert torch.allclose(img[0], anti, atol=1e-5)
    assert torch.allclose(img[1], anti, atol=1e-5)  # the changes are anti-correlated too
    assert torch.allclose(img[2], anti.abs(), atol=1e-5)
    assert "correlation of changes" in enc.description


def test_fft_of_a_constant_series() -> None:
    enc = build("fft", SpatialLayout.build(num_nodes=2), t=12, c=1)
    spec = enc.spectrum(window(torch.full((1, 12, 2), 2.0)))[0]  # [2, 7, N]
    assert spec.shape == (2, 7, 2)
    assert torch.allclose(spec[0, 0], torch.full((2,), math.log1p(24.0)))
    assert torch.allclose(spec[0, 1:], torch.zeros(6, 2), atol=1e-6)
    assert torch.allclose(spec[1, 0], torch.ones(2), atol=1e-6)
    assert torch.allclose(spec[1, 1:], torch.zeros(6, 2), atol=1e-6)


def test_fft_finds_the_period() -> None:
    enc = build("fft", SpatialLayout.build(num_nodes=1), t=12, c=1)
    t = torch.arange(12.0)
    spec = enc.spectrum(window(torch.cos(2 * math.pi * 3 * t / 12).view(1, 12, 1)))[0]
    assert spec[0, :, 0].argmax() == 3
    assert torch.allclose(spec[0, 3, 0], torch.tensor(math.log1p(6.0)))
    assert torch.allclose(enc.node_positions(), torch.tensor([[0.5, 0.5]]))


# -- learnable, flow ---------------------------------------------------------------------------

def test_learnable_gets_gradient_from_a_loss() -> None:
    torch.manual_seed(0)
    enc = build("learnable", full_layout(), s=8)
    loss = (enc(torch.randn(2, 12, 6, 2)) - 1.0).pow(2).mean()
    loss.backward()
    for name, p in enc.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name
    assert sum(p.numel() for p in enc.parameters()) > 0


@pytest.mark.parametrize(
    "layout, inner",
    [
        (full_layout(), GridHeatmap),
        (SpatialLayout.build(num_nodes=6, adjacency=path_adjacency(6)), SpectralGrid),
        (SpatialLayout.build(num_nodes=6), NodeTime),
    ],
)
def test_flow_renders_differences_through_the_best_layout(layout, inner) -> None:
    enc = build("flow", layout, grid=4)
    assert type(enc.inner) is inner
    x = torch.randn(2, 12, 6, 2)
    assert torch.equal(enc.render(x), enc.inner.render(x[:, 1:] - x[:, :-1]))
    assert torch.equal(enc.node_positions(), enc.inner.node_positions())
    assert enc.description.startswith("Step-to-step changes: the image")


# -- errors ------------------------------------------------------------------------------------

def test_grid_heatmap_without_coordinates() -> None:
    layout = SpatialLayout.build(num_nodes=3, adjacency=path_adjacency(3), name="sz-taxi")
    with pytest.raises(ConfigError) as err:
        build("grid_heatmap", layout)
    assert str(err.value) == (
        "image.encoding = 'grid_heatmap' needs node coordinates, which dataset 'sz-taxi' does "
        "not have; allowed for it: spectral_grid, node_time, correlation, fft, learnable, flow"
    )


def test_spectral_grid_without_adjacency() -> None:
    layout = SpatialLayout.build(num_nodes=2, coords=torch.rand(2, 2), name="points")
    with pytest.raises(ConfigError) as err:
        build("spectral_grid", layout)
    assert str(err.value) == (
        "image.encoding = 'spectral_grid' needs an adjacency matrix, which dataset 'points' does "
        "not have; allowed for it: grid_heatmap, node_time, correlation, fft, learnable, flow"
    )


def test_unknown_encoding() -> None:
    match = "image.encoding = 'photo' is unknown; allowed: auto, grid_heatmap, spectral_grid, "
    with pytest.raises(UnknownNameError, match=match):
        build("photo", full_layout())


def test_auto_encoding_follows_the_layout() -> None:
    from stvlm.modalities.image.build import resolve_encoding

    assert resolve_encoding("auto", full_layout()) == "grid_heatmap"
    graph_only = SpatialLayout.build(num_nodes=3, adjacency=torch.ones(3, 3))
    assert resolve_encoding("auto", graph_only) == "spectral_grid"
    assert resolve_encoding("auto", SpatialLayout.build(num_nodes=3)) == "node_time"
    assert resolve_encoding("fft", graph_only) == "fft"
    assert type(build("auto", graph_only)).__name__ == type(build("spectral_grid", graph_only)).__name__


@pytest.mark.parametrize("name", ["correlation", "flow"])
def test_encoders_that_need_two_steps(name: str) -> None:
    with pytest.raises(ConfigError, match=f"'{name}' needs input_len >= 2; got input_len = 1"):
        build(name, full_layout(), t=1)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"image_size": 0}, "image_size = 0 is not allowed; expected a positive integer"),
        ({"image_size": True}, "image_size = True is not allowed"),
        ({"image_size": 2.5}, "image_size = 2.5 is not allowed"),
        ({"input_len": -1}, "input_len = -1 is not allowed"),
        ({"in_channels": 0}, "in_channels = 0 is not allowed"),
        ({"image_std": (0.5, 0.0, 0.5)}, r"image_std = \(0.5, 0.0, 0.5\) .* 3 positive"),
        ({"image_mean": (0.5, 0.5)}, r"image_mean = \(0.5, 0.5\) is not allowed; expected 3 fin"),
        ({"image_mean": (0.5, float("nan"), 0.5)}, "image_mean = "),
    ],
)
def test_bad_arguments(kwargs, match) -> None:
    args = dict(input_len=12, in_channels=1, image_size=16, image_mean=MEAN, image_std=STD)
    args.update(kwargs)
    with pytest.raises(ConfigError, match=match):
        build_image_encoder(ImageConfig(encoding="node_time"), full_layout(), **args)


def test_wrong_input_shape() -> None:
    enc = build("node_time", full_layout(), c=2)
    match = r"shape \(2, 12, 6, 3\); expected \[B, T_in=12, N=6, C=2\]"
    with pytest.raises(ConfigError, match=match):
        enc(torch.zeros(2, 12, 6, 3))


def test_direct_construction_checks_the_layout() -> None:
    spec = ImageSpec(
        cfg=ImageConfig(), layout=SpatialLayout.build(num_nodes=6, name="bare"), input_len=12,
        in_channels=1, image_size=16, image_mean=MEAN, image_std=STD,
    )
    with pytest.raises(ConfigError, match="'grid_heatmap' needs node coordinates, which .* 'bare'"):
        GridHeatmap(spec)
    with pytest.raises(ConfigError, match="'spectral_grid' needs an adjacency matrix"):
        SpectralGrid(spec)
