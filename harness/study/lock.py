"""One launch of a study at a time: an exclusive lock on its results folder.

Two drivers of the same study (a Ray job submitted again while the first one still runs, a
second terminal) would each keep their own rows in memory and rewrite ``trials.parquet`` whole
after every trial, so each would drop the other's rows, and both would resume the same Tune
experiment. :func:`study_lock` holds ``<results>/.lock`` (``flock``, released by the kernel when
the process ends, however it ends) for the whole launch and refuses a second one with one line.
The file names the holder's pid and host; it is removed when the launch ends, and so is the
results folder where the launch created it and left nothing in it.
"""

from __future__ import annotations

import fcntl
import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from stvlm.errors import ConfigError

LOCK_FILE = ".lock"


@contextmanager
def study_lock(folder: Path, study: str) -> Iterator[None]:
    """Hold the study's lock in ``folder`` (created if missing) inside the ``with`` block.

    Raises:
        ConfigError: another launch holds it (the message names its pid and host).
    """
    created = not folder.exists()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / LOCK_FILE
    fd = _acquire(path, study)
    try:
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()} {socket.gethostname()}\n".encode())
        yield
    finally:
        path.unlink(missing_ok=True)  # still held: a waiting launch re-checks the inode
        os.close(fd)
        if created and not any(folder.iterdir()):
            folder.rmdir()


def _acquire(path: Path, study: str) -> int:
    """A descriptor of ``path`` holding its exclusive lock (re-opened when the holder removed the
    file between this open and this lock: a lock on a removed file guards nothing)."""
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _holder(fd)
            os.close(fd)
            raise ConfigError(
                f"study {study!r} is already running ({path} is held by {holder}); wait for that "
                "launch to end or stop it, then launch again"
            ) from None
        try:
            same = os.fstat(fd).st_ino == os.stat(path).st_ino
        except FileNotFoundError:
            same = False
        if same:
            return fd
        os.close(fd)


def _holder(fd: int) -> str:
    """``pid <n> on <host>`` from the lock file, or ``another launch`` when it is not written yet."""
    words = os.pread(fd, 200, 0).decode(errors="replace").split()
    return f"pid {words[0]} on {words[1]}" if len(words) >= 2 else "another launch"
