"""Helpers of the Ray integration tests: tiny study specs, free ports, killing one trial process."""

from __future__ import annotations

import json
import os
import signal
import socket
import threading
import time
from pathlib import Path
from typing import Any

import psutil

from harness.study.spec import StudySpec
from tests.load import patient


def tiny_study(name: str, **overrides: Any) -> StudySpec:
    """A real few-shot study cut to seconds: tiny ViLT, 2 ratios, 1 seed, epochs of 2 batches."""
    base: dict[str, Any] = {
        "name": name,
        "dataset": "nycbike-drop",
        "preset": "tiny",
        "seeds": [0],
        "num_samples": 1,
        "max_failures": 1,
        "fixed": {"train.epochs": 3, "train.max_batches_per_epoch": 2, "train.batch_size": 8,
                  "train.patience": 3},
        "scientific": {"axes": {"few_shot_ratio": [0.05, 0.1]}},
        "nuisance": {"train.lr": {"distribution": "loguniform", "low": 1e-4, "high": 1e-2}},
        "baselines": {"models": ["last-value"]},
        "scheduler": {"name": "asha", "grace_period": 2},
    }
    base.update(overrides)
    return StudySpec.from_dict(base)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def own_descendant(pid: int) -> bool:
    """Whether ``pid`` is a process this test process started (directly or not)."""
    return pid in {p.pid for p in psutil.Process(os.getpid()).children(recursive=True)}


class TrialKiller(threading.Thread):
    """SIGKILLs the process of the first ST-VLM trial that has written its first checkpoint.

    The pid comes from the trial's own reports (``result.json``) and must be a descendant of
    this test process, so nothing but a process the test started is ever signalled.
    """

    def __init__(self, experiment: Path, timeout: float = 300.0) -> None:
        super().__init__(daemon=True)
        self.experiment = experiment
        self.timeout = timeout  # on an idle machine; scaled by the load (see patient)
        self.killed: str | None = None
        self.stop = threading.Event()

    def run(self) -> None:
        start = time.monotonic()
        while not self.stop.is_set() and time.monotonic() - start < patient(self.timeout):
            for folder in sorted(self.experiment.glob("stvlm_*")):
                result = folder / "result.json"
                if (folder / "checkpoint_000000").is_dir() and result.is_file():
                    try:
                        pid = json.loads(result.read_text().splitlines()[0]).get("pid")
                    except (IndexError, json.JSONDecodeError):  # being written
                        continue
                    if pid and own_descendant(pid):
                        os.kill(pid, signal.SIGKILL)
                        self.killed = folder.name.split("_", 1)[1]
                        return
            time.sleep(0.2)
