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
    umask = os.umask(0)
    os.umask(umask)
    assert oct(target.stat().st_mode & 0o777) == oct(0o777 & ~umask)


def test_files_written_owner_only_get_the_usual_permissions_and_are_synced(tmp_path: Path, monkeypatch) -> None:
    """safetensors writes 0600 files: a shared checkpoint would be unreadable to others; and
    every file is synced before the folder is renamed into place."""
    umask = os.umask(0o022)
    try:
        synced = []
        real = os.fsync
        monkeypatch.setattr(os, "fsync", lambda fd: (synced.append(os.readlink(f"/proc/self/fd/{fd}")), real(fd)))
        with atomic_folder(tmp_path / "out") as tmp:
            (tmp / "sub").mkdir(mode=0o700)
            for name in ("weights.bin", "sub/more.bin"):
                (tmp / name).write_bytes(b"w")
                os.chmod(tmp / name, 0o600)
    finally:
        os.umask(umask)
    out = tmp_path / "out"
    modes = {p.relative_to(out).as_posix(): oct(p.stat().st_mode & 0o777) for p in [out, *out.rglob("*")]}
    assert modes == {".": "0o755", "sub": "0o755", "weights.bin": "0o644", "sub/more.bin": "0o644"}
    assert sorted(Path(p).name for p in synced) == ["more.bin", "weights.bin"]


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


def test_an_interrupted_clean_up_keeps_the_new_folder_and_the_next_write_removes_the_old(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import shutil

    import stvlm.io as io

    target = tmp_path / "out"
    _make(target, "old")
    real = shutil.rmtree

    def interrupted(path, ignore_errors=False):
        if ".out.old." in str(path):
            raise KeyboardInterrupt  # Ctrl-C while the old copy is removed
        real(path, ignore_errors=ignore_errors)

    monkeypatch.setattr(io.shutil, "rmtree", interrupted)
    with pytest.raises(KeyboardInterrupt):
        with atomic_folder(target) as tmp:
            (tmp / "a.txt").write_text("new")
    assert (target / "a.txt").read_text() == "new"  # the new folder landed
    left = [p.name for p in tmp_path.iterdir() if p.name != "out"]
    assert len(left) == 1 and left[0].startswith(".out.old.")
    monkeypatch.setattr(io.shutil, "rmtree", real)
    (tmp_path / "out.old").mkdir()  # a sibling named like the prefix is not touched
    with atomic_folder(target) as tmp:
        (tmp / "a.txt").write_text("newer")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out", "out.old"]
    assert (target / "a.txt").read_text() == "newer"
