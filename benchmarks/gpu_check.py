"""Every GPU path in one script: run it whenever a CUDA machine is available (about 5 minutes).

Checks, each recorded with its figures or the reason it was skipped:

    cuda_step        forward + backward + optimizer step of ST-VLM (tiny preset) on CUDA, fp32
    bf16_engine      the engine's bf16 autocast: 2 epochs of 4 batches, finite losses and metrics
    table_settings   the same with the accuracy table's ST-VLM training settings (augmentation, ...)
    base_throughput  samples/s and peak memory of the ViLT-B/32-sized model (random weights)
    fractional_gpu   a real Tune study: 2 trials at 0.5 GPU each, side by side on one GPU
    train_2_workers  a real Train trial with 2 DDP workers on NCCL (needs 2 GPUs: NCCL refuses
                     two ranks on one device)

Without a CUDA device every check is skipped, the exit status is 0, and the JSON is left as it
was (the committed record of the last GPU run is not replaced by a run that measured nothing).
With one, each check's line is printed and the JSON rewritten as soon as it ends (``complete``
says whether every planned check ran), so a command cut off by a time limit keeps what it ran.

    python benchmarks/gpu_check.py [--dataset los-loop] [--data-root DIR]
        [--json results/benchmarks/gpu_check.json]
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench_paths import BENCHMARKS_DIR, REPO  # noqa: E402  (this folder is on sys.path)
sys.path.insert(0, str(REPO))

Check = Callable[[argparse.Namespace], dict[str, Any]]
CHECKS: dict[str, Check] = {}


class Skip(Exception):
    """A check that cannot run on this machine (the message says why)."""


def check(name: str) -> Callable[[Check], Check]:
    def register(fn: Check) -> Check:
        CHECKS[name] = fn
        return fn
    return register


def _prepared(args: argparse.Namespace, **train: Any):
    from stvlm.configs import DataConfig, TrainConfig
    from stvlm.configs import ExperimentConfig
    from stvlm.experiment import prepare_run
    from stvlm.configs import STVLMConfig

    cfg = ExperimentConfig(
        name="gpu-check", data=DataConfig(dataset=args.dataset, data_root=args.data_root),
        model=STVLMConfig.tiny(), train=TrainConfig(device="cuda", **train),
    )
    forecast, model = prepare_run(cfg)
    return cfg, forecast, model


@check("cuda_step")
def cuda_step(args: argparse.Namespace) -> dict[str, Any]:
    import torch

    from stvlm.metrics import masked_mae_loss

    _, forecast, model = _prepared(args)
    model = model.cuda()
    batch = next(forecast.batches("train", 8, device="cuda"))
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4)
    loss = masked_mae_loss(model(batch), batch.y, forecast.protocol.mask)
    loss.backward()
    opt.step()
    torch.cuda.synchronize()
    grads = [p.grad for p in model.parameters() if p.requires_grad and p.grad is not None]
    if not math.isfinite(float(loss)) or not grads:
        raise RuntimeError(f"loss {float(loss)}, {len(grads)} gradients")
    return {"loss": float(loss), "parameters_with_gradient": len(grads),
            "device": torch.cuda.get_device_name(0)}


@check("bf16_engine")
def bf16_engine(args: argparse.Namespace) -> dict[str, Any]:
    from stvlm.engine import Engine

    cfg, forecast, model = _prepared(args, epochs=2, batch_size=8, max_batches_per_epoch=4, amp=True)
    engine = Engine(model, forecast, cfg.train)
    t0 = time.perf_counter()
    result = engine.fit()
    test = engine.evaluate("test")
    losses = [h.train_loss for h in result.history]
    if not all(math.isfinite(x) for x in losses):
        raise RuntimeError(f"non-finite bf16 training loss {losses}")
    bad = sorted(k for k, v in test.items() if not math.isfinite(v))
    if bad:
        raise RuntimeError(f"non-finite bf16 test metrics: {', '.join(bad)}")
    return {"train_losses": losses, "test_mae": test["mae"], "seconds": time.perf_counter() - t0}


@check("table_settings")
def table_settings(args: argparse.Namespace) -> dict[str, Any]:
    """The engine as the accuracy table trains ST-VLM (level augmentation, the fitted start as a
    candidate, both loss masks, the two-MAE monitor) under bf16 autocast: code that came after
    the last GPU run."""
    from stvlm.configs.train import STVLM_TRAIN_SETTINGS
    from stvlm.engine import Engine

    cfg, forecast, model = _prepared(args, epochs=3, batch_size=8, max_batches_per_epoch=4, amp=True,
                                     **STVLM_TRAIN_SETTINGS)
    result = Engine(model, forecast, cfg.train).fit()
    losses = [h.train_loss for h in result.history]
    if not all(math.isfinite(x) for x in losses):
        raise RuntimeError(f"non-finite training loss {losses}")
    return {"train_losses": losses, "best_epoch": result.best_epoch, "epochs_run": result.epochs_run}


@check("base_throughput")
def base_throughput(args: argparse.Namespace) -> dict[str, Any]:
    out = Path(tempfile.mkdtemp()) / "step.json"
    cmd = [sys.executable, str(REPO / "benchmarks" / "step_throughput.py"), "--only", "base,base-llm",
           "--dataset", args.dataset, "--profile", "3", "--json", str(out)]
    if args.data_root:
        cmd += ["--data-root", args.data_root]
    # 300 s: under a lent machine's 600 s per command, with the checks after it still to run
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else "failed")
    rows = json.loads(out.read_text())["rows"]
    kept = ("samples_per_s", "step_ms", "peak_memory_mib", "batch_size", "stage_share", "encoder_share",
            "total_parameters", "profile")  # the shares and the profile say where a slow step's time goes
    return {r["config"]: {k: r[k] for k in kept if k in r} for r in rows}


def _study(args: argparse.Namespace, name: str, resources: dict[str, Any], **extra: Any) -> dict[str, Any]:
    import polars as pl

    from harness.runtime.runner import StudyOptions, run_study
    from harness.results.files import TRIALS_FILE
    from harness.study.spec import StudySpec

    spec = StudySpec.from_dict({
        "name": name, "dataset": args.dataset, "preset": "tiny", "seeds": [0], "num_samples": 1,
        "fixed": {"train.epochs": 2, "train.max_batches_per_epoch": 4, "train.batch_size": 8},
        "resources": resources, "scheduler": {"name": "fifo"}, **extra,
    })
    root = Path(tempfile.mkdtemp(prefix="gpu-check-"))
    t0 = time.perf_counter()
    outcome = run_study(spec, StudyOptions(storage=str(root / "ray"), results_dir=str(root / "results"),
                                           data_root=args.data_root, verbose=0))
    trials = pl.read_parquet(outcome.results / TRIALS_FILE)
    if set(trials["status"]) != {"completed"}:
        raise RuntimeError(f"trial states {trials['status'].to_list()}")
    return {"trials": trials.height, "wall_seconds": time.perf_counter() - t0,
            "test_mae": trials["test_mae"].to_list(), "devices": sorted(set(trials["device"]))}


@check("fractional_gpu")
def fractional_gpu(args: argparse.Namespace) -> dict[str, Any]:
    return _study(args, "gpu-fractional", {"cpus_per_trial": 1, "gpus_per_trial": 0.5,
                                           "max_concurrent_trials": 2},
                  scientific={"axes": {"few_shot_ratio": [0.1, 0.2]}})


@check("train_2_workers")
def train_2_workers(args: argparse.Namespace) -> dict[str, Any]:
    import torch

    if torch.cuda.device_count() < 2:
        raise Skip(f"{torch.cuda.device_count()} GPU(s): NCCL needs one device per rank")
    return _study(args, "gpu-ddp", {"cpus_per_trial": 1, "gpus_per_trial": 1, "num_workers": 2},
                  fixed={"train.epochs": 2, "train.max_batches_per_epoch": 4, "train.batch_size": 8,
                         "data.few_shot.ratio": 0.2})


def run_checks(
    args: argparse.Namespace, *, cuda: bool, on_result: Callable[[dict[str, Any]], None] = lambda r: None,
) -> dict[str, Any]:
    """Every check (or ``--only``), each ``{"status": ok|skipped|failed, ...}``; ``on_result``
    gets the results so far after each one (a command cut off by its time limit keeps them)."""
    results: dict[str, Any] = {}
    for name in args.only or list(CHECKS):
        t0 = time.perf_counter()
        if not cuda:
            results[name] = {"status": "skipped", "why": "no CUDA device"}
        else:
            try:
                results[name] = {"status": "ok", **CHECKS[name](args)}
            except Skip as why:
                results[name] = {"status": "skipped", "why": str(why)}
            except Exception as err:  # a failed check is a result to record, not a crash
                results[name] = {"status": "failed", "error": f"{type(err).__name__}: {err}"}
        results[name]["check_seconds"] = round(time.perf_counter() - t0, 2)
        on_result(results)
    return results


def _line(name: str, r: dict[str, Any]) -> str:
    detail = r.get("why") or r.get("error") or ", ".join(
        f"{k}={v}" for k, v in r.items() if k not in ("status", "check_seconds"))
    return f"{name:16} {r['status']:8} {detail}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", default="los-loop")
    parser.add_argument("--data-root", default=None)
    parser.add_argument("--only", nargs="*", choices=list(CHECKS), default=None)
    parser.add_argument("--json", default=str(BENCHMARKS_DIR / "gpu_check.json"))
    args = parser.parse_args(argv)
    from harness.study.paths import check_output_file
    from stvlm.errors import STVLMError

    try:
        check_output_file(args.json, "--json")
    except STVLMError as err:
        parser.exit(2, f"gpu_check.py: error: {err}\n")

    import torch

    from harness.results.provenance import provenance
    from stvlm.io import atomic_write_json

    info = provenance()

    def record(results: dict[str, Any]) -> None:
        name, r = next(reversed(results.items()))
        print(_line(name, r), flush=True)
        if any(r["status"] != "skipped" for r in results.values()):  # no CUDA: keep the last record
            planned = args.only or list(CHECKS)
            atomic_write_json(args.json, {"checks": results, "complete": len(results) == len(planned), **info})

    results = run_checks(args, cuda=torch.cuda.is_available(), on_result=record)
    if all(r["status"] == "skipped" for r in results.values()):
        print(f"nothing measured; {args.json} left as it was")
        return 0
    print(f"wrote {args.json}")
    return 1 if any(r["status"] == "failed" for r in results.values()) else 0


if __name__ == "__main__":
    raise SystemExit(main())
