"""What a trial reports, independent of Ray: per-epoch budget and metrics, the final scores.

The Tune trainables (:mod:`harness.runtime.trial`) and the Train workers (:mod:`harness.runtime.train_driver`)
run :func:`train_stvlm` / :func:`evaluate_baseline_trial` with a ``report(metrics, state)``
function of their own (``ray.tune.report`` or ``ray.train.report`` plus a checkpoint of
``state``); tests pass a list's ``append``.

Every ST-VLM report carries

* the budget: ``epoch``, ``windows_seen`` (Tune adds ``training_iteration``, which equals the
  epoch for per-epoch reports and ``epochs_run + 1`` for the final one);
* ``val_<metric>[_h<k>]``: validation metrics of the best epoch so far (what the run would
  deliver if stopped now; ASHA and Optuna compare these), the protocol's and the registered
  means of them (``val_mae_both``, :mod:`stvlm.monitor`);
* ``train_loss``, ``best_epoch``, ``final`` (0 per epoch, 1 for the last report);
* the epoch's own point of the learning curve, as columns: ``epoch_val_<metric>[_h<k>]`` and
  ``epoch_seconds`` (with ``epoch``, ``train_loss`` and ``windows_seen``); the results writer
  keeps each running trial's curve on disk, so a resumed trial needs to re-send nothing.

The final report adds ``test_<metric>[_h<k>]`` of the best-epoch weights, parameter counts, the
training windows, time spent and the device.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

import torch

from harness.results.columns import EPOCH_VAL, score_column
from harness.results.provenance import cpu_device_name
from harness.runtime.data_cache import cached_prepare
from harness.runtime.sharding import ShardedForecast
from stvlm.engine import EngineState, EpochRecord
from stvlm.configs import ExperimentConfig
from stvlm.experiment import ExperimentResult, prepare_run, run_experiment
from stvlm.monitor import with_means

Report = Callable[[dict[str, Any], "EngineState | None"], None]


def prefixed(prefix: str, metrics: Mapping[str, float]) -> dict[str, float]:
    """``{"mae": 1.0}`` -> ``{"val_mae": 1.0}`` (values as Python floats), with the registered
    means of its keys (:func:`stvlm.monitor.with_means`: ``mae`` and ``mae_all`` add
    ``val_mae_both``, what ``TrainConfig.monitor = "mae_both"`` selects on)."""
    return {score_column(prefix, k): float(v) for k, v in with_means(metrics).items()}


def describe_device(device: torch.device) -> str:
    """``cuda (<GPU name>)``, or on a CPU ``cpu (<model>, <arch>, <kernels>)``
    (:func:`harness.results.provenance.cpu_device_name`): fp32 results reproduce bit for bit only
    on the same CPU kernels, so a trial row names them; other device types by their type."""
    if device.type == "cuda":
        return f"cuda ({torch.cuda.get_device_name(device)})"
    if device.type == "cpu":
        return cpu_device_name()
    return device.type


class EpochReporter:
    """Engine callback that reports every epoch (see the module docstring).

    Args:
        report: ``report(metrics, state)``; ``state`` is the resumable engine state to checkpoint.
        static: facts of the run sent with every report (device, parameter counts, windows).
        world_size: number of data-parallel workers (budgets count the windows of all of them).
        resumed_from_epoch: epoch of the checkpoint this attempt resumed from, if any.
        mean_over_ranks: with several workers, averages a rank's epoch training loss over every
            rank (:meth:`harness.runtime.sharding.ShardedForecast.mean_over_ranks`, collective:
            every rank reports every epoch), so ``train_loss`` is the epoch's over all windows,
            not one rank's shard; ``None``: the rank's own.
    """

    def __init__(
        self,
        report: Report,
        *,
        static: Mapping[str, Any] | None = None,
        world_size: int = 1,
        resumed_from_epoch: int | None = None,
        mean_over_ranks: Callable[[float], float] | None = None,
    ):
        self._report = report
        self.static = dict(static or {})
        self.world_size = world_size
        self.resumed_from_epoch = resumed_from_epoch
        self._mean_over_ranks = mean_over_ranks

    def __call__(self, record: EpochRecord, state: EngineState) -> None:
        best = state.best_val()
        loss = float(record.train_loss)
        metrics = {
            "epoch": record.epoch,
            "windows_seen": record.windows_seen * self.world_size,
            "train_loss": self._mean_over_ranks(loss) if self._mean_over_ranks is not None else loss,
            "lr": float(record.lr),  # the schedule's rate at the epoch's end (TensorBoard)
            "best_epoch": state.best_epoch,
            **prefixed("val", best or record.val),
            **prefixed(EPOCH_VAL, record.val),
            "epoch_seconds": float(record.seconds),
            **self._common(state.history),
            "final": 0,
        }
        self._report(metrics, state)

    def _common(self, history: list[EpochRecord]) -> dict[str, Any]:
        return {
            **self.static,
            "epochs_run": len(history),
            "train_seconds": float(sum(h.seconds for h in history)),
            "num_workers": self.world_size,
            "resumed_from_epoch": self.resumed_from_epoch,
        }

    def final(self, result: ExperimentResult) -> dict[str, Any]:
        """The last report of a finished run: best-epoch validation and test scores."""
        history = result.train.history
        return {
            "epoch": result.train.epochs_run,
            "windows_seen": history[-1].windows_seen * self.world_size if history else 0,
            "best_epoch": result.train.best_epoch,
            **prefixed("val", result.val),
            **prefixed("test", result.test),
            **self._common(history),
            "final": 1,
        }


def train_stvlm(
    experiment: ExperimentConfig,
    report: Report,
    *,
    resume: EngineState | None = None,
    prepared: tuple[Any, Any] | None = None,
    world_size: int = 1,
    started: float | None = None,
) -> dict[str, Any]:
    """Train one ST-VLM experiment, reporting every epoch and once more at the end.

    Args:
        experiment: the run.
        report: receives ``(metrics, state)`` after every epoch and ``(final, None)`` at the end.
        resume: the engine state of an interrupted attempt (from its last checkpoint).
        prepared: ``(forecast, model)`` to use instead of building them (Train workers pass a
            sharded forecast and a DDP model).
        world_size: data-parallel workers.
        started: ``time.perf_counter()`` when the caller began (a Train worker builds ``prepared``
            itself); default: now. The final report's ``setup_seconds`` counts from it.

    Returns:
        The final report: the last epoch's budget, best-epoch ``val_*`` and ``test_*``, and the
        time outside the epochs: ``setup_seconds`` (to the first step) and ``eval_seconds``
        (the start's score and the test scores).
    """
    from stvlm.seed import resolve_device

    started = time.perf_counter() if started is None else started
    forecast, model = prepared if prepared is not None else prepare_run(experiment, cached_prepare(experiment.data))
    static = {
        "train_windows": getattr(forecast, "full", forecast).num_windows("train"),  # every rank's
        "trainable_parameters": sum(p.numel() for p in model.parameters() if p.requires_grad),
        "total_parameters": sum(p.numel() for p in model.parameters()),
        "device": describe_device(resolve_device(experiment.train.device)),
    }
    reporter = EpochReporter(
        report,
        static=static,
        world_size=world_size,
        resumed_from_epoch=resume.epoch if resume is not None else None,
        mean_over_ranks=_loss_mean(forecast, model),
    )
    setup = time.perf_counter() - started
    result = run_experiment(experiment, callbacks=[reporter], resume=resume, prepared=(forecast, model))
    final = reporter.final(result)
    final["setup_seconds"] = setup
    final["eval_seconds"] = result.seconds - result.train.seconds  # this attempt's, outside its epoch loop
    report(final, None)
    return final


def _loss_mean(forecast: Any, model: torch.nn.Module) -> Callable[[float], float] | None:
    """A data-parallel rank's averaging of its training loss over every rank, on the model's
    device (NCCL reduces CUDA tensors only); ``None`` in a single process."""
    if not isinstance(forecast, ShardedForecast) or forecast.world_size == 1:
        return None
    device = next(model.parameters()).device
    return lambda value: forecast.mean_over_ranks(value, device)


def evaluate_baseline_trial(
    experiment: ExperimentConfig, model: str, options: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """Fit and score a baseline on the experiment's splits; returns its (only) report."""
    from stvlm.evaluation import evaluate_baseline
    from stvlm.seed import resolve_device

    t0 = time.perf_counter()
    forecast = cached_prepare(experiment.data)
    result = evaluate_baseline(forecast, model, options, experiment.train)
    fit = result.fit
    return {
        "epoch": int(fit.get("epochs_run", 0)),
        "epochs_run": fit.get("epochs_run"),
        "best_epoch": fit.get("best_epoch"),
        "windows_seen": None,
        "train_windows": forecast.num_windows("train"),
        "trainable_parameters": fit.get("parameters"),
        "total_parameters": fit.get("parameters"),
        "train_seconds": float(fit.get("train_seconds", result.seconds)),
        **prefixed("val", result.val),
        **prefixed("test", result.test),
        # untrained baselines compute on the CPU whatever the trial's device
        "device": describe_device(resolve_device(experiment.train.device) if "parameters" in fit
                                  else torch.device("cpu")),
        "num_workers": 1,
        "resumed_from_epoch": None,
        "wall_seconds": time.perf_counter() - t0,
        "final": 1,
    }
