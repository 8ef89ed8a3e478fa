"""Framework-free training and evaluation loops.

Any ``nn.Module`` whose ``forward(batch: STBatch)`` returns predictions ``[B, T_out, N, C_out]`` in
original units trains here: ST-VLM and the neural baselines alike. The loss
(``TrainConfig.loss``, MAE by default) is taken in original units over the observed target
entries (``TrainConfig.loss_mask``; with ``TrainConfig.augment_scale`` the training windows
are rescaled to random levels first), with a warm-up + cosine learning-rate schedule over the
planned optimizer steps. Per epoch the engine evaluates on the validation part (with
``TrainConfig.ema_decay``: the moving average of the weights), keeps the best trainable
weights (early stopping on ``TrainConfig.monitor``; with ``TrainConfig.start_candidate`` the
untrained start is scored first and competes as epoch 0), and calls the callbacks with an
:class:`EpochRecord` and the resumable :class:`EngineState`; a callback returning ``True`` stops
training (the Ray harness reports and checkpoints through them).

Example::

    engine = Engine(model, forecast, TrainConfig(epochs=10))
    result = engine.fit()
    metrics = engine.evaluate("test")
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from stvlm.configs import TrainConfig
from stvlm.data.augment import level_factors, rescale_windows
from stvlm.data.forecast import Forecast
from stvlm.metrics import evaluate_forecast, mask_for, masked_loss, observed_mask
from stvlm.monitor import monitor_keys, monitor_value
from stvlm.seed import resolve_device, seed_everything
from stvlm.weights import WeightAverage, cpu_copy, load_trainable_state, trainable_state

__all__ = ["Engine", "EngineState", "EpochRecord", "TrainResult", "load_trainable_state", "lr_factor",
           "trainable_state", "warmup_steps"]

log = logging.getLogger(__name__)


@dataclass
class EpochRecord:
    """What one epoch produced.

    Args:
        epoch: 1-based epoch number.
        train_loss: mean training loss (``TrainConfig.loss`` over ``TrainConfig.loss_mask``,
            original units) over the epoch's batches.
        val: validation metrics (flat dict of :func:`stvlm.metrics.evaluate_forecast`).
        seconds: wall time of the epoch (training + validation).
        windows_seen: training windows processed so far, all epochs together (the budget).
        is_best: the monitored validation metric improved this epoch.
        optimizer_steps: optimizer steps taken so far, all epochs together.
        lr: learning rate of the epoch's last step.
    """

    epoch: int
    train_loss: float
    val: dict[str, float]
    seconds: float
    windows_seen: int
    is_best: bool
    optimizer_steps: int = 0
    lr: float = 0.0


@dataclass
class EngineState:
    """Everything needed to resume training where it stopped."""

    epoch: int = 0
    windows_seen: int = 0
    optimizer_steps: int = 0
    best_metric: float = math.inf
    best_epoch: int = 0  # 0: the untrained start (only under TrainConfig.start_candidate)
    bad_epochs: int = 0
    history: list[EpochRecord] = field(default_factory=list)
    start_val: dict[str, float] = field(default_factory=dict)  # validation metrics of the start
    model_state: dict[str, torch.Tensor] = field(default_factory=dict)
    ema_state: dict[str, torch.Tensor] = field(default_factory=dict)  # ema_decay: the averaged weights
    best_state: dict[str, torch.Tensor] = field(default_factory=dict)
    optimizer_state: dict[str, Any] = field(default_factory=dict)
    rng_state: torch.Tensor | None = None  # torch CPU generator (dropout draws) after the epoch
    cuda_rng_state: torch.Tensor | None = None  # the CUDA generator's, on a CUDA device (dropout there)

    def best_val(self) -> dict[str, float]:
        """Validation metrics of the best checkpoint so far: the start's at ``best_epoch`` 0, else
        that epoch's; ``{}`` before any checkpoint."""
        if self.best_epoch == 0:
            return dict(self.start_val)
        return next((h.val for h in self.history if h.epoch == self.best_epoch), {})

    def save(self, path: str | Path) -> None:
        """Write the state with ``torch.save`` (atomically: temp file, then rename)."""
        path = Path(path)
        tmp = path.with_suffix(path.suffix + ".tmp")
        torch.save(asdict(self), tmp)
        tmp.replace(path)

    @classmethod
    def load(cls, path: str | Path) -> EngineState:
        """Read a state written by :meth:`save`: tensors, numbers, strings and containers only
        (``weights_only``), so a state file from elsewhere cannot run code when it is resumed."""
        data = torch.load(Path(path), map_location="cpu", weights_only=True)
        data["history"] = [h if isinstance(h, EpochRecord) else EpochRecord(**h) for h in data.get("history", [])]
        return cls(**data)


