"""How ST-VLM scales in the number of nodes N: training-step time and peak memory per image
encoding, with and without the latent compressor, on synthetic bring-your-own datasets.

For every N (``--nodes``, default 250, 1,000, 4,000 and 8,600, the sizes of LargeST's SD, GBA
... CA graphs) a synthetic dataset (``stvlm.data.synthetic``: coordinates, a k-NN graph, hourly
speeds over 21 days) is written to a temporary data root. For every image encoding and for
``series.num_latents`` in (``--latents``, None), a fresh process prepares it through the normal
bring-your-own path, builds the tiny preset (``STVLMConfig.tiny()``: random ViLT, width 32,
2 layers) and measures:

* ``step_ms``: the median of ``--steps`` full training steps (forward, masked MAE, backward,
  AdamW) after ``--warmup`` steps, and the forward stages (image, text, series, backbone,
  head) of a second pass;
* memory: on CUDA the peak allocated during the warm-up and timed steps; on CPU the peak
  resident set size during them (``VmHWM`` of ``/proc/self/status``, reset to the current RSS
  after the build and a ``malloc_trim``, so it includes the interpreter, data and model but not
  the build's own peak); ``step_memory_mib``: that peak minus the RSS (or allocation) before
  the first step, i.e. the steps' own working memory (activations, gradients, optimizer
  state); ``max_rss_of_build_mib``: ``ru_maxrss`` of loading and building;
* ``prepare_s`` / ``build_s``: loading the data; building the model (spectral layout, prompts,
  the highway's ridge start).

A configuration that hits a documented limit (``image.max_nodes`` for ``correlation``,
``series.max_tokens`` without compressor) is recorded as ``refused: <message>``, not as a
crash. Writes ``results/benchmarks/node_scale.json`` and ``node_scale.png`` (log-log).

    python benchmarks/node_scale.py [--nodes 250 1000 4000 8600] [--encodings ...]
        [--latents 64] [--batch-size 2] [--warmup 2] [--steps 5] [--threads 1]
    python benchmarks/node_scale.py --quick        # N = 250, 1000; 3 timed steps
    python benchmarks/node_scale.py --plot-only    # redraw the figure from the JSON
"""

from __future__ import annotations

import argparse
import io
import json
import os
import resource
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench_paths import BENCHMARKS_DIR, REPO  # noqa: E402  (this folder is on sys.path)
sys.path.insert(0, str(REPO))

from harness.cli.entry import positive_int  # noqa: E402 - after the checkout is on the path
from stvlm.io import atomic_write_bytes  # noqa: E402

ENCODINGS = ("grid_heatmap", "spectral_grid", "node_time", "correlation", "fft", "learnable",
             "flow")
NODES = (250, 1000, 4000, 8600)
OUT = BENCHMARKS_DIR


def _status_kib(key: str) -> int | None:
    """``VmRSS`` / ``VmHWM`` of this process in KiB (Linux), else ``None``."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def _reset_peak_rss() -> bool:
    """Reset ``VmHWM`` to the current RSS (Linux >= 4.0); False where that is not possible."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def _release_free_memory() -> None:
    """Collect garbage and hand free heap pages back to the OS (glibc), so the RSS is live data."""
    import ctypes
    import gc

    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def _settings(args: argparse.Namespace) -> dict:
    return {"batch_size": args.batch_size, "warmup": args.warmup, "steps": args.steps,
            "latents": args.latents, "threads": args.threads, "days": args.days,
            "neighbours": args.neighbours, "device": args.device}


def _experiment(name: str, root: str, encoding: str, latents: int | None, batch_size: int):
    from stvlm.configs import DataConfig, ExperimentConfig, STVLMConfig, TrainConfig

    model = STVLMConfig.tiny().to_dict()
    model["image"]["encoding"] = encoding
    model["series"]["num_latents"] = latents
    return ExperimentConfig.from_dict({
        "name": f"node-scale-{encoding}",
        "data": DataConfig(dataset=name, data_root=root, verify="none").to_dict(),
        "model": model,
        "train": TrainConfig(batch_size=batch_size).to_dict(),
    })


