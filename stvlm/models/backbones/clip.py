"""CLIP: a dual-stream backbone (Time-VLM's default), fused inside the vision tower.

Paper: Radford et al., "Learning Transferable Visual Models From Natural Language
Supervision", ICML 2021. Hub: ``openai/clip-vit-base-patch32``.
"""

from __future__ import annotations

import torch
from transformers import CLIPConfig, CLIPModel

from stvlm.models.backbones.dual import DualEncoderBackbone
from stvlm.models.backbones.loading import CLIP_MEAN, CLIP_STD
from stvlm.models.backbones.registry import BACKBONES
from stvlm.models.backbones.tokenizer import SEP_ID, VOCAB_SIZE

_TEXT = dict(vocab_size=VOCAB_SIZE, eos_token_id=SEP_ID, bos_token_id=None, pad_token_id=0)
PRESETS = {
    "tiny": dict(
        text_config=dict(_TEXT, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                         intermediate_size=37, max_position_embeddings=64),
        vision_config=dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                           intermediate_size=37, image_size=32, patch_size=8),
        projection_dim=16,
    ),
    "small": dict(
        text_config=dict(_TEXT, hidden_size=256, num_hidden_layers=4, num_attention_heads=4,
                         intermediate_size=1024, max_position_embeddings=77),
        vision_config=dict(hidden_size=256, num_hidden_layers=4, num_attention_heads=4,
                           intermediate_size=1024, image_size=224, patch_size=32),
        projection_dim=256,
    ),
    # ViT-B/32 sizes (the config defaults), with the offline tokenizer's special ids
    "base": dict(text_config=dict(eos_token_id=SEP_ID, bos_token_id=None, pad_token_id=0)),
}


@BACKBONES.register("clip")
class ClipBackbone(DualEncoderBackbone):
    """CLIP: ``[pooled text ; CLS + patches ; ST]`` through ``vision_model.encoder.layers``."""

    family = "clip"
    default_mean = CLIP_MEAN
    default_std = CLIP_STD
    has_cls = True
    unused = ("visual_projection", "text_projection", "logit_scale")
    model_types = ("clip",)
    model_class = CLIPModel

    @classmethod
    def preset_model(cls, preset: str) -> CLIPModel:
        return CLIPModel(CLIPConfig(**PRESETS[preset]))

    def pre_norm(self, tokens: torch.Tensor) -> torch.Tensor:
        return self.model.vision_model.pre_layrnorm(tokens)
