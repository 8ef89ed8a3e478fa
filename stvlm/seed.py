"""Seeding and determinism."""

from __future__ import annotations

import os
import random

import numpy as np
import torch


def seed_everything(seed: int, *, deterministic: bool = True) -> torch.Generator:
    """Seed Python, NumPy and torch; on CPU make torch deterministic; keep fp32 fp32 on GPUs.

    Args:
        seed: the seed.
        deterministic: ask torch for deterministic algorithms (warn-only, so ops without a
            deterministic implementation still run; on CPU all ops used here are deterministic).

    cuDNN's convolutions (ViLT's patch embedding, the baselines' Conv2d) default to TF32 on
    Ampere and later GPUs, about 10 mantissa bits where fp32 has 23; they are set to fp32, as
    matrix products already are (``torch.backends.cuda.matmul.allow_tf32`` is False), so a fp32
    run with ``train.amp`` off differs from the CPU's by summation order only (``amp``, bf16
    autocast on CUDA, is on by default and is where a GPU run's speed comes from).

    Returns:
        A ``torch.Generator`` seeded with ``seed`` for data shuffling.
    """
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    torch.backends.cudnn.allow_tf32 = False
    if deterministic:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.use_deterministic_algorithms(True, warn_only=True)
    generator = torch.Generator()
    generator.manual_seed(seed)
    return generator


def resolve_device(name: str) -> torch.device:
    """``"auto"`` -> CUDA when available, else CPU; ``"cuda"`` without CUDA raises."""
    from stvlm.errors import ConfigError

    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ConfigError("train.device = 'cuda' but no CUDA device is available; allowed: 'auto', 'cpu'")
    return torch.device(name)
