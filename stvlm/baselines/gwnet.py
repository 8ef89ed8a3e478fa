"""Graph WaveNet: gated dilated causal convolutions over time, diffusion graph convolutions.

Paper: Wu, Pan, Long, Jiang, Zhang, "Graph WaveNet for Deep Spatial-Temporal Graph Modeling",
IJCAI 2019 (repo nnzhan/Graph-WaveNet, ``model.py``). A compact re-implementation of the
reference's structure, not a copy:

* supports: the forward and backward transition matrices ``D^-1 A`` and ``D^-1 A^T`` of the
  dataset adjacency (the reference's ``doubletransition``) when ``forecast.data.adjacency`` is
  not ``None``, plus the adaptive adjacency ``softmax(ReLU(E1 E2), dim=1)`` (``E1 [N, d]``,
  ``E2 [d, N]``, ``d = 10``, standard normal initialisation as in the reference); without an
  adjacency only the adaptive one;
* ``blocks x layers`` layers of: dilated causal convolution over time (kernel ``(1, 2)``,
  dilation ``1, 2, ...`` restarting in each block), gate ``tanh(filter) * sigmoid(gate)``,
  1x1 skip convolution (skips summed over the layers, each cut to the last steps; in
  evaluation computed at the last step only, the one the head reads), diffusion
  graph convolution (powers ``1..order`` of every support concatenated with the input, 1x1
  convolution, dropout), residual add, BatchNorm;
* head ``ReLU(skip) -> 1x1 conv -> ReLU -> 1x1 conv`` to ``T_out * C_out`` channels;
* the input is left-padded with zeros to the receptive field ``1 + blocks (k - 1)(2^layers - 1)``
  (13 with the defaults, so the reference pads its 12 steps by one).

Diffusion follows the reference's ``nconv`` (``einsum('ncvl,vw->ncwl', x, A)``): node ``w``
receives ``sum_v A[v, w] h[v]``, i.e. ``A^T h`` in matrix notation, so a row-stochastic support
spreads each node's value over its out-neighbours.

Deviations from the reference, on purpose:

* The last layer's graph convolution, residual add and BatchNorm are not built: in the reference
  their output feeds nothing (the skip is taken before them), so they are dead parameters that
  never receive a gradient. The function computed is the same.
* The reference feeds ``[value, time-of-day fraction]`` (``in_dim = 2``). Here the inputs are
  every scaled channel of ``batch.x`` plus, when ``calendar_input``, the continuous
  :func:`~stvlm.data.timefeatures.calendar_features` of each input step (daily harmonics,
  day of week, weekend flag) instead of the raw fraction.
* When the input is longer than the receptive field, the head reads the last time step of the
  summed skips (the reference always has exactly one step left: 12 padded to 13).
* The transition matrices are computed from the adjacency as given (no self loops added; rows
  without out-weight stay zero, as the reference's ``asym_adj`` does).
* Periodic lookback (``STBatch.lookback``, not in the reference), when ``lookback`` is set and
  the forecast has ``P = len(lookback_lags) > 0`` lags (otherwise ``batch.lookback`` is
  ignored): the lagged values aligned with the input steps become ``P * C_out`` extra input
  channels, and the lagged values at the target steps, flattened per node to
  ``P * T_out * C_out`` channels, are **concatenated to ``ReLU(skip)`` before the end
  convolutions** (not passed through the ReLU: they are signed scaled values).
"""

from __future__ import annotations


import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from stvlm.baselines.base import NeuralBaseline, TargetUnscaler, forecast_shapes
from stvlm.configs import Config, config_class, field
from stvlm.data.batch import STBatch, checked_lookback, lagged_inputs
from stvlm.data.forecast import Forecast
from stvlm.data.timefeatures import calendar_feature_count, calendar_features


@config_class
class GWNetConfig(Config):
    """Graph WaveNet settings (defaults are the paper's / reference's)."""

    residual_channels: int = field(32, ge=1, help="channels of the residual stream")
    dilation_channels: int = field(32, ge=1, help="channels of the gated dilated convolutions")
    skip_channels: int = field(256, ge=1, help="channels of the summed skip connections")
    end_channels: int = field(512, ge=1, help="hidden channels of the output head")
    blocks: int = field(4, ge=1, help="blocks (the dilation restarts at 1 in each)")
    layers: int = field(2, ge=1, help="layers per block (dilations 1, 2, 4, ...)")
    kernel_size: int = field(2, ge=2, help="temporal kernel width of the dilated convolutions")
    adaptive_dim: int = field(10, ge=1, help="width d of the adaptive node embeddings E1, E2")
    diffusion_order: int = field(2, ge=1, help="highest power of each support in the graph conv")
    dropout: float = field(0.3, ge=0.0, lt=1.0, help="after each graph convolution")
    calendar_input: bool = field(True, help="append the continuous calendar features as input channels")
    lookback: bool = field(True, help="feed the periodic lookback where the data has one")


