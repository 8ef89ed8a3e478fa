"""Study presets: the experiment a study starts from, and how its baselines train beside it.

``StudySpec.preset`` names one of :data:`PRESETS`. The ``benchmark`` and ``stvlm`` presets train
the ST-VLM arms with ``STVLM_TRAIN_SETTINGS`` (ST-VLM's own warm-up, patience, start candidate,
loss and level augmentation) and the baselines with ``TrainConfig``'s defaults for those keys, as the accuracy
benchmark does, so a spec names ST-VLM's training instead of restating it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from stvlm.configs import ExperimentConfig
from stvlm.configs.train import STVLM_TRAIN_SETTINGS, TrainConfig, without_stvlm_settings


@dataclass(frozen=True)
class Preset:
    """The experiment a study starts from, before its fixed settings.

    Args:
        experiment: dataset name -> a base experiment.
        stvlm_training: the ST-VLM arms train with ``STVLM_TRAIN_SETTINGS`` and the baselines
            with ``TrainConfig``'s defaults for those keys (as in the accuracy benchmark);
            False: both train with the base experiment's settings.
        smoke: the preset of the study's smoke test (``StudySpec.smoke``): tiny models that
            train the way the study's do.
    """

    experiment: Callable[[str], ExperimentConfig]
    stvlm_training: bool = False
    smoke: str = "tiny"

    def build(self, dataset: str) -> ExperimentConfig:
        base = self.experiment(dataset)
        return base.replace(train=base.train.replace(**STVLM_TRAIN_SETTINGS)) if self.stvlm_training else base

    def baseline_train(self, train: TrainConfig) -> TrainConfig:
        """The baselines' training settings beside arms that train with ``train``."""
        return without_stvlm_settings(train) if self.stvlm_training else train


#: ``StudySpec.preset`` -> its :class:`Preset` (the spec's ``preset`` field lists the same names).
PRESETS: dict[str, Preset] = {
    # smoke size: the tiny random ViLT, 2 epochs of at most 4 batches, for arms and baselines
    "tiny": Preset(ExperimentConfig.tiny),
    # ExperimentConfig's field defaults (the model at its default sizes, TrainConfig's defaults)
    "default": Preset(lambda dataset: ExperimentConfig()),
    # the accuracy benchmark's setup (benchmarks/fewshot_accuracy.py): ExperimentConfig.default()
    # (STVLMConfig.tiny(), at most 40 epochs, patience 10) with ST-VLM's training settings
    "benchmark": Preset(ExperimentConfig.default, stvlm_training=True, smoke="benchmark"),
    # the model at its default sizes, trained as ST-VLM trains (the cluster-size studies)
    "stvlm": Preset(lambda dataset: ExperimentConfig(), stvlm_training=True, smoke="benchmark"),
}
