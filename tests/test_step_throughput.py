"""benchmarks/step_throughput.py: the profile of a step, and its argument checks."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))

from step_throughput import profile_steps  # noqa: E402


def test_profile_counts_the_operators_of_each_step_on_the_cpu() -> None:
    a, b = torch.ones(4, 4), torch.full((4, 4), 2.0)
    sums = []

    def step(batch: torch.Tensor) -> None:  # two matrix products and one sum a step
        sums.append(float((torch.mm(torch.mm(a, b), batch)).sum()))

    out = profile_steps(step, [torch.eye(4), 2 * torch.eye(4)], 3, torch.device("cpu"))
    assert sums == [128.0, 256.0, 128.0]  # (a b)_ij = 8 over 16 entries; the batches alternate
    assert out["profiled_steps"] == 3
    assert out["top_ops_by"] == "self CPU time"
    calls = {t["name"]: t["calls_per_step"] for t in out["top_ops"]}
    assert calls["aten::mm"] == 2.0
    assert calls["aten::sum"] == 1.0
    assert out["ops_per_step"] >= 3.0  # mm, mm, sum, and what they call
    assert all(t["self_ms_per_step"] >= 0 for t in out["top_ops"])
    assert "kernels_per_step" not in out and "device_busy_share" not in out  # CUDA only


def test_bad_counts_stop_before_any_measurement(tmp_path: Path) -> None:
    out = tmp_path / "step.json"
    proc = subprocess.run([sys.executable, str(REPO / "benchmarks" / "step_throughput.py"), "--only", "tiny",
                           "--steps", "0", "--json", str(out)], capture_output=True, text=True)
    assert proc.returncode == 2
    assert "--steps 0, --batch-size 8, --profile 0: steps and batch size must be >= 1, profile >= 0" in proc.stderr
    assert not out.exists()
