"""One experiment = one dataset/protocol/few-shot selection, one ST-VLM config, one training run.

This is the unit the CLI (``stvlm train``) and the Ray harness (one Tune trial) both run:

    cfg = ExperimentConfig.from_dict(toml_dict)
    result = run_experiment(cfg, out_dir=Path("runs/x"))

``out_dir`` receives ``config.json``, ``metrics.json`` (validation and test metrics, budget,
timings) and ``checkpoint/`` (the trained model as ``STVLM.save_pretrained`` writes it, plus
``experiment.json``), all written atomically.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from stvlm.configs import ExperimentConfig
from stvlm.data.forecast import Forecast
from stvlm.engine import Callback, Engine, EngineState, TrainResult
from stvlm.io import atomic_write_json
from stvlm.monitor import with_means
from stvlm.run_files import EXPERIMENT_FILE, RUN_CHECKPOINT, RUN_CONFIG, RUN_METRICS

log = logging.getLogger(__name__)


@dataclass
class ExperimentResult:
    """Metrics and budget of one run."""

    val: dict[str, float]
    test: dict[str, float]
    train: TrainResult
    trainable_parameters: int
    total_parameters: int
    train_windows: int
    split: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0
    torch_threads: int | None = None  # the run's torch thread count: fp32 sums round by it

    def summary(self) -> dict[str, Any]:
        """A JSON-serialisable summary (what ``metrics.json`` holds): the scores with the
        registered means of them (:func:`stvlm.monitor.with_means`: ``mae_both``, what
        ``TrainConfig.monitor = "mae_both"`` keeps the best epoch by), then the budget."""
        return {
            "val": with_means(self.val),
            "test": with_means(self.test),
            "best_epoch": self.train.best_epoch,
            "epochs_run": self.train.epochs_run,
            "stopped_early": self.train.stopped_early,
            "windows_seen": self.train.history[-1].windows_seen if self.train.history else 0,
            "optimizer_steps": self.train.history[-1].optimizer_steps if self.train.history else 0,
            "best_epoch_is_last": bool(self.train.history) and self.train.best_epoch == self.train.epochs_run,
            "train_windows": self.train_windows,
            "trainable_parameters": self.trainable_parameters,
            "total_parameters": self.total_parameters,
            "split": self.split,
            "seconds": self.seconds,
            "torch_threads": self.torch_threads,
        }


def prepare_run(cfg: ExperimentConfig, forecast: Forecast | None = None) -> tuple[Forecast, Any]:
    """Load the data and build the model, at ``cfg.train.num_threads`` torch threads where it is
    set: the model's build (the ridge start, the prompts' tokens) runs at the thread count the
    training will, not at torch's default. The config is checked first (:mod:`stvlm.checks`: the
    device, and the registries where the data is loaded here).

    Args:
        cfg: the experiment.
        forecast: the prepared data of ``cfg.data``, to share between runs on the same data
            (benchmarks fit many models on one split); None: prepared here.
    """
    import torch

    from stvlm.checks import check_device, check_experiment
    from stvlm.data.pipeline import prepare
    from stvlm.models import build_model
    from stvlm.seed import seed_everything

    check_device(cfg)
    if forecast is None:
        check_experiment(cfg)
    if cfg.train.num_threads is not None:
        torch.set_num_threads(cfg.train.num_threads)
    forecast = forecast if forecast is not None else prepare(cfg.data)
    # Seed before building: frozen from_config backbones are random, and a checkpoint holds
    # only trainable weights, so the same seed must rebuild the same frozen weights.
    seed_everything(cfg.train.seed)
    model = build_model(cfg.model, forecast)
    return forecast, model


def run_experiment(
    cfg: ExperimentConfig,
    *,
    out_dir: str | Path | None = None,
    callbacks: Iterable[Callback] = (),
    resume: EngineState | None = None,
    prepared: tuple[Any, Any] | None = None,
) -> ExperimentResult:
    """Train ST-VLM as configured and score the best epoch on validation and test.

    Args:
        cfg: the experiment.
        out_dir: where to write ``config.json``, ``metrics.json`` and ``checkpoint/``; None: nowhere.
        callbacks: engine callbacks called after every epoch.
        resume: an engine state to resume from.
        prepared: ``(forecast, model)`` from :func:`prepare_run`, to reuse.
    """
    import torch

    t0 = time.perf_counter()
    forecast, model = prepared if prepared is not None else prepare_run(cfg)
    engine = Engine(model, forecast, cfg.train)
    result = engine.fit(callbacks=callbacks, resume=resume)
    test = engine.evaluate("test")
    val = result.best_val or engine.evaluate("val")
    outcome = ExperimentResult(
        val=val,
        test=test,
        train=result,
        trainable_parameters=sum(p.numel() for p in model.parameters() if p.requires_grad),
        total_parameters=sum(p.numel() for p in model.parameters()),
        train_windows=forecast.num_windows("train"),
        split=forecast.describe(),
        seconds=time.perf_counter() - t0,
        torch_threads=torch.get_num_threads(),
    )
    if out_dir is not None:
        save_run(out_dir, cfg, model, outcome)
    return outcome


def save_run(
    out_dir: str | Path, cfg: ExperimentConfig, model: Any, outcome: ExperimentResult,
    records: Mapping[str, Mapping[str, Any]] | None = None,
) -> Path:
    """Write a finished run into ``out_dir``: ``config.json``, ``checkpoint/``, ``metrics.json``
    and ``records`` (file name -> JSON object, e.g. the CLI's ``summary.json``), each atomically.

    The previous run's scores (``metrics.json`` and the ``records`` names) are removed first, so
    an interrupted write never leaves an old run's scores beside a new checkpoint: the folder
    holds the old run, the new config and checkpoint without scores, or the whole new run.
    """
    out, records = Path(out_dir), dict(records or {})
    for name in (RUN_METRICS, *records):
        (out / name).unlink(missing_ok=True)
    atomic_write_json(out / RUN_CONFIG, cfg.to_dict())
    save_checkpoint(model, cfg, out / RUN_CHECKPOINT)
    atomic_write_json(out / RUN_METRICS, outcome.summary())
    for name, obj in records.items():
        atomic_write_json(out / name, obj)
    log.info("wrote %s", out)
    return out


def save_checkpoint(model: Any, cfg: ExperimentConfig, path: str | Path) -> Path:
    """Write the trained model (``model.save_pretrained``: config, every weight, layout, token
    table, backbone config and tokenizer) and ``experiment.json`` (the data and training
    settings that produced it) into the folder ``path``."""
    path = Path(path)
    model.save_pretrained(path, extra_json={EXPERIMENT_FILE: cfg.to_dict()})  # one folder, renamed whole
    return path


def load_checkpoint(path: str | Path, *, data_root: str | None = None) -> tuple[ExperimentConfig, Any, Any]:
    """``(cfg, forecast, model)`` from a folder written by :func:`save_checkpoint`.

    ``cfg`` is what scoring here runs: a checkpoint trained with ``train.device = "cuda"`` on a
    machine without CUDA is scored on the CPU (logged). The model comes from the folder alone
    (``STVLM.from_pretrained``); the dataset it was trained on is loaded again for its windows,
    and must scale as it did in training. Its data root: ``data_root``, else the one it was
    trained with where that is a folder here, else ``$STVLM_DATA`` (a checkpoint moved to another
    machine, or trained with a relative path).

    Raises:
        DataError: not a checkpoint folder, a file of it unreadable, or the dataset now differs
            from the one the model was trained on (node count or input scaler).
    """
    import json
    import os

    import numpy as np
    import torch

    from stvlm.data.pipeline import prepare
    from stvlm.data.root import ENV_VAR
    from stvlm.errors import DataError, STVLMError
    from stvlm.models.stvlm import STVLM

    path = Path(path)
    meta = path / EXPERIMENT_FILE
    if not meta.is_file():
        raise DataError(f"{path} is not a checkpoint folder: {meta.name} is missing")
    try:
        cfg = ExperimentConfig.from_dict(json.loads(meta.read_text()))
    except (OSError, ValueError, RecursionError) as err:  # JSONDecodeError is a ValueError
        raise DataError(f"{meta}: not a readable experiment record ({err})") from None
    stored = cfg.data.data_root
    root = data_root or (stored if stored and Path(stored).is_dir() else os.environ.get(ENV_VAR) or stored)
    cfg = cfg.replace(data=cfg.data.replace(data_root=root))
    if cfg.train.device == "cuda" and not torch.cuda.is_available():  # trained on a GPU, scored here
        log.warning("%s was trained on cuda; no CUDA device here, so it is scored on the CPU", path)
        cfg = cfg.replace(train=cfg.train.replace(device="cpu"))
    try:
        model = STVLM.from_pretrained(path)
    except STVLMError:
        raise
    except Exception as err:  # a missing or damaged weight file: OSError, safetensors' own errors
        first = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise DataError(f"{path}: the checkpoint's model files are missing or damaged ({first})") from None
    forecast = prepare(cfg.data)
    ctx = model.context
    same = forecast.data.num_nodes == ctx.num_nodes and np.allclose(
        np.asarray(forecast.scaler.mean, dtype=np.float64), ctx.scaler_mean, rtol=1e-6, atol=1e-9
    ) and np.allclose(np.asarray(forecast.scaler.std, dtype=np.float64), ctx.scaler_std, rtol=1e-6, atol=1e-9)
    if not same:
        raise DataError(
            f"{cfg.data.dataset} now differs from the data the checkpoint {path} was trained on "
            f"({forecast.data.num_nodes} nodes, scaler mean {np.round(forecast.scaler.mean, 4).tolist()}; "
            f"trained on {ctx.num_nodes} nodes, mean {np.round(ctx.scaler_mean, 4).tolist()})"
        )
    return cfg, forecast, model
