"""How long a full-data baseline fit takes through ``stvlm evaluate`` on a few-hundred-node dataset.

Writes a synthetic bring-your-own dataset (:mod:`stvlm.data.synthetic`: hourly road speeds with
coordinates and a k-NN graph) of ``--nodes`` nodes, long enough for about ``--windows`` training
windows with their weekly lookback, then runs the real command line, one process per model,

    stvlm evaluate --dataset <synthetic> --model <name> --data-root <tmp> --json <tmp>/<name>.json

and records its wall time (the median of ``--repeats`` fits, each listed), the epochs it ran and
the test MAE. ``--against COMMIT`` times the code of an older commit too, each of its fits
interleaved with the checkout's, so that the ratio of the two medians is measured under the
same machine state. Target (issue 13 item 4): a gru
or stid fit on 500 windows x 700 nodes in under 2 minutes on 2 idle cores.

    python benchmarks/baseline_speed.py [--nodes 700] [--windows 500] [--models stid gru] [--repeats 3] [--against COMMIT]
    python benchmarks/baseline_speed.py --profile 8   # where one epoch's time goes (baseline_profile.json)

Writes ``results/benchmarks/baseline_speed.json``: one row per model, each with the commit and
command it was measured with; the rows of models not timed this time stay as they were.
``--profile TOP`` writes ``results/benchmarks/baseline_profile.json`` instead: one epoch of each
model under ``torch.profiler`` and its TOP operators.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench_paths import BENCHMARKS_DIR, REPO  # noqa: E402  (this folder is on sys.path)
sys.path.insert(0, str(REPO))

from harness.cli.entry import positive_int  # noqa: E402
from harness.results.provenance import provenance  # noqa: E402
from stvlm.baselines import BASELINES, build_baseline  # noqa: E402
from stvlm.configs import DataConfig, TrainConfig  # noqa: E402
from stvlm.data.forecast import Forecast  # noqa: E402
from stvlm.data.pipeline import prepare  # noqa: E402
from stvlm.data.synthetic import SyntheticConfig, write_synthetic  # noqa: E402
from stvlm.io import atomic_write_json  # noqa: E402

# standard protocol on hourly data: 12 in + 12 out, weekly lookback (168 steps), 6:2:2 split
_STEPS_PER_DAY, _LOOKBACK, _SPAN = 24, 168, 24


def days_for(windows: int) -> int:
    """Days whose training part (60%) holds ``windows`` windows after the weekly lookback."""
    return math.ceil((windows + _LOOKBACK + _SPAN) / 0.6 / _STEPS_PER_DAY)


def fit(model: str, data_root: str, code: str, out: Path) -> float:
    """Wall seconds of ``stvlm evaluate`` of ``model`` run with the code at ``code``."""
    cmd = [sys.executable, "-c", "import sys; from harness.cli.main import main; sys.exit(main())",
           "evaluate", "--dataset", "speed", "--model", model, "--data-root", data_root, "--json", str(out)]
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, cwd=data_root, env={**os.environ, "PYTHONPATH": code})
    return time.perf_counter() - t0


def time_model(model: str, data_root: str, codes: dict[str, str], repeats: int) -> dict:
    """``repeats`` fits of ``model`` with each code, interleaved; the checkout's row, with the
    other code's walls and the ratio of medians when there is one."""
    walls: dict[str, list[float]] = {name: [] for name in codes}
    records = {}
    for _ in range(repeats):
        for i, (name, code) in enumerate(codes.items()):
            out = Path(data_root) / f"{model}-{i}.json"
            walls[name].append(fit(model, data_root, code, out))
            records[name] = json.loads(out.read_text())  # the same seed every time: the same fit
            print(f"{model} ({name}): {walls[name][-1]:.1f} s wall", flush=True)
    row = {}
    for name, record in records.items():
        run = record.get("fit", {})
        row[name] = {"wall_s": statistics.median(walls[name]), "walls_s": walls[name],
                     "epochs_run": run.get("epochs_run"), "best_epoch": run.get("best_epoch"),
                     "train_seconds": run.get("train_seconds"), "test_mae": record["metrics"]["test"]["mae"]}
    out = {"model": model, **row.pop("checkout")}
    for name, other in row.items():
        out["against"] = {"commit": name, **other}
        out["ratio_to_against"] = out["wall_s"] / other["wall_s"]
    print(f"{model}: median {out['wall_s']:.1f} s wall of {repeats}"
          + (f", {out['ratio_to_against']:.3f}x the code at {out['against']['commit']}" if "against" in out else ""),
          flush=True)
    return out


