"""V6 ``flow``: the step-to-step changes ``X_t - X_{t-1}`` through a spatial layout.

The differenced window ``[B, T-1, N, C]`` goes through ``grid_heatmap`` when the dataset has
coordinates, else ``spectral_grid`` when it has an adjacency (pseudo coordinates), else
``node_time``; node positions are those of that inner encoder. Needs ``T_in >= 2``.
"""

from __future__ import annotations

import torch

from stvlm.modalities.image.base import IMAGE_ENCODERS, ImageEncoder, ImageSpec
from stvlm.modalities.image.grid_heatmap import GridHeatmap
from stvlm.modalities.image.node_time import NodeTime
from stvlm.modalities.image.spectral_grid import SpectralGrid

# The first inner layout that the dataset supports, in order of preference.
_INNER: tuple[type[ImageEncoder], ...] = (GridHeatmap, SpectralGrid, NodeTime)


@IMAGE_ENCODERS.register("flow")
class Flow(ImageEncoder):
    """V6: temporal differences rendered by the best available layout encoder."""

    min_input_len = 2

    def __init__(self, spec: ImageSpec) -> None:
        super().__init__(spec)
        inner_cls = next(cls for cls in _INNER if cls.supports(spec.layout))
        self.inner = inner_cls(spec)
        inner = self.inner.description
        self.description = "Step-to-step changes: " + inner[0].lower() + inner[1:]

    def render(self, x: torch.Tensor) -> torch.Tensor:
        return self.inner.render(torch.diff(x, dim=1))  # [B, T-1, N, C] -> [B, 3, S, S]

    def node_positions(self) -> torch.Tensor:
        return self.inner.node_positions()
