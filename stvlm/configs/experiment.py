"""The config of one training run: data, model and training settings together."""

from __future__ import annotations

from stvlm.configs.base import Config, config_class
from stvlm.configs.base import field as cfield
from stvlm.configs.data import DataConfig
from stvlm.configs.model import STVLMConfig
from stvlm.configs.train import STVLM_TRAIN_SETTINGS, TrainConfig


@config_class
class ExperimentConfig(Config):
    """Everything that defines one training run of ST-VLM."""

    name: str = cfield("experiment", help="a label for outputs, and the start of the folder name "
                       "`stvlm train` writes to (runs/<name>-<hash>): no path separator, '.' or '..'")
    data: DataConfig = cfield(default_factory=DataConfig)
    model: STVLMConfig = cfield(default_factory=STVLMConfig)
    train: TrainConfig = cfield(default_factory=TrainConfig)

    def check(self) -> None:
        name = self.name
        if not name.strip() or name in (".", "..") or any(c in name for c in "/\\") or not name.isprintable():
            self.fail("name", "is not allowed; it names an output folder: give a non-empty label without "
                      "'/', '\\' or control characters, other than '.' and '..'")

    @classmethod
    def default(cls, dataset: str = "nycbike-drop") -> ExperimentConfig:
        """What ``stvlm train`` runs without a config file: the tiny random ViLT with the model
        defaults and ST-VLM's training budget of ``benchmarks/fewshot_accuracy.py`` (at most 40
        epochs, batch 16, patience 10, :data:`~stvlm.configs.train.STVLM_TRAIN_SETTINGS`: a 30%
        warm-up + cosine, patience counted after the warm-up, the fitted start kept unless an
        epoch beats it on validation, the mean of the all-entries and masked losses and of the
        two validation MAEs for early stopping, training windows rescaled to random levels in
        [1/1.5, 1.5]), on the full training part. On a pair of the accuracy table ``stvlm train``
        adds that pair's choices (its epoch cap and lookback days:
        :func:`stvlm.configs.pair_choices.pair_choices`)."""
        return cls(name="train", data=DataConfig(dataset=dataset), model=STVLMConfig.tiny(),
                   train=TrainConfig(**STVLM_TRAIN_SETTINGS))

    @classmethod
    def tiny(cls, dataset: str = "nycbike-drop") -> ExperimentConfig:
        """A smoke-size run: tiny random ViLT, 2 epochs of at most 4 batches."""
        return cls(
            name="tiny",
            data=DataConfig(dataset=dataset),
            model=STVLMConfig.tiny(),
            train=TrainConfig(epochs=2, batch_size=8, max_batches_per_epoch=4, patience=2),
        )
