"""First-layer fusion: where and how the spatial-temporal (ST) tokens meet text and image tokens.

Blocks are counted from 1 here, as in the paper ("the first layer"). ``fusion.depth = k``:

* ``k = 0``: the ST tokens join ``[text ; image]`` at the embeddings and go through every block
  (token injection only, reference/method.md F1).
* ``k >= 1``: the ST tokens enter at the input of block ``k`` (blocks ``1..k-1`` run on text and
  image only), and a gated cross-attention adapter right after block ``k`` lets them attend to the
  text and image outputs of that block (F1 + F2). ``k = 1`` is the paper's "fusion in the first
  layer": injection at the embeddings plus the adapter after the first block.
* ``"all"``: injection at the embeddings and an adapter after every block.
* ``"late"``: no ST token inside the backbone; after it, the ST tokens cross-attend to the
  pooled text and image outputs through the same gated adapter (Time-VLM style).

The adapter is Flamingo's: ``h_st + tanh(gate) * MHA(LN(h_st), LN(h_text+image), bias)`` with
the gate initialised at zero, so at initialisation the backbone computes exactly what it would
without the adapter. The spatial bias ``B[n, p] = beta * exp(-d(n, p)^2 / (2 sigma^2))`` (``d``
in patches between node ``n``'s image position and the centre of patch ``p``, ``beta``
learnable, initially 1) is added to the attention logits of image-patch keys only.

Cost in the number of nodes N (M ST tokens: N, or K latents): the spatial bias is an ``[N, P]``
buffer (P image patches) and the adapter's logits are ``[B, 1, M, L]`` (L text + image keys),
so both are linear in N; only the backbone blocks, where the M tokens attend to each other, grow
with ``(L + M)^2`` (``SeriesConfig.max_tokens`` bounds M = N without the latent compressor).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from stvlm.errors import ConfigError
from stvlm.models.backbones import Backbone, Segments
from stvlm.configs import FusionConfig


def segment_mean(hidden: torch.Tensor, mask: torch.Tensor, part: slice) -> torch.Tensor | None:
    """Masked mean of ``hidden [B, L, d]`` over the tokens ``part``; ``None`` if it is empty."""
    if part.stop <= part.start:
        return None
    weight = mask[:, part].to(hidden.dtype)[..., None]  # [B, L_part, 1]
    return (hidden[:, part] * weight).sum(dim=1) / weight.sum(dim=1).clamp_min(1.0)  # [B, d]


class SpatialBias(nn.Module):
    """Attention bias ``[N, P]`` pointing each node at its own image patch.

    Args:
        positions: ``[N, 2]`` (x, y) of each node in the image, in [0, 1]^2, y down.
        grid: ``(rows, cols)`` of image patches (raster order).
        sigma: std of the Gaussian, in patches.
    """

    def __init__(self, positions: torch.Tensor, grid: tuple[int, int], sigma: float) -> None:
        super().__init__()
        rows, cols = grid
        r = torch.arange(rows, dtype=torch.float32).repeat_interleave(cols) + 0.5  # [P]
        c = torch.arange(cols, dtype=torch.float32).repeat(rows) + 0.5  # [P]
        pos = positions.detach().to(torch.float32).cpu()
        dx = pos[:, 0:1] * cols - c[None, :]  # [N, P] in patches
        dy = pos[:, 1:2] * rows - r[None, :]  # [N, P]
        self.register_buffer("kernel", torch.exp(-(dx**2 + dy**2) / (2 * sigma**2)))
        self.beta = nn.Parameter(torch.ones(()))

    @property
    def num_patches(self) -> int:
        return int(self.kernel.shape[1])

    def forward(self) -> torch.Tensor:
        """``[N, P]`` additive bias."""
        return self.beta * self.kernel


class GatedCrossAttention(nn.Module):
    """Queries attend to a context with pre-norm multi-head attention, through a tanh gate at 0.

    Args:
        dim: token width d.
        heads: attention heads (must divide ``dim``).
    """

    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.norm_q = nn.LayerNorm(dim)
        self.norm_kv = nn.LayerNorm(dim)
        self.q = nn.Linear(dim, dim)
        self.kv = nn.Linear(dim, 2 * dim)
        self.out = nn.Linear(dim, dim)
        self.gate = nn.Parameter(torch.zeros(()))

    def delta(
        self,
        query: torch.Tensor,
        context: torch.Tensor,
        key_mask: torch.Tensor,
        bias: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """The ungated update.

        Args:
            query: ``[B, M, d]``.
            context: ``[B, L, d]``.
            key_mask: ``[B, L]`` bool, True for real context tokens.
            bias: ``[M, L]`` additive logits bias, or ``None``.

        Returns:
            ``[B, M, d]``.
        """
        b, m, d = query.shape
        length, h = context.shape[1], self.heads
        q = self.q(self.norm_q(query)).view(b, m, h, d // h).transpose(1, 2)  # [B, h, M, d/h]
        kv = self.kv(self.norm_kv(context)).view(b, length, 2, h, d // h)
        k, v = kv.permute(2, 0, 3, 1, 4)  # 2 x [B, h, L, d/h]
        logits = torch.zeros(b, 1, m, length, dtype=q.dtype, device=q.device)  # [B, 1, M, L]
        logits = logits.masked_fill(~key_mask[:, None, None, :], torch.finfo(q.dtype).min)
        if bias is not None:
            logits = logits + bias.to(q.dtype)
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=logits)  # [B, h, M, d/h]
        return self.out(out.transpose(1, 2).reshape(b, m, d))  # [B, M, d]

    def forward(self, query, context, key_mask, bias=None) -> torch.Tensor:
        """``query + tanh(gate) * delta``; the query unchanged when the context is empty."""
        if context.shape[1] == 0:
            return query
        return query + torch.tanh(self.gate) * self.delta(query, context, key_mask, bias)


@dataclass
class FusionOutput:
    """Result of :meth:`Fusion.forward`.

    Args:
        st: ``[B, M, d]`` ST-token outputs (after the backbone's final norm).
        hidden: ``[B, L, d]`` the whole final sequence (``[text ; image]`` for ``late``).
        mask: ``[B, L]`` bool key mask of ``hidden``.
        segments: index ranges of ``hidden``.
    """

    st: torch.Tensor
    hidden: torch.Tensor
    mask: torch.Tensor
    segments: Segments


class Fusion(nn.Module):
    """ST tokens into (or after) the backbone at ``cfg.depth`` (see the module docstring).

    Args:
        cfg: depth, heads, spatial bias settings.
        backbone: the backbone (its depth and width).
        node_positions: ``[N, 2]`` image positions of the nodes, or ``None`` (no spatial bias;
            also pass ``None`` when the ST tokens are latents rather than nodes).
    """

    def __init__(
        self, cfg: FusionConfig, backbone: Backbone, node_positions: torch.Tensor | None
    ) -> None:
        super().__init__()
        layers, dim = backbone.num_layers, backbone.hidden_size
        depth = cfg.depth
        if isinstance(depth, int) and depth > layers:
            raise ConfigError(
                f"fusion.depth = {depth} is larger than the backbone's {layers} layers; "
                f"allowed: 0..{layers}, 'late' or 'all'"
            )
        if dim % cfg.heads:
            divisors = [str(k) for k in range(1, dim + 1) if dim % k == 0]
            raise ConfigError(
                f"fusion.heads = {cfg.heads} does not divide the backbone width {dim}; "
                f"allowed: {', '.join(divisors)}"
            )
        self.late = depth == "late"
        # index (from 0) of the block whose input the ST tokens join; the adapters' positions
        self.enter = 0 if depth in ("all", 0, "late") else int(depth) - 1
        if depth == "all":
            after = list(range(layers))
        elif depth == "late":
            after = ["late"]
        else:
            after = [] if depth == 0 else [int(depth) - 1]
        self.adapters = nn.ModuleDict({str(i): GatedCrossAttention(dim, cfg.heads) for i in after})
        self.type_embedding = nn.Parameter(torch.randn(dim) * 0.02)  # the ST modality type
        # only an adapter inside the backbone reads the bias (no unused parameter otherwise)
        use_bias = (cfg.spatial_bias and node_positions is not None and backbone.has_vision
                    and not self.late and bool(after))
        self.spatial = (
            SpatialBias(node_positions, backbone.patch_grid, cfg.bias_sigma) if use_bias else None
        )

    def bias_for(self, segments: Segments, num_st: int, length: int) -> torch.Tensor | None:
        """``[M, L]`` bias over the first ``length`` (text + image) keys, or ``None``."""
        patches = segments.patches
        if self.spatial is None or patches.stop - patches.start != self.spatial.num_patches:
            return None
        bias = self.spatial()  # [N, P]
        if bias.shape[0] != num_st:
            return None
        full = bias.new_zeros(num_st, length)  # [M, L]
        full[:, patches] = bias
        return full

    def forward(
        self,
        backbone: Backbone,
        tokens: torch.Tensor,
        mask: torch.Tensor,
        segments: Segments,
        st: torch.Tensor,
    ) -> FusionOutput:
        """Run the backbone with the ST tokens fused at the configured depth.

        Args:
            backbone: the backbone whose blocks run.
            tokens: ``[B, L, d]`` text + image tokens from ``backbone.embed``.
            mask: ``[B, L]`` bool key mask of ``tokens``.
            segments: their index ranges.
            st: ``[B, M, d]`` ST tokens at the backbone width (before the type embedding), float32;
                cast to the backbone's dtype here where they enter it.
        """
        # The backbone runs in its own dtype (BackboneConfig.dtype); adapters stay float32. Late
        # fusion's ST tokens never enter the backbone, so they keep float32 (no bf16 rounding).
        dtype = tokens.dtype
        st = st.float() + self.type_embedding  # [B, M, d]
        st = st if self.late else st.to(dtype)
        if self.late:
            hidden = tokens
            if hidden.shape[1]:  # neither text nor image: nothing for the backbone to do
                context = backbone.block_context(mask, segments, tokens.dtype)
                for i in range(backbone.num_layers):
                    hidden = backbone.run_block(i, hidden, context)
                hidden = backbone.final_norm(hidden)
            pooled = [segment_mean(hidden, mask, s) for s in (segments.text, segments.image)]
            pooled = [p for p in pooled if p is not None]
            if pooled:
                memory = torch.stack(pooled, dim=1)  # [B, <=2, d]
                keys = torch.ones(memory.shape[:2], dtype=torch.bool, device=memory.device)
                st = self.adapters["late"](st.float(), memory.float(), keys)
            return FusionOutput(st=st, hidden=hidden, mask=mask, segments=segments)

        count = st.shape[1]
        st = backbone.position_embed(st, mask).to(dtype)
        full_mask = torch.cat([mask, mask.new_ones(mask.shape[0], count)], dim=1)  # [B, L + M]
        full = segments.with_st(count)
        context = backbone.block_context(full_mask, full, tokens.dtype)
        prefix = backbone.block_context(mask, segments, tokens.dtype) if self.enter else None
        bias = self.bias_for(segments, count, tokens.shape[1])
        hidden = tokens
        for i in range(backbone.num_layers):
            if i == self.enter:
                hidden = torch.cat([hidden, st], dim=1)  # [B, L + M, d]
            if i >= self.enter:
                hidden = backbone.run_block(i, hidden, context)
            elif hidden.shape[1]:
                hidden = backbone.run_block(i, hidden, prefix)
            adapter = self.adapters[str(i)] if str(i) in self.adapters else None
            if adapter is not None:
                vt, fused = hidden[:, : full.st.start], hidden[:, full.st]
                fused = adapter(fused.float(), vt.float(), mask, bias).to(dtype)
                hidden = torch.cat([vt, fused], dim=1)  # [B, L + M, d]
        hidden = backbone.final_norm(hidden)
        return FusionOutput(st=hidden[:, full.st], hidden=hidden, mask=full_mask, segments=full)
