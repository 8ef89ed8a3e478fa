"""V4 ``fft``: the frequency spectrum of every node's window (periodicity).

``F = rfft(x[..., 0], dim=time)`` gives ``[B, T//2 + 1, N]``. Channels: ``log1p(|F|)``, the
cosine of the phase (``Re F / (|F| + 1e-6)``, so empty bins give 0), and the ``node_time``
value image ``[B, T, N]``; each is fitted to ``S x S`` on its own (different heights). Columns
are the nodes in ``SpatialLayout.order`` (node of rank ``r`` at ``x = (r + 0.5) / N``), rows
are frequencies (or steps for the value channel). With ``T_in = 12`` there are only 7
frequencies, so the image is coarse.
"""

from __future__ import annotations

import torch

from stvlm.modalities.image.base import (
    IMAGE_ENCODERS,
    ImageEncoder,
    ImageSpec,
    fit_to_square,
    rank_positions,
)

_EPS = 1e-6  # keeps the phase cosine of an empty frequency bin at 0


@IMAGE_ENCODERS.register("fft")
class Fft(ImageEncoder):
    """V4: log-magnitude and phase of each node's spectrum, plus the values, nodes as columns."""

    def __init__(self, spec: ImageSpec) -> None:
        super().__init__(spec)
        order = spec.layout.order.clone()
        x = rank_positions(order)  # [N]
        self.register_buffer("order", order, persistent=False)
        self.register_buffer(
            "positions", torch.stack([x, torch.full_like(x, 0.5)], dim=1), persistent=False
        )
        self.description = (
            f"The image shows the frequency spectrum of each of {self.num_nodes} nodes "
            "(columns); channels: log magnitude, phase cosine, values."
        )

    def spectrum(self, x: torch.Tensor) -> torch.Tensor:
        """``[B, 2, T//2 + 1, N]`` (log1p magnitude, phase cosine) of ``x [B, T, N, C]``."""
        v = x[..., 0].index_select(2, self.order)  # [B, T, N]
        f = torch.fft.rfft(v, dim=1)  # [B, F, N] complex
        mag = f.abs()  # [B, F, N]
        return torch.stack([torch.log1p(mag), f.real / (mag + _EPS)], dim=1)  # [B, 2, F, N]

    def render(self, x: torch.Tensor) -> torch.Tensor:
        values = x[..., 0].index_select(2, self.order)[:, None]  # [B, 1, T, N]
        spec = fit_to_square(self.spectrum(x), self.size)  # [B, 2, S, S]
        return torch.cat([spec, fit_to_square(values, self.size)], dim=1)  # [B, 3, S, S]

    def node_positions(self) -> torch.Tensor:
        return self.positions
