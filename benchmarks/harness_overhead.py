"""What the Ray harness costs on top of training, and what ASHA saves.

For N short ST-VLM trials (tiny ViLT on NYCBike drop-off, real data) it measures

* **plain**: the trials run one after the other in this process (``harness.runtime.trial_metrics.train_stvlm``,
  no Ray): the in-trial time every other row is compared with;
* **tune**: the same trials as a Tune study (one trial at a time, per-epoch checkpoints), and
  **tune x2**: two trials at a time;
* **train**: trials that each run a 2-worker DDP ``TorchTrainer`` (gloo on CPU), then
  ``--floor-runs`` runs of a ``TorchTrainer`` whose two workers only report once: Ray Train's own
  cost of a run on this machine, the floor under the Train trials' overhead;

reporting the study's wall time, the summed in-trial training time (epochs only) and wall time
(data, model build, training, test) from ``trials.parquet``, and the overhead per trial. Then
**asha vs fifo**: the same Optuna search (random sampler, same seed, so both studies try the
same settings; 27 trials of 16 epochs by default) once with ASHA (grace period 2, reduction
factor 3) and once with every trial run to its end: the epochs ASHA saved, and whether its best
trial is the same configuration as the full search's.

    STVLM_DATA=../shared/data python benchmarks/harness_overhead.py [--trials 4] [--epochs 4] [--asha-trials 27] [--asha-epochs 16]
    STVLM_DATA=../shared/data python benchmarks/harness_overhead.py --train-only --out results/benchmarks/train_trial_overhead.json
    STVLM_DATA=../shared/data python benchmarks/harness_overhead.py --long-epochs 90 --out results/benchmarks/long_trials_overhead.json

Columns, per trial: *in-trial* (the trial function's wall time), *training* (its epochs),
*setup+eval* (in-trial minus training: data, model build, test evaluation; split below each row
into the trial's own setup and scoring, from its report, and Ray's share inside the trial) and *outside*
(wall time x concurrency minus in-trial time: process start, Ray scheduling, reporting,
checkpoint and result handling). Prints a table and writes
``results/benchmarks/harness_overhead.json``. One local Ray instance
(127.0.0.1, dashboard on) serves every study; its start-up time is reported separately.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from bench_paths import BENCHMARKS_DIR, REPO  # noqa: E402  (this folder is on sys.path)
sys.path.insert(0, str(REPO))

import polars as pl  # noqa: E402

from harness.results.provenance import provenance  # noqa: E402
from stvlm.io import atomic_write_json  # noqa: E402
from harness.runtime.progress import quiet_ray  # noqa: E402
from harness.results.files import TRIALS_FILE  # noqa: E402
from harness.runtime.runner import StudyOptions, run_study  # noqa: E402
from harness.runtime.train_driver import empty_train_seconds  # noqa: E402
from harness.study.spec import StudySpec  # noqa: E402


def spec(name: str, args: argparse.Namespace, **overrides: object) -> StudySpec:
    base = {
        "name": name, "dataset": "nycbike-drop", "preset": "tiny", "seeds": [0], "num_samples": args.trials,
        "max_failures": 0, "search_seed": 1,
        "fixed": {"train.epochs": args.epochs, "train.max_batches_per_epoch": 2, "train.batch_size": 8,
                  "train.patience": args.epochs, "data.few_shot.ratio": 0.1},
        "nuisance": {"train.lr": {"distribution": "loguniform", "low": 1e-5, "high": 3e-2}},
        "scheduler": {"name": "fifo"},
        "resources": {"max_concurrent_trials": 1},
    }
    base.update(overrides)
    return StudySpec.from_dict(base)


def plain(args: argparse.Namespace, data_root: str) -> dict:
    """The same N trials in this process, no Ray."""
    import torch

    from harness.study.arms import build_arms
    from harness.study.plan import StudyPlan
    from harness.runtime.trial_metrics import train_stvlm
    from harness.runtime.search import StudySearcher
    from stvlm.configs import ExperimentConfig

    torch.set_num_threads(1)
    s = spec("plain", args)
    searcher = StudySearcher(StudyPlan(s, build_arms(s, data_root), data_root))
    t0, in_trial, train, setup, scoring = time.perf_counter(), 0.0, 0.0, 0.0, 0.0
    for i in range(args.trials):
        cfg = ExperimentConfig.from_dict(searcher.suggest(f"p{i}")["experiment"])
        t1 = time.perf_counter()
        final = train_stvlm(cfg, lambda m, st: None)
        in_trial += time.perf_counter() - t1
        train += final["train_seconds"]
        setup += final["setup_seconds"]
        scoring += final["eval_seconds"]
    return {"trials": args.trials, "concurrent": 1, "wall_s": time.perf_counter() - t0,
            "in_trial_s": in_trial, "train_s": train, "setup_s": setup, "eval_s": scoring}


def study(s: StudySpec, out: Path, data_root: str) -> dict:
    """Run a study on the connected Ray instance and sum its trials' times."""
    t0 = time.perf_counter()
    outcome = run_study(s, StudyOptions(storage=str(out / "ray"), results_dir=str(out / "results"),
                                        data_root=data_root, verbose=0))
    wall = time.perf_counter() - t0
    rows = pl.read_parquet(outcome.results / TRIALS_FILE)
    return {
        "trials": rows.height, "concurrent": s.resources.max_concurrent_trials or 1, "wall_s": wall,
        "in_trial_s": float(rows["wall_seconds"].sum()),
        "train_s": float(rows["train_seconds"].sum()), "epochs": int(rows["epochs_run"].sum()),
        "setup_s": float(rows["setup_seconds"].sum()), "eval_s": float(rows["eval_seconds"].sum()),
        "best_val_mae": float(rows["val_mae"].min()), "statuses": dict(rows["status"].value_counts().rows()),
        "best_params": rows.sort("val_mae")["params_json"][0],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=4)
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--asha-trials", type=int, default=27)
    parser.add_argument("--asha-epochs", type=int, default=16,
                        help="epochs of each search trial")
    parser.add_argument("--asha-grace", type=int, default=2, help="ASHA's grace period (epochs); reduction factor 3")
    parser.add_argument("--search-only", action="store_true", help="only the ASHA vs FIFO comparison")
    parser.add_argument("--train-only", action="store_true",
                        help="only the plain loop and the 2-worker Train trials (no Tune rows, no search)")
    parser.add_argument("--floor-runs", type=int, default=3,
                        help="after the Train trials: runs of an empty 2-worker TorchTrainer (Ray Train's own cost)")
    parser.add_argument("--long-epochs", type=int, default=0,
                        help="instead of everything else: one study of --trials trials of this many "
                        "epochs, two at a time (trials of a minute or more: the study-wall target)")
    parser.add_argument("--data-root", default=os.environ.get("STVLM_DATA", str(REPO.parent / "shared/data")))
    parser.add_argument("--out", type=Path, default=BENCHMARKS_DIR / "harness_overhead.json")
    args = parser.parse_args()
    data_root = str(Path(args.data_root).resolve())
    quiet_ray()
    from harness.runtime.cluster import connect

    long_only = args.long_epochs > 0
    floor: list[float] = []
    runs: dict[str, dict] = {} if args.search_only or long_only else {"plain": plain(args, data_root)}
    t0 = time.perf_counter()
    cluster = connect(num_cpus=os.cpu_count())  # the local instance a study script starts
    ray_start = time.perf_counter() - t0
    try:
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp)
            if long_only:
                long = argparse.Namespace(**{**vars(args), "epochs": args.long_epochs})
                runs["tune long x2"] = study(spec("long", long, resources={"max_concurrent_trials": 2}), out, data_root)
            elif not (args.search_only or args.train_only):
                runs["tune"] = study(spec("tune", args), out, data_root)
                runs["tune x2"] = study(spec("tune2", args, resources={"max_concurrent_trials": 2}), out, data_root)
            if not (args.search_only or long_only):
                train_spec = spec("train", args, num_samples=max(1, args.trials // 2), resources={"num_workers": 2})
                runs["train (2 workers)"] = study(train_spec, out, data_root)
                floor = [empty_train_seconds(2, str(out / "empty"), train_spec.resources.train_poll_s)
                         for _ in range(args.floor_runs)]
            if not (args.train_only or long_only):
                search = argparse.Namespace(**{**vars(args), "epochs": args.asha_epochs})
                asha = {"num_samples": args.asha_trials, "sampler": "random", "scheduler": {
                    "name": "asha", "grace_period": args.asha_grace, "reduction_factor": 3},
                    "resources": {"max_concurrent_trials": 2}}
                runs["fifo (search)"] = study(spec("fifo", search, **{**asha, "scheduler": {"name": "fifo"}}), out, data_root)
                runs["asha (search)"] = study(spec("asha", search, **asha), out, data_root)
    finally:
        cluster.shutdown()

    report(runs, ray_start, args, floor)


def report(runs: dict[str, dict], ray_start: float, args: argparse.Namespace, floor: list[float]) -> None:
    """Print the per-trial table (and ASHA's savings when the search ran) and write the JSON."""
    epochs = args.long_epochs if args.long_epochs > 0 else args.epochs  # what each trial ran
    print(f"Ray start-up (local, dashboard): {ray_start:.1f} s; {epochs} epochs of 2 batches per trial\n")
    print(f"{'run':<19}{'trials':>7}{'conc':>5}{'wall s':>8}{'in-trial':>10}{'training':>10}"
          f"{'setup+eval':>12}{'outside':>9}   (seconds per trial)")
    for name, r in runs.items():
        n, conc = r["trials"], r["concurrent"]
        r["in_trial_per_trial_s"] = r["in_trial_s"] / n
        r["train_per_trial_s"] = r["train_s"] / n
        r["setup_eval_per_trial_s"] = (r["in_trial_s"] - r["train_s"]) / n  # data, model, test
        r["outside_per_trial_s"] = max(0.0, r["wall_s"] * conc - r["in_trial_s"]) / n  # Ray, scheduling
        r["wall_over_compute"] = r["wall_s"] * conc / r["in_trial_s"]  # 1.0: nothing outside the trials
        # the trial's own setup (data, model) and scoring (start, test); the rest of setup+eval
        # is Ray's inside the trial (Train: controller and worker start-up, shut-down)
        r["setup_per_trial_s"], r["eval_per_trial_s"] = r["setup_s"] / n, r["eval_s"] / n
        r["ray_in_trial_per_trial_s"] = r["setup_eval_per_trial_s"] - r["setup_per_trial_s"] - r["eval_per_trial_s"]
        print(f"{name:<19}{n:>7}{conc:>5}{r['wall_s']:>8.1f}{r['in_trial_per_trial_s']:>10.1f}"
              f"{r['train_per_trial_s']:>10.1f}{r['setup_eval_per_trial_s']:>12.1f}{r['outside_per_trial_s']:>9.1f}"
              f"   wall x conc / in-trial {r['wall_over_compute']:.3f}")
        print(f"{'':<19}setup+eval = setup {r['setup_per_trial_s']:.1f} + scoring {r['eval_per_trial_s']:.1f}"
              f" + Ray in the trial {r['ray_in_trial_per_trial_s']:.1f}")
    record = {**provenance(), "command": " ".join(["python benchmarks/harness_overhead.py", *sys.argv[1:]]),
              "ray_start_s": ray_start, "epochs": epochs, "runs": runs}
    if floor:
        median = statistics.median(floor)
        print(f"\nRay Train's floor: a 2-worker TorchTrainer run whose workers only report takes "
              f"{median:.1f} s (median of {', '.join(f'{s:.1f}' for s in floor)})")
        record.update({"train_floor_s": floor, "train_floor_median_s": median})
    if "asha (search)" in runs:
        fifo, asha_run = runs["fifo (search)"], runs["asha (search)"]
        saved = fifo["epochs"] - asha_run["epochs"]
        same_best = asha_run["best_params"] == fifo["best_params"]
        print(f"\nASHA: {asha_run['epochs']} epochs vs {fifo['epochs']} run to the end ({saved} saved, "
              f"{100 * saved / fifo['epochs']:.0f}%); best val_mae {asha_run['best_val_mae']:.4f} vs {fifo['best_val_mae']:.4f}, "
              f"same best configuration: {same_best}; statuses {asha_run['statuses']}")
        record.update({"asha_grace": args.asha_grace, "asha_epochs": args.asha_epochs,
                       "asha_epochs_saved": saved, "asha_epochs_saved_share": saved / fifo["epochs"],
                       "asha_same_best": same_best})
    args.out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_json(args.out, record)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
