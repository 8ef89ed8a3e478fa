"""A trial's config, parsed once: what a Tune trial dict says, as a typed object.

The study's plan (:class:`harness.study.plan.StudyPlan`, through the runtime's searcher) hands
Tune a plain dict per trial (Tune logs it, MLflow flattens it into parameters):

    {"kind": "stvlm" | "baseline", "arm": ..., "seed": ..., "group": ..., "model": ...,
     "params": {...}, "experiment": ExperimentConfig.to_dict(), "options": {...}}

:meth:`TrialConfig.from_tune` turns it into this object once per process that runs the trial
(the trial itself, and the results writer for its row); Train workers receive the parsed
object, pickled, not the dict. No Ray here.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from stvlm.configs import ExperimentConfig

TrialKind = Literal["stvlm", "baseline"]

STVLM_KIND: TrialKind = "stvlm"
"""A trial that trains ST-VLM on one arm (its ``model`` is ``"stvlm"`` too)."""

BASELINE_KIND: TrialKind = "baseline"
"""A trial that fits or trains a registered baseline (:data:`stvlm.baselines.BASELINES`)."""

TRIAL_KIND_NAMES: tuple[TrialKind, ...] = (STVLM_KIND, BASELINE_KIND)
"""Every trial kind; :data:`harness.runtime.trial.TRIAL_KINDS` runs each."""

SHARED_BASELINE_ARM = "baseline"
"""The arm label of baseline trials that every arm shares (all arms read the same data)."""


def check_trial_kind(kind: str) -> None:
    """Raise ``ValueError`` naming ``kind`` and the allowed kinds unless it is one of them."""
    if kind not in TRIAL_KIND_NAMES:
        raise ValueError(f"trial kind {kind!r} is not one of {', '.join(TRIAL_KIND_NAMES)}")


@dataclass(frozen=True)
class TrialConfig:
    """One trial: its place in the study and the experiment it runs.

    Args:
        kind: :data:`STVLM_KIND` or :data:`BASELINE_KIND`.
        arm: the arm label (:data:`SHARED_BASELINE_ARM` for baselines every arm shares).
        seed: the trial's seed.
        group: the arm-and-seed group that ASHA and Optuna compare within.
        model: ``"stvlm"`` or the baseline's registered name.
        params: the nuisance values, None where not sampled.
        experiment: the parsed experiment.
        options: the baseline's options (empty for ST-VLM).
        plan_index: its position in the study's plan (None in a trial dict from before plan
            positions were recorded).
    """

    kind: TrialKind
    arm: str
    seed: int
    group: str
    model: str
    experiment: ExperimentConfig
    params: Mapping[str, Any] = field(default_factory=dict)
    options: Mapping[str, Any] = field(default_factory=dict)
    plan_index: int | None = None

    def __post_init__(self) -> None:
        check_trial_kind(self.kind)

    def with_data_root(self, data_root: str | None) -> TrialConfig:
        """The same trial reading its data under ``data_root`` (``None``: ``$STVLM_DATA``); the
        root is not part of the experiment's identity, so nothing else changes."""
        data = self.experiment.data.replace(data_root=data_root)
        return dataclasses.replace(self, experiment=self.experiment.replace(data=data))

    @classmethod
    def from_tune(cls, config: Mapping[str, Any]) -> TrialConfig:
        """Parse a Tune trial dict (the experiment strictly, through ``from_dict``)."""
        return cls(
            kind=config["kind"], arm=config["arm"], seed=int(config["seed"]), group=config.get("group", ""),
            model=config["model"], experiment=ExperimentConfig.from_dict(config["experiment"]),
            params=dict(config.get("params", {})), options=dict(config.get("options") or {}),
            plan_index=None if config.get("plan_index") is None else int(config["plan_index"]),
        )
