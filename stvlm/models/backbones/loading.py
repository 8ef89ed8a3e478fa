"""Loading a pretrained backbone: model, tokenizer and image statistics from a hub id or folder."""

from __future__ import annotations

import json
import pickle
from typing import Any

import torch
from transformers import AutoConfig, AutoTokenizer, PreTrainedModel
from transformers.utils import cached_file

from stvlm.errors import ConfigError
from stvlm.configs import BackboneConfig

HALF = (0.5, 0.5, 0.5)
CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)


def load_pretrained(
    cfg: BackboneConfig,
    model_class: Any,
    model_types: tuple[str, ...],
    load_kwargs: dict[str, Any],
    default_mean: tuple[float, ...],
    default_std: tuple[float, ...],
) -> tuple[PreTrainedModel, Any, tuple[float, ...], tuple[float, ...]]:
    """``from_pretrained`` of ``cfg.pretrained`` (passed through unchanged, no remote code).

    Args:
        cfg: name, hub id or folder, revision, ``local_files_only``.
        model_class: the class whose ``from_pretrained`` loads the model.
        model_types: the ``config.model_type`` values the family accepts.
        load_kwargs: extra ``from_pretrained`` arguments (``attn_implementation``).
        default_mean: image mean when the folder has no ``preprocessor_config.json``.
        default_std: image std likewise.

    Returns:
        ``(model, tokenizer, image_mean, image_std)``; a tokenizer without a pad token pads
        with its end-of-sequence token.

    Raises:
        ConfigError: nothing loadable there, or a model of another family.
    """
    hub = {"revision": cfg.revision, "local_files_only": cfg.local_files_only}
    where = f"backbone.pretrained = {cfg.pretrained!r}"
    try:
        model_type = AutoConfig.from_pretrained(cfg.pretrained, **hub).model_type
        if model_type not in model_types:
            raise ConfigError(
                f"{where} holds a {model_type!r} model; backbone.name = {cfg.name!r} takes "
                f"model types: {', '.join(model_types)}"
            )
        model = model_class.from_pretrained(cfg.pretrained, **hub, **load_kwargs,
                                            dtype=getattr(torch, cfg.dtype))
        tokenizer = AutoTokenizer.from_pretrained(cfg.pretrained, **hub)
    except ConfigError:
        raise
    except (OSError, ValueError, RuntimeError, pickle.UnpicklingError) as err:
        # OSError: nothing there; ValueError: no config.json, or not a model transformers knows;
        # RuntimeError: weights of another shape than the config; UnpicklingError: a file, not a folder
        reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise ConfigError(
            f"{where} could not be loaded for backbone {cfg.name!r} (revision="
            f"{cfg.revision!r}, local_files_only={cfg.local_files_only}): {reason}; allowed: "
            "a hub id or a local folder written by save_pretrained"
        ) from None
    words = len(tokenizer) - len(set(tokenizer.all_special_ids))
    if words <= 0:  # transformers builds an empty tokenizer where the folder has no tokenizer files
        raise ConfigError(
            f"{where} has a tokenizer without words ({len(tokenizer)} tokens, all special): every "
            "prompt would read as one unknown token; save the tokenizer beside the model "
            "(tokenizer.save_pretrained) or point at a folder or hub id that has one"
        )
    if tokenizer.pad_token is None and tokenizer.eos_token is not None:
        tokenizer.pad_token = tokenizer.eos_token  # GPT-2 style tokenizers have no pad token
    mean, std = image_stats(cfg.pretrained, default_mean, default_std, **hub)
    return model, tokenizer, mean, std


def image_stats(
    path: str,
    default_mean: tuple[float, ...],
    default_std: tuple[float, ...],
    **hub: Any,
) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Image mean/std from ``preprocessor_config.json`` beside the model, else the defaults."""
    try:
        file = cached_file(
            path,
            "preprocessor_config.json",
            _raise_exceptions_for_missing_entries=False,
            _raise_exceptions_for_connection_errors=False,
            **hub,
        )
    except OSError:
        file = None
    if file is None:
        return default_mean, default_std
    with open(file, encoding="utf-8") as handle:
        data = json.load(handle)
    processor = data.get("image_processor", data)  # some repos nest it
    mean = tuple(processor.get("image_mean") or default_mean)
    std = tuple(processor.get("image_std") or default_std)
    return mean, std
