"""``stvlm.seed``: the same seed gives the same numbers, and fp32 stays fp32 on a GPU."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch

from stvlm.errors import ConfigError
from stvlm.seed import resolve_device, seed_everything


def test_the_same_seed_gives_the_same_draws_from_every_generator() -> None:
    def draws() -> tuple:
        gen = seed_everything(7)
        return random.random(), float(np.random.rand()), float(torch.rand(1)), float(torch.rand(1, generator=gen))

    assert draws() == draws()


def test_cudnn_convolutions_are_kept_at_fp32() -> None:
    """TF32 (cuDNN's default on Ampere and later) would round a fp32 GPU run's convolutions to
    about 10 mantissa bits; the flag is read without a GPU, so this holds on every machine."""
    torch.backends.cudnn.allow_tf32 = True
    seed_everything(0)
    assert torch.backends.cudnn.allow_tf32 is False and torch.backends.cuda.matmul.allow_tf32 is False


def test_devices_resolve_to_what_the_machine_has() -> None:
    assert resolve_device("cpu") == torch.device("cpu")
    if torch.cuda.is_available():
        assert resolve_device("auto") == torch.device("cuda")
        return
    assert resolve_device("auto") == torch.device("cpu")
    with pytest.raises(ConfigError, match=r"^train.device = 'cuda' but no CUDA device is available; allowed: 'auto', 'cpu'$"):
        resolve_device("cuda")
