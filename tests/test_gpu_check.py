"""benchmarks/gpu_check.py: without a GPU every check is skipped cleanly; with one, the CUDA
step runs for real (that test skips on CPU-only machines, as in CI)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from tests.load import patient

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the CPU-only path")
def test_gpu_check_skips_every_check_without_a_gpu(tmp_path: Path) -> None:
    out = tmp_path / "gpu.json"
    proc = subprocess.run([sys.executable, str(REPO / "benchmarks" / "gpu_check.py"), "--json", str(out)],
                          cwd=REPO, capture_output=True, text=True, timeout=patient(120))
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.strip().splitlines()
    assert [line.split()[0] for line in lines[:-1]] == [
        "cuda_step", "bf16_engine", "table_settings", "base_throughput", "fractional_gpu", "train_2_workers"]
    assert all(line.split(None, 1)[1].strip() == "skipped  no CUDA device" for line in lines[:-1]), lines
    # a run that measured nothing keeps the last record (the README's command writes the committed one)
    assert lines[-1] == f"nothing measured; {out} left as it was" and not out.exists()
    bad = subprocess.run([sys.executable, str(REPO / "benchmarks" / "gpu_check.py"), "--json", str(tmp_path)],
                         cwd=REPO, capture_output=True, text=True, timeout=patient(120))
    assert bad.returncode == 2
    assert bad.stderr.strip() == f"gpu_check.py: error: --json '{tmp_path}' is a directory; give a file path"


def test_each_check_is_handed_on_as_soon_as_it_ends(monkeypatch) -> None:
    """On a lent GPU machine a command is cut off at 600 s: main() prints and writes the results
    after every check (it wrote them once, at the end). The orchestration runs here with two
    checks of its own; the GPU checks themselves need a GPU."""
    import argparse

    sys.path.insert(0, str(REPO / "benchmarks"))
    import gpu_check

    def broken(args):
        raise RuntimeError("no such kernel")

    monkeypatch.setitem(gpu_check.CHECKS, "first", lambda args: {"figure": 1})
    monkeypatch.setitem(gpu_check.CHECKS, "second", broken)
    seen: list[dict] = []
    results = gpu_check.run_checks(argparse.Namespace(only=["first", "second"]), cuda=True,
                                   on_result=lambda r: seen.append({k: v["status"] for k, v in r.items()}))
    assert seen == [{"first": "ok"}, {"first": "ok", "second": "failed"}]
    assert results["first"]["figure"] == 1 and results["second"]["error"] == "RuntimeError: no such kernel"
    assert gpu_check._line("second", results["second"]) == "second           failed   RuntimeError: no such kernel"


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_step_and_bf16_engine_on_the_gpu(data_root: Path, tmp_path: Path) -> None:
    out = tmp_path / "gpu.json"
    proc = subprocess.run([sys.executable, str(REPO / "benchmarks" / "gpu_check.py"), "--only", "cuda_step",
                           "bf16_engine", "--data-root", str(data_root), "--json", str(out)],
                          cwd=REPO, capture_output=True, text=True, timeout=patient(600))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    checks = json.loads(out.read_text())["checks"]
    assert checks["cuda_step"]["status"] == checks["bf16_engine"]["status"] == "ok"
