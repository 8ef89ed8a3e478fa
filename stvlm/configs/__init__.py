"""Every config of the library, in the bottom layer: nothing here imports upward.

``base`` is the config engine (typed, frozen, strict ``from_dict``, ``canonical_hash``); the
other modules hold the configs of the data side (``data``), training (``train``), the model and
its modalities (``model``) and one whole run (``experiment``), and the accuracy benchmark's per-pair
choices (``pair_choices``). Modalities, models, baselines,
the engine and the harness all read their settings from here.
"""

from stvlm.configs.base import C, Config, canonical_hash, config_class, field, set_known_path
from stvlm.configs.data import DataConfig, FewShotConfig
from stvlm.configs.experiment import ExperimentConfig
from stvlm.configs.model import (
    BackboneConfig,
    Finetune,
    FinetuneConfig,
    FusionConfig,
    FusionDepth,
    HeadConfig,
    ImageConfig,
    SeriesConfig,
    STVLMConfig,
    TextConfig,
)
from stvlm.configs.train import TrainConfig

__all__ = [
    "C", "BackboneConfig", "Config", "DataConfig", "ExperimentConfig", "FewShotConfig", "Finetune",
    "FinetuneConfig", "FusionConfig", "FusionDepth", "HeadConfig", "ImageConfig", "STVLMConfig",
    "SeriesConfig", "TextConfig", "TrainConfig", "canonical_hash", "config_class", "field",
    "set_known_path",
]