def transition_matrices(adjacency: np.ndarray | torch.Tensor) -> torch.Tensor:
    """Forward and backward random-walk transition matrices of a weighted adjacency.

    Args:
        adjacency: ``[N, N]`` non-negative weights, ``A[i, j]`` from ``i`` to ``j``.

    Returns:
        ``[2, N, N]`` float32 ``(D_out^-1 A, D_in^-1 A^T)``; a row with no weight stays zero
        (the reference's ``asym_adj`` of ``A`` and of ``A^T``).
    """
    a = torch.as_tensor(adjacency, dtype=torch.float32)  # [N, N]
    out = []
    for m in (a, a.T):
        rowsum = m.sum(dim=1, keepdim=True)  # [N, 1]
        inv = torch.where(rowsum > 0, 1.0 / rowsum, torch.zeros_like(rowsum))  # [N, 1]
        out.append(inv * m)  # [N, N]
    return torch.stack(out)  # [2, N, N]


def adaptive_adjacency(e1: torch.Tensor, e2: torch.Tensor) -> torch.Tensor:
    """``softmax(ReLU(E1 E2), dim=1)``: row-stochastic ``[N, N]`` from ``E1 [N, d]``, ``E2 [d, N]``."""
    return F.softmax(F.relu(e1 @ e2), dim=1)  # [N, N]


def diffusion(h: torch.Tensor, supports: list[torch.Tensor], order: int) -> torch.Tensor:
    """The input and the powers ``1..order`` of every support applied to it, stacked on channels.

    Args:
        h: ``[B, C, N, L]``.
        supports: ``S`` matrices ``[N, N]``; each step computes ``h'[w] = sum_v A[v, w] h[v]``
            (the reference's ``nconv``).
        order: highest power.

    Returns:
        ``[B, (1 + S * order) * C, N, L]``: ``[h, A1 h, A1 A1 h, ..., A2 h, ...]``.
    """
    out = [h]
    for a in supports:
        z = h
        for _ in range(order):
            z = torch.einsum("bcvl,vw->bcwl", z, a)  # [B, C, N, L]
            out.append(z)
    return torch.cat(out, dim=1)  # [B, (1 + S*order)*C, N, L]


class _GraphConv(nn.Module):
    """Diffusion graph convolution: diffusion, 1x1 conv, dropout."""

    def __init__(self, c_in: int, c_out: int, supports: int, order: int, dropout: float) -> None:
        super().__init__()
        self.order = order
        self.mlp = nn.Conv2d((1 + supports * order) * c_in, c_out, kernel_size=(1, 1))
        self.dropout = nn.Dropout(dropout)

    def forward(self, h: torch.Tensor, supports: list[torch.Tensor]) -> torch.Tensor:
        return self.dropout(self.mlp(diffusion(h, supports, self.order)))  # [B, C_out, N, L]


