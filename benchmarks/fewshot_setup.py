"""Settings shared by the few-shot accuracy benchmark and its helpers: the few-shot settings,
the metrics, ST-VLM's config and its ablation variants, and the one training budget of ST-VLM
and the neural baselines (see ``fewshot_accuracy.py``)."""

from __future__ import annotations

import argparse
from typing import Any

from stvlm.baselines import build_baseline
from stvlm.baselines.base import NeuralBaseline
from stvlm.configs import DataConfig, FewShotConfig, STVLMConfig
# The per-pair choices (the lookback days of a pair, a baseline's own training and options on one)
# live in the library, where `stvlm train` and `stvlm evaluate` find them too.
from stvlm.configs.pair_choices import BASELINE_TRAIN, BENCHMARK_SETTINGS, LOOKBACK_DAYS
from stvlm.configs.train import STVLM_TRAIN_SETTINGS
from stvlm.data.root import resolve_data_root
from stvlm.errors import DataError
from stvlm.monitor import monitor_value

#: The few-shot settings of the table: label -> FewShotConfig fields.
SETTINGS: dict[str, dict[str, Any]] = BENCHMARK_SETTINGS


def check_data_root(parser: argparse.ArgumentParser, data_root: str | None) -> None:
    """Exit with argparse's one-line error (status 2) when ``--data-root`` (or, without it,
    ``$STVLM_DATA``) names no folder: checked before any run starts, not when the first pair's
    data is read."""
    try:
        resolve_data_root(data_root)
    except DataError as err:
        parser.error(str(err))


def data_config(dataset: str, setting: str, data_root: str | None) -> DataConfig:
    """The data of one (dataset, few-shot setting in :data:`SETTINGS`) as every run here reads it:
    the setting's few-shot budget and the pair's periodic lookback (:data:`LOOKBACK_DAYS`)."""
    return DataConfig(dataset=dataset, data_root=data_root, few_shot=FewShotConfig(**SETTINGS[setting]),
                      lookback_days=LOOKBACK_DAYS.get((dataset, setting)))


METRICS = ("mae", "rmse", "wape", "mae_all", "rmse_all", "wape_all", "bias")
# Reference lines use more than the few-shot budget (every step before the test targets, the
# validation part included): shown and compared, but not part of the "beats every baseline" verdict.
REFERENCE_LINES = ("historical-average-all",)
# ST-VLM: the tiny ViLT preset (random weights) with the defaults of STVLMConfig: periodic
# lookback in the series tokens and the image, no node vector or calendar part in the tokens,
# a residual MLP head on the seasonal prior with a linear highway started at its ridge fit, LoRA r4,
# fusion at layer 1, one token per node.
STVLM_MODEL = STVLMConfig.tiny()
# One budget for ST-VLM and the neural baselines (ST-VLM's warm-up aside): AdamW, warm-up +
# cosine, early stopping on validation MAE (the best epoch's weights are scored), loss over
# observed entries. fp32 on every device (amp off): the table's CPU runs are fp32, and a run on
# a GPU must not differ from them by bf16 rounding.
TRAIN = {"batch_size": 16, "patience": 10, "lr": 1e-3, "weight_decay": 1e-4, "grad_clip": 5.0,
         "amp": False}
# ST-VLM's own settings (stvlm.configs.train.STVLM_TRAIN_SETTINGS, chosen on validation: see
# there): a 30% warm-up, patience counted after it, its fitted start kept as the checkpoint to
# beat, and the mean of the all-entries and masked losses. STID, probed with
# the same warm-up (validation-warmup-stid.json), was worse or mixed with it and keeps
# TrainConfig's 5%; the baselines' random starts are not candidates.
STVLM_TRAIN = {**TRAIN, **STVLM_TRAIN_SETTINGS}
# --ablation: ST-VLM with one modality dropped, and the LLM-only backbone (GPT-2, series tokens
# and text only), on the same budget; each is compared with the full model.
VARIANTS: dict[str, dict[str, Any]] = {
    "st-vlm": {},
    "st-vlm no-image": {"use_image": False},
    "st-vlm no-text": {"use_text": False},
    "st-vlm no-series": {"use_series": False},
    "st-vlm llm-only": {"backbone.name": "gpt2", "use_image": False},
    "st-vlm untrained": {},  # the built model before any optimizer step: prior + ridge highway
}
#: Variants scored as built, without training (what training the backbone path adds).
UNTRAINED = ("st-vlm untrained",)


