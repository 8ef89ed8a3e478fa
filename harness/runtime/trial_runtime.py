"""What a trial process and a Train driver share: the study-wide runtime settings, the engine
state in a checkpoint folder, the node id and the quieting of Ray's per-checkpoint logs.

Its own module so that :mod:`harness.runtime.trial` and :mod:`harness.runtime.train_driver` both import it and
not each other.
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

from stvlm.engine import EngineState

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
        train_poll_s: seconds between the Train controller's polls of its workers.
        data_root: this launch's data root (``None``: ``$STVLM_DATA``). Every trial reads its data
            there, whatever root its config was planned with: a resumed study's searcher is
            restored with the plan of its first launch, so a study resumed after the data moved
            (``--data-root``) would read the old place.
    """

    study: str
    storage: str
    num_workers: int = 1
    cpus: float = 1.0
    gpus: float = 0.0
    max_failures: int = 1
    baseline_cpus: float = 1.0
    train_poll_s: float = 2.0
    data_root: str | None = None

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


def report_with_state(
    report: Callable[..., None], checkpoint: type, metrics: dict[str, Any], state: EngineState | None
) -> None:
    """``report(metrics)`` (``ray.tune.report`` or ``ray.train.report``, with its own
    ``Checkpoint`` class) with this process's node id and pid added, and the engine state as a
    checkpoint when given (written to a temporary folder the report persists before returning)."""
    metrics = {**metrics, "node_id": node_id(), "pid": os.getpid()}
    if state is None:
        report(metrics)
        return
    folder = tempfile.mkdtemp(prefix="stvlm-ckpt-")
    try:
        save_state(state, folder)
        report(metrics, checkpoint=checkpoint.from_directory(folder))
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def node_id() -> str | None:
    """The Ray node id of this process (None outside Ray)."""
    try:
        return ray.get_runtime_context().get_node_id()
    except Exception:  # noqa: BLE001 - not connected
        return None


def quiet_trial_logs() -> None:
    """Drop Ray's per-checkpoint INFO lines in trial processes (one per epoch and trial)."""
    logging.getLogger("ray.train").setLevel(logging.WARNING)