class GWNetForecaster(nn.Module):
    """``[B, T_in, N, C]`` (+ lookback) -> Graph WaveNet -> ``[B, T_out, N, C_out]`` in original units."""

    def __init__(
        self, cfg: GWNetConfig, *, num_nodes: int, in_channels: int, output_len: int,
        steps_per_day: int, adjacency: np.ndarray | None, lookback_lags: int, unscaler: TargetUnscaler,
        input_len: int | None = None,  # the receptive field, not the input length, sizes the model
    ) -> None:
        super().__init__()
        self.cfg = cfg
        self.steps_per_day = steps_per_day
        self.lookback_lags = lookback_lags = lookback_lags if cfg.lookback else 0
        self.out_channels = int(unscaler.mean.numel())
        self.output_len = output_len
        given = transition_matrices(adjacency) if adjacency is not None else torch.zeros(0, num_nodes, num_nodes)
        self.register_buffer("given_supports", given, persistent=False)  # [S_given, N, N]
        num_supports = int(given.shape[0]) + 1
        self.nodevec1 = nn.Parameter(torch.randn(num_nodes, cfg.adaptive_dim))  # [N, d]
        self.nodevec2 = nn.Parameter(torch.randn(cfg.adaptive_dim, num_nodes))  # [d, N]

        in_dim = in_channels + lookback_lags * self.out_channels
        if cfg.calendar_input:
            in_dim += calendar_feature_count()
        self.start_conv = nn.Conv2d(in_dim, cfg.residual_channels, kernel_size=(1, 1))

        self.filter_convs = nn.ModuleList()
        self.gate_convs = nn.ModuleList()
        self.skip_convs = nn.ModuleList()
        self.graph_convs = nn.ModuleList()
        self.bn = nn.ModuleList()
        total = cfg.blocks * cfg.layers
        receptive = 1
        for i in range(total):
            dilation = 2 ** (i % cfg.layers)
            receptive += dilation * (cfg.kernel_size - 1)
            self.filter_convs.append(nn.Conv2d(
                cfg.residual_channels, cfg.dilation_channels, (1, cfg.kernel_size), dilation=(1, dilation)))
            self.gate_convs.append(nn.Conv2d(
                cfg.residual_channels, cfg.dilation_channels, (1, cfg.kernel_size), dilation=(1, dilation)))
            self.skip_convs.append(nn.Conv2d(cfg.dilation_channels, cfg.skip_channels, (1, 1)))
            if i < total - 1:  # the last layer's graph conv / BN would feed nothing
                self.graph_convs.append(_GraphConv(
                    cfg.dilation_channels, cfg.residual_channels, num_supports, cfg.diffusion_order,
                    cfg.dropout))
                self.bn.append(nn.BatchNorm2d(cfg.residual_channels))
        self.receptive_field = receptive

        head_in = cfg.skip_channels + lookback_lags * output_len * self.out_channels
        self.end_conv_1 = nn.Conv2d(head_in, cfg.end_channels, (1, 1))
        self.end_conv_2 = nn.Conv2d(cfg.end_channels, output_len * self.out_channels, (1, 1))
        self.unscale = unscaler

    def supports(self) -> list[torch.Tensor]:
        """The given transition matrices followed by the adaptive adjacency, each ``[N, N]``."""
        return [*self.given_supports.unbind(0), adaptive_adjacency(self.nodevec1, self.nodevec2)]

    def _lookback(self, batch: STBatch) -> torch.Tensor | None:
        return checked_lookback(batch, self.lookback_lags, "gwnet")  # [B, P, T_in + T_out, N, C_out]

    def _skip_input(self, h: torch.Tensor) -> torch.Tensor:
        """What a layer's 1x1 skip convolution reads of its gated ``h [B, D_ch, N, L']``: in
        evaluation only the last step, the one step of the summed skips the head reads (the
        convolution works step by step, so the forecast is the same up to float32 rounding: bit
        for bit on the Intel Xeon it was measured on, within a unit in the last place on an AMD
        EPYC, whose kernel sums one step in another order than several; measured 1.5x faster
        prediction); in training every step, so gradients round as they did for the committed runs."""
        return h if self.training else h[..., -1:]  # [B, D_ch, N, L'] or [B, D_ch, N, 1]

    def forward(self, batch: STBatch) -> torch.Tensor:
        b, t_in, n, _ = batch.x.shape
        lb = self._lookback(batch)
        parts = [batch.x]  # [B, T_in, N, C]
        if lb is not None:
            parts.append(lagged_inputs(lb, t_in))  # [B, T_in, N, P*C_out]
        if self.cfg.calendar_input:
            cal = calendar_features(batch.x_tod, batch.x_dow, self.steps_per_day)  # [B, T_in, F]
            parts.append(cal.to(batch.x.dtype)[:, :, None, :].expand(-1, -1, n, -1))  # [B, T_in, N, F]
        x = torch.cat(parts, dim=-1).permute(0, 3, 2, 1)  # [B, C_in, N, T_in]
        if t_in < self.receptive_field:
            x = F.pad(x, (self.receptive_field - t_in, 0))  # [B, C_in, N, R]
        x = self.start_conv(x)  # [B, R_ch, N, L]

        supports = self.supports()
        skip: torch.Tensor | int = 0
        for i in range(len(self.filter_convs)):
            residual = x  # [B, R_ch, N, L]
            h = torch.tanh(self.filter_convs[i](residual)) * torch.sigmoid(self.gate_convs[i](residual))
            # h: [B, D_ch, N, L - dilation*(k-1)]
            s = self.skip_convs[i](self._skip_input(h))  # [B, S_ch, N, L'] (evaluation: L' = 1)
            skip = s if isinstance(skip, int) else s + skip[..., -s.shape[-1]:]  # [B, S_ch, N, L']
            if i < len(self.graph_convs):
                x = self.graph_convs[i](h, supports)  # [B, R_ch, N, L']
                x = self.bn[i](x + residual[..., -x.shape[-1]:])  # [B, R_ch, N, L']

        head = [F.relu(skip[..., -1:])]  # [B, S_ch, N, 1]
        if lb is not None:
            lagged_out = lb[:, :, t_in:].permute(0, 1, 2, 4, 3)  # [B, P, T_out, C_out, N]
            head.append(lagged_out.reshape(b, -1, n, 1))  # [B, P*T_out*C_out, N, 1]
        out = self.end_conv_2(F.relu(self.end_conv_1(torch.cat(head, dim=1))))  # [B, T_out*C_out, N, 1]
        out = out[..., 0].reshape(b, self.output_len, self.out_channels, n)  # [B, T_out, C_out, N]
        return self.unscale(out.permute(0, 1, 3, 2))  # [B, T_out, N, C_out]


class GWNetBaseline(NeuralBaseline):
    name = "gwnet"

    def __init__(self, cfg: GWNetConfig | None = None) -> None:
        super().__init__()
        self.cfg = cfg or GWNetConfig()

    def build(self, forecast: Forecast) -> nn.Module:
        return GWNetForecaster(self.cfg, adjacency=forecast.data.adjacency, **forecast_shapes(forecast))
