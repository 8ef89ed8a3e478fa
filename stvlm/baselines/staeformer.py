"""STAEformer: a vanilla transformer over time, then over nodes, on spatio-temporal adaptive embeddings.

Paper: Liu, Liu, Jin, Liu, Song, Zhang, Huang, "STAEformer: Spatio-Temporal Adaptive Embedding
Makes Vanilla Transformer SOTA for Traffic Forecasting", CIKM 2023 (repo XDZhelheim/STAEformer,
``model/STAEformer.py``). A compact re-implementation of the reference's structure, not a copy:

* token ``(t, n)`` = concat of a linear embedding of the input values (24), a time-of-day part
  (24), a day-of-week part (24) and the adaptive embedding, a learned ``[T_in, N, 80]`` tensor
  (xavier-uniform initialised); model width 152 with the defaults;
* 3 self-attention layers along ``T`` (each node, each window), then 3 along ``N`` (each step);
  post-LN layers ``LN(h + Dropout(MHA(h)))``, ``LN(h + Dropout(FFN(h)))`` with a ReLU FFN of
  width 256, 4 heads, dropout 0.1 (none on the attention weights, as in the reference);
* output ("mixed projection"): per node, the ``[T_in, D]`` tokens flattened -> one linear ->
  ``T_out * C_out``.

Deviations from the reference, on purpose:

* No learned time-of-day / day-of-week lookup tables: in a few-shot block most of their rows are
  never visited and stay at their random initial values. The time-of-day part is a linear map of
  the daily harmonics of :func:`~stvlm.data.timefeatures.calendar_features` and the
  day-of-week part a linear map of its weekly features (day-of-week sine/cosine and the weekend
  flag), so both are trained by every window and defined on unseen days.
* The value embedding reads every scaled channel of ``batch.x`` (the reference: channel 0 only,
  its other input channels being the time-of-day / day-of-week indices).
* Attention is :class:`torch.nn.MultiheadAttention` (one fused Q/K/V projection with biases and
  an output projection: the same function class as the reference's separate ``FC_Q/K/V``).
* Periodic lookback (``STBatch.lookback``, not in the reference), when ``lookback`` is set and
  the forecast has ``P = len(lookback_lags) > 0`` lags (otherwise ``batch.lookback`` is
  ignored): the lagged values aligned with the input steps are concatenated to the value
  channels of each ``(t, n)`` token before the value embedding, and **a linear map of the lagged
  values at the target steps** (per node, ``P * T_out * C_out`` -> ``T_out * C_out``) **is added
  to the output** (in scaled units, before unscaling).
"""

from __future__ import annotations


import torch
from torch import nn

from stvlm.baselines.base import NeuralBaseline, TargetUnscaler, forecast_shapes
from stvlm.configs import Config, config_class, field
from stvlm.data.batch import STBatch, checked_lookback, lagged_inputs, lookback_per_node
from stvlm.data.forecast import Forecast
from stvlm.data.timefeatures import CALENDAR_HARMONICS, calendar_feature_count, calendar_features


@config_class
class STAEformerConfig(Config):
    """STAEformer settings (defaults are the paper's / reference's)."""

    input_embedding_dim: int = field(24, ge=1, help="width of the linear value embedding")
    tod_embedding_dim: int = field(24, ge=0, help="time-of-day part, linear in the daily harmonics (0: none)")
    dow_embedding_dim: int = field(24, ge=0, help="day-of-week part, linear in the weekly features (0: none)")
    adaptive_embedding_dim: int = field(80, ge=0, help="learned [T_in, N, d] embedding (0: none)")
    feed_forward_dim: int = field(256, ge=1, help="hidden width of the ReLU feed-forward")
    heads: int = field(4, ge=1, help="attention heads (must divide the model width)")
    temporal_layers: int = field(3, ge=0, help="self-attention layers along time")
    spatial_layers: int = field(3, ge=0, help="self-attention layers along the nodes")
    dropout: float = field(0.1, ge=0.0, lt=1.0, help="after attention and after the feed-forward")
    lookback: bool = field(True, help="feed the periodic lookback where the data has one")

    @property
    def model_dim(self) -> int:
        """Token width: value + time-of-day + day-of-week + adaptive embedding widths."""
        return (
            self.input_embedding_dim + self.tod_embedding_dim + self.dow_embedding_dim
            + self.adaptive_embedding_dim
        )

    def check(self) -> None:
        if self.model_dim % self.heads:
            self.fail("heads", f"must divide the model width {self.model_dim} (the sum of the embedding dims)")


class _SelfAttentionLayer(nn.Module):
    """Post-LN transformer layer over the second-to-last axis of ``[..., L, D]``."""

    def __init__(self, dim: int, ff: int, heads: int, dropout: float) -> None:
        super().__init__()
        self.attn = nn.MultiheadAttention(dim, heads, batch_first=True)
        self.ff = nn.Sequential(nn.Linear(dim, ff), nn.ReLU(), nn.Linear(ff, dim))
        self.ln1 = nn.LayerNorm(dim)
        self.ln2 = nn.LayerNorm(dim)
        self.drop1 = nn.Dropout(dropout)
        self.drop2 = nn.Dropout(dropout)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        lead = h.shape[:-2]
        seq = h.reshape(-1, *h.shape[-2:])  # [M, L, D]
        a, _ = self.attn(seq, seq, seq, need_weights=False)  # [M, L, D]
        seq = self.ln1(seq + self.drop1(a))  # [M, L, D]
        seq = self.ln2(seq + self.drop2(self.ff(seq)))  # [M, L, D]
        return seq.reshape(*lead, *seq.shape[-2:])  # [..., L, D]