def _build(cfg) -> tuple:
    """``(forecast, model, prepare_s, build_s)``: the data, then the model as every run builds it
    (``stvlm.experiment.prepare_run``, seeded), each timed."""
    import stvlm.models  # noqa: F401  (prepare_run imports it lazily: not part of the build time)
    from stvlm.data.pipeline import prepare
    from stvlm.experiment import prepare_run

    t0 = time.perf_counter()
    forecast = prepare(cfg.data)
    t1 = time.perf_counter()
    _, model = prepare_run(cfg, forecast)
    return forecast, model, t1 - t0, time.perf_counter() - t1


def _time_steps(model, forecast, device, args) -> dict:
    """Median step time, stage seconds and peak memory of the training steps."""
    import torch

    from step_throughput import training_step

    need = args.warmup + 2 * args.steps
    batches = list(forecast.batches("train", args.batch_size, shuffle=True, seed=0, device=device,
                                    drop_last=True))[:need]
    train_step = training_step(model, forecast, device)

    def step(batch) -> float:
        t = time.perf_counter()
        train_step(batch)
        return time.perf_counter() - t

    # ru_maxrss follows VmHWM, so read the peak of load + build before the reset
    build_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    _release_free_memory()
    rss_before = _status_kib("VmRSS")
    reset = _reset_peak_rss() if device.type == "cpu" else False
    allocated_before = 0
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
        allocated_before = torch.cuda.memory_allocated()
    for i in range(args.warmup):
        step(batches[i % len(batches)])
    times = [step(batches[(args.warmup + i) % len(batches)]) for i in range(args.steps)]
    with model.stage_timings() as stages:
        for i in range(args.steps):
            step(batches[(args.warmup + args.steps + i) % len(batches)])
    out = {"step_ms": 1000 * statistics.median(times), "step_ms_all": [1000 * t for t in times],
           "stage_ms": {k: 1000 * v / args.steps for k, v in stages.items()},
           "max_rss_of_build_mib": build_peak}
    if device.type == "cuda":
        out["peak_memory_mib"] = torch.cuda.max_memory_allocated() / 2**20
        out["peak_memory_kind"] = "cuda max allocated in the warm-up and timed steps"
        out["step_memory_mib"] = out["peak_memory_mib"] - allocated_before / 2**20
    elif reset and _status_kib("VmHWM") is not None:
        out["peak_memory_mib"] = _status_kib("VmHWM") / 1024
        out["peak_memory_kind"] = "peak RSS of the warm-up and timed steps (VmHWM reset first)"
        out["step_memory_mib"] = out["peak_memory_mib"] - rss_before / 1024
    else:
        out["peak_memory_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        out["peak_memory_kind"] = "process max RSS (ru_maxrss, build included)"
    return out


def run_one(name: str, root: str, encoding: str, latents: int | None, args) -> dict:
    """Measure one configuration in this process (a child of :func:`main`)."""
    import torch

    from stvlm.errors import STVLMError

    torch.set_num_threads(args.threads)
    device = torch.device("cuda" if args.device == "cuda" else "cpu")
    row = {"nodes": int(name.rsplit("-", 1)[1]), "encoding": encoding, "latents": latents}
    cfg = _experiment(name, root, encoding, latents, args.batch_size)
    try:
        forecast, model, prep_s, build_s = _build(cfg)
    except STVLMError as err:
        return {**row, "status": f"refused: {err}"}
    model = model.to(device)
    row.update(status="ok", prepare_s=prep_s, build_s=build_s,
               build_rss_mib=(_status_kib("VmRSS") or 0) / 1024)
    row.update(_time_steps(model, forecast, device, args))
    row["trainable_parameters"] = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return row


def _child(n: int, root: str, encoding: str, latents: int | None, args) -> dict:
    """Run one configuration in a fresh process; a crash or timeout becomes a ``failed`` row."""
    cmd = [sys.executable, __file__, "--one", f"{n},{encoding},{latents or 0}", "--root", root,
           "--batch-size", str(args.batch_size), "--warmup", str(args.warmup),
           "--steps", str(args.steps), "--threads", str(args.threads), "--device", args.device]
    env = {**os.environ, "OMP_NUM_THREADS": str(args.threads), "MKL_NUM_THREADS": str(args.threads)}
    row = {"nodes": n, "encoding": encoding, "latents": latents}
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=args.timeout)
    except subprocess.TimeoutExpired:
        return {**row, "status": f"failed: timeout after {args.timeout} s"}
    if proc.returncode != 0:
        tail = (proc.stderr.strip().splitlines() or ["(no output)"])[-1]
        return {**row, "status": f"failed: exit {proc.returncode}: {tail}"}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _line(r: dict) -> str:
    head = f"N={r['nodes']:>5} {r['encoding']:>13} K={str(r['latents']):>4}"
    if r["status"] != "ok":
        return f"{head}  {r['status']}"
    return (f"{head}  step {r['step_ms']:9.1f} ms  peak {r['peak_memory_mib']:8.0f} MiB  "
            f"image {r['stage_ms']['image']:8.1f} ms  build {r['build_s']:6.1f} s")


