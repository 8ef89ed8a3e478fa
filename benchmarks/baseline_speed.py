"""How long a full-data baseline fit takes through ``stvlm evaluate`` on a few-hundred-node dataset.

Writes a synthetic bring-your-own dataset (:mod:`stvlm.data.synthetic`: hourly road speeds with
coordinates and a k-NN graph) of ``--nodes`` nodes, long enough for about ``--windows`` training
windows with their weekly lookback, then runs the real command line, one process per model,

    stvlm evaluate --dataset <synthetic> --model <name> --data-root <tmp> --json <tmp>/<name>.json

and records its wall time (the median of ``--repeats`` fits, each listed), the epochs it ran and
the test MAE. Target (issue 13 item 4): a gru
or stid fit on 500 windows x 700 nodes in under 2 minutes on 2 idle cores.

    python benchmarks/baseline_speed.py [--nodes 700] [--windows 500] [--models stid gru] [--repeats 3]

Writes ``results/benchmarks/baseline_speed.json``.
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

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from harness.results.provenance import provenance  # noqa: E402
from stvlm.configs import DataConfig  # noqa: E402
from stvlm.data.pipeline import prepare  # noqa: E402
from stvlm.data.synthetic import SyntheticConfig, write_synthetic  # noqa: E402
from stvlm.io import atomic_write_json  # noqa: E402

# standard protocol on hourly data: 12 in + 12 out, weekly lookback (168 steps), 6:2:2 split
_STEPS_PER_DAY, _LOOKBACK, _SPAN = 24, 168, 24


def days_for(windows: int) -> int:
    """Days whose training part (60%) holds ``windows`` windows after the weekly lookback."""
    return math.ceil((windows + _LOOKBACK + _SPAN) / 0.6 / _STEPS_PER_DAY)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--nodes", type=int, default=700)
    parser.add_argument("--windows", type=int, default=500)
    parser.add_argument("--models", nargs="+", default=["stid", "gru"])
    parser.add_argument("--repeats", type=int, default=1, help="fits per model; wall_s is their median")
    parser.add_argument("--out", type=Path, default=REPO / "results/benchmarks/baseline_speed.json")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        cfg = SyntheticConfig(nodes=args.nodes, days=days_for(args.windows), name="speed")
        write_synthetic(tmp, cfg)
        forecast = prepare(DataConfig(dataset="speed", data_root=tmp))
        facts = {"nodes": args.nodes, "days": cfg.days, "train_windows": forecast.num_windows("train"),
                 "val_windows": forecast.num_windows("val"), "test_windows": forecast.num_windows("test")}
        print(f"synthetic: {facts}", flush=True)
        for model in args.models:
            walls = []
            for _ in range(args.repeats):
                out = Path(tmp) / f"{model}.json"
                cmd = [str(Path(sys.executable).parent / "stvlm"), "evaluate", "--dataset", "speed", "--model", model,
                       "--data-root", tmp, "--json", str(out)]
                t0 = time.perf_counter()
                subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
                walls.append(time.perf_counter() - t0)
                print(f"{model}: {walls[-1]:.1f} s wall", flush=True)
            record = json.loads(out.read_text())  # the same seed every time: the same fit
            fit = record.get("fit", {})
            rows.append({"model": model, "wall_s": statistics.median(walls), "walls_s": walls,
                         "epochs_run": fit.get("epochs_run"), "best_epoch": fit.get("best_epoch"),
                         "train_seconds": fit.get("train_seconds"), "test_mae": record["metrics"]["test"]["mae"]})
            print(f"{model}: median {rows[-1]['wall_s']:.1f} s wall of {len(walls)}, "
                  f"{rows[-1]['epochs_run']} epochs", flush=True)
    env = " ".join(f"{k}={os.environ[k]}" for k in ("OMP_NUM_THREADS",) if k in os.environ)
    command = " ".join(["python benchmarks/baseline_speed.py", *sys.argv[1:]])
    atomic_write_json(args.out, {**provenance(), "command": f"{env} {command}".strip(), "data": facts,
                                 "cpu_count": os.cpu_count(), "rows": rows})
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
