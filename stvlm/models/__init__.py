"""The ST-VLM model: backbones, first-layer fusion, fine-tuning, head, and the composed model.

``build_model(cfg, forecast)`` is the entry point; the registries name the choices.
"""

from stvlm.models.backbones import BACKBONES, Backbone, build_backbone
from stvlm.models.build import build_model
from stvlm.configs import STVLMConfig
from stvlm.models.finetune import (
    FINETUNE_STRATEGIES,
    apply_finetune,
    load_adapter,
    save_adapter,
    trainable_parameters,
)
from stvlm.models.fusion import Fusion, GatedCrossAttention, SpatialBias
from stvlm.models.heads import PredictionHead
from stvlm.models.stvlm import STAGES, STVLM, DatasetContext

__all__ = [
    "BACKBONES",
    "FINETUNE_STRATEGIES",
    "STAGES",
    "STVLM",
    "Backbone",
    "DatasetContext",
    "Fusion",
    "GatedCrossAttention",
    "PredictionHead",
    "STVLMConfig",
    "SpatialBias",
    "apply_finetune",
    "build_backbone",
    "build_model",
    "load_adapter",
    "save_adapter",
    "trainable_parameters",
]