def measure(args: argparse.Namespace) -> list[dict]:
    """Every (N, encoding, compressor) configuration, each in its own process."""
    from stvlm.data.synthetic import SyntheticConfig, write_synthetic

    rows = []
    with tempfile.TemporaryDirectory(prefix="node-scale-") as root:
        for n in args.nodes:
            cfg = SyntheticConfig(nodes=n, days=args.days, neighbours=args.neighbours,
                                  name=f"synthetic-{n}")
            path = write_synthetic(root, cfg)
            for encoding in args.encodings:
                for latents in (args.latents, None):
                    rows.append(_child(n, root, encoding, latents, args))
                    print(_line(rows[-1]), flush=True)
            for file in path.iterdir():  # free the disk before the next (larger) N
                file.unlink()
    return rows


def _guides(ax, xs: list[int], ys: list[float]) -> None:
    """Dotted O(N) and O(N^2) lines from the lowest point at the smallest N."""
    if len(set(xs)) < 2:
        return
    x0, y0 = min(xs), min(y for x, y in zip(xs, ys) if x == min(xs))
    grid = sorted(set(xs))
    for power, text in ((1, "O(N)"), (2, "O(N^2)")):
        line = [y0 * (x / x0) ** power for x in grid]
        ax.plot(grid, line, ":", color="grey", linewidth=1)
        ax.annotate(text, (grid[-1], line[-1]), fontsize=7, color="grey")


