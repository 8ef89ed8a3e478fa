"""A model's trainable weights as plain tensors: copied out, copied back, and averaged.

The engine checkpoints with :func:`trainable_state` / :func:`load_trainable_state` (the
parameters that require gradients, and the buffers of the modules that own one, such as
BatchNorm's running statistics: a frozen backbone is rebuilt from its config) and, under
``TrainConfig.ema_decay``, validates a :class:`WeightAverage` of them.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import torch
from torch import nn


def trained_buffers(model: nn.Module) -> dict[str, torch.Tensor]:
    """The buffers of every module that owns a parameter requiring gradients (BatchNorm's running
    mean, variance and count): they change in training with the weights they belong to, so the
    best epoch's weights need its buffers (Graph WaveNet was scored with the last epoch's)."""
    out = {}
    for prefix, module in model.named_modules():
        if any(p.requires_grad for p in module.parameters(recurse=False)):
            for name, buf in module.named_buffers(recurse=False):
                if buf is not None:
                    out[f"{prefix}.{name}" if prefix else name] = buf
    return out


def trainable_state(model: nn.Module) -> dict[str, torch.Tensor]:
    """Detached CPU copies of the parameters that require gradients and of
    :func:`trained_buffers`."""
    state = {n: p.detach().to("cpu", copy=True) for n, p in model.named_parameters() if p.requires_grad}
    state.update({n: b.detach().to("cpu", copy=True) for n, b in trained_buffers(model).items()})
    return state


def cpu_copy(obj: Any) -> Any:
    """A deep copy of nested dicts, lists and tuples (an optimizer's ``state_dict()``) with every
    tensor detached and copied to the CPU, as :func:`trainable_state` keeps the weights: a state
    kept every epoch must not hold a second copy of AdamW's moments in GPU memory.
    ``Optimizer.load_state_dict`` moves them back to each parameter's device."""
    if isinstance(obj, torch.Tensor):
        return obj.detach().to("cpu", copy=True)
    if isinstance(obj, dict):
        return {k: cpu_copy(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(cpu_copy(v) for v in obj)
    return copy.deepcopy(obj)


def load_trainable_state(model: nn.Module, state: dict[str, torch.Tensor]) -> None:
    """Copy ``state`` into the model's trainable parameters and buffers; every key must match."""
    params = {**dict(model.named_parameters()), **dict(model.named_buffers())}
    missing = [k for k in state if k not in params]
    if missing:
        raise KeyError(f"state has parameters the model lacks: {missing[:3]}")
    with torch.no_grad():
        for k, v in state.items():
            params[k].copy_(v.to(params[k].device))


class WeightAverage:
    """An exponential moving average of a model's trainable weights, one step per optimizer step.

    Args:
        model: the model whose trainable weights are averaged.
        decay: weight of the average at each step, in ``[0, 1)``.
        start: the average to continue (a resumed run's, CPU tensors); default: the model's
            weights now (before the first step: its start).
    """

    def __init__(self, model: nn.Module, decay: float, start: dict[str, torch.Tensor] | None = None):
        if not 0.0 <= decay < 1.0:
            raise ValueError(f"decay {decay} is outside [0, 1)")
        self.decay = decay
        device = next(model.parameters()).device
        self._buffers = trained_buffers(model)  # copied, not averaged, at every step (found once)
        # a resumed average saved before the buffers were kept starts them at the model's
        start = {**self._buffers, **start} if start else trainable_state(model)
        self.shadow = {k: v.to(device, copy=True) for k, v in start.items()}

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        """One averaging step: ``average <- decay * average + (1 - decay) * weights``; the
        trained buffers (running statistics) are taken as they are now."""
        for name, param in model.named_parameters():
            if param.requires_grad:
                self.shadow[name].mul_(self.decay).add_(param.detach(), alpha=1 - self.decay)
        for name, buf in self._buffers.items():
            self.shadow[name].copy_(buf)

    def state(self) -> dict[str, torch.Tensor]:
        """CPU copies of the average (what a checkpoint or a resumed run needs)."""
        return {k: v.detach().to("cpu", copy=True) for k, v in self.shadow.items()}

    @contextmanager
    def applied(self, model: nn.Module) -> Iterator[None]:
        """The model holds the average inside the block and its own weights again after it."""
        raw = trainable_state(model)
        load_trainable_state(model, self.shadow)
        try:
            yield
        finally:
            load_trainable_state(model, raw)
