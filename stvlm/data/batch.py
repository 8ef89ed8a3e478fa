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


def checked_lookback(batch: STBatch, lags: int, model: str) -> torch.Tensor | None:
    """``batch.lookback`` ``[B, P, T_in + T_out, N, C_out]`` of a model built for ``lags`` lags.

    Returns ``None`` when the model uses no lookback; raises ``ValueError`` when the batch has
    none or another number of lags.
    """
    if lags == 0:
        return None
    lb = batch.lookback
    if lb is None or lb.shape[1] != lags:
        got = None if lb is None else tuple(lb.shape)
        raise ValueError(f"{model} was built for {lags} lookback lags; batch.lookback is {got}")
    return lb


def lagged_inputs(lookback: torch.Tensor, input_len: int) -> torch.Tensor:
    """The lagged values of the input steps as channels: ``[B, T_in, N, P * C_out]``."""
    b, _, _, n, _ = lookback.shape
    lagged = lookback[:, :, :input_len].permute(0, 2, 3, 1, 4)  # [B, T_in, N, P, C_out]
    return lagged.reshape(b, input_len, n, -1)  # [B, T_in, N, P*C_out]


def lookback_per_node(lookback: torch.Tensor) -> torch.Tensor:
    """Each node's lagged values in one row: ``[B, P, T, N, C_out] -> [B, N, P * T * C_out]``
    (lag-major, then time, then channel; ``T`` is any stretch, e.g. only the target steps)."""
    b, _, _, n, _ = lookback.shape
    return lookback.permute(0, 3, 1, 2, 4).reshape(b, n, -1)  # [B, N, P*T*C_out]
