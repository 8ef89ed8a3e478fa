"""V2 ``node_time``: a node x time matrix, nodes ordered so that graph neighbours are adjacent.

Rows are the nodes in ``SpatialLayout.order`` (Fiedler order; index order without adjacency),
columns are the input steps. Channels: the value ``M``, its step-to-step change (0 at the first
step) and the per-node z-score over the window. Many nodes are average-pooled to ``S`` rows
(``base.fit_to_square``); node of rank ``r`` sits at height ``(r + 0.5) / N``.
"""

from __future__ import annotations

import torch

from stvlm.modalities.image.base import (
    IMAGE_ENCODERS,
    ImageEncoder,
    ImageSpec,
    fit_to_square,
    rank_positions,
    time_diff,
    zscore_time,
)


@IMAGE_ENCODERS.register("node_time")
class NodeTime(ImageEncoder):
    """V2: rows = nodes in graph order, columns = time."""

    def __init__(self, spec: ImageSpec) -> None:
        super().__init__(spec)
        order = spec.layout.order.clone()
        y = rank_positions(order)  # [N]
        positions = torch.stack([torch.full_like(y, 0.5), y], dim=1)  # [N, 2]
        self.register_buffer("order", order, persistent=False)
        self.register_buffer("positions", positions, persistent=False)
        self.description = (
            f"The image shows {self.num_nodes} nodes (rows, in graph order) over time "
            "(columns); channels: value, change, per-node z-score."
        )

    def matrix(self, x: torch.Tensor) -> torch.Tensor:
        """Native image ``[B, 3, N, T]`` of a window ``x [B, T, N, C]`` (rows in layout order)."""
        m = x[..., 0].index_select(2, self.order).transpose(1, 2)  # [B, N, T]
        return torch.stack([m, time_diff(m, dim=2), zscore_time(m, dim=2)], dim=1)  # [B,3,N,T]

    def render(self, x: torch.Tensor) -> torch.Tensor:
        return fit_to_square(self.matrix(x), self.size)  # [B, 3, S, S]

    def node_positions(self) -> torch.Tensor:
        return self.positions
