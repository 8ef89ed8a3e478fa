"""Shared fixtures: the data root (real datasets, never committed) and a CPU-only guard."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch
from tests.load import patient
from tests.output import assert_clean_output

# One intra-op thread in the test process: the suite's tensors are small, and while Ray workers
# or a second process keep a core busy, two OpenMP threads wait on each other (measured: the
# metrics of one los-loop test set took 5.6 s with 2 threads on a loaded 2-core box, 0.16 s
# with 1). Ray trial processes set their own thread counts.
torch.set_num_threads(1)

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA_ROOT = REPO.parent / "shared" / "data"


@pytest.fixture(scope="session")
def data_root() -> Path:
    """The folder with the real datasets: $STVLM_DATA, else ../shared/data beside the checkout."""
    root = Path(os.environ.get("STVLM_DATA", DEFAULT_DATA_ROOT)).resolve()
    if not root.is_dir():
        pytest.fail(f"data root {root} does not exist; set STVLM_DATA to the shared data folder")
    return root


@pytest.fixture(scope="session")
def smoke_study(data_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``results/<study>/`` of a REAL smoke few-shot study (real data, local Ray), run once.

    The README's main command, with its outputs redirected to temporary folders and MLflow
    tracking on (``--mlflow``: the default SQLite store in the results folder); shared by the
    harness and report tests so the suite starts Ray for it only once.
    """
    import subprocess
    import sys

    results = tmp_path_factory.mktemp("smoke-results")
    storage = tmp_path_factory.mktemp("smoke-ray")
    proc = subprocess.run(
        [sys.executable, str(REPO / "studies" / "fewshot.py"), "--smoke-test",
         "--data-root", str(data_root), "--results-dir", str(results), "--storage", str(storage),
         "--mlflow"],
        cwd=REPO, capture_output=True, text=True, timeout=patient(900),
    )
    if proc.returncode != 0:
        pytest.fail(f"smoke study failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    folders = sorted(p for p in results.iterdir() if (p / "trials.parquet").is_file())
    assert len(folders) == 1, folders
    assert_clean_output(proc.stdout + proc.stderr)
    return folders[0]
