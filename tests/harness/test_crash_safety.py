"""Nothing lost on a crash: a results writer SIGKILLed in the middle of writing leaves the previous
Parquet file whole, and the next writer replaces it (real processes, real files)."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import polars as pl

from tests.load import wait_until

REPO = Path(__file__).resolve().parents[2]

# Rewrites trials.parquet through the results store's own atomic writer, version after version;
# each version is 400,000 rows of one value, so a torn file would show mixed or missing rows.
WRITER = """
import sys
from pathlib import Path
import polars as pl
from harness.results.store import atomic_write_parquet
path, start = Path(sys.argv[1]), int(sys.argv[2])
version = start
while True:
    atomic_write_parquet(pl.DataFrame({"version": [version] * 400_000, "x": range(400_000)}), path)
    version += 1
    if start == 1_000:  # the relaunch writes one version and stops
        break
"""


def _temporaries(folder: Path) -> list[Path]:
    """Non-empty temporaries now; one renamed into place between the glob and its stat is gone,
    not an error (the writer never pauses, so that race is real)."""
    found = []
    for p in folder.glob(".trials.parquet.*.tmp"):
        try:
            if p.stat().st_size > 0:
                found.append(p)
        except FileNotFoundError:
            continue
    return found


def test_writer_killed_mid_write_leaves_the_previous_file_whole(tmp_path: Path) -> None:
    path = tmp_path / "trials.parquet"
    writer = subprocess.Popen([sys.executable, "-c", WRITER, str(path), "1"], cwd=REPO)
    try:
        # The event: a complete file exists AND the next version is being written beside it.
        wait_until(lambda: path.is_file() and bool(_temporaries(tmp_path)), seconds=120,
                   what="a second version being written", alive=lambda: writer.poll() is None,
                   poll=0.01)
        writer.send_signal(signal.SIGKILL)
    finally:
        writer.kill()
        writer.wait()
    kept = pl.read_parquet(path)  # readable: never half-written
    assert kept.height == 400_000 and kept["version"].n_unique() == 1
    assert kept["x"].to_list() == list(range(400_000))
    relaunch = subprocess.run([sys.executable, "-c", WRITER, str(path), "1000"], cwd=REPO)
    assert relaunch.returncode == 0
    after = pl.read_parquet(path)
    assert after.height == 400_000 and set(after["version"]) == {1000}
