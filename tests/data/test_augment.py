"""Level augmentation of training windows: exact values on a tiny batch, factors, errors."""

from __future__ import annotations

import math

import pytest
import torch

from stvlm.configs import TrainConfig
from stvlm.data.augment import level_factors, rescale_windows
from stvlm.data.batch import STBatch
from stvlm.data.scalers import StandardScaler

# Channel 0 (the target): mean 2, std 4; channel 1 (a covariate): mean 10, std 1. Powers of two
# keep every value below exact in float32.
SCALER = StandardScaler([2.0, 10.0], [4.0, 1.0])


def batch() -> STBatch:
    """Two windows, T_in = 2, T_out = 2, one node, channels (target, covariate), one lag."""
    target_in = torch.tensor([[0.5, -0.5], [0.0, 1.0]])  # [B, T_in] scaled: 4, 0 | 2, 6 original
    x = torch.stack([target_in, torch.full((2, 2), 3.0)], dim=-1)[:, :, None, :]  # [B, T_in, 1, 2]
    y = torch.tensor([[3.0, 0.0], [float("nan"), 1.0]])[:, :, None, None]  # [B, T_out, 1, 1]
    lookback = torch.tensor([[0.5, -0.5, 0.0, 1.0], [0.25, 0.25, 0.25, 0.25]])  # [B, T_in + T_out]
    steps = torch.zeros(2, 2, dtype=torch.int64)
    return STBatch(x=x, y=y, x_tod=steps, x_dow=steps, y_tod=steps, y_dow=steps,
                   start=torch.tensor([0, 1]), lookback=lookback[:, None, :, None, None])


def test_rescale_multiplies_target_values_in_original_units():
    out = rescale_windows(batch(), torch.tensor([2.0, 0.5]), SCALER, [0])
    # window 0 x 2: 4 -> 8 (scaled 1.5), 0 -> 0 (scaled -0.5); window 1 x 0.5: 2 -> 1, 6 -> 3
    torch.testing.assert_close(out.x[..., 0, 0], torch.tensor([[1.5, -0.5], [-0.25, 0.25]]), rtol=0, atol=0)
    torch.testing.assert_close(out.x[..., 0, 1], torch.full((2, 2), 3.0), rtol=0, atol=0)  # covariate
    torch.testing.assert_close(out.y[:, :, 0, 0], torch.tensor([[6.0, 0.0], [float("nan"), 0.5]]),
                               rtol=0, atol=0, equal_nan=True)  # zeros stay zeros, NaN stays NaN
    # lookback originals: 4, 0, 2, 6 (x 2) | 3, 3, 3, 3 (x 0.5)
    torch.testing.assert_close(out.lookback[:, 0, :, 0, 0],
                               torch.tensor([[1.5, -0.5, 0.5, 2.5], [-0.125] * 4]), rtol=0, atol=0)
    assert torch.equal(out.start, torch.tensor([0, 1]))


def test_rescale_keeps_a_missing_value_marker():
    """With marker 3 (original units), the target 3 and window 1's lookback (all 3) stay 3: a
    marker times 2 would read as an observation in the loss."""
    out = rescale_windows(batch(), torch.tensor([2.0, 0.5]), SCALER, [0], missing_value=3.0)
    torch.testing.assert_close(out.x[..., 0, 0], torch.tensor([[1.5, -0.5], [-0.25, 0.25]]), rtol=0, atol=0)
    torch.testing.assert_close(out.y[:, :, 0, 0], torch.tensor([[3.0, 0.0], [float("nan"), 0.5]]),
                               rtol=0, atol=0, equal_nan=True)
    torch.testing.assert_close(out.lookback[:, 0, :, 0, 0],
                               torch.tensor([[1.5, -0.5, 0.5, 2.5], [0.25] * 4]), rtol=0, atol=0)


def test_rescale_leaves_the_input_batch_alone_and_factor_one_is_identity():
    b = batch()
    x = b.x.clone()
    same = rescale_windows(b, torch.ones(2), SCALER, [0])
    torch.testing.assert_close(b.x, x, rtol=0, atol=0)
    torch.testing.assert_close(same.x, b.x, rtol=0, atol=0)
    torch.testing.assert_close(same.y, b.y, rtol=0, atol=0, equal_nan=True)
    torch.testing.assert_close(same.lookback, b.lookback, rtol=0, atol=0)


def test_rescale_without_lookback():
    b = batch()
    b.lookback = None
    assert rescale_windows(b, torch.tensor([2.0, 2.0]), SCALER, [0]).lookback is None


def test_rescale_needs_one_factor_per_window():
    with pytest.raises(ValueError, match="2 windows but factors of shape \\(3,\\)"):
        rescale_windows(batch(), torch.ones(3), SCALER, [0])


def test_level_factors_are_log_uniform_within_the_ratio_and_seeded():
    factors = level_factors(10_000, 2.0, torch.Generator().manual_seed(0))
    assert factors.shape == (10_000,)
    assert 0.5 <= float(factors.min()) and float(factors.max()) <= 2.0
    logs = factors.double().log() / math.log(2.0)  # uniform in [-1, 1]
    assert abs(float(logs.mean())) < 0.03 and abs(float((logs < 0).double().mean()) - 0.5) < 0.02
    again = level_factors(10_000, 2.0, torch.Generator().manual_seed(0))
    torch.testing.assert_close(factors, again, rtol=0, atol=0)
    torch.testing.assert_close(level_factors(3, 1.0, torch.Generator()), torch.ones(3), rtol=0, atol=0)


def test_level_factors_reject_a_ratio_below_one():
    with pytest.raises(ValueError, match="ratio must be >= 1, got 0.5"):
        level_factors(2, 0.5, torch.Generator())


@pytest.mark.parametrize("value", [0.9, 11.0])
def test_train_config_bounds_augment_scale(value):
    with pytest.raises(ValueError, match="augment_scale"):
        TrainConfig(augment_scale=value)


def test_augment_scale_at_its_default_leaves_the_config_identity():
    assert TrainConfig(augment_scale=1.0).config_hash() == TrainConfig().config_hash()
    assert TrainConfig(augment_scale=1.5).config_hash() != TrainConfig().config_hash()
