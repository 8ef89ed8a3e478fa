"""Shared adapter of decoder VLMs (Idefics3/SmolVLM, Qwen-VL): fusion through ``inputs_embeds``.

The language model's blocks take ``[text ; vision features through the model's connector ;
ST]`` (what ``inputs_embeds`` would hold), with the LM's causal mask over text and image and
ST tokens that see everything. Positions skip padding (``cumsum(mask) - 1``), as if each
prompt had been fed unpadded; rotary embeddings come from the LM's own rotary module
(``language_model.rotary_emb(x, position_ids)`` in transformers 5.x), and each decoder layer is
called with ``position_embeddings=(cos, sin)``.
"""

from __future__ import annotations

import torch
from torch import nn

from stvlm.models.backbones.base import Backbone, BlockContext, Segments


def compact_positions(mask: torch.Tensor) -> torch.Tensor:
    """``[B, L]`` positions that count only real tokens (padding gets the position 0)."""
    positions = mask.long().cumsum(dim=1) - 1  # [B, L]
    return positions.clamp(min=0).masked_fill(~mask.bool(), 0)


class DecoderBackbone(Backbone):
    """A decoder LM with a vision tower and connector in front of it.

    Subclasses provide :meth:`language_model` (with ``embed_tokens``, ``layers``, ``norm`` and
    ``rotary_emb``) and :meth:`image_features`.
    """

    causal = True
    lora_targets = ("q_proj", "v_proj")
    attention_names = ("self_attn",)

    def language_model(self) -> nn.Module:
        raise NotImplementedError

    def image_features(self, pixel_values: torch.Tensor) -> torch.Tensor:
        """``[B, 3, S, S]`` pixels -> ``[B, P, d]`` LM-width image tokens in raster order."""
        raise NotImplementedError

    def block_owner(self):
        return self.language_model(), "layers"

    @property
    def hidden_size(self) -> int:
        return int(self.language_model().config.hidden_size)

    def embed(self, input_ids=None, attention_mask=None, pixel_values=None, *, batch_size=None):
        lm = self.language_model()
        parts, masks = [], []
        text, image = slice(0, 0), slice(0, 0)
        if input_ids is not None:
            parts.append(lm.embed_tokens(input_ids))  # [B, L_t, d]
            masks.append(attention_mask.bool())
            text = slice(0, input_ids.shape[1])
        if pixel_values is not None:
            features = self.image_features(pixel_values)  # [B, P, d]
            parts.append(features.to(lm.embed_tokens.weight.dtype))
            masks.append(torch.ones(features.shape[:2], dtype=torch.bool, device=features.device))
            image = slice(text.stop, text.stop + features.shape[1])
        segments = Segments(text=text, image=image, patches=image)
        if not parts:
            weight = lm.embed_tokens.weight
            empty = weight.new_zeros(batch_size, 0, self.hidden_size)
            return empty, torch.ones(batch_size, 0, dtype=torch.bool, device=weight.device), segments
        return torch.cat(parts, dim=1), torch.cat(masks, dim=1), segments

    def position_ids(self, mask: torch.Tensor, segments: Segments) -> torch.Tensor:
        """Positions of every token, ``[B, L]`` (rotary families with 3-D positions override)."""
        return compact_positions(mask)

    def block_context(self, mask: torch.Tensor, segments: Segments, dtype: torch.dtype) -> BlockContext:
        lm = self.language_model()
        probe = torch.empty(0, dtype=dtype, device=mask.device)  # dtype/device for the rotary
        cos_sin = lm.rotary_emb(probe, self.position_ids(mask, segments))
        return BlockContext(
            self.attention_mask(mask, segments, dtype), {"position_embeddings": cos_sin}
        )

    def run_block(self, index: int, hidden: torch.Tensor, context: BlockContext) -> torch.Tensor:
        return self.blocks[index](
            hidden, attention_mask=context.attention_mask, **context.extras
        )

    def final_norm(self, hidden: torch.Tensor) -> torch.Tensor:
        return self.language_model().norm(hidden)
