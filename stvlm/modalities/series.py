"""Time-series tokens: one token per node (ST-LLM), optionally compressed to K latents.

:class:`SeriesTokenizer` follows ST-LLM's embedding (``model_ST_LLM.py``): the ``T_in x C``
window values of a node are embedded by a linear map (ST-LLM's 1x1 conv), a learnable node
embedding adds *where* (``SeriesConfig.node_embedding``), time-of-day and day-of-week
embeddings at the **last input step** add *when* (``SeriesConfig.time_encoding``); the
``D``-wide parts present are concatenated and projected to the backbone width. By default only
the values part is present (the other two memorised the few training days).
:class:`LatentCompressor` is a Perceiver-style cross-attention that compresses N node tokens to
K latents and expands them back (for large N).

Cost in the number of nodes N: the tokens themselves are linear in N (``[B, N, out_dim]``, an
``[N, D]`` node embedding), and so is the compressor (K latents attend to N nodes and back:
O(B N K d)). Without the compressor the N tokens join the backbone's self-attention, whose
time and memory grow with ``(L + N)^2`` per layer and head; so ``stvlm.models.build`` refuses
``num_latents = None`` above ``SeriesConfig.max_tokens`` nodes where the tokens enter the
backbone (any fusion depth but ``late``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from stvlm.data.batch import lookback_per_node
from stvlm.data.graph import neighbour_weights
from stvlm.data.timefeatures import calendar_feature_count, calendar_features
from stvlm.errors import ConfigError
from stvlm.configs import SeriesConfig

_REVIN_EPS = 1e-5  # variance floor of the per-window instance normalisation (RevIN)


def _positive(name: str, value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"{name} = {value!r} is not allowed; expected a positive integer")


@dataclass(frozen=True)
class InstanceStats:
    """Per-window, per-node, per-channel statistics of a RevIN-style normalisation.

    Args:
        mean: ``[B, 1, N, C]`` mean over time.
        std: ``[B, 1, N, C]`` ``sqrt(var + 1e-5)`` over time.
    """

    mean: torch.Tensor
    std: torch.Tensor

    @classmethod
    def of(cls, x: torch.Tensor) -> InstanceStats:
        """Statistics of a window ``x [B, T, N, C]`` (computed without gradient)."""
        with torch.no_grad():
            mean = x.mean(dim=1, keepdim=True)  # [B, 1, N, C]
            std = torch.sqrt(x.var(dim=1, keepdim=True, unbiased=False) + _REVIN_EPS)
        return cls(mean=mean, std=std)

    def normalize(self, x: torch.Tensor) -> torch.Tensor:
        """``(x - mean) / std`` for ``x [B, T, N, C]``."""
        return (x - self.mean) / self.std

    def denormalize(self, y: torch.Tensor, channels: tuple[int, ...] = (0,)) -> torch.Tensor:
        """Undo the normalisation on ``y [B, T_out, N, len(channels)]`` (those input channels)."""
        idx = list(channels)
        return y * self.std[..., idx] + self.mean[..., idx]


class SeriesTokenizer(nn.Module):
    """``x [B, T, N, C]`` + lookback + time -> one token per node ``[B, N, out_dim]``.

    Args:
        cfg: width ``dim``, ``instance_norm``, ``lookback``, ``time_encoding`` and
            ``node_embedding``.
        num_nodes: N.
        input_len: T_in.
        in_channels: C.
        steps_per_day: rows of the time-of-day table / period of the cyclic features.
        out_dim: the backbone's hidden size.
        lookback_lags: P, the number of periodic lookback lags the batches carry (0: none).
        output_len: T_out (the lookback spans ``T_in + T_out`` steps).
        out_channels: C_out, the channels of the lookback.
        neighbours: the dataset's ``[N, N]`` closeness adjacency; with ``cfg.neighbours`` each
            node's features are followed by the weighted mean of its neighbours' (see
            :func:`stvlm.data.graph.neighbour_weights`); ignored when ``None`` or off.

    Raises:
        ConfigError: a size that is not a positive integer.

    Attributes:
        last_stats: the :class:`InstanceStats` of the latest forward pass when
            ``cfg.instance_norm`` is on (for denormalising a forecast), else ``None``.
    """

    def __init__(
        self,
        cfg: SeriesConfig,
        *,
        num_nodes: int,
        input_len: int,
        in_channels: int,
        steps_per_day: int,
        out_dim: int,
        lookback_lags: int = 0,
        output_len: int = 1,
        out_channels: int = 1,
        neighbours: torch.Tensor | np.ndarray | None = None,
    ) -> None:
        super().__init__()
        for name, value in (("num_nodes", num_nodes), ("input_len", input_len),
                            ("in_channels", in_channels), ("steps_per_day", steps_per_day),
                            ("out_dim", out_dim), ("output_len", output_len),
                            ("out_channels", out_channels)):
            _positive(name, value)
        d = cfg.dim
        self.num_nodes, self.input_len, self.in_channels = num_nodes, input_len, in_channels
        self.steps_per_day = steps_per_day
        self.instance_norm = cfg.instance_norm
        self.lookback_lags = lookback_lags if cfg.lookback else 0
        lookback_width = self.lookback_lags * (input_len + output_len) * out_channels
        own_width = input_len * in_channels + lookback_width
        # The neighbour mix is a buffer (not a parameter): moved with the model, never trained.
        index, weight = None, None
        if cfg.neighbours and neighbours is not None:
            index, weight = (torch.from_numpy(a) for a in neighbour_weights(np.asarray(neighbours)))
        self.register_buffer("nb_index", index, persistent=False)  # [2, E]
        self.register_buffer("nb_weight", weight, persistent=False)  # [E]
        self.value = nn.Linear(own_width * (2 if index is not None else 1), d)
        self.node_emb = None
        if cfg.node_embedding:
            self.node_emb = nn.Parameter(torch.empty(num_nodes, d))
            nn.init.xavier_uniform_(self.node_emb)
        self.time_encoding = cfg.time_encoding
        if cfg.time_encoding == "table":
            self.tod_emb = nn.Parameter(torch.empty(steps_per_day, d))
            self.dow_emb = nn.Parameter(torch.empty(7, d))
            for table in (self.tod_emb, self.dow_emb):
                nn.init.xavier_uniform_(table)
        elif cfg.time_encoding == "cyclic":  # features of the last input step and of the first target step
            self.time_proj = nn.Linear(2 * calendar_feature_count(), d)
        parts = 1 + int(cfg.node_embedding) + int(cfg.time_encoding != "none")
        self.fuse = nn.Linear(parts * d, out_dim)
        self.last_stats: InstanceStats | None = None

    def time_embedding(
        self, x_tod: torch.Tensor, x_dow: torch.Tensor,
        y_tod: torch.Tensor | None = None, y_dow: torch.Tensor | None = None,
    ) -> torch.Tensor | None:
        """``[B, D]`` embedding of when the window ends (and the forecast starts); ``None``
        under ``time_encoding = "none"``."""
        if self.time_encoding == "none":
            return None
        if self.time_encoding == "table":
            return self.tod_emb[x_tod[:, -1]] + self.dow_emb[x_dow[:, -1]]  # [B, D]
        if y_tod is None or y_dow is None:  # the next step follows the last input step
            y_tod = (x_tod[:, -1:] + 1) % self.steps_per_day
            y_dow = (x_dow[:, -1:] + (y_tod == 0).long()) % 7
        last = calendar_features(x_tod[:, -1], x_dow[:, -1], self.steps_per_day)  # [B, F]
        first = calendar_features(y_tod[:, 0], y_dow[:, 0], self.steps_per_day)  # [B, F]
        return self.time_proj(torch.cat([last, first], dim=-1))  # [B, D]

    @property
    def feature_width(self) -> int:
        """F, the width of :meth:`node_features`."""
        return self.value.in_features

    def node_features(self, x: torch.Tensor, lookback: torch.Tensor | None) -> torch.Tensor:
        """Each node's window values followed by its lagged values (and their neighbour mean).

        Args:
            x: ``[B, T_in, N, C]`` (already normalised when ``instance_norm``).
            lookback: ``[B, P, T_in + T_out, N, C_out]``, required when the tokenizer has lags.

        Returns:
            ``[B, N, F]`` with ``F = F0 = T_in * C + P * (T_in + T_out) * C_out``, or
            ``F = 2 F0`` with the neighbour mean (the own ``F0`` first).
        """
        expected = (self.input_len, self.num_nodes, self.in_channels)
        if x.dim() != 4 or tuple(x.shape[1:]) != expected:
            raise ConfigError(
                f"series input x has shape {tuple(x.shape)}; expected [B, T_in={expected[0]}, "
                f"N={expected[1]}, C={expected[2]}]"
            )
        b, t, n, c = x.shape
        values = x.permute(0, 2, 1, 3).reshape(b, n, t * c)  # [B, N, T*C]
        if not self.lookback_lags:
            return self._with_neighbours(values)
        if lookback is None or lookback.shape[1] != self.lookback_lags:
            got = None if lookback is None else tuple(lookback.shape)
            raise ConfigError(
                f"series tokens need a lookback of {self.lookback_lags} lags "
                f"[B, P, T_in + T_out, N, C_out]; got {got}"
            )
        lag = lookback_per_node(lookback)  # [B, N, P*(T_in+T_out)*C_out]
        return self._with_neighbours(torch.cat([values, lag.to(values.dtype)], dim=-1))

    def _with_neighbours(self, own: torch.Tensor) -> torch.Tensor:
        """``own [B, N, F0]`` -> ``[B, N, 2 F0]``: own features, then the neighbour mean."""
        if self.nb_index is None:
            return own
        b, n, f = own.shape
        mix = torch.sparse_coo_tensor(  # [N, N]; the index is sorted and unique (coalesced)
            self.nb_index, self.nb_weight.to(own.dtype), (n, n), is_coalesced=True,
            check_invariants=False,
        )
        flat = own.permute(1, 0, 2).reshape(n, b * f)  # [N, B*F0]
        mean = torch.sparse.mm(mix, flat).view(n, b, f).permute(1, 0, 2)  # [B, N, F0]
        return torch.cat([own, mean], dim=-1)  # [B, N, 2*F0]

    def forward(
        self,
        x: torch.Tensor,
        x_tod: torch.Tensor,
        x_dow: torch.Tensor,
        lookback: torch.Tensor | None = None,
        y_tod: torch.Tensor | None = None,
        y_dow: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Node tokens of a batch of windows.

        Args:
            x: ``[B, T_in, N, C]`` scaled inputs.
            x_tod: ``[B, T_in]`` int64 step of the day (the last step is used).
            x_dow: ``[B, T_in]`` int64 day of the week (the last step is used).
            lookback: ``[B, P, T_in + T_out, N, C_out]`` scaled lagged values; required when the
                tokenizer was built with ``lookback_lags > 0`` and ``cfg.lookback``.
            y_tod: ``[B, T_out]`` step of the day of the targets (the first is used).
            y_dow: ``[B, T_out]`` day of the week of the targets.

        Returns:
            ``[B, N, out_dim]``.
        """
        if self.instance_norm:
            self.last_stats = InstanceStats.of(x)
            x = self.last_stats.normalize(x)
        return self.tokens(self.node_features(x, lookback), x_tod, x_dow, y_tod, y_dow)

    def tokens(
        self,
        features: torch.Tensor,
        x_tod: torch.Tensor,
        x_dow: torch.Tensor,
        y_tod: torch.Tensor | None = None,
        y_dow: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Node tokens from :meth:`node_features` ``[B, N, F]`` (for callers that reuse the
        features, e.g. ST-VLM's linear highway) and the time indices of :meth:`forward`.

        Returns:
            ``[B, N, out_dim]``.
        """
        b, n, _ = features.shape
        parts = [self.value(features)]  # [B, N, D]
        if self.node_emb is not None:
            parts.append(self.node_emb.expand(b, -1, -1))  # [B, N, D]
        e_t = self.time_embedding(x_tod, x_dow, y_tod, y_dow)  # [B, D] or None
        if e_t is not None:
            parts.append(e_t[:, None, :].expand(-1, n, -1))  # [B, N, D]
        return self.fuse(torch.cat(parts, dim=-1))  # [B, N, out_dim], from [B, N, parts * D]


class LatentCompressor(nn.Module):
    """K learned latents that read N node tokens (compress) and are read back (expand).

    Pre-norm cross-attention with residuals, Perceiver style (VLM4ST's ``PerceiverCompressor``).

    Args:
        num_latents: K.
        dim: token width d.
        heads: attention heads (must divide ``dim``).
    """

    def __init__(self, num_latents: int, dim: int, heads: int) -> None:
        super().__init__()
        for name, value in (("num_latents", num_latents), ("dim", dim), ("heads", heads)):
            _positive(name, value)
        if dim % heads:
            raise ConfigError(
                f"latent compressor heads = {heads} does not divide dim = {dim}; allowed: a "
                "divisor of dim"
            )
        self.latents = nn.Parameter(torch.randn(num_latents, dim) * 0.02)
        self.read_q, self.read_kv = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.read = nn.MultiheadAttention(dim, heads, batch_first=True)
        self.write_q, self.write_kv = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.write = nn.MultiheadAttention(dim, heads, batch_first=True)

    def compress(self, tokens: torch.Tensor) -> torch.Tensor:
        """``tokens [B, N, d] -> latents [B, K, d]`` (latents attend to the nodes)."""
        q = self.latents.expand(tokens.shape[0], -1, -1)  # [B, K, d]
        kv = self.read_kv(tokens)  # [B, N, d]
        out, _ = self.read(self.read_q(q), kv, kv, need_weights=False)  # [B, K, d]
        return q + out

    def expand(self, latents: torch.Tensor, node_queries: torch.Tensor) -> torch.Tensor:
        """``latents [B, K, d]``, ``node_queries [B, N, d] -> [B, N, d]`` (nodes read back)."""
        kv = self.write_kv(latents)  # [B, K, d]
        out, _ = self.write(self.write_q(node_queries), kv, kv, need_weights=False)  # [B, N, d]
        return node_queries + out
