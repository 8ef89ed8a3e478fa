"""SmolVLM / Idefics3: a small decoder VLM (SigLIP-style vision tower + pixel-shuffle connector + Llama).

Hub: ``HuggingFaceTB/SmolVLM-256M-Instruct`` (Idefics3 architecture). Loaded with
``AutoModel`` so both ``idefics3`` and ``smolvlm`` checkpoints work; the random presets are
``Idefics3Model``. Simplification: the image tokens enter without the ``<fake_token_around_image>``
/ ``<global-img>`` wrapper tokens of the chat template, and one image of the full size is used
(no image splitting).
"""

from __future__ import annotations

import torch
from torch import nn
from transformers import AutoModel, Idefics3Config, Idefics3Model, PreTrainedModel

from stvlm.models.backbones.decoder import DecoderBackbone
from stvlm.models.backbones.registry import BACKBONES
from stvlm.models.backbones.tokenizer import IMAGE_ID, VOCAB_SIZE

_IDS = dict(vocab_size=VOCAB_SIZE, pad_token_id=0, bos_token_id=None, eos_token_id=None)
PRESETS = {
    "tiny": dict(
        text_config=dict(_IDS, model_type="llama", hidden_size=32, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, intermediate_size=37,
                         max_position_embeddings=512),
        vision_config=dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                           intermediate_size=37, image_size=32, patch_size=4),
        scale_factor=2, image_token_id=IMAGE_ID,
    ),
    "small": dict(
        text_config=dict(_IDS, model_type="llama", hidden_size=256, num_hidden_layers=4,
                         num_attention_heads=4, num_key_value_heads=2, intermediate_size=1024,
                         max_position_embeddings=2048),
        vision_config=dict(hidden_size=256, num_hidden_layers=4, num_attention_heads=4,
                           intermediate_size=1024, image_size=256, patch_size=16),
        scale_factor=2, image_token_id=IMAGE_ID,
    ),
    # SmolVLM-256M sizes
    "base": dict(
        text_config=dict(model_type="llama", vocab_size=49280, hidden_size=576,
                         num_hidden_layers=30, num_attention_heads=9, num_key_value_heads=3,
                         intermediate_size=1536, max_position_embeddings=8192,
                         rope_parameters={"rope_type": "default", "rope_theta": 100000.0},
                         pad_token_id=0),
        vision_config=dict(hidden_size=768, num_hidden_layers=12, num_attention_heads=12,
                           intermediate_size=3072, image_size=512, patch_size=16),
        scale_factor=4, image_token_id=IMAGE_ID,
    ),
}


@BACKBONES.register("smolvlm")
class SmolVLMBackbone(DecoderBackbone):
    """Idefics3 family: ``[text ; connector(vision) ; ST]`` through ``text_model.layers``."""

    family = "smolvlm"
    default_mean = (0.5, 0.5, 0.5)
    default_std = (0.5, 0.5, 0.5)
    model_types = ("idefics3", "smolvlm")
    model_class = AutoModel

    @classmethod
    def preset_model(cls, preset: str) -> PreTrainedModel:
        return Idefics3Model(Idefics3Config(**PRESETS[preset]))

    @classmethod
    def text_positions_of(cls, model: PreTrainedModel) -> int:
        return int(model.config.text_config.max_position_embeddings)

    def language_model(self) -> nn.Module:
        return self.model.text_model

    @property
    def native_image_size(self) -> int:
        return int(self.model.config.vision_config.image_size)

    @property
    def patch_size(self) -> int:
        return int(self.model.config.vision_config.patch_size)

    @property
    def token_stride(self) -> int:
        return self.patch_size * int(self.model.config.scale_factor)

    def image_features(self, pixel_values: torch.Tensor) -> torch.Tensor:
        # the vision tower and connector directly: Idefics3Model.get_image_features would drop
        # all-zero images as padding
        vision = self.model.vision_model(pixel_values=pixel_values.to(self.model.dtype))
        return self.model.connector(vision.last_hidden_state)  # [B, P / scale^2, d]
