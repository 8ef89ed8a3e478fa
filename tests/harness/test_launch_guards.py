"""What a launch of a study checks before Ray starts: one launch at a time
(``harness.study.lock``: a second one is refused in one line, and the lock goes with its holder
however that ends), and whether there is a Tune experiment to resume."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from harness.study.lock import LOCK_FILE, study_lock
from stvlm.errors import ConfigError
from tests.harness.helpers import tiny_study

REPO = Path(__file__).resolve().parents[2]


def test_a_second_launch_is_refused_while_the_first_holds_the_lock(tmp_path: Path) -> None:
    folder = tmp_path / "results" / "s"
    with study_lock(folder, "s"):
        assert (folder / LOCK_FILE).read_text() == f"{os.getpid()} {socket.gethostname()}\n"
        with pytest.raises(ConfigError) as err, study_lock(folder, "s"):
            pass
        assert str(err.value) == (
            f"study 's' is already running ({folder / LOCK_FILE} is held by pid {os.getpid()} on "
            f"{socket.gethostname()}); wait for that launch to end or stop it, then launch again")
    assert not folder.exists()  # created by the launch, and nothing else was written in it
    folder.mkdir(parents=True)
    (folder / "trials.parquet").write_bytes(b"rows")
    with study_lock(folder, "s"):
        pass
    assert [p.name for p in folder.iterdir()] == ["trials.parquet"]  # the lock file goes, the rows stay


def test_the_lock_goes_with_a_holder_that_is_killed(tmp_path: Path) -> None:
    folder = tmp_path / "s"
    code = ("import sys, time; from pathlib import Path; from harness.study.lock import study_lock\n"
            "with study_lock(Path(sys.argv[1]), 's'):\n    print('held', flush=True); time.sleep(600)\n")
    holder = subprocess.Popen([sys.executable, "-c", code, str(folder)], cwd=REPO, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline() == "held\n"  # the event: the child holds the lock
        with pytest.raises(ConfigError, match=rf"is held by pid {holder.pid} on "), study_lock(folder, "s"):
            pass
    finally:
        holder.send_signal(signal.SIGKILL)  # no finally runs in the child: its lock file stays
        holder.wait()
    assert (folder / LOCK_FILE).is_file()
    with study_lock(folder, "s"):  # the kernel released the lock with the process
        pass


def test_a_study_running_elsewhere_is_refused_before_ray_starts(data_root: Path, tmp_path: Path) -> None:
    import ray

    from harness.runtime.runner import StudyOptions, run_study

    spec = tiny_study("busy")
    with study_lock(tmp_path / "results" / "busy", "busy"):
        with pytest.raises(ConfigError, match=r"^study 'busy' is already running \("):
            run_study(spec, StudyOptions(storage=str(tmp_path / "ray"), results_dir=str(tmp_path / "results"),
                                         data_root=str(data_root)))
    assert not ray.is_initialized() and not (tmp_path / "ray").exists()


def test_a_tune_experiment_without_a_saved_state_is_not_resumed(tmp_path: Path) -> None:
    """Ctrl-C in a study's first seconds leaves Tune's tuner.pkl without any experiment state:
    Tuner.restore of it logged a ValueError traceback and ran the plan again as a "resumed" study."""
    from harness.runtime.runner import resumable

    experiment = tmp_path / "ray" / "s"
    assert not resumable(str(experiment))
    experiment.mkdir(parents=True)
    (experiment / "tuner.pkl").write_bytes(b"pickled tuner")
    assert not resumable(str(experiment))
    (experiment / "experiment_state-2026-12-07_03-40-00.json").write_text("{}")
    assert resumable(str(experiment))