class STAEformerForecaster(nn.Module):
    """``[B, T_in, N, C]`` (+ lookback) -> STAEformer -> ``[B, T_out, N, C_out]`` in original units."""

    def __init__(
        self, cfg: STAEformerConfig, *, num_nodes: int, input_len: int, in_channels: int,
        output_len: int, steps_per_day: int, lookback_lags: int, unscaler: TargetUnscaler,
    ) -> None:
        super().__init__()
        self.cfg = cfg
        self.steps_per_day = steps_per_day
        self.lookback_lags = lookback_lags = lookback_lags if cfg.lookback else 0
        self.out_channels = int(unscaler.mean.numel())
        self.output_len = output_len
        self.daily = 2 * CALENDAR_HARMONICS  # first features of calendar_features: daily harmonics
        weekly = calendar_feature_count() - self.daily  # then dow sine/cosine and the weekend flag
        d = cfg.model_dim

        self.input_proj = nn.Linear(in_channels + lookback_lags * self.out_channels, cfg.input_embedding_dim)
        self.tod_proj = nn.Linear(self.daily, cfg.tod_embedding_dim) if cfg.tod_embedding_dim else None
        self.dow_proj = nn.Linear(weekly, cfg.dow_embedding_dim) if cfg.dow_embedding_dim else None
        self.adaptive = None
        if cfg.adaptive_embedding_dim:
            self.adaptive = nn.Parameter(torch.empty(input_len, num_nodes, cfg.adaptive_embedding_dim))
            nn.init.xavier_uniform_(self.adaptive)  # [T_in, N, d_a]
        self.temporal = nn.ModuleList(
            _SelfAttentionLayer(d, cfg.feed_forward_dim, cfg.heads, cfg.dropout)
            for _ in range(cfg.temporal_layers)
        )
        self.spatial = nn.ModuleList(
            _SelfAttentionLayer(d, cfg.feed_forward_dim, cfg.heads, cfg.dropout)
            for _ in range(cfg.spatial_layers)
        )
        self.output_proj = nn.Linear(input_len * d, output_len * self.out_channels)
        self.lookback_proj = (
            nn.Linear(lookback_lags * output_len * self.out_channels, output_len * self.out_channels)
            if lookback_lags else None
        )
        self.unscale = unscaler

    def _lookback(self, batch: STBatch) -> torch.Tensor | None:
        return checked_lookback(batch, self.lookback_lags, "staeformer")  # [B, P, T_in + T_out, N, C_out]

    def forward(self, batch: STBatch) -> torch.Tensor:
        b, t_in, n, _ = batch.x.shape
        lb = self._lookback(batch)
        values = [batch.x]  # [B, T_in, N, C]
        if lb is not None:
            values.append(lagged_inputs(lb, t_in))  # [B, T_in, N, P*C_out]
        tokens = [self.input_proj(torch.cat(values, dim=-1))]  # [B, T_in, N, d_in]
        cal = calendar_features(batch.x_tod, batch.x_dow, self.steps_per_day).to(batch.x.dtype)  # [B, T_in, F]
        if self.tod_proj is not None:
            tod = self.tod_proj(cal[..., : self.daily])  # [B, T_in, d_tod]
            tokens.append(tod[:, :, None, :].expand(-1, -1, n, -1))  # [B, T_in, N, d_tod]
        if self.dow_proj is not None:
            dow = self.dow_proj(cal[..., self.daily :])  # [B, T_in, d_dow]
            tokens.append(dow[:, :, None, :].expand(-1, -1, n, -1))  # [B, T_in, N, d_dow]
        if self.adaptive is not None:
            tokens.append(self.adaptive.expand(b, -1, -1, -1))  # [B, T_in, N, d_a]
        h = torch.cat(tokens, dim=-1)  # [B, T_in, N, D]

        h = h.transpose(1, 2)  # [B, N, T_in, D]: attention along time
        for layer in self.temporal:
            h = layer(h)  # [B, N, T_in, D]
        h = h.transpose(1, 2)  # [B, T_in, N, D]: attention along the nodes
        for layer in self.spatial:
            h = layer(h)  # [B, T_in, N, D]

        flat = h.transpose(1, 2).reshape(b, n, -1)  # [B, N, T_in*D]
        out = self.output_proj(flat)  # [B, N, T_out*C_out]
        if lb is not None:
            lagged_out = lookback_per_node(lb[:, :, t_in:])  # [B, N, P*T_out*C_out]
            out = out + self.lookback_proj(lagged_out)  # [B, N, T_out*C_out]
        out = out.reshape(b, n, self.output_len, self.out_channels)  # [B, N, T_out, C_out]
        return self.unscale(out.transpose(1, 2))  # [B, T_out, N, C_out]


class STAEformerBaseline(NeuralBaseline):
    name = "staeformer"

    def __init__(self, cfg: STAEformerConfig | None = None) -> None:
        super().__init__()
        self.cfg = cfg or STAEformerConfig()

    def build(self, forecast: Forecast) -> nn.Module:
        return STAEformerForecaster(self.cfg, **forecast_shapes(forecast))
