"""The candidates and (dataset, setting) pairs the sweeps of ``validation_sweeps.py`` are made
of: what each sweep trains, named once so that several sweeps (and ``kept_start.py``,
``loss_masks.py``) share them."""

from __future__ import annotations

from typing import Any, NamedTuple


class Candidate(NamedTuple):
    """One setting scored against the benchmark's; a plain ``(label, train, model)`` tuple is one."""

    label: str
    train: dict[str, Any]  # TrainConfig changes
    model: dict[str, Any]  # STVLMConfig changes (dotted paths), or a baseline's options (its config)
    data: dict[str, Any] = {}  # DataConfig changes (e.g. lookback_days): the splits are made again


WARMUPS: tuple[Candidate, ...] = (  # "as benchmarked": 5% when these ran (ST-VLM's 30% since)
    ("as benchmarked", {}, {}),
    ("warm-up 15%", {"warmup": 0.15}, {}),
    ("warm-up 30%", {"warmup": 0.3}, {}),
)
#: ST-VLM's warm-up (30% since ``warmup``) against 15%, both named: the ``warmup-now`` sweeps.
WARMUP_NOW: tuple[Candidate, ...] = (
    ("warm-up 30%", {"warmup": 0.3}, {}),
    ("warm-up 15%", {"warmup": 0.15}, {}),
)
#: Level augmentation (``TrainConfig.augment_scale``) off and at r = 1.5, the candidates of the
#: ``augment-*`` sweeps.
AUGMENT: tuple[Candidate, ...] = (
    ("no augmentation", {"augment_scale": 1.0}, {}),
    ("levels 1/1.5..1.5", {"augment_scale": 1.5}, {}),
)
#: The series tokens' width before fusion (``series.dim``): the tiny preset's 16 and wider.
SERIES_DIMS: tuple[Candidate, ...] = tuple(
    (f"series dim {d}", {}, {"series.dim": d}) for d in (16, 32, 64))
