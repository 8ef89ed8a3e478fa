"""Qwen2-VL and Qwen2.5-VL: decoder VLMs with a native-resolution vision tower and M-RoPE.

Hubs: ``Qwen/Qwen2-VL-2B-Instruct``, ``Qwen/Qwen2.5-VL-3B-Instruct``. The pixels are patchified
here the way the Qwen2-VL image processor does it (``patchify``: merge windows contiguous, the
frame repeated ``temporal_patch_size`` times), so float pixels and their gradients go straight
into ``model.visual``. M-RoPE positions follow ``Qwen2VLModel.get_rope_index``: text tokens get
``(p, p, p)``, image tokens ``(s, s + row, s + col)`` with ``s`` the number of text tokens
before them, and the ST tokens continue after ``s + max(rows, cols)``.
"""

from __future__ import annotations

import torch
from torch import nn
from transformers import (
    PreTrainedModel,
    Qwen2_5_VLConfig,
    Qwen2_5_VLModel,
    Qwen2VLConfig,
    Qwen2VLModel,
)

from stvlm.models.backbones.decoder import DecoderBackbone, compact_positions
from stvlm.models.backbones.loading import CLIP_MEAN, CLIP_STD
from stvlm.models.backbones.registry import BACKBONES
from stvlm.models.backbones.sequence import Segments
from stvlm.models.backbones.tokenizer import IMAGE_ID, VOCAB_SIZE

_ROPE = {"rope_type": "default", "mrope_section": [1, 1, 2], "rope_theta": 10000.0}
_TINY_TEXT = dict(
    vocab_size=VOCAB_SIZE, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
    num_key_value_heads=2, intermediate_size=37, max_position_embeddings=512,
    rope_parameters=_ROPE, pad_token_id=0, bos_token_id=None, eos_token_id=None,
)
_SMALL_TEXT = dict(
    _TINY_TEXT, hidden_size=256, num_hidden_layers=4, intermediate_size=1024,
    rope_parameters=dict(_ROPE, mrope_section=[16, 8, 8]), max_position_embeddings=4096,
)
_IDS = dict(image_token_id=IMAGE_ID, pad_token_id=0)
QWEN2_PRESETS = {
    "tiny": dict(text_config=_TINY_TEXT, vision_config=dict(
        depth=2, embed_dim=32, hidden_size=32, num_heads=4, mlp_ratio=2, patch_size=4), **_IDS),
    "small": dict(text_config=_SMALL_TEXT, vision_config=dict(
        depth=4, embed_dim=256, hidden_size=256, num_heads=4, mlp_ratio=4, patch_size=14), **_IDS),
    "base": dict(  # Qwen2-VL-2B sizes
        text_config=dict(vocab_size=151936, hidden_size=1536, num_hidden_layers=28,
                         num_attention_heads=12, num_key_value_heads=2, intermediate_size=8960,
                         rope_parameters={"rope_type": "default", "mrope_section": [16, 24, 24],
                                          "rope_theta": 1000000.0}),
        vision_config=dict(hidden_size=1536, embed_dim=1280, depth=32), **_IDS),
}
QWEN25_PRESETS = {
    "tiny": dict(text_config=_TINY_TEXT, vision_config=dict(
        depth=2, hidden_size=32, intermediate_size=37, num_heads=4, out_hidden_size=32,
        patch_size=4, window_size=16, fullatt_block_indexes=[1]), **_IDS),
    "small": dict(text_config=_SMALL_TEXT, vision_config=dict(
        depth=4, hidden_size=256, intermediate_size=1024, num_heads=4, out_hidden_size=256,
        patch_size=14, window_size=112, fullatt_block_indexes=[3]), **_IDS),
    "base": dict(  # Qwen2.5-VL-3B sizes
        text_config=dict(vocab_size=151936, hidden_size=2048, num_hidden_layers=36,
                         num_attention_heads=16, num_key_value_heads=2, intermediate_size=11008,
                         rope_parameters={"rope_type": "default", "mrope_section": [16, 24, 24],
                                          "rope_theta": 1000000.0}),
        vision_config=dict(depth=32, hidden_size=1280, intermediate_size=3420, num_heads=16,
                           out_hidden_size=2048), **_IDS),
}
TOKENS_PER_SIDE = 8  # default image: 8 x 8 image tokens (224 px for patch 14, merge 2)


