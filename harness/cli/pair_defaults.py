"""The accuracy benchmark's per-pair choices as defaults of ``stvlm train`` and ``stvlm evaluate``
(:mod:`stvlm.configs.pair_choices`): applied under whatever the user set, and said on stdout."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from harness.cli.commands.base import emit
from stvlm.configs import DataConfig
from stvlm.configs.pair_choices import PairChoices, pair_choices


def set_keys(assignments: Iterable[str]) -> set[str]:
    """The dotted paths of ``--set KEY=VALUE`` strings."""
    return {item.partition("=")[0].strip() for item in assignments}


def pair_defaults(model: str, data: DataConfig, *, user_keys: Iterable[str]) -> PairChoices | None:
    """The benchmark's choices for ``model`` (``"st-vlm"`` or a baseline) on ``data``'s (dataset,
    few-shot setting) that the user did not set (``user_keys``): their dotted paths (``data.*``,
    ``train.*``, ``model.*``) -> values, with the setting and the evidence files; ``None`` where
    none applies. The ones applied are named on stdout (and belong in the run's record:
    :func:`record`)."""
    chosen = pair_choices(model, data)
    if chosen is None:
        return None
    applied = chosen.without(set(user_keys))
    if not applied.values:
        return None
    settings = ", ".join(f"{key}={json.dumps(value, separators=(',', ':'))}" for key, value in applied.values.items())
    emit(f"{model} on {data.dataset} {applied.setting}: {settings}, the accuracy benchmark's choices "
         f"there on validation (results/fewshot_accuracy/: {', '.join(applied.evidence)}); --set changes them")
    return applied


def record(applied: PairChoices | None) -> dict[str, Any]:
    """``{"pair_choices": {setting, values, evidence}}`` for a run's JSON record, or ``{}``."""
    return ({"pair_choices": {"setting": applied.setting, "values": applied.values, "evidence": list(applied.evidence)}}
            if applied else {})
