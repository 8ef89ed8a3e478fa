"""V1 ``grid_heatmap``: nodes placed on a grid by their coordinates (the spatial-to-image view).

Node ``n`` at ``(x, y)`` falls in cell ``g(n) = min(floor(y H), H-1) * W + min(floor(x W), W-1)``
of an ``H x W`` grid: ``G x G`` (``ImageConfig.grid``) for coordinate datasets, and the dataset's
own ``rows x cols`` for natively gridded ones (no re-binning: with cell-centre coordinates every
node keeps its own cell). Each cell holds the mean over its nodes of three channels: the last
frame, the window mean and the trend (last - first); the statistics are linear in time, so they
are taken per node first and then averaged per cell (``index_add`` of the sums times the static
``1 / count``, the same as ``scatter_reduce(..., "mean")``). With ``ImageConfig.blur > 0`` empty cells
are filled by a normalised Gaussian convolution (``conv(values) / conv(occupancy)``, fixed
kernel of std ``blur`` cells, radius ``ceil(3 blur)``); occupied cells keep their exact value,
and empty cells farther than the radius from any node stay 0. The grid is then fitted to
``S x S`` with ``nearest-exact`` (see ``base.py``), so a node's cell is a known pixel block.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from stvlm.modalities.image.base import IMAGE_ENCODERS, ImageEncoder, ImageSpec, fit_to_square

_TINY = 1e-12  # below this blurred occupancy a cell counts as out of every node's reach


def gaussian_kernel(sigma: float, limit: int) -> torch.Tensor:
    """A ``[1, 1, k, k]`` Gaussian (peak 1, unnormalised), radius ``min(ceil(3 sigma), limit)``."""
    radius = max(1, min(math.ceil(3 * sigma), limit))
    d = torch.arange(-radius, radius + 1, dtype=torch.float32)  # [k]
    g = torch.exp(-(d[:, None] ** 2 + d[None, :] ** 2) / (2 * sigma**2))  # [k, k]
    return g[None, None]


class CoordinateGridEncoder(ImageEncoder):
    """Scatter node statistics onto an ``H x W`` grid at given positions (V1 machinery).

    Args:
        spec: the encoder spec.
        positions: ``[N, 2]`` (x, y) in [0, 1]^2.
        grid_shape: ``(H, W)``.
        placed_by: how positions were obtained, for :attr:`description`.
    """

    def __init__(
        self, spec: ImageSpec, positions: torch.Tensor, grid_shape: tuple[int, int], placed_by: str
    ) -> None:
        super().__init__(spec)
        h, w = grid_shape
        self.grid_shape = (h, w)
        pos = positions.to(torch.float32)
        col = torch.floor(pos[:, 0] * w).clamp(0, w - 1).to(torch.int64)  # [N]
        row = torch.floor(pos[:, 1] * h).clamp(0, h - 1).to(torch.int64)  # [N]
        cells = row * w + col  # [N]
        counts = torch.bincount(cells, minlength=h * w).to(torch.float32)  # [H*W]
        occupied = (counts > 0).to(torch.float32).view(1, 1, h, w)  # [1, 1, H, W]
        self.register_buffer("positions", pos, persistent=False)
        self.register_buffer("cells", cells, persistent=False)
        self.register_buffer("inv_counts", 1.0 / counts.clamp_min(1.0), persistent=False)
        self.register_buffer("occupied", occupied, persistent=False)
        self.blur = float(spec.cfg.blur)
        if self.blur > 0:
            kernel = gaussian_kernel(self.blur, max(h, w))  # [1, 1, k, k]
            reach = F.conv2d(occupied, kernel, padding=kernel.shape[-1] // 2)  # [1, 1, H, W]
            self.register_buffer("kernel", kernel, persistent=False)
            self.register_buffer("reach", reach, persistent=False)
        self.description = (
            f"The image maps {self.num_nodes} nodes onto a {h}x{w} grid {placed_by} "
            "(channels: last value, mean, trend)."
        )

    def grid(self, x: torch.Tensor) -> torch.Tensor:
        """Native grid image of a window.

        Args:
            x: ``[B, T, N, C]``.

        Returns:
            ``[B, 3, H, W]``: per cell the mean over its nodes of (last, mean, last - first),
            empty cells filled as the module docstring says.
        """
        v = x[..., 0]  # [B, T, N]
        stats = torch.stack([v[:, -1], v.mean(dim=1), v[:, -1] - v[:, 0]], dim=1)  # [B, 3, N]
        b = v.shape[0]
        h, w = self.grid_shape
        sums = stats.new_zeros(b, 3, h * w).index_add(2, self.cells, stats)  # [B, 3, H*W]
        grid = (sums * self.inv_counts).view(b, 3, h, w)  # [B, 3, H, W]
        if self.blur > 0:
            pad = self.kernel.shape[-1] // 2
            num = F.conv2d(grid.reshape(b * 3, 1, h, w), self.kernel, padding=pad)  # [B*3,1,H,W]
            num = num.view(b, 3, h, w)  # [B, 3, H, W]
            filled = torch.where(self.reach > _TINY, num / self.reach.clamp_min(_TINY), 0.0)
            grid = torch.where(self.occupied > 0, grid, filled)  # [B, 3, H, W]
        return grid

    def render(self, x: torch.Tensor) -> torch.Tensor:
        return fit_to_square(self.grid(x), self.size)  # [B, 3, S, S]

    def node_positions(self) -> torch.Tensor:
        return self.positions


@IMAGE_ENCODERS.register("grid_heatmap")
class GridHeatmap(CoordinateGridEncoder):
    """V1: a heat map of the nodes at their real coordinates (or the dataset's native grid)."""

    requires = "coordinates"

    def __init__(self, spec: ImageSpec) -> None:
        self.check_spec(spec)
        layout = spec.layout
        g = spec.cfg.grid
        shape = layout.grid_shape or (g, g)
        how = "as the dataset's own grid" if layout.grid_shape else "by their coordinates"
        super().__init__(spec, layout.coords, shape, how)
