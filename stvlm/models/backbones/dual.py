"""Dual-stream (contrastive) backbones, CLIP and SigLIP: fusion happens in the vision tower.

They have no joint layers, so "the first layer of the VLM" is the first layer of the vision
tower (reference/method.md 1(e)). The text tower runs normally; its pooled output, projected
to the vision width by a new learned linear map, becomes one text token of the vision
sequence, and the ST tokens are appended after the patch tokens:
``[pooled text ; (CLS) + patches ; ST]`` through ``vision_model.encoder.layers``.
"""

from __future__ import annotations

from typing import ClassVar

import torch
from torch import nn
from transformers import PreTrainedModel

from stvlm.models.backbones.base import Backbone, BlockContext, Segments


class DualEncoderBackbone(Backbone):
    """Shared adapter of CLIP-like models (``text_model`` + ``vision_model``).

    Subclasses name the unused heads to drop (``unused``), whether the vision embeddings
    carry a CLS token (``has_cls``) and the width of the pooled text output.
    """

    lora_targets = ("q_proj", "v_proj")
    attention_names = ("self_attn",)
    has_cls: ClassVar[bool] = True
    unused: ClassVar[tuple[str, ...]] = ()

    def __init__(self, model: PreTrainedModel, tokenizer, *, image_mean, image_std) -> None:
        super().__init__(model, tokenizer, image_mean=image_mean, image_std=image_std)
        for dotted in self.unused:  # heads of the contrastive loss: never used, never trained
            owner_name, _, attr = dotted.rpartition(".")
            owner = model.get_submodule(owner_name) if owner_name else model
            if getattr(owner, attr, None) is not None:
                setattr(owner, attr, None)
        self.text_to_vision = nn.Linear(self.pooled_text_width(model), self.hidden_size)

    @classmethod
    def pooled_text_width(cls, model: PreTrainedModel) -> int:
        """Width of the text tower's pooled output."""
        return int(model.config.text_config.hidden_size)

    @classmethod
    def text_positions_of(cls, model: PreTrainedModel) -> int:
        return int(model.config.text_config.max_position_embeddings)

    def block_owner(self):
        return self.model.vision_model.encoder, "layers"

    @property
    def hidden_size(self) -> int:
        return int(self.model.config.vision_config.hidden_size)

    @property
    def native_image_size(self) -> int:
        return int(self.model.config.vision_config.image_size)

    @property
    def patch_size(self) -> int:
        return int(self.model.config.vision_config.patch_size)

    def embed(self, input_ids=None, attention_mask=None, pixel_values=None, *, batch_size=None):
        parts, masks = [], []
        text, image, patches = slice(0, 0), slice(0, 0), slice(0, 0)
        if input_ids is not None:
            pooled = self.model.text_model(input_ids=input_ids, attention_mask=attention_mask)
            token = self.text_to_vision(pooled.pooler_output)[:, None, :]  # [B, 1, d]
            parts.append(token)
            text = slice(0, 1)
        if pixel_values is not None:
            vision = self.model.vision_model
            resize = pixel_values.shape[-1] != self.native_image_size
            tokens = vision.embeddings(pixel_values, interpolate_pos_encoding=resize)  # [B, (1+)P, d]
            tokens = self.pre_norm(tokens)
            parts.append(tokens)
            start = text.stop
            image = slice(start, start + tokens.shape[1])
            patches = slice(start + int(self.has_cls), image.stop)
        segments = Segments(text=text, image=image, patches=patches)
        if not parts:
            weight = self.text_to_vision.weight
            empty = weight.new_zeros(batch_size, 0, self.hidden_size)
            return empty, torch.ones(batch_size, 0, dtype=torch.bool, device=weight.device), segments
        hidden = torch.cat(parts, dim=1)  # [B, L, d]
        masks = torch.ones(hidden.shape[:2], dtype=torch.bool, device=hidden.device)
        return hidden, masks, segments

    def pre_norm(self, tokens: torch.Tensor) -> torch.Tensor:
        """The vision tower's norm before the first layer (CLIP has one, SigLIP none)."""
        return tokens

    def run_block(self, index: int, hidden: torch.Tensor, context: BlockContext) -> torch.Tensor:
        return self.blocks[index](hidden, attention_mask=context.attention_mask)

    def final_norm(self, hidden: torch.Tensor) -> torch.Tensor:
        return self.model.vision_model.post_layernorm(hidden)