def profile_epoch(model: str, forecast: Forecast, top: int) -> dict:
    """One training epoch and its validation pass of ``model`` in this process under
    ``torch.profiler`` (torch's default threads, as ``stvlm evaluate``): the wall seconds and the
    ``top`` operators by their own CPU time, with their share of the profiled CPU time."""
    from torch.profiler import ProfilerActivity, profile

    baseline = build_baseline(model)
    t0 = time.perf_counter()
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        fit = baseline.fit(forecast, TrainConfig(epochs=1))
    wall = time.perf_counter() - t0
    ops = sorted(prof.key_averages(), key=lambda e: e.self_cpu_time_total, reverse=True)
    total = sum(e.self_cpu_time_total for e in ops) or 1.0
    return {"model": model, "epoch_with_validation_s": wall, "train_s": fit.get("train_seconds"),
            "top_ops": [{"op": e.key, "self_s": e.self_cpu_time_total / 1e6, "calls": e.count,
                         "share": e.self_cpu_time_total / total} for e in ops[:top]]}


def kept_rows(path: Path, facts: dict, replaced: set[str]) -> list[dict]:
    """The rows of models not timed now from an earlier file on the same data, each with the
    commit and command it was measured with (a file's rows from before rows carried their own
    take the file's)."""
    if not path.is_file():
        return []
    old = json.loads(path.read_text())
    if old.get("data") != facts:
        return []
    return [{"git_commit": old.get("git_commit"), "command": old.get("command"), **row}
            for row in old.get("rows", []) if row["model"] not in replaced]


def command_line() -> str:
    """This run's command, with the thread setting it ran under."""
    env = " ".join(f"{k}={os.environ[k]}" for k in ("OMP_NUM_THREADS",) if k in os.environ)
    return f"{env} {' '.join(['python benchmarks/baseline_speed.py', *sys.argv[1:]])}".strip()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--nodes", type=positive_int, default=700)
    parser.add_argument("--windows", type=positive_int, default=500)
    parser.add_argument("--models", nargs="+", default=["stid", "gru"], choices=BASELINES.names())
    parser.add_argument("--repeats", type=positive_int, default=1, help="fits per model; wall_s is their median")
    parser.add_argument("--against", default=None, metavar="COMMIT",
                        help="also time the code at COMMIT (a git worktree), each fit interleaved with the "
                        "checkout's, and record the ratio of the medians")
    parser.add_argument("--profile", type=int, default=0, metavar="TOP",
                        help="instead of timing fits: profile one epoch (and its validation) of each model "
                        "in this process and record its TOP operators (writes --out, by default "
                        "results/benchmarks/baseline_profile.json)")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    args.out = args.out or BENCHMARKS_DIR / ("baseline_profile.json" if args.profile else "baseline_speed.json")
    made = {**provenance(), "command": command_line()}  # the code this run starts with
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        cfg = SyntheticConfig(nodes=args.nodes, days=days_for(args.windows), name="speed")
        write_synthetic(tmp, cfg)
        forecast = prepare(DataConfig(dataset="speed", data_root=tmp))
        facts = {"nodes": args.nodes, "days": cfg.days, "train_windows": forecast.num_windows("train"),
                 "val_windows": forecast.num_windows("val"), "test_windows": forecast.num_windows("test")}
        print(f"synthetic: {facts}", flush=True)
        if args.profile:
            rows = [profile_epoch(model, forecast, args.profile) for model in args.models]
            for row in rows:
                print(f"{row['model']}: {row['epoch_with_validation_s']:.1f} s; "
                      + ", ".join(f"{o['op']} {100 * o['share']:.0f}%" for o in row["top_ops"]), flush=True)
            atomic_write_json(args.out, {**made, "data": facts, "cpu_count": os.cpu_count(), "rows": rows})
            print(f"wrote {args.out}")
            return 0
        codes = {"checkout": str(REPO)}
        if args.against:  # the older code, checked out beside this one, run interleaved with it
            codes[args.against] = str(Path(tmp) / "against")
            subprocess.run(["git", "-C", str(REPO), "worktree", "add", "--detach", codes[args.against],
                            args.against], check=True, capture_output=True)
        try:
            for model in args.models:
                rows.append(time_model(model, tmp, codes, args.repeats))
        finally:
            if args.against:
                subprocess.run(["git", "-C", str(REPO), "worktree", "remove", "--force", codes[args.against]],
                               check=True, capture_output=True)
    rows = [{**row, "git_commit": made["git_commit"], "command": made["command"]} for row in rows]
    atomic_write_json(args.out, {**made, "data": facts, "cpu_count": os.cpu_count(),
                                 "rows": kept_rows(args.out, facts, {r["model"] for r in rows}) + rows})
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
