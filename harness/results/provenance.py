"""What every result file records about where it came from."""

from __future__ import annotations

import platform
import subprocess
import sys
from importlib import metadata
from pathlib import Path

PACKAGES = ("stvlm-studies", "torch", "transformers", "peft", "numpy", "ray", "optuna", "polars")
REPO = Path(__file__).resolve().parents[2]  # harness/<package>/<module>.py -> the repository


def package_versions(names: tuple[str, ...] = PACKAGES) -> dict[str, str]:
    """Installed versions of the packages that shape results (missing ones are omitted)."""
    versions = {"python": platform.python_version()}
    for name in names:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return versions


def git_commit(repo: Path = REPO) -> str | None:
    """The checkout's commit, with ``-dirty`` when a tracked file outside ``results/`` differs
    from it (the code that ran is not the commit), or ``None`` outside a git checkout.

    Committed results are left out: a benchmark that rewrites ``results/`` while another one
    starts does not make the second one's code "dirty"."""
    try:
        commit = subprocess.run(
            ["git", "-C", str(repo), "rev-parse", "HEAD"], capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(repo), "status", "--porcelain", "--untracked-files=no", "--", ".",
             ":(exclude)results"],
            capture_output=True, text=True, check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None
    return commit + ("-dirty" if dirty else "")


def cpu_model(cpuinfo: Path = Path("/proc/cpuinfo")) -> str | None:
    """The CPU's model name: the first ``model name`` line of ``cpuinfo`` (Linux), else
    ``platform.processor()``, else ``None``."""
    try:
        for line in cpuinfo.read_text(errors="replace").splitlines():
            key, sep, value = line.partition(":")
            if sep and key.strip() == "model name" and value.strip():
                return value.strip()
    except OSError:
        pass
    return platform.processor() or None


def cpu_description() -> str:
    """``<model>, <arch>, <kernels>``: the CPU model, the machine architecture and the vector
    instruction set torch dispatches its CPU kernels to (``AVX2``, ``AVX512``, ...); the parts
    that can be found (``""``: none).

    fp32 training reproduces bit for bit only where the kernels and the torch thread count are the
    same: the same seed and commit trained on another CPU (another vector width, another BLAS code
    path) or with more threads (a parallel sum split otherwise) rounds differently, and over tens
    of epochs that can move the best epoch."""
    import torch

    capability = getattr(torch.backends.cpu, "get_cpu_capability", lambda: None)()
    return ", ".join(p for p in (cpu_model(), platform.machine(), capability) if p)


def cpu_device_name() -> str:
    """``cpu (<model>, <arch>, <kernels>)`` (:func:`cpu_description`), or ``cpu`` where none of
    its parts can be found: the one spelling of "this ran on this machine's CPU"."""
    cpu = cpu_description()
    return f"cpu ({cpu})" if cpu else "cpu"


def device_name() -> str:
    """A short description of the compute device: the GPU's name, or :func:`cpu_device_name`."""
    import torch

    if torch.cuda.is_available():
        return torch.cuda.get_device_name(0)
    return cpu_device_name()


def provenance() -> dict[str, object]:
    """Versions, git commit, device and the command line of this process."""
    return {
        "versions": package_versions(),
        "git_commit": git_commit(),
        "device": device_name(),
        "command": " ".join([Path(sys.argv[0]).name] + sys.argv[1:]),
    }
