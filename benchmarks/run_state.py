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

Where a run stands, without touching it (reads the saved states only)::

    python benchmarks/run_state.py /tmp/state-0 /tmp/state-1
"""

from __future__ import annotations

import argparse
import json
import logging
import shutil
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fewshot_merge import pair_slug  # noqa: E402
from stvlm.engine import EngineState, EpochRecord  # noqa: E402
from stvlm.io import atomic_write_json  # noqa: E402

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
        written = _written(self.path)
        self.resumed_from = {"epoch": state.epoch, "git_commit": written.get("git_commit"),
                             "seconds": _trained_seconds(state)}
        other = "" if written.get("git_commit") == self.git_commit else (
            f" (written at commit {written.get('git_commit')}, this is {self.git_commit})")
        log.info("resuming %s after epoch %d%s", self.path.name, state.epoch, other)
        return state

    def save(self, record: EpochRecord, state: EngineState) -> None:
        """Write ``state`` (atomically) and its record; never stops training."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        state.save(self.path)
        atomic_write_json(self.record_path, {"git_commit": self.git_commit, "epoch": record.epoch})


def _written(state_path: Path) -> dict[str, Any]:
    """The JSON record beside a saved state (its commit and epoch); ``{}`` when there is none."""
    record = state_path.with_suffix(".json")
    return json.loads(record.read_text()) if record.is_file() else {}


def _trained_seconds(state: EngineState) -> float:
    """Wall seconds of the epochs a saved state has trained."""
    return sum(h.seconds for h in state.history)


def clear_pair(root: Path | None, dataset: str, setting: str) -> None:
    """Remove a pair's run states (its results are written: nothing left to resume)."""
    if root is not None:
        shutil.rmtree(pair_folder(root, dataset, setting), ignore_errors=True)


def describe(root: Path) -> list[dict[str, Any]]:
    """One row per saved run state under ``root`` (pair folders of :func:`pair_folder`), in name
    order: the pair, the run (``<model>-seed<k>-<config hash>``), its last finished epoch, the best
    epoch so far (0: the untrained start) and its validation MAE, the epochs since the last
    improvement, the seconds of the epochs so far and the commit that wrote the state."""
    rows = []
    for path in sorted(root.glob("*/*.pt")):
        state = EngineState.load(path)
        rows.append({"pair": path.parent.name, "run": path.stem, "epoch": state.epoch,
                     "best_epoch": state.best_epoch, "best_val_mae": state.best_val().get("mae"),
                     "bad_epochs": state.bad_epochs, "seconds": _trained_seconds(state),
                     "git_commit": _written(path).get("git_commit")})
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Where the resumable runs of --state-dir folders stand.")
    parser.add_argument("folders", nargs="+", type=Path, metavar="STATE_DIR")
    args = parser.parse_args(argv)
    missing = [str(f) for f in args.folders if not f.is_dir()]
    if missing:
        parser.error(f"no such state folder: {', '.join(missing)}")
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    for folder in args.folders:
        rows = describe(folder)
        if not rows:
            log.warning("%s: no run states (none started, or every pair's results are written)", folder)
        for r in rows:
            best = "start" if r["best_epoch"] == 0 else f"epoch {r['best_epoch']}"
            mae = "n/a" if r["best_val_mae"] is None else f"{r['best_val_mae']:.4f}"
            log.warning("%s %s %s: epoch %d done, best %s (val MAE %s), %d epochs since, %.0f min, commit %s",
                        folder, r["pair"], r["run"], r["epoch"], best, mae, r["bad_epochs"],
                        r["seconds"] / 60, (r["git_commit"] or "unknown")[:7])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
