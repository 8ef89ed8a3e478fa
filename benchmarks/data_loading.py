"""Data loading speed: raw files -> batched tensors, for every dataset present in the data root.

For each dataset: time to load and verify the files, time to prepare the windows (protocol
split, few-shot selection, scaler), time to the first batch, and windows per second over full
shuffled passes of the training windows after one warm-up pass. Prints a table and writes JSON.

    python benchmarks/data_loading.py [--data-root DIR] [--batch-size 64] [--passes 3]
        [--device cpu] [--json results/benchmarks/data_loading.json]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from bench_paths import BENCHMARKS_DIR, REPO  # noqa: E402  (this folder is on sys.path)
sys.path.insert(0, str(REPO))

import torch  # noqa: E402

from harness.cli.entry import positive_int  # noqa: E402
from harness.results.provenance import provenance  # noqa: E402
from stvlm.configs import FewShotConfig  # noqa: E402
from stvlm.data.datasets import dataset_names, dataset_status, load_dataset  # noqa: E402
from stvlm.data.pipeline import prepare_forecast  # noqa: E402
from stvlm.data.protocols import resolve_protocol  # noqa: E402
from stvlm.data.root import resolve_data_root  # noqa: E402
from stvlm.errors import DataError  # noqa: E402
from stvlm.io import atomic_write_json  # noqa: E402


def bench_one(name: str, root: Path, batch_size: int, passes: int, device: str) -> dict:
    t0 = time.perf_counter()
    data = load_dataset(name, root, verify="sha256")
    t_load = time.perf_counter() - t0
    t0 = time.perf_counter()
    load_dataset(name, root, verify="none")
    t_load_noverify = time.perf_counter() - t0
    t0 = time.perf_counter()
    protocol = resolve_protocol("standard", data.info, data.num_steps, test_target_start=data.test_target_start)
    forecast = prepare_forecast(data, protocol, FewShotConfig())
    t_prepare = time.perf_counter() - t0
    t0 = time.perf_counter()
    first = next(iter(forecast.batches("train", batch_size, shuffle=True, seed=0, device=device)))
    t_first = time.perf_counter() - t0
    for _ in forecast.batches("train", batch_size, shuffle=True, seed=-1, device=device):
        pass  # one warm-up pass: allocator and index caches, as in every epoch after the first
    windows = 0
    t0 = time.perf_counter()
    for p in range(passes):
        for batch in forecast.batches("train", batch_size, shuffle=True, seed=p, device=device):
            windows += len(batch)
    elapsed = time.perf_counter() - t0
    return {
        "dataset": name,
        "steps": data.num_steps,
        "nodes": data.num_nodes,
        "train_windows": forecast.num_windows("train"),
        "batch_shape": list(first.x.shape),
        "load_verify_s": t_load,
        "load_s": t_load_noverify,
        "prepare_s": t_prepare,
        "first_batch_s": t_first,
        "windows_per_s": windows / elapsed if elapsed > 0 else float("inf"),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-root", default=None)
    parser.add_argument("--batch-size", type=positive_int, default=64)
    parser.add_argument("--passes", type=positive_int, default=3)
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    parser.add_argument("--threads", type=positive_int, default=1, help="torch threads (recorded)")
    parser.add_argument("--json", default=str(BENCHMARKS_DIR / "data_loading.json"))
    args = parser.parse_args()
    if args.device == "cuda" and not torch.cuda.is_available():
        parser.error("--device cuda: no CUDA device is available")
    try:
        root = resolve_data_root(args.data_root)
    except DataError as err:
        parser.error(str(err))
    torch.set_num_threads(args.threads)
    rows = [
        bench_one(name, root, args.batch_size, args.passes, args.device)
        for name in dataset_names(root)
        if dataset_status(name, root) == "present"
    ]
    header = f"{'dataset':14} {'T':>6} {'N':>5} {'train win':>9} {'load+sha':>9} {'load':>7} {'prepare':>8} {'1st batch':>9} {'windows/s':>11}"
    print(header)
    for r in rows:
        print(
            f"{r['dataset']:14} {r['steps']:>6} {r['nodes']:>5} {r['train_windows']:>9} "
            f"{r['load_verify_s']:>8.3f}s {r['load_s']:>6.3f}s {r['prepare_s']:>7.3f}s "
            f"{r['first_batch_s'] * 1000:>7.2f}ms {r['windows_per_s']:>11.0f}"
        )
    # provenance() names the machine's device (a GPU where there is one); "device" is where the
    # batches went (--device), so it is written after it
    out = atomic_write_json(args.json, {"rows": rows, "batch_size": args.batch_size, "threads": args.threads,
                                        **provenance(),
                                        "device": args.device})
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