def target_value(mae: float, mae_all: float) -> float:
    """The validation metric ST-VLM's loss (``loss_mask = "both"``) targets, from the masked and
    the all-entries MAE: their mean; where no observed zero is masked (los-loop, sz-taxi) the two
    are equal and this is the masked MAE. The same mean as ST-VLM's monitor ``mae_both``
    (:data:`stvlm.monitor.MONITOR_MEANS`), computed there."""
    return monitor_value({"mae": mae, "mae_all": mae_all}, "mae_both")


def recorded_train(run: dict[str, Any]) -> dict[str, Any] | None:
    """The training settings ``run`` recorded; a run recorded before ``amp`` was one of them ran
    on this project's CPUs, where amp is ignored, so in fp32: ``amp`` False."""
    train = run.get("train")
    return {"amp": False, **train} if train is not None and "amp" not in train else train


def ran_with(run: dict[str, Any]) -> dict[str, Any] | None:
    """The training settings ``run`` trained with (:func:`recorded_train`); a baseline's run
    recorded before runs recorded them trained with :data:`TRAIN`, the one budget then, and an
    ST-VLM run's are unknown (``None``)."""
    ran = recorded_train(run)
    return TRAIN if ran is None and run["model"] not in VARIANTS else ran


def train_settings(model: str, pair: tuple[str, str] | None = None) -> dict[str, Any]:
    """The ``TrainConfig`` settings of ``model``: :data:`STVLM_TRAIN` for an ST-VLM variant,
    else the shared :data:`TRAIN` with the baseline's own changes on ``pair`` (dataset, setting;
    :data:`BASELINE_TRAIN`) where it has some."""
    if model in VARIANTS:
        return STVLM_TRAIN
    own = BASELINE_TRAIN.get((model, *pair)) if pair is not None else None
    return {**TRAIN, **own.changes} if own is not None else TRAIN


def baseline_options(model: str, pair: tuple[str, str] | None = None) -> dict[str, Any]:
    """The config options of baseline ``model`` on ``pair`` (dataset, setting;
    :data:`BASELINE_TRAIN`); empty where it runs with its defaults."""
    own = BASELINE_TRAIN.get((model, *pair)) if pair is not None else None
    return dict(own.options) if own is not None else {}


def variant_config(name: str) -> STVLMConfig:
    """The ST-VLM config of a variant in :data:`VARIANTS`."""
    return STVLM_MODEL.with_values(VARIANTS[name])


def neural(name: str) -> bool:
    """Whether baseline ``name`` trains with seeds (a NeuralBaseline); the others are fitted or
    computed the same way whatever the seed, so they run once."""
    return isinstance(build_baseline(name), NeuralBaseline)


def in_pair_order(result: dict[str, Any]) -> dict[str, Any]:
    """``result`` (a benchmark JSON) with its runs, intervals and splits in one fixed order, by
    dataset name and then setting as in :data:`SETTINGS`, whatever order the pairs were run in
    (the pages list pairs in this order). The sort is stable: within a pair, models and seeds keep
    their run order."""
    def pair(dataset: str, setting: str) -> tuple[str, int]:
        return dataset, list(SETTINGS).index(setting)

    result["runs"] = sorted(result["runs"], key=lambda r: pair(r["dataset"], r["setting"]))
    result["intervals"] = sorted(result["intervals"], key=lambda i: pair(i["dataset"], i["setting"]))
    result["splits"] = dict(sorted(result["splits"].items(), key=lambda kv: pair(*kv[0].split("|"))))
    return result
