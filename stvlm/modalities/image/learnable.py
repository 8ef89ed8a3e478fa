"""V5 ``learnable``: a multi-scale convolutional image learned with the model (Time-VLM style).

After Time-VLM's ``LearnableTimeSeriesToImage``: the value channel and ``sin/cos(2 pi t / T_in)``
of the step's position in the window form ``[B, T, N, 3]``; a ``Conv1d(3 -> h, k=3)`` runs along
time for every node, the result is laid out as ``[B, h, T, N]`` (rows = steps, columns = nodes
in ``SpatialLayout.order``), and ``Conv2d(h -> h/2, 3) -> ReLU -> Conv2d(h/2 -> 3, 3)`` makes the
three channels (``h = ImageConfig.learnable_hidden``). The image is fitted to ``S x S`` and ends
in a sigmoid, so the pixels stay in (0, 1) and the gradient of the forecasting loss reaches every
weight (Time-VLM's ``uint8`` cast cuts it). Node of rank ``r`` sits at ``x = (r + 0.5) / N``.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from stvlm.modalities.image.base import (
    IMAGE_ENCODERS,
    ImageEncoder,
    ImageSpec,
    fit_to_square,
    rank_positions,
)


@IMAGE_ENCODERS.register("learnable")
class Learnable(ImageEncoder):
    """V5: conv1d over time per node, then conv2d over the (time, node) plane."""

    learned = True

    def __init__(self, spec: ImageSpec) -> None:
        super().__init__(spec)
        hidden = spec.cfg.learnable_hidden
        half = max(1, hidden // 2)
        self.temporal = nn.Conv1d(3, hidden, kernel_size=3, padding=1)
        self.mix = nn.Conv2d(hidden, half, kernel_size=3, padding=1)
        self.out = nn.Conv2d(half, 3, kernel_size=3, padding=1)
        self.act = nn.ReLU()
        order = spec.layout.order.clone()
        x = rank_positions(order)  # [N]
        t = torch.arange(spec.input_len, dtype=torch.float32) * (2 * math.pi / spec.input_len)
        self.register_buffer("order", order, persistent=False)
        self.register_buffer("phase", torch.stack([t.sin(), t.cos()], dim=1), persistent=False)
        self.register_buffer(
            "positions", torch.stack([x, torch.full_like(x, 0.5)], dim=1), persistent=False
        )
        self.description = (
            f"The image is a learned rendering of the window, {self.num_nodes} nodes as columns."
        )

    def render(self, x: torch.Tensor) -> torch.Tensor:
        v = x[..., 0].index_select(2, self.order)  # [B, T, N]
        b, t, n = v.shape
        phase = self.phase[None, :, None, :].expand(b, t, n, 2)  # [B, T, N, 2]
        feats = torch.cat([v[..., None], phase], dim=-1)  # [B, T, N, 3]
        seq = feats.permute(0, 2, 3, 1).reshape(b * n, 3, t)  # [B*N, 3, T]
        h = self.act(self.temporal(seq))  # [B*N, h, T]
        h = h.view(b, n, -1, t).permute(0, 2, 3, 1)  # [B, h, T, N]
        img = self.out(self.act(self.mix(h)))  # [B, 3, T, N]
        return torch.sigmoid(fit_to_square(img, self.size))  # [B, 3, S, S]

    def node_positions(self) -> torch.Tensor:
        return self.positions
