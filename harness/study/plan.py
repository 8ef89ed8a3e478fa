"""The trials a study will run, in order, and the Tune config of each.

A study runs, for every seed:

* one **baseline** trial per baseline model and distinct data selection (arms that differ only
  in the model share their split, so an ablation evaluates each baseline once per seed);
* ``num_samples`` **ST-VLM** trials per arm, each a fresh Optuna suggestion of the nuisance
  settings within the (arm, seed) group.

Baselines come first (they are cheap and give the reference early); ST-VLM trials are
interleaved round-robin over arms and seeds, so an interrupted study has covered every arm
evenly.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from harness.study.arms import Arm, baseline_train, experiment_for
from harness.study.spec import StudySpec
from harness.study.trial_config import (
    BASELINE_KIND, SHARED_BASELINE_ARM, STVLM_KIND, TrialKind, check_trial_kind,
)


@dataclass(frozen=True)
class PlannedTrial:
    """One entry of the plan.

    Args:
        kind: :data:`~harness.study.trial_config.STVLM_KIND` or ``BASELINE_KIND``.
        arm: the arm label (baselines: the label of their data's arm, or ``SHARED_BASELINE_ARM``).
        seed: the run's seed.
        group: ``"<arm>|seed=<seed>"``; ST-VLM trials of one group share an Optuna study and an
            ASHA instance.
        model: ``"stvlm"`` or the baseline name.
        source_arm: the arm whose experiment (data split, training settings) the trial uses.
    """

    kind: TrialKind
    arm: str
    seed: int
    group: str
    model: str
    source_arm: str

    def __post_init__(self) -> None:
        check_trial_kind(self.kind)


def group_name(arm: str, seed: int) -> str:
    return f"{arm}|seed={seed}"


class StudyPlan:
    """The ordered trials of a study and the configs Tune runs them with.

    Args:
        spec: the validated study spec.
        arms: its arms (from :func:`harness.study.arms.build_arms`).
        data_root: absolute data root written into every experiment, or None ($STVLM_DATA).
    """

    def __init__(self, spec: StudySpec, arms: list[Arm], data_root: str | None = None) -> None:
        self.spec = spec
        self.arms = {arm.label: arm for arm in arms}
        self.data_root = data_root
        self.entries = self._baselines() + self._stvlm()

    def _baselines(self) -> list[PlannedTrial]:
        by_data: dict[str, Arm] = {}
        for arm in self.arms.values():
            by_data.setdefault(arm.experiment.data.config_hash(), arm)
        shared = len(by_data) == 1
        entries = []
        for seed in self.spec.seeds:
            for arm in by_data.values():
                label = SHARED_BASELINE_ARM if shared else arm.label
                for model in self.spec.baselines.models:
                    entries.append(PlannedTrial(
                        kind=BASELINE_KIND, arm=label, seed=seed, model=model, source_arm=arm.label,
                        group=f"baseline:{model}|{group_name(label, seed)}",
                    ))
        return entries

    def _stvlm(self) -> list[PlannedTrial]:
        return [
            PlannedTrial(kind=STVLM_KIND, arm=label, seed=seed, group=group_name(label, seed),
                         model="stvlm", source_arm=label)
            for _ in range(self.spec.num_samples)
            for seed in self.spec.seeds
            for label in self.arms
        ]

    def __len__(self) -> int:
        return len(self.entries)

    def num_stvlm(self) -> int:
        return sum(e.kind == STVLM_KIND for e in self.entries)

    def config(
        self, entry: PlannedTrial, params: Mapping[str, Any] | None = None, index: int | None = None
    ) -> dict[str, Any]:
        """The Tune config of a planned trial with its sampled nuisance ``params``; ``index``, its
        position in :attr:`entries`, identifies its row however often the trial is re-run."""
        arm = self.arms[entry.source_arm]
        sampled = {k: v for k, v in (params or {}).items() if v is not None}
        experiment = experiment_for(
            self.spec, arm.values, seed=entry.seed, params=sampled, data_root=self.data_root
        )
        if entry.kind == BASELINE_KIND:
            experiment = baseline_train(self.spec, experiment)
        config: dict[str, Any] = {
            "kind": entry.kind,
            "arm": entry.arm,
            "seed": entry.seed,
            "group": entry.group,
            "model": entry.model,
            "plan_index": index,
            # every nuisance key, None where not sampled (progress tables look each one up)
            "params": {path: sampled.get(path) for path in self.spec.nuisance},
            "experiment": experiment.to_dict(),
        }
        if entry.kind == BASELINE_KIND:
            config["options"] = dict(self.spec.baselines.options.get(entry.model, {}))
        return config

    def max_epochs(self, group: str) -> int:
        """Epochs of the arm behind an ST-VLM group (ASHA's budget is epochs + the final report)."""
        entry = next(e for e in self.entries if e.group == group)
        return self.arms[entry.source_arm].experiment.train.epochs
