"""Fixtures of the report tests: synthetic study folders and one report built once per session."""

from __future__ import annotations

from pathlib import Path

import pytest
from report_synthetic import DEMO_ANCHORS, write_study


@pytest.fixture
def demo_study(tmp_path: Path) -> Path:
    """A synthetic few-shot study folder (with a failed and a pruned trial); tests may modify it."""
    return write_study(tmp_path / "results")


@pytest.fixture(scope="session")
def demo_built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """``(study folder, report folder)`` of the synthetic study, built once with four anchors.

    Read-only: tests that change files make their own study with ``write_study``.
    """
    from harness.report import build_report

    root = tmp_path_factory.mktemp("demo")
    study = write_study(root / "results")
    anchors = root / "anchors.csv"
    anchors.write_text(DEMO_ANCHORS)
    return study, build_report([study], root / "report", anchors, command="stvlm report demo")
