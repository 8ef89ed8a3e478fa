"""Time-series tokens: one token per node (ST-LLM), optionally compressed to K latents.

:class:`SeriesTokenizer` follows ST-LLM's embedding (``model_ST_LLM.py``): the ``T_in x C``
window values of a node are embedded by a linear map (ST-LLM's 1x1 conv), a learnable node
embedding adds *where*, time-of-day and day-of-week embeddings indexed at the **last input
step** add *when*; the three ``D``-wide parts are concatenated and projected to the backbone
width. :class:`LatentCompressor` is a Perceiver-style cross-attention that compresses N node
tokens to K latents and expands them back (for large N).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch
from torch import nn

from stvlm.errors import ConfigError

if TYPE_CHECKING:  # stvlm.models imports this package: no runtime import back
    from stvlm.models.config import SeriesConfig

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
    """``x [B, T, N, C]`` + time indices -> one token per node ``[B, N, out_dim]``.

    Args:
        cfg: width ``dim`` of the embeddings and ``instance_norm``.
        num_nodes: N.
        input_len: T_in.
        in_channels: C.
        steps_per_day: rows of the time-of-day table.
        out_dim: the backbone's hidden size.

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
    ) -> None:
        super().__init__()
        for name, value in (("num_nodes", num_nodes), ("input_len", input_len),
                            ("in_channels", in_channels), ("steps_per_day", steps_per_day),
                            ("out_dim", out_dim)):
            _positive(name, value)
        d = cfg.dim
        self.num_nodes, self.input_len, self.in_channels = num_nodes, input_len, in_channels
        self.instance_norm = cfg.instance_norm
        self.value = nn.Linear(input_len * in_channels, d)
        self.node_emb = nn.Parameter(torch.empty(num_nodes, d))
        self.tod_emb = nn.Parameter(torch.empty(steps_per_day, d))
        self.dow_emb = nn.Parameter(torch.empty(7, d))
        for table in (self.node_emb, self.tod_emb, self.dow_emb):
            nn.init.xavier_uniform_(table)
        self.fuse = nn.Linear(3 * d, out_dim)
        self.last_stats: InstanceStats | None = None

    def forward(
        self, x: torch.Tensor, x_tod: torch.Tensor, x_dow: torch.Tensor
    ) -> torch.Tensor:
        """Node tokens of a batch of windows.

        Args:
            x: ``[B, T_in, N, C]`` scaled inputs.
            x_tod: ``[B, T_in]`` int64 step of the day (only the last step is used).
            x_dow: ``[B, T_in]`` int64 day of the week (only the last step is used).

        Returns:
            ``[B, N, out_dim]``.
        """
        expected = (self.input_len, self.num_nodes, self.in_channels)
        if x.dim() != 4 or tuple(x.shape[1:]) != expected:
            raise ConfigError(
                f"series input x has shape {tuple(x.shape)}; expected [B, T_in={expected[0]}, "
                f"N={expected[1]}, C={expected[2]}]"
            )
        if self.instance_norm:
            self.last_stats = InstanceStats.of(x)
            x = self.last_stats.normalize(x)
        b, t, n, c = x.shape
        values = x.permute(0, 2, 1, 3).reshape(b, n, t * c)  # [B, N, T*C]
        e_p = self.value(values)  # [B, N, D]
        e_s = self.node_emb.expand(b, -1, -1)  # [B, N, D]
        e_t = self.tod_emb[x_tod[:, -1]] + self.dow_emb[x_dow[:, -1]]  # [B, D]
        e_t = e_t[:, None, :].expand(-1, n, -1)  # [B, N, D]
        return self.fuse(torch.cat([e_p, e_s, e_t], dim=-1))  # [B, N, out_dim]


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
