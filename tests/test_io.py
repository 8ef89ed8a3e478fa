"""stvlm.io.atomic_folder: a folder is replaced whole or not at all."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from stvlm.io import atomic_folder


def _make(folder: Path, text: str) -> None:
    folder.mkdir()
    (folder / "a.txt").write_text(text)


def test_replaces_the_folder_as_a_whole(tmp_path: Path) -> None:
    target = tmp_path / "out"
    _make(target, "old")
    (target / "stale.txt").write_text("x")
    with atomic_folder(target) as tmp:
        (tmp / "a.txt").write_text("new")
    assert sorted(p.name for p in target.iterdir()) == ["a.txt"] and (target / "a.txt").read_text() == "new"
    assert [p.name for p in tmp_path.iterdir()] == ["out"]  # no temporary or old folder left
    assert oct(target.stat().st_mode & 0o777) == "0o755"


def test_an_error_in_the_body_leaves_the_old_folder(tmp_path: Path) -> None:
    target = tmp_path / "out"
    _make(target, "old")
    with pytest.raises(RuntimeError, match="boom"):
        with atomic_folder(target) as tmp:
            (tmp / "a.txt").write_text("half")
            raise RuntimeError("boom")
    assert (target / "a.txt").read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["out"]


def test_a_failed_final_rename_puts_the_old_folder_back(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "out"
    _make(target, "old")
    real, calls = os.replace, []

    def flaky(src, dst):  # the second rename (new folder into place) fails
        calls.append(dst)
        if len(calls) == 2:
            raise OSError("disk full")
        return real(src, dst)

    monkeypatch.setattr(os, "replace", flaky)
    with pytest.raises(OSError, match="disk full"):
        with atomic_folder(target) as tmp:
            (tmp / "a.txt").write_text("new")
    assert (target / "a.txt").read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["out"]
