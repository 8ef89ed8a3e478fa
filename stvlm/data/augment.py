"""Level augmentation of training windows (``TrainConfig.augment_scale``).

A few-shot block covers a few days, and the level of a series can move between those days and
the days a model is scored on (sz-taxi's 10% block lies before a level shift of its series). A
model trained on the block alone learns a correction tied to the block's level. Multiplying a
whole window, its inputs, its periodic lookback and its targets, by one random factor shows the
model the same patterns at other levels: a multiplicative invariance of counts and speeds.
Zeros stay zeros and missing entries stay missing (NaN, and a dataset's missing-value marker,
which is left as it is: -1 times 1.5 would read as an observation), so the loss masks are
unchanged. Only the target channels are scaled; other input channels (covariates) are left as
they are.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence

import torch

from stvlm.data.batch import STBatch
from stvlm.data.scalers import StandardScaler


def level_factors(windows: int, ratio: float, generator: torch.Generator) -> torch.Tensor:
    """``[windows]`` factors, log-uniform in ``[1 / ratio, ratio]`` (all 1 when ``ratio`` is 1),
    drawn on the CPU from ``generator`` so a seeded run draws the same factors on any device."""
    if ratio < 1.0:
        raise ValueError(f"level_factors: ratio must be >= 1, got {ratio}")
    u = torch.rand(windows, generator=generator, dtype=torch.float64)  # [W] in [0, 1)
    return torch.exp((2.0 * u - 1.0) * math.log(ratio)).float()  # [W]


def _times(values: torch.Tensor, s: torch.Tensor, missing_value: float | None, *, exact: bool) -> torch.Tensor:
    """``values * s`` (original units), the dataset's missing-value marker left as it is: found
    exactly in the targets, within float rounding in inputs mapped back through the scaler."""
    out = values * s
    if missing_value is None or missing_value == 0.0:  # 0 * s is 0: nothing to keep
        return out
    marker = torch.tensor(missing_value, dtype=values.dtype, device=values.device)
    hit = values == marker if exact else torch.isclose(values, marker, rtol=1e-5, atol=1e-5)
    return torch.where(hit, values, out)


def rescale_windows(
    batch: STBatch, factors: torch.Tensor, scaler: StandardScaler, target_channels: Sequence[int],
    missing_value: float | None = None,
) -> STBatch:
    """``batch`` with each window's target-channel values multiplied by its factor, in original
    units: the scaled inputs and lookback are mapped back through ``scaler``, multiplied and
    scaled again; the targets (original units) are multiplied. Other fields are shared.

    Args:
        batch: training windows (``x`` and ``lookback`` scaled, ``y`` in original units).
        factors: ``[B]`` one factor per window.
        scaler: the forecast's scaler (fitted on the training part).
        target_channels: the dataset's target channels (``x``'s channels that ``y`` holds).
        missing_value: the protocol's missing-value marker, kept unscaled (None: none).
    """
    b = batch.x.shape[0]
    if factors.shape != (b,):
        raise ValueError(f"rescale_windows: {b} windows but factors of shape {tuple(factors.shape)}")
    channels = list(target_channels)
    s = factors.to(batch.x.device, batch.x.dtype).view(b, 1, 1, 1)  # [B, 1, 1, 1]
    x = batch.x.clone()  # [B, T_in, N, C]
    original = scaler.inverse_transform(x[..., channels], channels)  # [B, T_in, N, C_out]
    x[..., channels] = scaler.transform(_times(original, s, missing_value, exact=False), channels)
    lookback = None
    if batch.lookback is not None:
        s5 = s.view(b, 1, 1, 1, 1)  # [B, 1, 1, 1, 1] against [B, P, T_in + T_out, N, C_out]
        back = scaler.inverse_transform(batch.lookback, channels)  # [B, P, T_in + T_out, N, C_out]
        lookback = scaler.transform(_times(back, s5, missing_value, exact=False), channels)
    y = _times(batch.y, s.to(batch.y.dtype), missing_value, exact=True)  # [B, T_out, N, C_out]
    return dataclasses.replace(batch, x=x, y=y, lookback=lookback)
