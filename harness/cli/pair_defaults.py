"""The accuracy benchmark's per-pair choices as defaults of ``stvlm train`` and ``stvlm evaluate``
(:mod:`stvlm.configs.pair_choices`): applied under whatever the user set, and said on stdout."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from harness.cli.commands.base import emit
from stvlm.configs import DataConfig
from stvlm.configs.pair_choices import pair_choices


def set_keys(assignments: Iterable[str]) -> set[str]:
    """The dotted paths of ``--set KEY=VALUE`` strings."""
    return {item.partition("=")[0].strip() for item in assignments}


def pair_defaults(model: str, data: DataConfig, *, user_keys: Iterable[str]) -> dict[str, Any]:
    """The benchmark's choices for ``model`` (``"st-vlm"`` or a baseline) on ``data``'s (dataset,
    few-shot setting) that the user did not set (``user_keys``), as dotted paths (``data.*``,
    ``train.*``, ``model.*``) -> values. The ones applied are named on stdout."""
    chosen = pair_choices(model, data)
    if chosen is None:
        return {}
    user = set(user_keys)
    values = {key: value for key, value in chosen.values.items() if key not in user}
    if values:
        settings = ", ".join(f"{key}={json.dumps(value, separators=(',', ':'))}" for key, value in values.items())
        emit(f"{model} on {data.dataset} {chosen.setting}: {settings}, the accuracy benchmark's choices "
             f"there on validation (results/fewshot_accuracy/: {', '.join(chosen.evidence)}); --set changes them")
    return values
