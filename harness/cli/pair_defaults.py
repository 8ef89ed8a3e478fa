"""The accuracy benchmark's per-pair choices as defaults of ``stvlm train`` and ``stvlm evaluate``
(:mod:`stvlm.configs.pair_choices`): applied under whatever the user set, and said on stdout."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from harness.cli.commands.base import emit
from stvlm.configs import DataConfig
from stvlm.configs.pair_choices import pair_choice


def set_keys(assignments: Iterable[str]) -> set[str]:
    """The dotted paths of ``--set KEY=VALUE`` strings."""
    return {item.partition("=")[0].strip() for item in assignments}


def pair_defaults(data: DataConfig, *, stvlm: bool, user_keys: Iterable[str]) -> dict[str, Any]:
    """The benchmark's choices for ``data``'s (dataset, few-shot setting) that the user did not set
    (``user_keys``: dotted paths of an ``ExperimentConfig``), as such paths -> values; ``stvlm``
    adds ST-VLM's epoch cap to the pair's lookback days. Each one applied is named on stdout."""
    chosen = pair_choice(data)
    if chosen is None:
        return {}
    setting, choice = chosen
    user = set(user_keys)
    values = {key: value for key, value in choice.overrides(stvlm=stvlm).items() if key not in user}
    if values:
        settings = ", ".join(f"{key}={json.dumps(value, separators=(',', ':'))}" for key, value in values.items())
        emit(f"{data.dataset} {setting}: {settings}, the accuracy benchmark's choice for this pair on "
             f"validation ({choice.why}); --set changes it")
    return values
