"""A batch of forecasting windows, as every model and baseline receives it."""

from __future__ import annotations

from dataclasses import dataclass, fields

import torch


@dataclass
class STBatch:
    """Windows ``[start, start + T_in)`` -> ``[start + T_in, start + T_in + T_out)``.

    Args:
        x: ``[B, T_in, N, C]`` inputs, every channel scaled with the protocol's scaler
            (fitted on the training part only).
        y: ``[B, T_out, N, C_out]`` targets (the dataset's target channels) in original units.
        x_tod: ``[B, T_in]`` int64 step of the day of each input step.
        x_dow: ``[B, T_in]`` int64 day of the week (0 = Monday) of each input step.
        y_tod: ``[B, T_out]`` int64 step of the day of each target step.
        y_dow: ``[B, T_out]`` int64 day of the week of each target step.
        start: ``[B]`` int64 first input step of each window in the dataset's series.
        lookback: ``[B, P, T_in + T_out, N, C_out]`` the target channels, scaled like ``x``, at
            the same time of day ``lag_p`` steps before each input and target step (the
            forecast's ``lookback_lags``, e.g. one day and one week); ``None`` when the protocol
            has no periodic lookback. Every lag is at least ``T_out``, so it never reads a target
            step of its own window.
    """

    x: torch.Tensor
    y: torch.Tensor
    x_tod: torch.Tensor
    x_dow: torch.Tensor
    y_tod: torch.Tensor
    y_dow: torch.Tensor
    start: torch.Tensor
    lookback: torch.Tensor | None = None

    def to(self, device: torch.device | str, non_blocking: bool = False) -> STBatch:
        """The same batch with every tensor on ``device``."""
        return STBatch(
            **{
                f.name: None if getattr(self, f.name) is None
                else getattr(self, f.name).to(device, non_blocking=non_blocking)
                for f in fields(self)
            }
        )

    def __len__(self) -> int:
        return int(self.x.shape[0])
