"""Provenance: the commit, and "-dirty" only when tracked code (not committed results) differs;
the CPU a run trained on."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

import harness.results.provenance as prov
from harness.results.provenance import cpu_device_name, cpu_model, device_name, git_commit


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


def test_cpu_model_reads_the_first_model_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    info = tmp_path / "cpuinfo"
    info.write_text("processor\t: 0\nvendor_id\t: AuthenticAMD\nmodel name\t: AMD EPYC 9654\n"
                    "processor\t: 1\nmodel name\t: other\n")
    assert cpu_model(info) == "AMD EPYC 9654"
    monkeypatch.setattr(prov.platform, "processor", lambda: "")
    assert cpu_model(tmp_path / "none") is None  # no /proc/cpuinfo and no platform answer
    info.write_text("model name\t:  \n")  # an empty model name is no answer either
    assert cpu_model(info) is None
    monkeypatch.setattr(prov.platform, "processor", lambda: "arm")
    assert cpu_model(tmp_path / "none") == "arm"


def test_device_name_on_a_cpu_names_model_architecture_and_kernels(monkeypatch: pytest.MonkeyPatch) -> None:
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.cpu, "get_cpu_capability", lambda: "AVX2")
    monkeypatch.setattr(prov, "cpu_model", lambda: "Test CPU")
    monkeypatch.setattr(prov.platform, "machine", lambda: "x86_64")
    assert device_name() == "cpu (Test CPU, x86_64, AVX2)"
    monkeypatch.setattr(prov, "cpu_model", lambda: None)
    monkeypatch.setattr(prov.platform, "machine", lambda: "")
    assert device_name() == "cpu (AVX2)"
    monkeypatch.setattr(torch.backends.cpu, "get_cpu_capability", lambda: None)
    assert device_name() == cpu_device_name() == "cpu"  # nothing found: the bare type


def test_a_trial_row_names_the_cpu_like_the_provenance(monkeypatch: pytest.MonkeyPatch) -> None:
    import torch

    from harness.runtime.trial_metrics import describe_device

    monkeypatch.setattr(torch.backends.cpu, "get_cpu_capability", lambda: "AVX512")
    monkeypatch.setattr(prov, "cpu_model", lambda: "Test CPU")
    monkeypatch.setattr(prov.platform, "machine", lambda: "x86_64")
    assert describe_device(torch.device("cpu")) == "cpu (Test CPU, x86_64, AVX512)"
    assert describe_device(torch.device("meta")) == "meta"
