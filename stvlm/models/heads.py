"""Prediction head: ST-token outputs -> a forecast per node (ST-LLM's regression layer).

Each node's output token (optionally concatenated with the pooled text and image outputs,
broadcast over the nodes) goes through the same linear map (or a one-hidden-layer MLP) to
``T_out x C_out`` values, in scaled units; the composed model undoes the scaling.
"""

from __future__ import annotations

import torch
from torch import nn

from stvlm.configs import HeadConfig


class PredictionHead(nn.Module):
    """Per-node head: ``tokens [B, N, d]`` (+ ``context [B, c]``) -> ``[B, T_out, N, C_out]``.

    Args:
        cfg: hidden width (0: linear), dropout.
        dim: token width d.
        context_dim: width c of the pooled context (0: none).
        output_len: T_out.
        out_channels: C_out.
    """

    def __init__(
        self, cfg: HeadConfig, *, dim: int, context_dim: int, output_len: int, out_channels: int
    ) -> None:
        super().__init__()
        self.output_len, self.out_channels, self.context_dim = output_len, out_channels, context_dim
        width = dim + context_dim
        out = output_len * out_channels
        self.dropout = nn.Dropout(cfg.dropout)
        if cfg.hidden:
            self.net = nn.Sequential(nn.Linear(width, cfg.hidden), nn.GELU(), nn.Linear(cfg.hidden, out))
        else:
            self.net = nn.Linear(width, out)
        if cfg.zero_init:  # the forecast starts at the prior; the head learns a correction
            nn.init.zeros_(self.output_layer.weight)
            nn.init.zeros_(self.output_layer.bias)

    @property
    def output_layer(self) -> nn.Linear:
        """The linear map that produces the forecast (the MLP's last layer, or the whole head)."""
        return self.net[-1] if isinstance(self.net, nn.Sequential) else self.net

    def forward(self, tokens: torch.Tensor, context: torch.Tensor | None = None) -> torch.Tensor:
        """Forecast of every node.

        Args:
            tokens: ``[B, N, d]`` ST-token outputs.
            context: ``[B, c]`` pooled context, required iff ``context_dim > 0``.

        Returns:
            ``[B, T_out, N, C_out]``.
        """
        b, n, _ = tokens.shape
        if self.context_dim:
            tokens = torch.cat([tokens, context[:, None, :].expand(-1, n, -1)], dim=-1)  # [B, N, d + c]
        out = self.net(self.dropout(tokens))  # [B, N, T_out * C_out]
        out = out.view(b, n, self.output_len, self.out_channels)  # [B, N, T_out, C_out]
        return out.permute(0, 2, 1, 3)  # [B, T_out, N, C_out]
