"""Input scalers, fitted on the training part of a series only.

A scaler holds per-channel statistics, so it applies to any array whose last axis is the channel
axis (``[T, N, C]`` series, ``[B, T, N, C]`` batches), in numpy or torch, on any device.
``channels`` picks a subset of the fitted channels (e.g. the target channels of a prediction).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar

import numpy as np
import torch

from stvlm.errors import ConfigError, DataError
from stvlm.registry import Registry

ArrayT = TypeVar("ArrayT", np.ndarray, torch.Tensor)

SCALERS: Registry = Registry("scaler")


@SCALERS.register("zscore")
class StandardScaler:
    """Z-score per channel: ``(x - mean[c]) / std[c]``, statistics over time and nodes.

    Args:
        mean: ``[C]`` per-channel means.
        std: ``[C]`` per-channel population standard deviations (a zero std is stored as 1, so a
            constant channel maps to 0 instead of NaN).
    """

    kind = "zscore"

    def __init__(
        self, mean: Sequence[float] | np.ndarray, std: Sequence[float] | np.ndarray
    ) -> None:
        self.mean = np.asarray(mean, dtype=np.float64).reshape(-1)  # [C]
        std = np.asarray(std, dtype=np.float64).reshape(-1)  # [C]
        if self.mean.shape != std.shape:
            raise ConfigError(f"scaler mean has {self.mean.size} channels but std has {std.size}")
        self.std = np.where(std == 0, 1.0, std)

    @classmethod
    def fit(cls, values: np.ndarray, start: int = 0, stop: int | None = None) -> StandardScaler:
        """Fit on the steps ``[start, stop)`` of a series.

        Args:
            values: ``[T, N, C]`` series in original units.
            start: first step used.
            stop: end step (exclusive); ``None`` = the whole series.

        Returns:
            The fitted scaler (statistics computed in float64 over the finite entries).

        Raises:
            DataError: a channel has no finite value in the fitted steps.
        """
        part = np.asarray(values[start:stop], dtype=np.float64)  # [T_fit, N, C]
        if part.ndim != 3 or part.shape[0] == 0:
            raise ConfigError(
                f"scaler fit needs a non-empty [T, N, C] series, got steps [{start}, {stop}) "
                f"of shape {tuple(np.shape(values))}"
            )
        flat = part.reshape(-1, part.shape[-1])  # [T_fit * N, C]
        finite = np.isfinite(flat)  # [T_fit * N, C]
        empty = [c for c in range(flat.shape[1]) if not finite[:, c].any()]
        if empty:
            raise DataError(
                f"scaler fit: channel(s) {empty} have no finite value in steps [{start}, {stop}) "
                "(the training part); the data cannot be scaled"
            )
        if finite.all():
            return cls(flat.mean(axis=0), flat.std(axis=0))
        kept = np.where(finite, flat, np.nan)  # non-finite entries are left out
        return cls(np.nanmean(kept, axis=0), np.nanstd(kept, axis=0))

    @property
    def num_channels(self) -> int:
        return int(self.mean.size)

    def _stats(self, x: ArrayT, channels: Sequence[int] | None) -> tuple[Any, Any]:
        mean, std = self.mean, self.std
        if channels is not None:
            mean, std = mean[list(channels)], std[list(channels)]
        if x.shape[-1] != mean.size:
            raise ConfigError(
                f"scaler has {mean.size} channels (selection {channels}), input has {x.shape[-1]}"
            )
        if isinstance(x, torch.Tensor):
            return (
                torch.as_tensor(mean, dtype=x.dtype, device=x.device),
                torch.as_tensor(std, dtype=x.dtype, device=x.device),
            )
        dtype = x.dtype if np.issubdtype(x.dtype, np.floating) else np.float64
        return mean.astype(dtype), std.astype(dtype)

    def transform(self, x: ArrayT, channels: Sequence[int] | None = None) -> ArrayT:
        """Scale ``x [..., C]`` (numpy or torch; the dtype of a float input is kept).

        Args:
            x: ``[..., C]`` values in original units.
            channels: fitted channels that the last axis of ``x`` holds (default: all).
        """
        mean, std = self._stats(x, channels)
        return (x - mean) / std

    def inverse_transform(self, x: ArrayT, channels: Sequence[int] | None = None) -> ArrayT:
        """Undo :meth:`transform`: ``x * std + mean`` over the last axis.

        Args:
            x: ``[..., C]`` scaled values (e.g. a ``[B, T_out, N, C_out]`` prediction).
            channels: fitted channels that the last axis of ``x`` holds (e.g. the targets).
        """
        mean, std = self._stats(x, channels)
        return x * std + mean

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable state (for checkpoints and provenance)."""
        return {"kind": self.kind, "mean": self.mean.tolist(), "std": self.std.tolist()}

    @classmethod
    def from_dict(cls, state: dict[str, Any]) -> StandardScaler:
        """Rebuild a scaler saved with :meth:`to_dict`."""
        if state.get("kind") != cls.kind or set(state) != {"kind", "mean", "std"}:
            raise ConfigError(
                f"scaler state {sorted(state)} (kind {state.get('kind')!r}) is not allowed; "
                f"expected keys kind, mean, std with kind {cls.kind!r}"
            )
        return cls(state["mean"], state["std"])

    def __repr__(self) -> str:
        return f"StandardScaler(mean={self.mean.tolist()}, std={self.std.tolist()})"


def scaler_from_dict(state: dict[str, Any]) -> StandardScaler:
    """Rebuild any registered scaler from its ``to_dict`` state (dispatch on ``kind``)."""
    kind = state.get("kind") if isinstance(state, dict) else None
    return SCALERS.get(str(kind)).from_dict(state)
