"""Tune trainables: one trial = one ST-VLM training run, or one baseline evaluation.

:func:`run_trial` is the function trainable the study's ``Tuner`` runs (wrapped with
``tune.with_parameters(run_trial, runtime=TrialRuntime(...))``). The trial's config (made by
:class:`harness.runtime.search.StudySearcher`) names its kind and carries the full experiment dict:

    {"kind": "stvlm" | "baseline", "arm": ..., "seed": ..., "group": ..., "params": {...},
     "experiment": ExperimentConfig.to_dict(), "model": ..., "options": {...}}

The dict is parsed once, into a :class:`~harness.study.trial_config.TrialConfig`, when the trial
starts. An ST-VLM trial reports every epoch through ``ray.tune.report`` with the engine state as a
``ray.tune.Checkpoint``; a retried trial (``FailureConfig(max_failures)``) or a resumed study
finds it with ``ray.tune.get_checkpoint()`` and continues from the next epoch. With
``num_workers > 1`` the trial is a Train driver instead (:mod:`harness.runtime.train_driver`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import ray
import ray.tune
import torch

from harness.study.trial_config import BASELINE_KIND, STVLM_KIND, TrialConfig
from harness.runtime.trial_metrics import evaluate_baseline_trial, train_stvlm
from harness.runtime.trial_runtime import TrialRuntime, load_state, quiet_trial_logs, report_with_state
from stvlm.engine import EngineState
from stvlm.registry import Registry

log = logging.getLogger(__name__)

def tune_report(metrics: dict[str, Any], state: EngineState | None) -> None:
    """``ray.tune.report`` with the engine state as a checkpoint (persisted before returning)."""
    report_with_state(ray.tune.report, ray.tune.Checkpoint, metrics, state)


def resume_state() -> EngineState | None:
    """The engine state of this trial's latest checkpoint, if a previous attempt left one."""
    checkpoint = ray.tune.get_checkpoint()
    if checkpoint is None:
        return None
    with checkpoint.as_directory() as folder:
        state = load_state(folder)
    log.info("resuming from the checkpoint of epoch %d", state.epoch)
    return state


def stvlm_trial(trial: TrialConfig, runtime: TrialRuntime) -> None:
    """One ST-VLM training run in this process."""
    torch.set_num_threads(runtime.threads)
    train_stvlm(trial.experiment, tune_report, resume=resume_state())


def baseline_trial(trial: TrialConfig, runtime: TrialRuntime) -> None:
    """One baseline fitted and scored on the experiment's splits."""
    torch.set_num_threads(runtime.baseline_threads)
    tune_report(evaluate_baseline_trial(trial.experiment, trial.model, trial.options), None)


def _stvlm_or_train(trial: TrialConfig, runtime: TrialRuntime) -> None:
    if runtime.num_workers > 1:
        from harness.runtime.train_driver import train_driver  # Ray Train: imported only when used

        train_driver(trial, runtime)
    else:
        stvlm_trial(trial, runtime)


TRIAL_KINDS: Registry[Callable[[TrialConfig, TrialRuntime], None]] = Registry("trial kind")
TRIAL_KINDS.add(STVLM_KIND, _stvlm_or_train)
TRIAL_KINDS.add(BASELINE_KIND, baseline_trial)


def run_trial(config: dict[str, Any], runtime: TrialRuntime) -> None:
    """The study's function trainable: parse the trial once, dispatch on its kind."""
    quiet_trial_logs()
    trial = TrialConfig.from_tune(config).with_data_root(runtime.data_root)
    TRIAL_KINDS.get(trial.kind)(trial, runtime)
