"""Shared fixtures: the data root (real datasets, never committed) and a CPU-only guard."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA_ROOT = REPO.parent / "shared" / "data"


@pytest.fixture(scope="session")
def data_root() -> Path:
    """The folder with the real datasets: $STVLM_DATA, else ../shared/data beside the checkout."""
    root = Path(os.environ.get("STVLM_DATA", DEFAULT_DATA_ROOT)).resolve()
    if not root.is_dir():
        pytest.fail(f"data root {root} does not exist; set STVLM_DATA to the shared data folder")
    return root
