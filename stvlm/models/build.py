"""``build_model``: validate a model config against a dataset and build the composed ST-VLM."""

from __future__ import annotations

import logging

import numpy as np

from stvlm.data.pipeline import ForecastData
from stvlm.data.splits import PARTS
from stvlm.errors import ConfigError
from stvlm.modalities.layout import SpatialLayout
from stvlm.modalities.text import TokenTable, build_prompts
from stvlm.models.backbones import BACKBONES, Backbone, build_backbone
from stvlm.configs import STVLMConfig
from stvlm.models.finetune import apply_finetune
from stvlm.models.stvlm import STVLM, DatasetContext
from stvlm.models.warm_start import choose_highway_start, ridge_highway
from stvlm.names import check_name

logger = logging.getLogger(__name__)


def _check_names(cfg: STVLMConfig) -> None:
    check_name("backbone.name", cfg.backbone.name)
    check_name("image.encoding", cfg.image.encoding)
    check_name("finetune.strategy", cfg.finetune.strategy)
    backbone = BACKBONES.get(cfg.backbone.name)
    if cfg.use_image and not backbone.has_vision:
        with_vision = [n for n in BACKBONES.names() if BACKBONES.get(n).has_vision]
        raise ConfigError(
            f"use_image = true is not allowed with backbone.name = {cfg.backbone.name!r} (no "
            f"vision tower); set use_image = false or use one of: {', '.join(with_vision)}"
        )


def _check_lengths(cfg: STVLMConfig, model_len: int, text_len: int, limit: int | None,
                   num_tokens: int) -> None:
    if cfg.use_text and cfg.text.max_length > text_len:
        raise ConfigError(
            f"text.max_length = {cfg.text.max_length} is larger than the {cfg.backbone.name} "
            f"backbone's {text_len} text positions; allowed: 4..{text_len}"
        )
    if (cfg.use_series and cfg.series.num_latents is None and cfg.fusion.depth != "late"
            and num_tokens > cfg.series.max_tokens):
        raise ConfigError(
            f"series.num_latents = None sends N = {num_tokens} node tokens into the backbone's "
            f"self-attention (cost grows with (L + N)^2), above series.max_tokens = "
            f"{cfg.series.max_tokens}; set series.num_latents (e.g. 256) to compress them to K tokens"
        )
    if limit is not None and model_len > limit:
        raise ConfigError(
            f"the {cfg.backbone.name} backbone takes at most {limit} tokens, but text + image "
            f"+ {num_tokens} ST tokens make {model_len}; set series.num_latents (K tokens) or "
            f"a shorter text.max_length"
        )


def all_window_starts(forecast: ForecastData) -> np.ndarray:
    """Sorted distinct window starts of every part (train_full, val, test)."""
    return np.unique(np.concatenate([forecast.splits.part(p) for p in PARTS]))


def build_model(cfg: STVLMConfig, forecast: ForecastData) -> STVLM:
    """Build ST-VLM for a dataset: backbone, modalities, fusion, head, fine-tuning, token table.

    Args:
        cfg: the model config (names are checked against their registries here).
        forecast: the prepared dataset (series, protocol lengths, scaler, splits).

    Returns:
        The model on the CPU, with ``requires_grad`` set by ``cfg.finetune``, the prompts of
        every window start tokenised, so the tokenizer never runs in ``forward``, and with
        ``head.highway_init = "ridge"`` (or ``"auto"``, when that helps on validation) the
        highway fitted to the training windows (frozen there with ``head.highway_trainable =
        false``).

    Raises:
        UnknownNameError: an unknown backbone, image encoding or fine-tuning strategy.
        ConfigError: a setting the backbone or dataset cannot take (image size, fusion depth,
            layers, text length, LoRA targets, ...).
    """
    _check_names(cfg)
    backbone = build_backbone(cfg.backbone)
    if cfg.use_image:
        backbone.use_image_size(cfg.image.size)
    context = DatasetContext.from_forecast(forecast)
    num_st = cfg.series.num_latents or context.num_nodes
    rows, cols = backbone.patch_grid
    image_tokens = rows * cols + 1 if cfg.use_image else 0
    text_tokens = cfg.text.max_length if cfg.use_text else 0
    _check_lengths(cfg, image_tokens + text_tokens + num_st, backbone.max_text_length,
                   backbone.max_positions, num_st)
    layout = SpatialLayout.from_data(forecast.data)
    model = STVLM(cfg, backbone, layout=layout, context=context)
    if cfg.use_text:
        description = model.image_encoder.description if model.image_encoder is not None else ""
        model.set_token_table(token_table(cfg, forecast, backbone, description))
    apply_finetune(model, backbone, cfg.finetune, fixed=model.fixed_modules)
    # The entries the ridge start is fitted to: every finite target, or the observations only.
    fit_missing = forecast.protocol.missing_value if cfg.head.highway_targets == "observed" else None
    if model.highway is not None and cfg.head.highway_init == "ridge":
        ridge_highway(model, forecast.batches("train", 64), missing_value=fit_missing,
                      alpha=cfg.head.highway_alpha)
    elif model.highway is not None and cfg.head.highway_init == "auto":
        choose_highway_start(model, forecast, alpha=cfg.head.highway_alpha, fit_missing_value=fit_missing)
    return model


def token_table(
    cfg: STVLMConfig, forecast: ForecastData, backbone: Backbone, image_description: str
) -> TokenTable:
    """Tokenise the prompt of every window start of ``forecast`` with the backbone's tokenizer."""
    starts = all_window_starts(forecast)
    prompts = build_prompts(
        forecast.data, starts, input_len=forecast.input_len, output_len=forecast.output_len,
        image_description=image_description, cfg=cfg.text,
    )
    table = TokenTable.build(backbone.tokenizer, prompts, starts, cfg.text.max_length)
    logger.info("token table: %d windows, %d distinct prompts, %d truncated",
                starts.size, table.num_unique, table.num_truncated)
    return table
