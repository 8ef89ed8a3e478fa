"""The baseline contract and the pieces neural baselines share."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import nn

from stvlm.configs import TrainConfig
from stvlm.data.forecast import Forecast

if TYPE_CHECKING:
    from stvlm.engine import Callback, EngineState


class Baseline(ABC):
    """A forecaster evaluated on the same windows, split and metrics as ST-VLM.

    ``predict`` returns ``[W, T_out, N, C_out]`` in original units for every window of a part,
    in the order of ``forecast.splits.<part>``.
    """

    name: str = ""
    trainable: bool = False  # whether fit() learns anything

    @abstractmethod
    def fit(self, forecast: Forecast, train: TrainConfig) -> dict[str, Any]:
        """Fit on ``forecast``'s (few-shot) training windows; returns a small info dict."""

    @abstractmethod
    def predict(self, forecast: Forecast, part: str) -> np.ndarray:
        """Predictions for every window of ``part`` ("train", "val" or "test")."""


def training_steps(forecast: Forecast) -> np.ndarray:
    """Sorted unique steps covered by the (few-shot) training windows, inputs and targets."""
    p = forecast.protocol
    starts = np.asarray(forecast.splits.train, dtype=np.int64)
    span = np.arange(p.input_len + p.output_len, dtype=np.int64)
    return np.unique((starts[:, None] + span[None, :]).ravel())  # [S]


def target_steps(forecast: Forecast, part: str) -> np.ndarray:
    """``[W, T_out]`` series steps of the targets of every window of ``part``."""
    p = forecast.protocol
    starts = np.asarray(getattr(forecast.splits, part), dtype=np.int64)
    return starts[:, None] + p.input_len + np.arange(p.output_len, dtype=np.int64)[None, :]


class TargetUnscaler(nn.Module):
    """Maps scaled target channels back to original units (``y * std + mean``).

    Args:
        forecast: provides ``scaler.mean`` / ``scaler.std`` (``[C]``) and the target channels.
    """

    def __init__(self, forecast: Forecast) -> None:
        super().__init__()
        idx = list(forecast.data.info.target_channels)
        mean = torch.as_tensor(np.asarray(forecast.scaler.mean, dtype=np.float32)[idx])
        std = torch.as_tensor(np.asarray(forecast.scaler.std, dtype=np.float32)[idx])
        self.register_buffer("mean", mean)  # [C_out]
        self.register_buffer("std", std)  # [C_out]

    def forward(self, y_scaled: torch.Tensor) -> torch.Tensor:
        return y_scaled * self.std + self.mean  # [..., C_out]


class NeuralBaseline(Baseline):
    """A baseline whose ``nn.Module`` trains with :class:`stvlm.engine.Engine`."""

    trainable = True

    def __init__(self) -> None:
        self.engine: Any = None

    @abstractmethod
    def build(self, forecast: Forecast) -> nn.Module:
        """The module for this forecast's shapes (output in original units)."""

    def fit(
        self, forecast: Forecast, train: TrainConfig, *, callbacks: Iterable[Callback] = (),
        resume: EngineState | None = None,
    ) -> dict[str, Any]:
        """Build the module (seeded) and train it with :class:`stvlm.engine.Engine`;
        ``callbacks`` and ``resume`` are passed to :meth:`Engine.fit` (a state saved after an
        epoch of an interrupted run of the same configuration continues it)."""
        from stvlm.engine import Engine
        from stvlm.seed import seed_everything

        seed_everything(train.seed)
        module = self.build(forecast)
        self.engine = Engine(module, forecast, train)
        result = self.engine.fit(callbacks=callbacks, resume=resume)
        return {
            "best_epoch": result.best_epoch,
            "epochs_run": result.epochs_run,
            "train_seconds": result.seconds,
            "parameters": sum(p.numel() for p in module.parameters()),
        }

    def predict(self, forecast: Forecast, part: str) -> np.ndarray:
        if self.engine is None:
            raise RuntimeError(f"{self.name}: call fit() before predict()")
        return self.engine.predict(part)


def forecast_shapes(forecast: Forecast) -> dict[str, Any]:
    """The sizes every neural baseline is built from, and its :class:`TargetUnscaler`."""
    return {
        "num_nodes": forecast.data.num_nodes,
        "input_len": forecast.protocol.input_len,
        "in_channels": forecast.data.num_channels,
        "output_len": forecast.protocol.output_len,
        "steps_per_day": forecast.data.info.steps_per_day,
        "lookback_lags": len(getattr(forecast, "lookback_lags", ())),
        "unscaler": TargetUnscaler(forecast),
    }
