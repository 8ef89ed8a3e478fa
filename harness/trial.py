"""Tune trainables: one trial = one ST-VLM training run, or one baseline evaluation.

:func:`run_trial` is the function trainable the study's ``Tuner`` runs (wrapped with
``tune.with_parameters(run_trial, runtime=TrialRuntime(...))``). The trial's config (made by
:class:`harness.search.StudySearcher`) names its kind and carries the full experiment dict:

    {"kind": "stvlm" | "baseline", "arm": ..., "seed": ..., "group": ..., "params": {...},
     "experiment": ExperimentConfig.to_dict(), "model": ..., "options": {...}}

An ST-VLM trial reports every epoch through ``ray.tune.report`` with the engine state as a
``ray.tune.Checkpoint``; a retried trial (``FailureConfig(max_failures)``) or a resumed study
finds it with ``ray.tune.get_checkpoint()`` and continues from the next epoch. With
``num_workers > 1`` the trial is a Train driver instead (:mod:`harness.train_driver`).
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ray
import ray.tune
import torch

from harness.reporting import evaluate_baseline_trial, train_stvlm
from stvlm.engine import EngineState
from stvlm.experiment import ExperimentConfig
from stvlm.registry import Registry

log = logging.getLogger(__name__)

STATE_FILE = "engine_state.pt"


@dataclass(frozen=True)
class TrialRuntime:
    """Study-wide settings every trial needs (passed through the object store, not the config).

    Args:
        study: study name (Train runs are stored under ``<storage>/<study>-train/<trial_id>``).
        storage: storage root (absolute path or URI), shared by Tune and Train.
        num_workers: Train workers per ST-VLM trial (1: train in the trial itself).
        cpus: CPUs per trial (per Train worker when ``num_workers > 1``).
        gpus: GPUs per trial or Train worker (fractions allowed).
        max_failures: retries of a crashed Train worker group (inside one trial attempt).
        baseline_cpus: CPUs of a baseline trial.
    """

    study: str
    storage: str
    num_workers: int = 1
    cpus: float = 1.0
    gpus: float = 0.0
    max_failures: int = 1
    baseline_cpus: float = 1.0

    @property
    def threads(self) -> int:
        """torch threads per training process: its whole CPUs, at least one."""
        return max(1, int(self.cpus))

    @property
    def baseline_threads(self) -> int:
        """torch threads of a baseline trial."""
        return max(1, int(self.baseline_cpus))


def save_state(state: EngineState, folder: str | Path) -> Path:
    """Write ``state`` into a checkpoint folder."""
    path = Path(folder) / STATE_FILE
    state.save(path)
    return path


def load_state(folder: str | Path) -> EngineState:
    """Read the engine state of a checkpoint folder written by :func:`save_state`."""
    return EngineState.load(Path(folder) / STATE_FILE)


def node_id() -> str | None:
    """The Ray node id of this process (None outside Ray)."""
    try:
        return ray.get_runtime_context().get_node_id()
    except Exception:  # noqa: BLE001 - not connected
        return None


def tune_report(metrics: dict[str, Any], state: EngineState | None) -> None:
    """``ray.tune.report`` with the engine state as a checkpoint (persisted before returning)."""
    metrics = {**metrics, "node_id": node_id(), "pid": os.getpid()}
    if state is None:
        ray.tune.report(metrics)
        return
    folder = tempfile.mkdtemp(prefix="stvlm-ckpt-")
    try:
        save_state(state, folder)
        ray.tune.report(metrics, checkpoint=ray.tune.Checkpoint.from_directory(folder))
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def resume_state() -> EngineState | None:
    """The engine state of this trial's latest checkpoint, if a previous attempt left one."""
    checkpoint = ray.tune.get_checkpoint()
    if checkpoint is None:
        return None
    with checkpoint.as_directory() as folder:
        state = load_state(folder)
    log.info("resuming from the checkpoint of epoch %d", state.epoch)
    return state


def quiet_trial_logs() -> None:
    """Drop Ray's per-checkpoint INFO lines in trial processes (one per epoch and trial)."""
    logging.getLogger("ray.train").setLevel(logging.WARNING)


def stvlm_trial(config: dict[str, Any], runtime: TrialRuntime) -> None:
    """One ST-VLM training run in this process."""
    torch.set_num_threads(runtime.threads)
    experiment = ExperimentConfig.from_dict(config["experiment"])
    train_stvlm(experiment, tune_report, resume=resume_state())


def baseline_trial(config: dict[str, Any], runtime: TrialRuntime) -> None:
    """One baseline fitted and scored on the experiment's splits."""
    torch.set_num_threads(runtime.baseline_threads)
    experiment = ExperimentConfig.from_dict(config["experiment"])
    tune_report(evaluate_baseline_trial(experiment, config["model"], config.get("options")), None)


def _stvlm_or_train(config: dict[str, Any], runtime: TrialRuntime) -> None:
    if runtime.num_workers > 1:
        from harness.train_driver import train_driver

        train_driver(config, runtime)
    else:
        stvlm_trial(config, runtime)


TRIAL_KINDS: Registry[Callable[[dict[str, Any], TrialRuntime], None]] = Registry("trial kind")
TRIAL_KINDS.add("stvlm", _stvlm_or_train)
TRIAL_KINDS.add("baseline", baseline_trial)


def run_trial(config: dict[str, Any], runtime: TrialRuntime) -> None:
    """The study's function trainable: dispatch on ``config["kind"]``."""
    quiet_trial_logs()
    TRIAL_KINDS.get(config["kind"])(config, runtime)
