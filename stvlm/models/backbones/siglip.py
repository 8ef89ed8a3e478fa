"""SigLIP: a dual-stream backbone (also the vision tower of SmolVLM), fused in its vision tower.

Paper: Zhai et al., "Sigmoid Loss for Language Image Pre-Training", ICCV 2023. Hub:
``google/siglip-base-patch16-224``. SigLIP pools the text at the last position and was trained
on text padded to ``max_length``; the token table pads that way.
"""

from __future__ import annotations

from transformers import PreTrainedModel, SiglipConfig, SiglipModel

from stvlm.models.backbones.dual import DualEncoderBackbone
from stvlm.models.backbones.registry import BACKBONES
from stvlm.models.backbones.tokenizer import SEP_ID, VOCAB_SIZE

_TEXT = dict(vocab_size=VOCAB_SIZE, eos_token_id=SEP_ID, bos_token_id=None, pad_token_id=0)
PRESETS = {
    "tiny": dict(
        text_config=dict(_TEXT, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                         intermediate_size=37, max_position_embeddings=64),
        vision_config=dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                           intermediate_size=37, image_size=32, patch_size=8),
    ),
    "small": dict(
        text_config=dict(_TEXT, hidden_size=256, num_hidden_layers=4, num_attention_heads=4,
                         intermediate_size=1024, max_position_embeddings=64),
        vision_config=dict(hidden_size=256, num_hidden_layers=4, num_attention_heads=4,
                           intermediate_size=1024, image_size=224, patch_size=16),
    ),
    # base-patch16-224 sizes (the config defaults), with the offline tokenizer's special ids
    "base": dict(text_config=dict(eos_token_id=SEP_ID, bos_token_id=None, pad_token_id=0)),
}


@BACKBONES.register("siglip")
class SiglipBackbone(DualEncoderBackbone):
    """SigLIP: ``[pooled text ; patches ; ST]`` (no CLS) through ``vision_model.encoder.layers``."""

    family = "siglip"
    default_mean = (0.5, 0.5, 0.5)
    default_std = (0.5, 0.5, 0.5)
    has_cls = False
    unused = ("logit_scale", "logit_bias", "vision_model.head")
    model_types = ("siglip",)
    model_class = SiglipModel

    def __init__(self, model: PreTrainedModel, tokenizer, *, image_mean, image_std) -> None:
        super().__init__(model, tokenizer, image_mean=image_mean, image_std=image_std)
        model.vision_model.use_head = False  # its attention-pooling head was dropped

    @classmethod
    def preset_model(cls, preset: str) -> SiglipModel:
        return SiglipModel(SiglipConfig(**PRESETS[preset]))

    @classmethod
    def pooled_text_width(cls, model: PreTrainedModel) -> int:
        text = model.config.text_config
        return int(getattr(text, "projection_size", None) or text.hidden_size)
