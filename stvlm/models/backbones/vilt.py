"""ViLT: the default backbone, single-stream, so first-layer fusion is plain token injection.

Paper: Kim et al., "ViLT: Vision-and-Language Transformer Without Convolution or Region
Supervision", ICML 2021. Hub: ``dandelin/vilt-b32-mlm`` (Time-VLM uses ViLT too).

The image tokens are built here rather than by ``ViltEmbeddings.visual_embed``: that method
samples the patch order at random (``torch.multinomial``), which would break the fixed patch
layout that the spatial bias relies on. This does the same computation in raster order
(patch projection + bilinear-interpolated position embeddings + CLS + modality type); the
encoder is permutation-equivariant, so the result only differs in the order of the tokens.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from transformers import ViltConfig, ViltModel

from stvlm.models.backbones.base import Backbone, BlockContext, Segments
from stvlm.models.backbones.registry import BACKBONES
from stvlm.models.backbones.tokenizer import VOCAB_SIZE

PRESETS = {
    "tiny": dict(
        hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=37,
        image_size=32, patch_size=8, max_position_embeddings=64, hidden_dropout_prob=0.0,
        attention_probs_dropout_prob=0.0, vocab_size=VOCAB_SIZE,
    ),
    "small": dict(
        hidden_size=256, num_hidden_layers=4, num_attention_heads=4, intermediate_size=1024,
        image_size=224, patch_size=32, max_position_embeddings=64, vocab_size=VOCAB_SIZE,
    ),
    "base": dict(image_size=384, patch_size=32),  # ViLT-B/32: 768 wide, 12 layers
}


@BACKBONES.register("vilt")
class ViltBackbone(Backbone):
    """ViLT: ``[text ; CLS + patches]`` through ``encoder.layer``; ST tokens join the same stream."""

    family = "vilt"
    lora_targets = ("query", "value")
    attention_names = ("attention",)
    default_mean = (0.5, 0.5, 0.5)
    default_std = (0.5, 0.5, 0.5)
    mask_kind = "additive"  # ViLT adds the mask to its attention scores itself
    model_types = ("vilt",)
    model_class = ViltModel

    def __init__(self, model: ViltModel, tokenizer, *, image_mean, image_std) -> None:
        super().__init__(model, tokenizer, image_mean=image_mean, image_std=image_std)
        model.pooler = None  # pretrained checkpoints carry one; never used, never trained

    @classmethod
    def preset_model(cls, preset: str) -> ViltModel:
        return ViltModel(ViltConfig(**PRESETS[preset]), add_pooling_layer=False)

    @classmethod
    def text_positions_of(cls, model: ViltModel) -> int:
        return int(model.config.max_position_embeddings)

    def block_owner(self):
        return self.model.encoder, "layer"

    @property
    def hidden_size(self) -> int:
        return int(self.model.config.hidden_size)

    @property
    def native_image_size(self) -> int:
        return int(self.model.config.image_size)

    @property
    def patch_size(self) -> int:
        return int(self.model.config.patch_size)

    def embed(self, input_ids=None, attention_mask=None, pixel_values=None, *, batch_size=None):
        emb = self.model.embeddings
        parts, masks = [], []
        segments = Segments()
        if input_ids is not None:
            text = emb.text_embeddings(input_ids=input_ids)  # [B, L_t, d]
            text = text + emb.token_type_embeddings.weight[0]
            parts.append(text)
            masks.append(attention_mask.bool())
            segments = Segments(text=slice(0, text.shape[1]))
        if pixel_values is not None:
            image = self._image_tokens(pixel_values)  # [B, 1 + P, d]
            start = segments.text.stop
            parts.append(image)
            masks.append(torch.ones(image.shape[:2], dtype=torch.bool, device=image.device))
            segments = Segments(
                text=segments.text,
                image=slice(start, start + image.shape[1]),
                patches=slice(start + 1, start + image.shape[1]),
            )
        if not parts:
            weight = emb.cls_token
            empty = weight.new_zeros(batch_size, 0, self.hidden_size)
            return empty, torch.ones(batch_size, 0, dtype=torch.bool, device=weight.device), segments
        return torch.cat(parts, dim=1), torch.cat(masks, dim=1), segments

    def _image_tokens(self, pixel_values: torch.Tensor) -> torch.Tensor:
        """CLS + raster-ordered patch tokens with position and modality-type embeddings."""
        emb = self.model.embeddings
        x = emb.patch_embeddings(pixel_values)  # [B, d, h, w]
        batch, dim, h, w = x.shape
        side = self.native_image_size // self.patch_size
        grid_pos = emb.position_embeddings[:, 1:, :].transpose(1, 2).reshape(1, dim, side, side)
        grid_pos = F.interpolate(grid_pos, size=(h, w), mode="bilinear", align_corners=True)
        patches = (x + grid_pos).flatten(2).transpose(1, 2)  # [B, h*w, d]
        cls = (emb.cls_token + emb.position_embeddings[:, :1, :]).expand(batch, -1, -1)  # [B, 1, d]
        tokens = torch.cat([cls, patches], dim=1) + emb.token_type_embeddings.weight[1]
        return emb.dropout(tokens)

    def run_block(self, index: int, hidden: torch.Tensor, context: BlockContext) -> torch.Tensor:
        """One ``ViltLayer`` with its own submodules (LoRA-wrapped ``query``/``value`` included),
        its self-attention through ``F.scaled_dot_product_attention``: ViLT's code computes the
        same softmax(QK^T / sqrt(s) + mask) V eagerly (matmul, divide, add, softmax, matmul),
        which made an ST-VLM step twice as slow as the LLM-only one on CPU."""
        layer = self.blocks[index]
        attn = layer.attention.attention
        x = layer.layernorm_before(hidden)  # [B, L, d] (ViLT normalises before attention)
        b, length, _ = x.shape
        heads, size = attn.num_attention_heads, attn.attention_head_size
        q, k, v = (proj(x).view(b, length, heads, size).transpose(1, 2)  # [B, h, L, s] each
                   for proj in (attn.query, attn.key, attn.value))
        mask = context.attention_mask.to(q.dtype)  # [B, 1, 1 or L, L] additive
        drop = attn.dropout.p if layer.training else 0.0
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=drop)  # [B, h, L, s]
        out = out.transpose(1, 2).reshape(b, length, heads * size)  # [B, L, d]
        hidden = layer.attention.output(out, x) + hidden  # first residual
        return layer.output(layer.intermediate(layer.layernorm_after(hidden)), hidden)  # second

    def final_norm(self, hidden: torch.Tensor) -> torch.Tensor:
        return self.model.layernorm(hidden)