@dataclass
class TrainResult:
    """The outcome of :meth:`Engine.fit`."""

    best_epoch: int
    best_val: dict[str, float]
    epochs_run: int
    stopped_early: bool
    history: list[EpochRecord]
    seconds: float
    start_val: dict[str, float] = field(default_factory=dict)  # the untrained model's (start_candidate)


Callback = Callable[[EpochRecord, EngineState], "bool | None"]


def warmup_steps(total: int, cfg: TrainConfig) -> int:
    """Optimizer steps of the linear warm-up: ``ceil(warmup * total)`` of ``total`` planned."""
    return math.ceil(cfg.warmup * total)


def lr_factor(step: int, total: int, cfg: TrainConfig) -> float:
    """Learning-rate multiplier at optimizer step ``step`` (0-based) of ``total`` planned steps.

    Linear warm-up over ``ceil(warmup * total)`` steps (from ``1 / warmup_steps``), then
    ``constant`` (1) or ``cosine`` from 1 down to ``min_lr_ratio`` at the last planned step.
    """
    warm = warmup_steps(total, cfg)
    if step < warm:
        return (step + 1) / warm
    if cfg.schedule == "constant":
        return 1.0
    span = max(total - warm - 1, 1)
    progress = min((step - warm) / span, 1.0)
    return cfg.min_lr_ratio + (1 - cfg.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * progress))


