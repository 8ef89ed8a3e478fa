"""Provenance: the commit, and "-dirty" only when tracked code (not committed results) differs."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from harness.results.provenance import git_commit


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True,
                          check=True).stdout.strip()


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_dirty_means_tracked_code_differs_not_results(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    (repo / "results").mkdir(parents=True)
    (repo / "code.py").write_text("x = 1\n")
    (repo / "results" / "table.json").write_text("{}\n")
    _git(repo, "init", "-q")
    _git(repo, "-c", "user.name=t", "-c", "user.email=t@t", "add", ".")
    _git(repo, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "init")
    head = _git(repo, "rev-parse", "HEAD")
    assert git_commit(repo) == head
    (repo / "results" / "table.json").write_text('{"mae": 2.0}\n')  # a benchmark wrote results
    (repo / "new.txt").write_text("untracked\n")
    assert git_commit(repo) == head
    (repo / "code.py").write_text("x = 2\n")  # the code that runs is not the commit
    assert git_commit(repo) == f"{head}-dirty"
    assert git_commit(tmp_path / "not-a-repo") is None