class QwenVLBackbone(DecoderBackbone):
    """Qwen-VL: ``[text ; visual(pixels) ; ST]`` through ``language_model.layers`` with M-RoPE."""

    default_mean = CLIP_MEAN
    default_std = CLIP_STD

    @classmethod
    def text_positions_of(cls, model: PreTrainedModel) -> int:
        return int(model.config.text_config.max_position_embeddings)

    def language_model(self) -> nn.Module:
        return self.model.language_model

    @property
    def native_image_size(self) -> int:
        return self.token_stride * TOKENS_PER_SIDE

    @property
    def patch_size(self) -> int:
        return int(self.model.config.vision_config.patch_size)

    @property
    def token_stride(self) -> int:
        return self.patch_size * int(self.model.config.vision_config.spatial_merge_size)

    def image_features(self, pixel_values: torch.Tensor) -> torch.Tensor:
        vision = self.model.config.vision_config
        p, m, tp = vision.patch_size, vision.spatial_merge_size, vision.temporal_patch_size
        b, c, height, width = pixel_values.shape
        gh, gw = height // p, width // p
        x = pixel_values.reshape(b, c, gh // m, m, p, gw // m, m, p)
        x = x.permute(0, 2, 5, 3, 6, 1, 4, 7)  # [B, gh/m, gw/m, m, m, C, p, p]
        x = x.unsqueeze(6).expand(-1, -1, -1, -1, -1, -1, tp, -1, -1)  # [..., C, tp, p, p]
        flat = x.reshape(b * gh * gw, c * tp * p * p)  # [B * gh * gw, C * tp * p * p]
        grid = torch.tensor([[1, gh, gw]] * b, device=pixel_values.device)
        merged = self.model.visual(flat.to(self.model.visual.dtype), grid_thw=grid).pooler_output
        return merged.reshape(b, (gh // m) * (gw // m), -1)  # [B, P, d]

    def position_ids(self, mask: torch.Tensor, segments: Segments) -> torch.Tensor:
        """``[3, B, L]`` (temporal, row, column) positions, as ``get_rope_index`` computes them."""
        batch = mask.shape[0]
        text_mask = mask[:, segments.text]
        text_pos = compact_positions(text_mask)  # [B, L_t]
        start = text_mask.long().sum(dim=1)  # [B] tokens before the image
        parts = [text_pos[None].expand(3, -1, -1)]  # [3, B, L_t]
        if segments.image.stop > segments.image.start:
            rows, cols = self.patch_grid
            r = torch.arange(rows, device=mask.device).repeat_interleave(cols)  # [P]
            c = torch.arange(cols, device=mask.device).repeat(rows)  # [P]
            grid = torch.stack([torch.zeros_like(r), r, c])  # [3, P]
            parts.append(start[None, :, None] + grid[:, None, :])  # [3, B, P]
            start = start + max(rows, cols)
        count = segments.st.stop - segments.st.start
        st = start[:, None] + torch.arange(count, device=mask.device)  # [B, M]
        parts.append(st[None].expand(3, batch, -1))
        return torch.cat(parts, dim=2)  # [3, B, L]


@BACKBONES.register("qwen2-vl")
class Qwen2VLBackbone(QwenVLBackbone):
    family = "qwen2-vl"
    model_types = ("qwen2_vl",)
    model_class = Qwen2VLModel

    @classmethod
    def preset_model(cls, preset: str) -> Qwen2VLModel:
        return Qwen2VLModel(Qwen2VLConfig(**QWEN2_PRESETS[preset]))


@BACKBONES.register("qwen2.5-vl")
class Qwen25VLBackbone(QwenVLBackbone):
    family = "qwen2.5-vl"
    model_types = ("qwen2_5_vl",)
    model_class = Qwen2_5_VLModel

    @classmethod
    def preset_model(cls, preset: str) -> Qwen2_5_VLModel:
        return Qwen2_5_VLModel(Qwen2_5_VLConfig(**QWEN25_PRESETS[preset]))