#: The image encoding and fusion depth: the benchmark's ("auto", 1) and one change each.
IMAGE_FUSION: tuple[Candidate, ...] = (
    ("encoding auto, fusion depth 1", {}, {"image.encoding": "auto", "fusion.depth": 1}),
    ("encoding node_time", {}, {"image.encoding": "node_time", "fusion.depth": 1}),
    ("encoding learnable", {}, {"image.encoding": "learnable", "fusion.depth": 1}),
    ("fusion depth 0", {}, {"image.encoding": "auto", "fusion.depth": 0}),
    ("fusion depth all", {}, {"image.encoding": "auto", "fusion.depth": "all"}),
)
#: Weight decay, the head's dropout and LoRA's dropout: the benchmark's and one change each
#: (every candidate names all three).
_DECAY: dict[str, Any] = {"weight_decay": 1e-4}
_DROPOUTS: dict[str, Any] = {"head.dropout": 0.1, "finetune.lora_dropout": 0.0}
REGULARISE: tuple[Candidate, ...] = (
    ("weight decay 1e-4, dropouts 0.1 / 0", _DECAY, _DROPOUTS),
    ("weight decay 1e-2", {**_DECAY, "weight_decay": 1e-2}, _DROPOUTS),
    ("head dropout 0.3", _DECAY, {**_DROPOUTS, "head.dropout": 0.3}),
    ("LoRA dropout 0.1", _DECAY, {**_DROPOUTS, "finetune.lora_dropout": 0.1}),
)
#: The compact prompt whole (time, statistics, side information) and without one part.
TEXT_PARTS: tuple[Candidate, ...] = (
    ("prompt: time and statistics", {}, {"text.include_time": True, "text.include_stats": True}),
    ("prompt without statistics", {}, {"text.include_time": True, "text.include_stats": False}),
    ("prompt without time", {}, {"text.include_time": False, "text.include_stats": True}),
)
#: The random ViLT backbone: the tiny preset (32 wide, 2 layers, 32 px) and the small one (256
#: wide, 4 layers, 224 px; about 14x the training step on CPU: ``step_throughput.json``).
BACKBONE_SIZE: tuple[Candidate, ...] = (
    ("tiny ViLT", {}, {"backbone.preset": "tiny"}),
    ("small ViLT", {}, {"backbone.preset": "small"}),
)
#: Windows per optimizer step: the benchmark's 16 and 8 (twice the steps of an epoch).
BATCH_NOW: tuple[Candidate, ...] = (
    ("batch 16", {"batch_size": 16}, {}),
    ("batch 8", {"batch_size": 8}, {}),
)
#: Early stopping's patience against none within the cap (160 epochs: every ST-VLM cap of the table).
PATIENCE_CAP: tuple[Candidate, ...] = (
    ("patience 10", {"patience": 10}, {}),
    ("to the cap", {"patience": 160}, {}),
)
#: The linear head (``head.hidden = 0``): ST-VLM's head until the MLP head became the default
#: (chosen by the ``capacity`` sweep). Studies that compare against it, or whose committed files
#: were made with it, pin it so that their cited commands keep reproducing those files.
LINEAR_HEAD: dict[str, Any] = {"head.hidden": 0}
#: Patience counted from the first epoch: ST-VLM's until ``patience_after_warmup`` became its
#: default (chosen by the ``patience-mlp`` sweep); pinned like ``LINEAR_HEAD``.
PATIENCE_FROM_START: dict[str, Any] = {"patience_after_warmup": False}
FOUR = (("nycbike-drop", "st-llm-10%"), ("los-loop", "10%"), ("sz-taxi", "10%"), ("nycbike1", "10%"))
#: The pairs the issue's target counts: the four datasets at 10%, nycbike-drop at ST-LLM's budget too.
TARGET_PAIRS = FOUR + (("nycbike-drop", "10%"),)
#: The target pairs at their table budgets until round ``own160`` of the epoch-cap check: los-loop
#: 10% trained ST-VLM for 80 epochs, the others for 40. A sweep at those budgets was two entries,
#: ``<name>`` (run with ``--epochs 40``) and ``<name>-80`` (``--epochs 80``): :func:`at_table_budgets`.
#: Since nycbike-drop 10% trains for 160, a sweep is one entry run with ``--epochs table``.
AT_80 = (("los-loop", "10%"),)
AT_40 = tuple(p for p in TARGET_PAIRS if p not in AT_80)
#: Every (dataset, setting) of the accuracy table.
ALL_PAIRS = TARGET_PAIRS + (("nycbike-drop", "full"), ("los-loop", "full"), ("sz-taxi", "full"),
                            ("nycbike1", "full"))
#: The pairs where ST-VLM's benchmark runs kept their untrained start in every seed under the
#: all-entries loss (``loss_mask = "observed"``, ST-VLM's loss until f2d0b04; with ``"both"``
#: nycbike-drop 10% trains past it, and so does one seed of five at full).
KEPT_START = (("nycbike-drop", "st-llm-10%"), ("nycbike-drop", "10%"), ("nycbike-drop", "full"),
              ("sz-taxi", "10%"), ("nycbike1", "10%"))
#: The pairs of the count datasets (a zero is an observation: masked and all-entries MAE differ).
COUNT_PAIRS = (("nycbike-drop", "st-llm-10%"), ("nycbike-drop", "10%"), ("nycbike-drop", "full"),
               ("nycbike1", "10%"), ("nycbike1", "full"))


def at_table_budgets(name: str, candidates: tuple[Candidate, ...]) -> dict[str, Any]:
    """An ST-VLM sweep of ``candidates`` on the target pairs at their table budgets: ``name``
    over :data:`AT_40` and ``name-80`` over :data:`AT_80`."""
    return {name: (AT_40, "st-vlm", candidates), f"{name}-80": (AT_80, "st-vlm", candidates)}
