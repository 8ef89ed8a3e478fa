"""The benchmark scripts record what ran and refuse bad input before any work: each copy's own
time in the contention benchmark, the epochs of a long-trial overhead run, nothing written when
nothing was measured, and one-line errors for arguments that would run the wrong thing."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.load import patient

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))

import contention  # noqa: E402
import harness_overhead  # noqa: E402


def test_contention_times_each_copy_to_its_own_end(tmp_path: Path) -> None:
    """The first copy to start sleeps 5 s, the others end at once: collected in start order, every
    copy got the slow one's time (the median of a running maximum)."""
    token = tmp_path / "slow"
    code = (f"import os, time\ntry:\n    os.close(os.open({str(token)!r}, os.O_CREAT | os.O_EXCL))\n"
            "    time.sleep(5.0)\nexcept FileExistsError:\n    pass\n")
    walls = sorted(contention.run_many([sys.executable, "-c", code], dict(os.environ), 4))
    assert walls[-1] >= 5.0
    assert walls[2] < walls[-1] - 2.0, walls  # three copies end long before the slow one


def test_contention_a_failed_copy_stops_the_benchmark() -> None:
    with pytest.raises(SystemExit, match=r"a run failed \(3\): boom"):
        contention.run_many([sys.executable, "-c", "import sys; sys.exit('boom') if False else "
                             "(sys.stderr.write('boom'), sys.exit(3))"], dict(os.environ), 2)


def test_the_long_trial_overhead_records_the_epochs_its_trials_ran(tmp_path: Path, capsys) -> None:
    run = {"trials": 4, "concurrent": 2, "wall_s": 100.0, "in_trial_s": 160.0, "train_s": 140.0,
           "setup_s": 8.0, "eval_s": 4.0, "epochs": 360}
    args = argparse.Namespace(epochs=4, long_epochs=90, out=tmp_path / "long.json")
    harness_overhead.report({"tune long x2": run}, 4.0, args, [])
    assert json.loads((tmp_path / "long.json").read_text())["epochs"] == 90
    assert "90 epochs of 2 batches per trial" in capsys.readouterr().out


def _script(*argv: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *argv], cwd=REPO, capture_output=True, text=True,
                          timeout=patient(300), env={**os.environ, "OMP_NUM_THREADS": "1"})


def test_node_scale_writes_nothing_when_no_configuration_ran(tmp_path: Path) -> None:
    """Every configuration times out (1 s, less than a child's start-up): the committed JSON and
    figure are kept, and the exit status says so."""
    out, png = tmp_path / "ns.json", tmp_path / "ns.png"
    proc = _script("benchmarks/node_scale.py", "--nodes", "30", "--encodings", "node_time", "--timeout", "1",
                   "--json", str(out), "--png", str(png))
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert f"no configuration ran; {out} and {png} left as they were" in proc.stderr
    assert not out.exists() and not png.exists()


@pytest.mark.parametrize(("argv", "error"), [
    (["benchmarks/kept_start.py", "--epochs", "60"],
     "--epochs 60 is not allowed; the runs follow the benchmark's 40-epoch plan: give 1 to 40"),
    (["benchmarks/loss_masks.py", "--epochs", "0"], "argument --epochs: 0 is not allowed; give a whole number >= 1"),
    (["benchmarks/data_loading.py", "--passes", "0"], "argument --passes: 0 is not allowed; give a whole number >= 1"),
    (["benchmarks/node_scale.py", "--threads", "0"], "argument --threads: 0 is not allowed; give a whole number >= 1"),
    (["benchmarks/contention.py", "--repeats", "0"], "argument --repeats: 0 is not allowed; give a whole number >= 1"),
    (["benchmarks/baseline_speed.py", "--repeats", "0"], "argument --repeats: 0 is not allowed; give a whole number >= 1"),
    (["benchmarks/baseline_speed.py", "--models", "nosuchmodel"], "argument --models: invalid choice: 'nosuchmodel'"),
])
def test_bad_arguments_are_one_line_errors_before_any_work(argv: list[str], error: str) -> None:
    proc = _script(*argv)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert f"error: {error}" in proc.stderr.strip().splitlines()[-1]
    assert "Traceback" not in proc.stderr


@pytest.mark.parametrize("script", ["kept_start.py", "loss_masks.py", "data_loading.py"])
def test_a_missing_data_root_is_one_line(tmp_path: Path, script: str) -> None:
    proc = _script(f"benchmarks/{script}", "--data-root", str(tmp_path / "nope"))
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr and str(tmp_path / "nope") in proc.stderr.strip().splitlines()[-1]