class Engine:
    """Trains and evaluates one model on one :class:`~stvlm.data.pipeline.ForecastData`.

    Args:
        model: module mapping an ``STBatch`` to predictions in original units.
        forecast: windows, splits and scaler of the run.
        cfg: optimisation settings; ``cfg.monitor`` is the validation metric of early stopping
            and the best checkpoint (lower is better): a key of :attr:`Protocol.result_keys
            <stvlm.data.protocols.Protocol.result_keys>` or a mean of them
            (:data:`stvlm.monitor.MONITOR_MEANS`).

    Raises:
        ConfigError: ``cfg.monitor`` is not one of the protocol's result keys or a mean of them, or
            is a metric where larger is better.
    """

    def __init__(self, model: nn.Module, forecast: Forecast, cfg: TrainConfig):
        monitor_keys(cfg.monitor, forecast.protocol)
        self.cfg = cfg
        self.forecast = forecast
        self.monitor = cfg.monitor
        self.device = resolve_device(cfg.device)
        if cfg.num_threads is not None:
            torch.set_num_threads(cfg.num_threads)
        self.model = model.to(self.device)
        self.mask_rule = forecast.protocol.mask
        self.missing_value = forecast.protocol.missing_value
        self._amp = cfg.amp and self.device.type == "cuda"
        self._ema: WeightAverage | None = None  # ema_decay: the averaged weights (during fit)

    # -- loops --------------------------------------------------------------------------------

    def _autocast(self) -> Any:
        return torch.autocast(device_type=self.device.type, dtype=torch.bfloat16, enabled=self._amp)

    def _optimizer(self) -> torch.optim.Optimizer:
        params = [p for p in self.model.parameters() if p.requires_grad]
        if not params:
            raise ValueError("the model has no trainable parameters")
        return torch.optim.AdamW(params, lr=self.cfg.lr, weight_decay=self.cfg.weight_decay)

    def fit(
        self, callbacks: Iterable[Callback] = (), resume: EngineState | None = None
    ) -> TrainResult:
        """Train with early stopping; the model ends with its best validation weights.

        Args:
            callbacks: called after every epoch with the record and the current state; a
                callback returning ``True`` stops training after that epoch.
            resume: a state saved by an earlier (interrupted) run of the same configuration.
        """
        cfg = self.cfg
        state = resume if resume is not None else EngineState()
        if cfg.start_candidate and state.epoch == 0 and not state.start_val:
            self._score_start(state)  # before seeding: training draws the same numbers either way
        seed_everything(cfg.seed)
        optimizer = self._optimizer()
        if resume is not None:
            self._restore(optimizer, resume)
        self._ema = (WeightAverage(self.model, cfg.ema_decay, state.ema_state or None)
                     if cfg.ema_decay else None)
        callbacks = list(callbacks)
        start = time.perf_counter()
        stopped_early = False
        while state.epoch < cfg.epochs:
            if state.bad_epochs >= cfg.patience:
                stopped_early = True
                break
            record = self._epoch(optimizer, state)
            if any(cb(record, state) for cb in callbacks):
                stopped_early = state.epoch < cfg.epochs
                break
        if state.best_state:
            load_trainable_state(self.model, state.best_state)
        return TrainResult(
            best_epoch=state.best_epoch,
            best_val=state.best_val(),
            epochs_run=state.epoch,
            stopped_early=stopped_early,  # the loop broke on patience or a callback, not the cap
            history=state.history,
            seconds=time.perf_counter() - start,
            start_val=dict(state.start_val),
        )

    def _score_start(self, state: EngineState) -> None:
        """``start_candidate``: validate the untrained model and make it the checkpoint to beat
        (``best_epoch`` 0); every epoch must then improve on it to be kept."""
        state.start_val = self.evaluate("val")
        current = monitor_value(state.start_val, self.monitor)
        state.best_metric, state.best_epoch = current, 0
        state.best_state = trainable_state(self.model)
        log.info("start: val %s %.4f (the checkpoint to beat)", self.monitor, current)

    def _validate(self) -> tuple[dict[str, float], dict[str, torch.Tensor] | None]:
        """Validation metrics of the weights an epoch is judged by: the raw ones, or under
        ``ema_decay`` the average (returned as a CPU copy, the checkpoint if it is the best; the
        model gets its raw weights back to train on)."""
        if self._ema is None:
            return self.evaluate("val"), None
        with self._ema.applied(self.model):
            return self.evaluate("val"), self._ema.state()

    def _restore(self, optimizer: torch.optim.Optimizer, resume: EngineState) -> None:
        """Put the weights, optimizer and random state of an interrupted run back."""
        load_trainable_state(self.model, resume.model_state)
        optimizer.load_state_dict(resume.optimizer_state)
        if resume.rng_state is not None:
            torch.set_rng_state(resume.rng_state)
        if resume.cuda_rng_state is not None and self.device.type == "cuda":  # fit() re-seeded it
            torch.cuda.set_rng_state(resume.cuda_rng_state, self.device)
        log.info("resuming at epoch %d", resume.epoch + 1)

    def _epoch(self, optimizer: torch.optim.Optimizer, state: EngineState) -> EpochRecord:
        """Train one epoch, validate, and update ``state`` (best weights, patience, history)."""
        t0 = time.perf_counter()
        loss, windows, lr = self._train_epoch(optimizer, state)
        val, averaged = self._validate()
        state.epoch += 1
        state.windows_seen += windows
        current = monitor_value(val, self.monitor)  # evaluate_forecast never returns a NaN
        is_best = current < state.best_metric
        if is_best:
            state.best_metric, state.best_epoch, state.bad_epochs = current, state.epoch, 0
            state.best_state = averaged if averaged is not None else trainable_state(self.model)
        elif not self._warming_up(state):
            state.bad_epochs += 1
        record = EpochRecord(
            epoch=state.epoch, train_loss=loss, val=val, seconds=time.perf_counter() - t0,
            windows_seen=state.windows_seen, is_best=is_best, optimizer_steps=state.optimizer_steps, lr=lr,
        )
        state.history.append(record)
        state.model_state = trainable_state(self.model)
        state.ema_state = averaged if averaged is not None else {}
        state.optimizer_state = cpu_copy(optimizer.state_dict())
        state.rng_state = torch.get_rng_state()
        if self.device.type == "cuda":  # dropout on a CUDA device draws from its own generator
            state.cuda_rng_state = torch.cuda.get_rng_state(self.device)
        log.info("epoch %d: train %.4f val %s %.4f%s",
                 record.epoch, loss, self.monitor, current, " (best)" if is_best else "")
        return record

    def _warming_up(self, state: EngineState) -> bool:
        """Whether patience skips this epoch: ``patience_after_warmup`` and the warm-up is not
        over after the epoch's optimizer steps."""
        return self.cfg.patience_after_warmup and state.optimizer_steps < warmup_steps(
            self.planned_steps(), self.cfg)

    def planned_steps(self) -> int:
        """Optimizer steps of a full run: ``epochs x`` batches per epoch (the schedule's length)."""
        cfg = self.cfg
        per_epoch = math.ceil(self.forecast.num_windows("train") / cfg.batch_size)
        if cfg.max_batches_per_epoch is not None:
            per_epoch = min(per_epoch, cfg.max_batches_per_epoch)
        return max(cfg.epochs * per_epoch, 1)

    def _loss(self, pred: torch.Tensor, true: torch.Tensor) -> torch.Tensor:
        observed = observed_mask(true, self.missing_value)
        # the protocol's mask of the observed entries, as the metrics score: under tgcn ("none")
        # a NaN target would otherwise enter the loss
        masks = {
            "observed": lambda: (observed,),
            "protocol": lambda: (mask_for(true, self.mask_rule) & observed,),
            "both": lambda: (observed, mask_for(true, self.mask_rule) & observed),
        }[self.cfg.loss_mask]()
        losses = [masked_loss(pred, true, m, self.cfg.loss, self.cfg.huber_delta) for m in masks]
        return sum(losses[1:], losses[0]) / len(losses)

    def _train_epoch(
        self, optimizer: torch.optim.Optimizer, state: EngineState
    ) -> tuple[float, int, float]:
        cfg = self.cfg
        self.model.train()
        total_steps = self.planned_steps()
        # the loss summed on the device in float64 (as Python floats would): read once per epoch,
        # not once per step (a host sync on a GPU)
        total = torch.zeros((), dtype=torch.float64, device=self.device)
        batches, windows, lr = 0, 0, cfg.lr
        levels = torch.Generator().manual_seed(cfg.seed * 1000 + state.epoch)  # augment_scale
        for i, batch in enumerate(
            self.forecast.batches(
                "train", cfg.batch_size, shuffle=True, seed=cfg.seed * 1000 + state.epoch,
                device=self.device,
            )
        ):
            if cfg.max_batches_per_epoch is not None and i >= cfg.max_batches_per_epoch:
                break
            if cfg.augment_scale > 1.0:
                batch = rescale_windows(batch, level_factors(len(batch), cfg.augment_scale, levels),
                                        self.forecast.scaler, self.forecast.target_channels, self.missing_value)
            lr = cfg.lr * lr_factor(state.optimizer_steps, total_steps, cfg)
            for group in optimizer.param_groups:
                group["lr"] = lr
            with self._autocast():
                pred = self.model(batch)
            loss = self._loss(pred, batch.y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if cfg.grad_clip > 0:
                torch.nn.utils.clip_grad_norm_(
                    [p for p in self.model.parameters() if p.requires_grad], cfg.grad_clip
                )
            optimizer.step()
            if self._ema is not None:
                self._ema.update(self.model)
            state.optimizer_steps += 1
            total += loss.detach().double()
            batches += 1
            windows += len(batch)
        return (float(total) / batches if batches else math.nan), windows, lr

    @torch.no_grad()
    def predict(self, part: str, batch_size: int | None = None, *, progress: bool = False) -> np.ndarray:
        """Predictions ``[W, T_out, N, C_out]`` (original units) for every window of ``part``.

        The model predicts the windows ``forecast.batches(part)`` yields (a data-parallel rank:
        its share) and ``forecast.gather`` returns every window's, in window order.
        ``progress`` draws a bar over the windows (:mod:`stvlm.progress` decides where).
        """
        from stvlm.progress import bar

        self.model.eval()
        outputs = []
        ticker = bar(self.forecast.num_windows(part), f"predict {part}", unit="window") if progress else None
        for batch in self.forecast.batches(
            part, batch_size or self.cfg.eval_batch_size, shuffle=False, device=self.device
        ):
            with self._autocast():
                outputs.append(self.model(batch).float().cpu())
            if ticker is not None:
                ticker.update(outputs[-1].shape[0])
        if ticker is not None:
            ticker.close()
        if outputs:
            local = torch.cat(outputs).numpy()  # [W_local, T_out, N, C_out]
        else:  # a rank whose share of the part is empty
            local = np.zeros((0, *self.forecast.targets(part).shape[1:]), dtype=np.float32)
        return self.forecast.gather(part, local)

    def evaluate(self, part: str, *, progress: bool = False) -> dict[str, float]:
        """Protocol metrics of the model on ``part`` ("val" or "test"); ``progress`` as in
        :meth:`predict`."""
        pred = self.predict(part, progress=progress)
        return evaluate_forecast(pred, self.forecast.targets(part), self.forecast.protocol)
