"""A GRU shared by all nodes: each node's window is a sequence, the last state predicts T_out.

With a periodic lookback (``lookback``), each input step also carries the lagged values of that
step, and the head also reads the lagged values of the target steps.
"""

from __future__ import annotations


import torch
from torch import nn

from stvlm.baselines.base import NeuralBaseline, TargetUnscaler
from stvlm.configs import Config, config_class, field
from stvlm.data.batch import STBatch, checked_lookback, lagged_inputs
from stvlm.data.forecast import Forecast


@config_class
class GRUConfig(Config):
    """GRU settings."""

    hidden: int = field(64, ge=1)
    layers: int = field(1, ge=1)
    dropout: float = field(0.0, ge=0.0, lt=1.0, help="between GRU layers (needs layers > 1)")
    lookback: bool = field(True, help="feed the periodic lookback where the data has one")


class GRUForecaster(nn.Module):
    """``[B, T_in, N, C]`` -> per-node GRU -> ``[B, T_out, N, C_out]`` in original units."""

    def __init__(
        self, cfg: GRUConfig, *, in_channels: int, output_len: int, unscaler: TargetUnscaler,
        lookback_lags: int = 0,
    ):
        super().__init__()
        self.out_channels = int(unscaler.mean.numel())
        self.lags = lookback_lags if cfg.lookback else 0
        self.gru = nn.GRU(
            in_channels + self.lags * self.out_channels, cfg.hidden, num_layers=cfg.layers,
            batch_first=True, dropout=cfg.dropout if cfg.layers > 1 else 0.0,
        )
        self.output_len = output_len
        head_in = cfg.hidden + self.lags * output_len * self.out_channels
        self.proj = nn.Linear(head_in, output_len * self.out_channels)
        self.unscale = unscaler

    def forward(self, batch: STBatch) -> torch.Tensor:
        b, t, n, c = batch.x.shape
        x, ahead = batch.x, None
        if self.lags:
            lb = checked_lookback(batch, self.lags, "gru")  # [B, P, T_in + T_out, N, C_out]
            x = torch.cat([x, lagged_inputs(lb, t)], dim=-1)  # [B, T_in, N, C + P*C_out]
            ahead = lb[:, :, t:].permute(0, 3, 2, 1, 4).reshape(b * n, -1)  # [B*N, T_out*P*C_out]
        seq = x.permute(0, 2, 1, 3).reshape(b * n, t, x.shape[-1])  # [B*N, T_in, C']
        _, h = self.gru(seq)  # h: [layers, B*N, H]
        state = h[-1] if ahead is None else torch.cat([h[-1], ahead], dim=-1)  # [B*N, H']
        out = self.proj(state)  # [B*N, T_out*C_out]
        out = out.reshape(b, n, self.output_len, self.out_channels).permute(0, 2, 1, 3)  # [B, T_out, N, C_out]
        return self.unscale(out)


class GRUBaseline(NeuralBaseline):
    name = "gru"

    def __init__(self, cfg: GRUConfig | None = None) -> None:
        super().__init__()
        self.cfg = cfg or GRUConfig()

    def build(self, forecast: Forecast) -> nn.Module:
        return GRUForecaster(
            self.cfg,
            in_channels=forecast.data.num_channels,
            output_len=forecast.protocol.output_len,
            unscaler=TargetUnscaler(forecast),
            lookback_lags=len(getattr(forecast, "lookback_lags", ())),
        )