def plot(data: dict, path: Path) -> Path:
    """Log-log step time, image-encoding time and memory vs N, one line per encoding x
    compressor (solid: with K latents; dashed: without)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import NullFormatter, ScalarFormatter

    fig, axes = plt.subplots(2, 2, figsize=(13, 9.5))
    colours = dict(zip(ENCODINGS, plt.get_cmap("tab10").colors))
    ok = [r for r in data["rows"] if r["status"] == "ok"]
    keys = sorted({(r["encoding"], r["latents"]) for r in ok}, key=lambda k: (k[0], k[1] is None))
    panels = ((axes[0, 0], "step_ms", "median training step (ms)"),
              (axes[0, 1], "image_ms", "image encoding, forward (ms per batch)"),
              (axes[1, 0], "peak_memory_mib", "peak memory during the steps (MiB)"),
              (axes[1, 1], "step_memory_mib", "step working memory: peak - before (MiB)"))
    for ax, metric, label in panels:
        value = (lambda r: r["stage_ms"]["image"]) if metric == "image_ms" else (lambda r: r.get(metric, 0))
        for enc, k in keys:
            pts = sorted((r["nodes"], value(r)) for r in ok
                         if (r["encoding"], r["latents"]) == (enc, k) and value(r) > 0)
            if pts:
                ax.plot(*zip(*pts), marker="o" if k else "s", linestyle="-" if k else "--",
                        color=colours.get(enc),
                        label=f"{enc}, " + (f"K={k} latents" if k else "no compressor"))
        if metric in ("step_ms", "image_ms", "step_memory_mib"):
            _guides(ax, [r["nodes"] for r in ok], [value(r) for r in ok])
        ax.set(xscale="log", yscale="log", xlabel="nodes N", ylabel=label)
        ax.set_xticks(sorted({r["nodes"] for r in ok}))
        ax.xaxis.set_major_formatter(ScalarFormatter())
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.grid(True, which="both", alpha=0.3)
    s = data["settings"]
    refused = sum(r["status"].startswith("refused") for r in data["rows"])
    fig.suptitle(f"ST-VLM tiny preset, batch {s['batch_size']}, {data.get('device', '')}, "
                 f"{s['threads']} thread(s); {refused} configurations refused by a documented "
                 "limit (not drawn; see the JSON)", fontsize=10)
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, fontsize=8, ncol=4, loc="lower center")
    fig.tight_layout(rect=(0, 0.09, 1, 0.97))
    buffer = io.BytesIO()
    fig.savefig(buffer, dpi=120, format="png")
    plt.close(fig)
    return atomic_write_bytes(path, buffer.getvalue())


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--nodes", type=positive_int, nargs="+", default=list(NODES))
    p.add_argument("--encodings", nargs="+", default=list(ENCODINGS), choices=ENCODINGS)
    p.add_argument("--latents", type=positive_int, default=64, help="K of the compressed runs")
    p.add_argument("--batch-size", type=positive_int, default=2)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--steps", type=positive_int, default=5)
    p.add_argument("--threads", type=positive_int, default=1, help="torch / OpenMP threads per process")
    p.add_argument("--days", type=int, default=21)
    p.add_argument("--neighbours", type=int, default=8)
    p.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    p.add_argument("--timeout", type=positive_int, default=3600, help="seconds per configuration")
    p.add_argument("--quick", action="store_true", help="N = 250, 1000 and 3 timed steps")
    p.add_argument("--plot-only", action="store_true", help="redraw the figure from --json")
    p.add_argument("--json", default=str(OUT / "node_scale.json"))
    p.add_argument("--png", default=str(OUT / "node_scale.png"))
    p.add_argument("--one", default=None, help=argparse.SUPPRESS)  # child: "N,encoding,K"
    p.add_argument("--root", default=None, help=argparse.SUPPRESS)
    return p


def main() -> int:
    args = _parser().parse_args()
    if args.one:
        n, encoding, k = args.one.split(",")
        row = run_one(f"synthetic-{n}", args.root, encoding, int(k) or None, args)
        sys.stdout.write(json.dumps(row) + "\n")
        return 0
    if args.plot_only:
        print(f"wrote {plot(json.loads(Path(args.json).read_text()), Path(args.png))}")
        return 0
    if args.quick:
        args.nodes, args.steps = [250, 1000], 3
    from harness.results.provenance import git_commit, provenance
    from stvlm.io import atomic_write_json

    t0 = time.perf_counter()
    rows = measure(args)
    if not any(r["status"] == "ok" for r in rows):  # keep the last good result and figure
        print(f"no configuration ran; {args.json} and {args.png} left as they were", file=sys.stderr)
        return 1
    data = {"rows": rows, "settings": _settings(args), "nodes": args.nodes,
            "seconds": time.perf_counter() - t0,
            "command_line": shlex.join(["python", "benchmarks/node_scale.py", *sys.argv[1:]]),
            **provenance(), "git_commit": git_commit(REPO),
            "device": args.device}  # where the steps ran (provenance's names the machine's GPU)
    out = atomic_write_json(args.json, data)
    print(f"wrote {out} and {plot(data, Path(args.png))}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
