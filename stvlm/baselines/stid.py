"""An STID-style MLP: window embedding + node, time-of-day and day-of-week embeddings.

Paper: Shao et al., "Spatial-Temporal Identity: A Simple yet Effective Baseline for Multivariate
Time Series Forecasting", CIKM 2022 (repo GestaltCogTeam/STID). This is a compact re-implementation
following its structure (identity embeddings concatenated to a linear window encoding, then
residual MLP layers and a linear regression head), not a copy. Two deviations, on purpose, both
switchable: the window embedding also reads the periodic lookback (``lookback``), and time of
day / day of week are linear maps of continuous calendar features (``time_encoding="cyclic"``)
instead of STID's learned tables, whose rows a few-shot block never visits stay random. Its
dropout is :class:`~stvlm.baselines.dropout.FastDropout`: the same rate (to 1/65,536), cheaper
random masks.
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import nn

from stvlm.baselines.dropout import FastDropout
from stvlm.baselines.base import NeuralBaseline, TargetUnscaler, forecast_shapes
from stvlm.configs import Config, config_class, field
from stvlm.data.batch import STBatch, checked_lookback, lookback_per_node
from stvlm.data.forecast import Forecast
from stvlm.data.timefeatures import calendar_feature_count, calendar_features


@config_class
class STIDConfig(Config):
    """STID settings (defaults follow STID's: 32-wide embeddings, 3 layers)."""

    embed_dim: int = field(32, ge=1, help="width of the window embedding")
    node_dim: int = field(32, ge=0, help="node identity embedding (0: none)")
    tod_dim: int = field(32, ge=0, help="time-of-day embedding (0: none)")
    dow_dim: int = field(32, ge=0, help="day-of-week embedding (0: none)")
    layers: int = field(3, ge=1, help="residual MLP layers")
    dropout: float = field(0.15, ge=0.0, lt=1.0)
    lookback: bool = field(True, help="embed the periodic lookback with the window")
    time_encoding: Literal["cyclic", "table"] = field(
        "cyclic", help="'cyclic': calendar features; 'table': STID's learned rows"
    )


class _ResidualMLP(nn.Module):
    def __init__(self, width: int, dropout: float) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(width, width), nn.ReLU(), FastDropout(dropout), nn.Linear(width, width)
        )

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return h + self.net(h)


class STIDForecaster(nn.Module):
    """``[B, T_in, N, C]`` -> ``[B, T_out, N, C_out]`` in original units."""

    def __init__(
        self, cfg: STIDConfig, *, num_nodes: int, input_len: int, in_channels: int,
        output_len: int, steps_per_day: int, unscaler: TargetUnscaler, lookback_lags: int = 0,
    ) -> None:
        super().__init__()
        self.lookback_lags = lookback_lags if cfg.lookback else 0
        out_channels = int(unscaler.mean.numel())
        width_in = input_len * in_channels + self.lookback_lags * (input_len + output_len) * out_channels
        self.window = nn.Linear(width_in, cfg.embed_dim)
        self.node = nn.Parameter(torch.empty(num_nodes, cfg.node_dim)) if cfg.node_dim else None
        self.steps_per_day, self.cyclic = steps_per_day, cfg.time_encoding == "cyclic"
        features = calendar_feature_count()
        if self.cyclic:
            self.tod = nn.Linear(features, cfg.tod_dim) if cfg.tod_dim else None
            self.dow = nn.Linear(features, cfg.dow_dim) if cfg.dow_dim else None
        else:
            self.tod = nn.Embedding(steps_per_day, cfg.tod_dim) if cfg.tod_dim else None
            self.dow = nn.Embedding(7, cfg.dow_dim) if cfg.dow_dim else None
        if self.node is not None:
            nn.init.xavier_uniform_(self.node)
        width = cfg.embed_dim + cfg.node_dim + cfg.tod_dim + cfg.dow_dim
        self.encoder = nn.Sequential(*[_ResidualMLP(width, cfg.dropout) for _ in range(cfg.layers)])
        self.out_channels = int(unscaler.mean.numel())
        self.output_len = output_len
        self.head = nn.Linear(width, output_len * self.out_channels)
        self.unscale = unscaler

    def forward(self, batch: STBatch) -> torch.Tensor:
        b, t, n, c = batch.x.shape
        window = batch.x.permute(0, 2, 1, 3).reshape(b, n, t * c)  # [B, N, T_in*C]
        if self.lookback_lags:
            lag = lookback_per_node(checked_lookback(batch, self.lookback_lags, "stid"))  # [B, N, P*(T_in+T_out)*C_out]
            window = torch.cat([window, lag], dim=-1)  # [B, N, F]
        parts = [self.window(window)]  # [B, N, E]
        if self.node is not None:
            parts.append(self.node.unsqueeze(0).expand(b, -1, -1))  # [B, N, Dn]
        tod, dow = batch.x_tod[:, -1], batch.x_dow[:, -1]  # [B]
        if self.cyclic:  # STID's tod and dow parts read the same calendar features
            tod = dow = calendar_features(tod, dow, self.steps_per_day)  # [B, F]
        if self.tod is not None:
            parts.append(self.tod(tod).unsqueeze(1).expand(-1, n, -1))  # [B, N, Dt]
        if self.dow is not None:
            parts.append(self.dow(dow).unsqueeze(1).expand(-1, n, -1))  # [B, N, Dw]
        h = self.encoder(torch.cat(parts, dim=-1))  # [B, N, W]
        out = self.head(h).reshape(b, n, self.output_len, self.out_channels)  # [B, N, T_out, C_out]
        return self.unscale(out.permute(0, 2, 1, 3))  # [B, T_out, N, C_out]


class STIDBaseline(NeuralBaseline):
    name = "stid"

    def __init__(self, cfg: STIDConfig | None = None) -> None:
        super().__init__()
        self.cfg = cfg or STIDConfig()

    def build(self, forecast: Forecast) -> nn.Module:
        return STIDForecaster(self.cfg, **forecast_shapes(forecast))
