"""Training-step throughput of ST-VLM, and where the time goes.

For each configuration: samples per second of a full training step (forward, masked-MAE loss,
backward, optimizer step), peak memory, and the share of the step spent in each forward stage
(image encoding, text lookup, series tokens, backbone incl. fusion, head) measured with the
model's ``stage_timings``; the rest of the step is backward + optimizer. Each configuration runs
in its own process so peak memory is its own.

Configurations (``--only`` picks some):
    tiny       the tiny preset (ViLT, width 32, 2 layers), CPU
    tiny-llm   the LLM-only variant (GPT-2, same width and depth, no image), CPU
    small      ViLT, width 256, 4 layers, 224 px, CPU
    small-llm  GPT-2, width 256, 4 layers, no image, CPU
    base       ViLT-B/32 sizes (width 768, 12 layers, 384 px), random weights, GPU only
    base-llm   GPT-2 sizes (width 768, 12 layers), no image, GPU only

Targets: the modality encoders (image + text + series) take at most 10% of a step; an ST-VLM
step costs at most 1.5x the LLM-only variant at the same width and depth.

    python benchmarks/step_throughput.py [--dataset los-loop] [--batch-size 8] [--steps 10]
        [--only tiny,small] [--profile 3] [--json results/benchmarks/step_throughput.json]

``--profile N`` runs N more steps under ``torch.profiler`` after the timed ones (so the figures
above stay unprofiled) and keeps, per configuration, the operator calls and CUDA kernels a step
makes, the share of the wall time the device was busy, and the top operators.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time

from bench_paths import BENCHMARKS_DIR, REPO  # noqa: E402  (this folder is on sys.path)
sys.path.insert(0, str(REPO))

CONFIGS: dict[str, dict] = {
    "tiny": {"model": {"backbone": {"name": "vilt", "preset": "tiny"}}, "gpu": False},
    "tiny-llm": {"model": {"backbone": {"name": "gpt2", "preset": "tiny"}, "use_image": False}, "gpu": False},
    "small": {"model": {"backbone": {"name": "vilt", "preset": "small"}}, "gpu": False},
    "small-llm": {"model": {"backbone": {"name": "gpt2", "preset": "small"}, "use_image": False}, "gpu": False},
    "base": {"model": {"backbone": {"name": "vilt", "preset": "base"}}, "gpu": True},
    "base-llm": {"model": {"backbone": {"name": "gpt2", "preset": "base"}, "use_image": False}, "gpu": True},
}
ENCODER_STAGES = ("image", "text", "series")


def training_step(model, forecast, device):
    """``step(batch)``: one full training step of ``model`` (forward under bf16 autocast on CUDA,
    masked-MAE loss, backward, AdamW step), synchronised on CUDA so a caller can time it.
    Shared with ``benchmarks/node_scale.py``."""
    import torch

    from stvlm.metrics import masked_mae_loss

    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4)
    amp = device.type == "cuda"

    def step(batch) -> None:
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp):
            pred = model(batch)
        loss = masked_mae_loss(pred.float(), batch.y, forecast.protocol.mask)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if amp:
            torch.cuda.synchronize()

    return step


def profile_steps(step, batches, steps: int, device, top: int = 12) -> dict:
    """Run ``steps`` training steps under ``torch.profiler`` and say where a step's time goes
    below the stage level: ``ops_per_step`` (operator calls a step makes: each costs host time),
    on CUDA ``kernels_per_step`` and ``device_busy_share`` (the kernels' summed time over the
    profiled wall time: far below 1, the step waits on the host: launches, Python), and ``top``
    operators by self time on the device (CUDA) or the CPU: ``{name, calls_per_step,
    self_ms_per_step}``."""
    import torch
    from torch.profiler import ProfilerActivity, profile

    cuda = device.type == "cuda"
    activities = [ProfilerActivity.CPU, *([ProfilerActivity.CUDA] if cuda else [])]
    with profile(activities=activities) as prof:
        t0 = time.perf_counter()
        for i in range(steps):
            step(batches[i % len(batches)])
        wall_us = (time.perf_counter() - t0) * 1e6
    averages = prof.key_averages()  # no schedule: no ProfilerStep entries to leave out

    def self_us(a) -> float:
        return a.self_device_time_total if cuda else a.self_cpu_time_total

    ranked = sorted(averages, key=self_us, reverse=True)[:top]
    out = {
        "profiled_steps": steps,
        "ops_per_step": sum(a.count for a in averages if a.key.startswith("aten::")) / steps,
        "top_ops": [{"name": a.key, "calls_per_step": a.count / steps, "self_ms_per_step": self_us(a) / 1000 / steps}
                    for a in ranked],
        "top_ops_by": "self device time" if cuda else "self CPU time",
    }
    if cuda:
        kernels = [e for e in prof.events() if e.device_type == torch.autograd.DeviceType.CUDA]
        out["kernels_per_step"] = len(kernels) / steps
        out["device_busy_share"] = sum(e.self_device_time_total for e in kernels) / wall_us
    return out


def run_one(name: str, dataset: str, batch_size: int, steps: int, data_root: str | None,
            profile: int = 0) -> dict:
    """Measure one configuration in this process."""
    import torch

    from stvlm.configs import DataConfig, TrainConfig
    from stvlm.configs import ExperimentConfig
    from stvlm.experiment import prepare_run
    from stvlm.configs import STVLMConfig

    spec = CONFIGS[name]
    device = torch.device("cuda" if spec["gpu"] else "cpu")
    model_cfg = STVLMConfig.tiny().to_dict()
    for key, value in spec["model"].items():
        model_cfg[key] = {**model_cfg[key], **value} if isinstance(value, dict) else value
    if spec["model"]["backbone"]["preset"] != "tiny":  # full-size widths of the adapters
        model_cfg["series"]["dim"], model_cfg["fusion"]["heads"] = 64, 4
    cfg = ExperimentConfig.from_dict({
        "name": name,
        "data": DataConfig(dataset=dataset, data_root=data_root).to_dict(),
        "model": model_cfg,
        "train": TrainConfig(batch_size=batch_size).to_dict(),
    })
    forecast, model = prepare_run(cfg)
    model = model.to(device)
    params = [p for p in model.parameters() if p.requires_grad]
    batches = list(forecast.batches("train", batch_size, shuffle=True, seed=0, device=device, drop_last=True))
    step = training_step(model, forecast, device)  # synchronises on CUDA: the loops time finished work

    for i in range(2):  # warm-up
        step(batches[i % len(batches)])
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    times = []  # seconds of each timed step (the step synchronises on CUDA)
    for i in range(steps):
        t0 = time.perf_counter()
        step(batches[i % len(batches)])
        times.append(time.perf_counter() - t0)
    elapsed = sum(times)
    with model.stage_timings() as stages:
        t1 = time.perf_counter()
        for i in range(steps):
            step(batches[i % len(batches)])
        timed = time.perf_counter() - t1
    shares = {k: v / timed for k, v in stages.items()}
    peak = (  # read before any profiled step: the profiler's buffers would count in the process's RSS
        torch.cuda.max_memory_allocated() / 2**20
        if device.type == "cuda"
        else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    )
    return {
        "config": name,
        "backbone": cfg.model.backbone.name,
        "preset": cfg.model.backbone.preset,
        "device": torch.cuda.get_device_name(0) if device.type == "cuda" else "cpu",
        "dataset": dataset,
        "nodes": forecast.data.num_nodes,
        "batch_size": batch_size,
        "samples_per_s": steps * batch_size / elapsed,
        "step_ms": 1000 * elapsed / steps,  # the mean over the timed steps
        "step_ms_median": 1000 * statistics.median(times),
        "peak_memory_mib": peak,
        "peak_memory_kind": "cuda max allocated" if device.type == "cuda" else "process max RSS",
        "stage_share": shares,
        "encoder_share": sum(shares[s] for s in ENCODER_STAGES),
        "trainable_parameters": sum(p.numel() for p in params),
        "total_parameters": sum(p.numel() for p in model.parameters()),
        "torch_threads": torch.get_num_threads(),
        **({"profile": profile_steps(step, batches, profile, device)} if profile else {}),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", default="los-loop")
    parser.add_argument("--data-root", default=None)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--only", default=None, help="comma-separated configuration names")
    parser.add_argument("--profile", type=int, default=0, metavar="STEPS",
                        help="also run this many steps under torch.profiler: operator calls and kernels per step, "
                        "the device's busy share, the top operators (in the JSON)")
    parser.add_argument("--json", default=str(BENCHMARKS_DIR / "step_throughput.json"))
    parser.add_argument("--one", default=None, help=argparse.SUPPRESS)  # child process mode
    args = parser.parse_args()
    if args.one:
        sys.stdout.write(json.dumps(run_one(args.one, args.dataset, args.batch_size, args.steps, args.data_root,
                                            args.profile)) + "\n")
        return 0

    import torch

    from harness.results.provenance import provenance
    from stvlm.io import atomic_write_json

    from stvlm.data.root import resolve_data_root
    from stvlm.errors import DataError

    if args.steps < 1 or args.batch_size < 1 or args.profile < 0:
        parser.error(f"--steps {args.steps}, --batch-size {args.batch_size}, --profile {args.profile}: steps and "
                     "batch size must be >= 1, profile >= 0")
    names = args.only.split(",") if args.only else list(CONFIGS)
    unknown = [n for n in names if n not in CONFIGS]
    if unknown:
        parser.error(f"unknown configuration {unknown[0]!r}; known: {', '.join(CONFIGS)}")
    try:
        resolve_data_root(args.data_root)  # before any child runs: one clear line
    except DataError as err:
        parser.error(str(err))
    rows, skipped = [], []
    for name in names:
        if CONFIGS[name]["gpu"] and not torch.cuda.is_available():
            skipped.append(f"{name}: needs a GPU")
            continue
        cmd = [sys.executable, __file__, "--one", name, "--dataset", args.dataset,
               "--batch-size", str(args.batch_size), "--steps", str(args.steps), "--profile", str(args.profile)]
        if args.data_root:
            cmd += ["--data-root", args.data_root]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            skipped.append(f"{name}: failed: {proc.stderr.strip().splitlines()[-1:]}")
            continue
        rows.append(json.loads(proc.stdout.strip().splitlines()[-1]))
    by_name = {r["config"]: r for r in rows}
    print(f"{'config':10} {'device':>10} {'samples/s':>10} {'step ms':>9} {'peak MiB':>9} "
          f"{'image':>6} {'text':>6} {'series':>7} {'backbone':>9} {'head':>6} {'enc.':>6} {'vs LLM':>7}")
    for r in rows:
        s = r["stage_share"]
        llm = by_name.get(r["config"] + "-llm")
        ratio = f"{r['step_ms'] / llm['step_ms']:.2f}x" if llm else ""
        print(f"{r['config']:10} {r['device'][:10]:>10} {r['samples_per_s']:>10.1f} {r['step_ms']:>9.1f} "
              f"{r['peak_memory_mib']:>9.0f} {s['image']:>6.1%} {s['text']:>6.1%} {s['series']:>7.1%} "
              f"{s['backbone']:>9.1%} {s['head']:>6.1%} {r['encoder_share']:>6.1%} {ratio:>7}")
    for r in rows:
        if "profile" in r:
            p = r["profile"]
            busy = (f", {p['kernels_per_step']:.0f} kernels a step, device busy {p['device_busy_share']:.0%}"
                    if "kernels_per_step" in p else "")
            tops = ", ".join(f"{t['name']} {t['self_ms_per_step']:.2f} ms" for t in p["top_ops"][:5])
            print(f"{r['config']}: {p['ops_per_step']:.0f} aten ops a step{busy}; top by {p['top_ops_by']}: {tops}")
    for line in skipped:
        print(f"skipped {line}")
    if not rows:  # keep the last good result: a run that measured nothing overwrites nothing
        print(f"nothing measured; {args.json} left as it was", file=sys.stderr)
        return 1
    command = " ".join(["python benchmarks/step_throughput.py", *sys.argv[1:]])
    env = " ".join(f"{k}={os.environ[k]}" for k in ("OMP_NUM_THREADS",) if k in os.environ)
    out = atomic_write_json(args.json, {**provenance(), "command": f"{env} {command}".strip(), "rows": rows,
                                        "skipped": skipped})
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
