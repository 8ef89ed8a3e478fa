"""Trial schedulers: ASHA per (arm, seed) group, or FIFO.

ASHA compares trials at rungs of the budget (``training_iteration``: one per epoch, plus the
final evaluation report). Comparing across arms would be wrong: a 5 % few-shot arm is worse than
the 100 % arm by design, and one global ASHA would prune it away. :class:`GroupedScheduler`
therefore runs one ``ASHAScheduler`` per group (the trials that share an Optuna study) and lets
baseline trials run untouched. ``SCHEDULERS`` maps the spec's ``scheduler.name`` to a factory.

On ``Tuner.restore`` Ray rebuilds the scheduler as it was when the experiment began, without the
scores its rungs recorded (ray-project/ray#30838), so a resumed study would prune against the
trials that report after the resume only. A restored trial's earlier reports (its
``result.json`` in the experiment's storage) are therefore recorded at its group's rungs again
when the trial is added, finished trials included (:func:`recorded_results`). With several
``brackets``, ASHA draws a restored trial's bracket anew.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

from ray.tune.experiment import Trial
from ray.tune.result import EXPR_RESULT_FILE
from ray.tune.schedulers import ASHAScheduler, FIFOScheduler, TrialScheduler

from harness.study.plan import StudyPlan
from harness.runtime.private_api import asha_forget, asha_knows, asha_replay, asha_stopped
from harness.study.trial_config import STVLM_KIND
from stvlm.registry import Registry

log = logging.getLogger(__name__)


def recorded_results(trial: Trial) -> list[dict[str, Any]]:
    """The results a trial reported before this driver took it over: its ``result.json`` in the
    experiment's storage, one JSON object per line; ``[]`` for a trial that has not reported or
    has no file. A line cut short by a killed driver ends the list."""
    if getattr(trial, "storage", None) is None or not trial.has_reported_at_least_once:
        return []
    path = f"{trial.storage.trial_fs_path}/{EXPR_RESULT_FILE}"
    try:
        with trial.storage.storage_filesystem.open_input_stream(path) as stream:
            lines = stream.readall().decode().splitlines()
    except FileNotFoundError:
        return []
    results = []
    for number, line in enumerate(lines, 1):
        try:
            results.append(json.loads(line))
        except json.JSONDecodeError:
            log.warning("%s: line %d of %d is not JSON; its ASHA scores end before it", path, number, len(lines))
            break
    return results


class GroupedScheduler(FIFOScheduler):
    """One ASHA per ``trial.config["group"]`` for ST-VLM trials; FIFO for everything else.

    Args:
        plan: the study plan (each group's epochs set its ASHA ``max_t``).
        grace_period: epochs before a trial can be stopped (>= 2).
        reduction_factor: ASHA's rung ratio.
        brackets: ASHA brackets.
    """

    def __init__(self, plan: StudyPlan, *, grace_period: int, reduction_factor: float, brackets: int = 1):
        super().__init__()
        self._metric = plan.spec.metric
        self._mode = plan.spec.mode
        self._max_t = {
            e.group: plan.arms[e.source_arm].experiment.train.epochs + 1
            for e in plan.entries if e.kind == STVLM_KIND
        }
        self._asha_kwargs = {
            "grace_period": grace_period, "reduction_factor": reduction_factor, "brackets": brackets,
        }
        self._groups: dict[str, ASHAScheduler] = {}

    def set_search_properties(self, metric: str | None, mode: str | None, **spec: Any) -> bool:
        return True  # metric and mode come from the plan

    def _asha(self, trial: Trial) -> ASHAScheduler | None:
        group = trial.config.get("group")
        if trial.config.get("kind") != STVLM_KIND or group not in self._max_t:
            return None
        if group not in self._groups:
            max_t = self._max_t[group]
            self._groups[group] = ASHAScheduler(
                time_attr="training_iteration",
                metric=self._metric,
                mode=self._mode,
                max_t=max_t,
                stop_last_trials=False,  # the final report (epochs + 1) must get through
                **{**self._asha_kwargs, "grace_period": min(self._asha_kwargs["grace_period"], max_t)},
            )
        return self._groups[group]

    def _known(self, tune_controller: Any, trial: Trial) -> ASHAScheduler | None:
        """The trial's ASHA, registering trials restored from an experiment checkpoint with the
        scores they reported before (see the module docstring)."""
        asha = self._asha(trial)
        if asha is not None and not asha_knows(asha, trial.trial_id):
            asha.on_trial_add(tune_controller, trial)
            asha_replay(asha, trial, recorded_results(trial))
        return asha

    def on_trial_add(self, tune_controller: Any, trial: Trial) -> None:
        self._known(tune_controller, trial)

    def on_trial_error(self, tune_controller: Any, trial: Trial) -> None:
        asha = self._asha(trial)
        if asha is not None:
            asha_forget(asha, trial.trial_id)

    def on_trial_result(self, tune_controller: Any, trial: Trial, result: dict) -> str:
        asha = self._known(tune_controller, trial)
        if asha is None:
            return TrialScheduler.CONTINUE
        return asha.on_trial_result(tune_controller, trial, result)

    def on_trial_complete(self, tune_controller: Any, trial: Trial, result: dict) -> None:
        asha = self._known(tune_controller, trial)
        if asha is not None:
            asha.on_trial_complete(tune_controller, trial, result)

    def on_trial_remove(self, tune_controller: Any, trial: Trial) -> None:
        asha = self._asha(trial)
        if asha is not None:
            asha_forget(asha, trial.trial_id)

    def debug_string(self) -> str:
        stopped = sum(asha_stopped(a) for a in self._groups.values())
        return f"ASHA per arm and seed: {len(self._groups)} groups, {stopped} trials stopped"


def _asha(plan: StudyPlan) -> TrialScheduler:
    cfg = plan.spec.scheduler
    return GroupedScheduler(
        plan, grace_period=cfg.grace_period, reduction_factor=cfg.reduction_factor, brackets=cfg.brackets
    )


SCHEDULERS: Registry[Callable[[StudyPlan], TrialScheduler]] = Registry("scheduler")
SCHEDULERS.add("asha", _asha)
SCHEDULERS.add("fifo", lambda plan: FIFOScheduler())


def make_scheduler(plan: StudyPlan) -> TrialScheduler:
    """The scheduler named by the spec."""
    return SCHEDULERS.get(plan.spec.scheduler.name)(plan)
