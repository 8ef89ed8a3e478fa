"""Adaptive fine-tuning: which backbone weights train, and adapter checkpoints.

Rule: every parameter of the composed model trains (image encoder, series tokens, fusion
adapters and type embedding, head, and whatever a backbone family adds outside the pretrained
network), except those of the pretrained network ``backbone.model``, which the strategy decides:

| strategy | trainable in ``backbone.model`` |
|---|---|
| ``frozen`` | nothing (Time-VLM) |
| ``layernorm`` | every LayerNorm / RMSNorm |
| ``pfa`` | the attention of the last ``trainable_layers`` blocks (+ norms if ``train_layernorm``): ST-LLM's partially frozen attention |
| ``lora`` | LoRA matrices (peft ``inject_adapter_in_model``, rank ``lora_rank``, alpha ``lora_alpha`` or ``2 r``) on ``lora_targets`` or the family's default targets (+ norms if ``train_layernorm``) |
| ``full`` | everything |
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable
from pathlib import Path

import torch
from peft import LoraConfig, inject_adapter_in_model
from safetensors.torch import load_file, save_file
from torch import nn

from stvlm.errors import ConfigError, DataError
from stvlm.models.backbones import Backbone
from stvlm.configs import FinetuneConfig
from stvlm.registry import Registry

logger = logging.getLogger(__name__)

FINETUNE_STRATEGIES: Registry[Callable[[Backbone, FinetuneConfig], None]] = Registry(
    "finetune strategy"
)
# Our own names: peft's adapter_config.json has another schema (STVLM.save_pretrained writes that
# format in its adapter/ folder).
ADAPTER_WEIGHTS = "trainable.safetensors"
ADAPTER_CONFIG = "trainable.json"
LORA_TYPES = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.Embedding)  # what peft can adapt


def is_norm(module: nn.Module) -> bool:
    """LayerNorm, or any ``*RMSNorm`` / ``*LayerNorm`` class of a model family."""
    name = type(module).__name__
    return isinstance(module, nn.LayerNorm) or name.endswith(("RMSNorm", "LayerNorm"))


def _train_norms(model: nn.Module) -> None:
    for module in model.modules():
        if is_norm(module):
            module.requires_grad_(True)


@FINETUNE_STRATEGIES.register("frozen")
def frozen(backbone: Backbone, cfg: FinetuneConfig) -> None:
    """Nothing of the pretrained network trains."""


@FINETUNE_STRATEGIES.register("layernorm")
def layernorm(backbone: Backbone, cfg: FinetuneConfig) -> None:
    """Only the normalisation layers train."""
    _train_norms(backbone.model)


@FINETUNE_STRATEGIES.register("pfa")
def partially_frozen_attention(backbone: Backbone, cfg: FinetuneConfig) -> None:
    """The last U blocks' attention trains (ST-LLM's PFA); norms too if ``train_layernorm``."""
    layers = backbone.num_layers
    if cfg.trainable_layers > layers:
        raise ConfigError(
            f"finetune.trainable_layers = {cfg.trainable_layers} is larger than the backbone's "
            f"{layers} layers; allowed: 0..{layers}"
        )
    for block in list(backbone.blocks)[layers - cfg.trainable_layers :]:
        for name in backbone.attention_names:
            getattr(block, name).requires_grad_(True)
    if cfg.train_layernorm:
        _train_norms(backbone.model)


def lora_targets(backbone: Backbone, cfg: FinetuneConfig) -> list[str]:
    """The LoRA target module names; each must match a module (peft's suffix rule)."""
    targets = list(cfg.lora_targets or backbone.lora_targets)
    names = [n for n, _ in backbone.model.named_modules() if n]
    missing = [t for t in targets if not any(n == t or n.endswith("." + t) for n in names)]
    if missing:
        leaves = sorted({n.rsplit(".", 1)[-1] for n, m in backbone.model.named_modules()
                         if isinstance(m, LORA_TYPES) or type(m).__name__ == "Conv1D"})
        raise ConfigError(
            f"finetune.lora_targets = {tuple(targets)} has {tuple(missing)}, matching no module "
            f"of the {backbone.family} backbone; existing module names include: "
            f"{', '.join(leaves[:12])}"
        )
    return targets


@FINETUNE_STRATEGIES.register("lora")
def lora(backbone: Backbone, cfg: FinetuneConfig) -> None:
    """LoRA through peft on the target modules; norms too if ``train_layernorm``."""
    config = LoraConfig(
        r=cfg.lora_rank,
        lora_alpha=cfg.lora_alpha if cfg.lora_alpha is not None else 2 * cfg.lora_rank,
        lora_dropout=cfg.lora_dropout,
        target_modules=lora_targets(backbone, cfg),
        fan_in_fan_out=backbone.lora_fan_in_fan_out,
    )
    inject_adapter_in_model(config, backbone.model)
    backbone.model.requires_grad_(False)
    for name, param in backbone.model.named_parameters():
        if "lora_" in name:
            param.requires_grad_(True)
    if cfg.train_layernorm:
        _train_norms(backbone.model)


@FINETUNE_STRATEGIES.register("full")
def full(backbone: Backbone, cfg: FinetuneConfig) -> None:
    """The whole pretrained network trains."""
    backbone.model.requires_grad_(True)


def apply_finetune(
    model: nn.Module, backbone: Backbone, cfg: FinetuneConfig, fixed: Iterable[nn.Module] = ()
) -> None:
    """Set ``requires_grad`` on every parameter of ``model`` for the strategy ``cfg.strategy``.

    Args:
        model: the composed model (its parameters outside ``backbone.model`` train, except
            those of ``fixed``).
        backbone: the backbone inside ``model``.
        cfg: strategy and its settings.
        fixed: modules outside the backbone that keep their weights (e.g. ST-VLM's highway
            under ``head.highway_trainable = false``).
    """
    strategy = FINETUNE_STRATEGIES.get(cfg.strategy)
    model.requires_grad_(True)
    backbone.model.requires_grad_(False)
    strategy(backbone, cfg)
    for module in fixed:
        module.requires_grad_(False)
    logger.info(
        "finetune %s: %d of %d parameters train",
        cfg.strategy,
        trainable_parameters(model),
        sum(p.numel() for p in model.parameters()),
    )


def trainable_parameters(model: nn.Module) -> int:
    """Number of parameter values with ``requires_grad``."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def trainable_state(model: nn.Module) -> dict[str, torch.Tensor]:
    """The trainable parameters by name (what an adapter checkpoint holds)."""
    return {n: p for n, p in model.named_parameters() if p.requires_grad}


def save_adapter(model: nn.Module, path: str | Path) -> Path:
    """Write the trainable parameters (``trainable.safetensors``) and the config JSON to ``path``.

    Args:
        model: the composed model; its ``cfg`` (if any) is stored in ``trainable.json``.
        path: a folder (created if needed).

    Returns:
        The folder.
    """
    folder = Path(path)
    folder.mkdir(parents=True, exist_ok=True)
    state = {n: p.detach().cpu().contiguous() for n, p in trainable_state(model).items()}
    save_file(state, str(folder / ADAPTER_WEIGHTS))
    cfg = getattr(model, "cfg", None)
    meta = {"config": cfg.to_dict() if cfg is not None else None, "keys": sorted(state)}
    (folder / ADAPTER_CONFIG).write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")
    return folder


def load_adapter(model: nn.Module, path: str | Path) -> None:
    """Restore trainable parameters saved by :func:`save_adapter` (keys must match exactly).

    The frozen weights are not in the file: ``model`` must be built the same way (same
    pretrained id, or same preset and seed) and fine-tuned with the same strategy.

    Raises:
        DataError: the file is missing, or its keys or shapes differ from ``model``'s
            trainable parameters.
    """
    file = Path(path) / ADAPTER_WEIGHTS
    if not file.is_file():
        raise DataError(f"adapter file {file} does not exist; expected a folder written by save_adapter")
    saved = load_file(str(file))
    own = trainable_state(model)
    missing, unexpected = sorted(set(own) - set(saved)), sorted(set(saved) - set(own))
    if missing or unexpected:
        raise DataError(
            f"adapter file {file} does not match the model: {len(missing)} missing keys "
            f"{missing[:3]}, {len(unexpected)} unexpected keys {unexpected[:3]}; rebuild the "
            "model with the config it was saved with"
        )
    shapes = [n for n in own if tuple(own[n].shape) != tuple(saved[n].shape)]
    if shapes:
        n = shapes[0]
        raise DataError(
            f"adapter file {file}: {n} has shape {tuple(saved[n].shape)}, the model's "
            f"{tuple(own[n].shape)}; rebuild the model with the config it was saved with"
        )
    with torch.no_grad():
        for name, param in own.items():
            param.copy_(saved[name].to(param.device, param.dtype))
    meta_file = Path(path) / ADAPTER_CONFIG
    cfg = getattr(model, "cfg", None)
    if meta_file.is_file() and cfg is not None:
        stored = json.loads(meta_file.read_text()).get("config")
        if stored is not None and stored != cfg.to_dict():
            logger.warning("adapter %s was saved with a different config than the model's", path)
