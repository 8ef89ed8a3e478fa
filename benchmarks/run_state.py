"""Resumable accuracy-benchmark runs (``fewshot_accuracy.py --state-dir``).

A baseline such as STAEformer trains for hours per seed on a full training part on two CPU cores,
longer than a working session. With a state folder, every trained run writes its engine state
(:class:`stvlm.engine.EngineState`: weights, best checkpoint, optimizer, random state, history)
after each epoch, and the same command run again continues each run from its last finished epoch.
The continued run is the uninterrupted one: the shuffle of every epoch is seeded by (seed, epoch),
the learning rate follows the optimizer steps, and dropout draws continue from the saved random
state (``tests/test_run_state.py`` asserts identical predictions).

One file per run, ``<folder>/<dataset>-<setting>/<model>-seed<k>-<config hash>.pt``, beside a JSON
record of the commit that wrote it and its epoch. A state is only taken by the same model, seed
and configuration (its hash is in the name); a state written by another commit is taken too, and
the run's record says so (``resumed_from``: the epoch and that commit), so the table shows which
code trained which epochs. A pair's folder is removed once its results are written, so two
processes that run side by side (say, one seed each) need a state folder each.
"""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path
from typing import Any

from fewshot_merge import pair_slug
from stvlm.engine import EngineState, EpochRecord
from stvlm.io import atomic_write_json

log = logging.getLogger("fewshot_accuracy")


def pair_folder(root: Path, dataset: str, setting: str) -> Path:
    """The folder of one (dataset, setting)'s run states under ``root``."""
    return root / pair_slug(dataset, setting)


class RunState:
    """The saved state of one run: :meth:`resume` before training, :meth:`save` as an
    :meth:`stvlm.engine.Engine.fit` callback after every epoch."""

    def __init__(self, folder: Path, model: str, seed: int, config_hash: str, git_commit: str | None) -> None:
        self.path = folder / f"{model}-seed{seed}-{config_hash}.pt"
        self.record_path = self.path.with_suffix(".json")
        self.git_commit = git_commit
        self.resumed_from: dict[str, Any] | None = None

    def resume(self) -> EngineState | None:
        """The saved state, if there is one (and ``resumed_from`` set to its epoch, its commit and
        the seconds its epochs took)."""
        if not self.path.is_file():
            return None
        state = EngineState.load(self.path)
        written = json.loads(self.record_path.read_text()) if self.record_path.is_file() else {}
        self.resumed_from = {"epoch": state.epoch, "git_commit": written.get("git_commit"),
                             "seconds": sum(h.seconds for h in state.history)}
        other = "" if written.get("git_commit") == self.git_commit else (
            f" (written at commit {written.get('git_commit')}, this is {self.git_commit})")
        log.info("resuming %s after epoch %d%s", self.path.name, state.epoch, other)
        return state

    def save(self, record: EpochRecord, state: EngineState) -> None:
        """Write ``state`` (atomically) and its record; never stops training."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        state.save(self.path)
        atomic_write_json(self.record_path, {"git_commit": self.git_commit, "epoch": record.epoch})


def clear_pair(root: Path | None, dataset: str, setting: str) -> None:
    """Remove a pair's run states (its results are written: nothing left to resume)."""
    if root is not None:
        shutil.rmtree(pair_folder(root, dataset, setting), ignore_errors=True)
