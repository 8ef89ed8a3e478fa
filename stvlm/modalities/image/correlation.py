"""V3 ``correlation``: the window's dynamic correlation between nodes, with the static graph.

``Z = (X - mean_t) / (std_t + 1e-6)`` per node and ``Corr = Z^T Z / T`` (one ``bmm``), laid out
as an ``N x N`` image in ``SpatialLayout.order``. Channels with an adjacency: (Corr, the static
GCN-normalised adjacency ``D^-1/2 (W + I) D^-1/2`` of the symmetrised graph, their product).
Without an adjacency the encoder still works on the dynamic part only: (Corr, the correlation of
the step-to-step changes, ``|Corr|``). Node of rank ``r`` sits on the diagonal cell
``((r + 0.5) / N, (r + 0.5) / N)``.

Cost: quadratic in N, O(B T N^2) time and O(B N^2) memory (several ``[B, N, N]`` float32
tensors per batch, plus the dense ``N x N`` static graph), before the image is pooled to
``S x S``. The encoder is therefore refused for datasets with more than
``ImageConfig.max_nodes`` nodes (default 2,048: 48 MiB per window and channel stack); the
other encodings are linear in N.
"""

from __future__ import annotations

import torch

from stvlm.modalities.image.base import (
    IMAGE_ENCODERS,
    ImageEncoder,
    ImageSpec,
    fit_to_square,
    rank_positions,
    zscore_time,
)


def gcn_normalised(adjacency: torch.Tensor) -> torch.Tensor:
    """``D^-1/2 (W + I) D^-1/2`` of ``W = max((A + A^T)/2, 0)`` without self loops, ``[N, N]``."""
    a = adjacency.to(torch.float32)
    w = ((a + a.T) / 2).clamp_min(0.0)  # [N, N]
    w.fill_diagonal_(0.0)
    w = w + torch.eye(w.shape[0])
    inv_sqrt = w.sum(dim=1).rsqrt()  # [N], degree >= 1
    return inv_sqrt[:, None] * w * inv_sqrt[None, :]


def correlation_matrix(v: torch.Tensor) -> torch.Tensor:
    """Pearson correlation between nodes over time: ``v [B, T, N] -> [B, N, N]``."""
    z = zscore_time(v, dim=1)  # [B, T, N]
    return torch.bmm(z.transpose(1, 2), z) / v.shape[1]  # [B, N, N]


@IMAGE_ENCODERS.register("correlation")
class Correlation(ImageEncoder):
    """V3: node x node correlation of the window (+ the static adjacency when known)."""

    min_input_len = 2
    quadratic = True

    def __init__(self, spec: ImageSpec) -> None:
        super().__init__(spec)
        layout = spec.layout
        order = layout.order.clone()
        r = rank_positions(order)  # [N]
        self.register_buffer("order", order, persistent=False)
        self.register_buffer("positions", torch.stack([r, r], dim=1), persistent=False)
        self.static = layout.adjacency is not None
        if self.static:
            adj = gcn_normalised(layout.adjacency)[order][:, order]  # [N, N] in layout order
            self.register_buffer("adjacency", adj, persistent=False)
            channels = "correlation, static graph, their product"
        else:
            channels = "correlation, correlation of changes, its magnitude"
        self.description = (
            f"The image shows the {self.num_nodes}x{self.num_nodes} correlation between nodes "
            f"in the window; channels: {channels}."
        )

    def matrix(self, x: torch.Tensor) -> torch.Tensor:
        """Native image ``[B, 3, N, N]`` of a window ``x [B, T, N, C]`` (layout order)."""
        v = x[..., 0].index_select(2, self.order)  # [B, T, N]
        corr = correlation_matrix(v)  # [B, N, N]
        if self.static:
            adj = self.adjacency.expand_as(corr)  # [B, N, N]
            return torch.stack([corr, adj, adj * corr], dim=1)  # [B, 3, N, N]
        dcorr = correlation_matrix(torch.diff(v, dim=1))  # [B, N, N]
        return torch.stack([corr, dcorr, corr.abs()], dim=1)  # [B, 3, N, N]

    def render(self, x: torch.Tensor) -> torch.Tensor:
        return fit_to_square(self.matrix(x), self.size)  # [B, 3, S, S]

    def node_positions(self) -> torch.Tensor:
        return self.positions
