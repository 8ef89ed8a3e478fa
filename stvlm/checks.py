"""An experiment config checked against the registries before any heavy work.

A config is valid field by field when it is built (:mod:`stvlm.configs`, the bottom layer, which
knows no registry). What needs the registries is checked here, in one place, by ``stvlm train``
before it loads any data and by the study planner for every arm, seed and nuisance bound: the
dataset, every registered name, the protocol on that dataset, and the early-stopping monitor
against the protocol's result keys. Nothing here reads a dataset's files or asks the machine
for a device (a study's driver may have no GPU its workers have: :func:`check_device`).
"""

from __future__ import annotations

from stvlm.configs import ExperimentConfig
from stvlm.errors import ConfigError
from stvlm.names import NAMED_FIELDS, check_name

#: Experiment fields holding a registered name, as a user writes their paths (the model's own
#: fields under ``model.``).
NAME_PATHS = tuple(f if f.startswith("data.") else f"model.{f}" for f in NAMED_FIELDS)


def _value(cfg: ExperimentConfig, path: str) -> object:
    value: object = cfg
    for part in path.split("."):
        value = getattr(value, part)
    return value


def check_experiment(cfg: ExperimentConfig) -> None:
    """Raise a one-line error for the first setting the registries refuse.

    Raises:
        ConfigError: an unknown dataset, protocol, image encoding, backbone or fine-tuning
            strategy; a ``train.monitor`` that is no validation metric of the protocol
            (:func:`stvlm.monitor.monitor_keys`).
        ProtocolError: the protocol is not defined for the dataset.
    """
    from stvlm.data.datasets import dataset_info
    from stvlm.data.protocols import PROTOCOLS
    from stvlm.monitor import monitor_keys

    try:
        info = dataset_info(cfg.data.dataset, cfg.data.data_root)
    except ConfigError as err:
        raise ConfigError(f"data.dataset: {err}") from None
    for path in NAME_PATHS:
        check_name(path, _value(cfg, path))
    monitor_keys(cfg.train.monitor, PROTOCOLS.get(cfg.data.protocol)(info))


def check_device(cfg: ExperimentConfig) -> None:
    """Raise unless this machine has ``cfg.train.device`` (``"cuda"`` without CUDA); run where
    the training will run.

    Raises:
        ConfigError: ``train.device = 'cuda'`` and no CUDA device is available.
    """
    from stvlm.seed import resolve_device

    resolve_device(cfg.train.device)
