"""A Tune trial that drives a data-parallel Ray Train run (``num_workers > 1``).

Three layers, as Ray 2.60 wants them (reference/ray.md section 1):

* :func:`train_driver` is the Tune trial. It takes no CPU (the study gives it one
  ``study_driver`` slot) and runs a ``TorchTrainer`` whose ``RunConfig`` name is the trial id,
  so a retried trial resumes the same Train run from its latest checkpoint.
* :func:`train_worker` runs on every worker: it builds the experiment, wraps the model with
  ``ray.train.torch.prepare_model`` (DDP: gloo on CPU, NCCL on GPU) and shards the training
  windows by rank (:class:`~harness.runtime.sharding.ShardedForecast`). Every rank reports every epoch,
  with the epoch's training loss averaged over every rank's shard; rank 0 attaches the engine
  state as the checkpoint.
* ``TuneReportCallback`` forwards rank 0's metrics to the Tune trial, so the study sees the same
  reports as from a single-process trial.
"""

from __future__ import annotations

import logging
import time
import uuid
from dataclasses import asdict
from typing import Any

import ray.train
import ray.train.torch
import ray.tune
import torch
from ray.tune.integration.ray_train import TuneReportCallback

from harness.runtime.trial_metrics import train_stvlm
from harness.runtime.data_cache import cached_prepare
from harness.runtime.private_api import set_train_poll_interval
from harness.runtime.sharding import ShardedForecast
from harness.study.trial_config import TrialConfig
from harness.runtime.trial_runtime import TrialRuntime, load_state, quiet_trial_logs, report_with_state
from stvlm.engine import EngineState
from stvlm.experiment import prepare_run

log = logging.getLogger(__name__)

#: Controller restarts allowed per Train run (Ray's default, -1, retries forever).
CONTROLLER_FAILURE_LIMIT = 2


def train_run_storage(runtime: TrialRuntime) -> str:
    """Where the Train runs of a study are stored: ``<storage>/<study>-train``."""
    return f"{runtime.storage.rstrip('/')}/{runtime.study}-train"


def train_driver(trial: TrialConfig, runtime: TrialRuntime) -> None:
    """The Tune trial: run one ``TorchTrainer`` and wait for it (the workers receive the parsed
    experiment, pickled, and parse nothing)."""
    trial_id = ray.tune.get_context().get_trial_id()
    set_train_poll_interval(runtime.train_poll_s)  # before the controller actor starts
    per_worker = {"CPU": runtime.cpus}
    if runtime.gpus > 0:
        per_worker["GPU"] = runtime.gpus
    trainer = ray.train.torch.TorchTrainer(
        train_worker,
        train_loop_config={"experiment": trial.experiment, "runtime": asdict(runtime)},
        scaling_config=ray.train.ScalingConfig(
            num_workers=runtime.num_workers,
            use_gpu=runtime.gpus > 0,
            resources_per_worker=per_worker,
        ),
        run_config=ray.train.RunConfig(
            name=trial_id,  # stable: a retried Tune trial resumes this Train run
            storage_path=train_run_storage(runtime),
            callbacks=[TuneReportCallback()],
            failure_config=ray.train.FailureConfig(
                max_failures=runtime.max_failures,
                controller_failure_limit=CONTROLLER_FAILURE_LIMIT,
            ),
            checkpoint_config=ray.train.CheckpointConfig(num_to_keep=2),
            logging_config=ray.train.LoggingConfig(log_level="WARNING"),  # no line per report
        ),
    )
    trainer.fit()


def _train_report(rank: int) -> Any:
    """A ``report(metrics, state)`` for rank ``rank``: every rank reports, rank 0 checkpoints."""

    def report(metrics: dict[str, Any], state: EngineState | None) -> None:
        report_with_state(ray.train.report, ray.train.Checkpoint, metrics, state if rank == 0 else None)

    return report


def train_worker(loop_config: dict[str, Any]) -> None:
    """One DDP rank: build, shard, train with the engine, report."""
    started = time.perf_counter()
    runtime = TrialRuntime(**loop_config["runtime"])
    quiet_trial_logs()
    torch.set_num_threads(runtime.threads)
    context = ray.train.get_context()
    rank, world = context.get_world_rank(), context.get_world_size()
    experiment = loop_config["experiment"]
    # On GPU, Ray sets CUDA_VISIBLE_DEVICES per worker: the engine's "auto" device (cuda) is
    # the worker's own GPU, the one prepare_model moves the model to.
    forecast, model = prepare_run(experiment, cached_prepare(experiment.data))
    # broadcast_buffers=False: every buffer of ST-VLM is a constant of its build (layout, token
    # table, image statistics), and DDP's per-forward buffer broadcast would also run in
    # evaluation, where ranks can run one batch more than the others (their chunks differ by a
    # window): an unmatched collective, which NCCL waits on for ever.
    model = ray.train.torch.prepare_model(
        model, parallel_strategy_kwargs={"find_unused_parameters": True, "broadcast_buffers": False}
    )
    resume = None
    checkpoint = ray.train.get_checkpoint()
    if checkpoint is not None:
        with checkpoint.as_directory() as folder:
            resume = load_state(folder)
        log.info("rank %d resuming from epoch %d", rank, resume.epoch)
    train_stvlm(
        experiment,
        _train_report(rank),
        resume=resume,
        prepared=(ShardedForecast(forecast, rank, world), model),
        world_size=world,
        started=started,
    )


def _reporting_worker(loop_config: dict[str, Any]) -> None:
    """A Train worker that does nothing but report once."""
    ray.train.report({"done": 1})


def empty_train_seconds(num_workers: int, storage: str, poll_s: float) -> float:
    """Wall seconds of one ``TorchTrainer`` run of ``num_workers`` one-CPU workers that only
    report once, on the connected Ray instance: Ray Train's own cost of a run (controller and
    worker processes, process group, shut-down), the floor under a Train trial's overhead."""
    set_train_poll_interval(poll_s)
    trainer = ray.train.torch.TorchTrainer(
        _reporting_worker,
        scaling_config=ray.train.ScalingConfig(num_workers=num_workers, resources_per_worker={"CPU": 1}),
        run_config=ray.train.RunConfig(
            name=f"empty-{uuid.uuid4().hex[:8]}", storage_path=storage,
            logging_config=ray.train.LoggingConfig(log_level="WARNING"),
        ),
    )
    started = time.perf_counter()
    trainer.fit()
    return time.perf_counter() - started
