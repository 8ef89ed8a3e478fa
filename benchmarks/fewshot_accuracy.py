"""Few-shot accuracy: ST-VLM against every baseline, with paired day-block bootstrap intervals.

For each dataset and few-shot setting (``10%``: 10% of the training part's windows; ``st-llm-10%``:
the named budget that matches ST-LLM's 10%, 261 windows on nycbike-drop; ``full``: every training
window), protocol ``standard`` with its periodic lookback (the same time of day 1 and 7 days
before every input and target step, where the series has it). One ForecastData per setting is
shared by every model: same windows, scaler, lookback and metric code. Training windows start
where the lookback is available; the budget counts training target windows.

Every model is scored on the test windows: the literature's metrics (masked where true > 0) and
the same errors on every observed entry (``*_all``), plus the forecast bias. Seeded models run
once per seed (mean +- sample std). Against each baseline, ST-VLM's MAE difference gets a paired
95% interval from a day-block bootstrap of the test windows (blocks = 24 hours by the first target
step, counted from the series' first step, not from midnight; seeded models enter with their per-window errors averaged over seeds), so neighbouring,
overlapping windows do not count as independent evidence.

Settings of ST-VLM and the neural baselines are fixed in this file (``STVLM_MODEL``,
``TRAIN``); nothing here reads a test metric to choose anything. Early stopping and the best epoch
use validation MAE only.

    python benchmarks/fewshot_accuracy.py [--datasets nycbike-drop] [--settings st-llm-10% 10%]
        [--seeds 0 1 2] [--epochs N] [--out-dir results/fewshot_accuracy]

Without ``--epochs`` each model trains at its own cap on each pair (40 unless the epoch-cap check
raised it on validation: ``EPOCH_CAPS`` in ``stvlm/configs/pair_choices.py``), as the table's
runs did, so one command re-runs any row as it stands.

Writes ``fewshot_accuracy.json`` and ``README.md`` under ``--out-dir`` (results of earlier runs
of other (dataset, setting) pairs in the JSON are kept, so a table can be built in several runs).
The settings, ST-VLM's config and the budget live in ``fewshot_setup.py``; the pages are
rendered by ``fewshot_pages.py``.
"""

from __future__ import annotations

import argparse
import datetime
import json
import logging
import os
import shlex
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from bench_paths import ACCURACY_DIR, REPO  # noqa: E402  (this folder is on sys.path)
sys.path.insert(0, str(REPO))

import torch  # noqa: E402

from harness.results.provenance import cpu_description, device_name, provenance  # noqa: E402
from stvlm.baselines import BASELINES, Baseline, build_baseline  # noqa: E402
from stvlm.bootstrap import window_abs_errors, window_blocks  # noqa: E402
from stvlm.configs import DataConfig, ExperimentConfig, STVLMConfig, TrainConfig  # noqa: E402
from stvlm.configs.pair_choices import epoch_cap  # noqa: E402
from stvlm.data.forecast import Forecast  # noqa: E402
from stvlm.data.pipeline import prepare  # noqa: E402
from stvlm.engine import Engine  # noqa: E402
from stvlm.experiment import prepare_run  # noqa: E402
from stvlm.io import atomic_write_json  # noqa: E402
from stvlm.metrics import evaluate_forecast, mask_for, observed_mask  # noqa: E402

from fewshot_merge import (  # noqa: E402
    errors_path, load_errors, merge_pair, pair_intervals, run_epochs, save_errors, seed_key, source_command,
)
from fewshot_pages import ablation_page, interval_lines, readme, table_lines  # noqa: E402
from fewshot_provenance import unrecorded_machine  # noqa: E402
from run_state import RunState, clear_pair, pair_folder  # noqa: E402
from fewshot_setup import (  # noqa: E402  (loss_masks.py reads SETTINGS and TRAIN as fa.*)
    METRICS, SETTINGS, STVLM_MODEL, STVLM_TRAIN, TRAIN, UNTRAINED, VARIANTS, check_data_root,
    baseline_options, data_config, in_pair_order, neural, ran_with, train_settings, variant_config,
)

log = logging.getLogger("fewshot_accuracy")


def machine() -> str:
    """This process's machine, as the table's ``meta.machine`` records its last writer: CPU cores
    and model, and the GPU, if any (``provenance``'s device name). The page's machine line is
    built from each run's own record (``fewshot_provenance.machine_line``)."""
    gpu = f"GPU {device_name()}" if torch.cuda.is_available() else "no GPU"
    return f"{os.cpu_count()}-core CPU ({cpu_description() or 'unknown'}), {gpu}"


def experiment(data: DataConfig, model: str, train: TrainConfig) -> ExperimentConfig:
    """The run of ``model`` (an ST-VLM variant or a baseline) as the harness's trials run it."""
    variant = model if model in VARIANTS else "st-vlm"
    return ExperimentConfig(name=f"fewshot-accuracy {model}", data=data, model=variant_config(variant), train=train)


def run_model(
    forecast: Forecast, model: str, cfg: ExperimentConfig, state: RunState | None = None,
    baseline: Baseline | None = None,
) -> dict[str, Any]:
    """Fit one model on the shared ``forecast`` of ``cfg.data`` (a baseline: ``baseline``, built
    with its options, else ``build_baseline(model)``); its val metrics, test prediction and
    budget. ST-VLM is prepared by :func:`stvlm.experiment.prepare_run` (seeded, names checked),
    as every study trial is. With ``state`` a trained run continues from its saved engine state
    and saves it after every epoch (``--state-dir``)."""
    if baseline is not None and baseline.name != model:
        raise ValueError(f"run_model: baseline {baseline.name!r} given for model {model!r}")
    t0 = time.perf_counter()
    train = cfg.train
    resume = {"callbacks": [state.save], "resume": state.resume()} if state is not None else {}
    if model in VARIANTS:
        _, module = prepare_run(cfg, forecast)
        engine = Engine(module, forecast, train)
        fit = engine.fit(**resume) if model not in UNTRAINED else None
        val, pred = engine.evaluate("val"), engine.predict("test")
        info = {"best_epoch": fit.best_epoch if fit else 0, "epochs_run": fit.epochs_run if fit else 0,
                "optimizer_steps": fit.history[-1].optimizer_steps if fit and fit.history else 0,
                "parameters": sum(p.numel() for p in module.parameters() if p.requires_grad)}
    else:
        baseline = baseline if baseline is not None else build_baseline(model)
        fit_info = baseline.fit(forecast, train, **(resume if neural(model) else {}))
        val = evaluate_forecast(baseline.predict(forecast, "val"), forecast.targets("val"), forecast.protocol)
        pred = baseline.predict(forecast, "test")
        info = {"best_epoch": fit_info.get("best_epoch"), "epochs_run": fit_info.get("epochs_run"),
                "optimizer_steps": None, "parameters": fit_info.get("parameters", 0)}
    test = evaluate_forecast(pred, forecast.targets("test"), forecast.protocol)
    seconds = time.perf_counter() - t0
    if state is not None and state.resumed_from is not None:
        info["resumed_from"] = state.resumed_from
        seconds += state.resumed_from["seconds"]  # the epochs trained before the interruption
    return {"val": val, "test": test, "pred": pred, "seconds": seconds, **info}


def evaluate_setting(dataset: str, setting: str, args: argparse.Namespace) -> dict[str, Any]:
    """Every model on one (dataset, few-shot setting): rows, paired intervals, split facts.

    With ``args.ablation`` the models are the ST-VLM variants and each interval is
    ``MAE(st-vlm) - MAE(variant)`` (negative: the full model is better).
    """
    data = data_config(dataset, setting, args.data_root)
    forecast = prepare(data)
    true = forecast.targets("test")
    observed = observed_mask(true, forecast.protocol.missing_value)
    masks = {"mae": (mask_for(true, forecast.protocol.mask) & observed).numpy(),  # as the metric scores
             "mae_all": observed.numpy()}
    starts = forecast.splits.test
    blocks, block_rule = window_blocks(starts + forecast.input_len, forecast.data.info.steps_per_day,
                                       forecast.input_len + forecast.output_len)  # [W] block ids
    if args.ablation:
        models = list(VARIANTS)
    else:
        models = ["st-vlm", *(n for n in BASELINES.names() if n not in args.skip)]
    counts = {name: window_abs_errors(true, true, m)[1] for name, m in masks.items()}
    facts = forecast.describe()  # the data side every reused run must share
    reuse = args.reuse or args.reuse_baselines
    if args.only:  # every other model's committed runs, kept whole
        reusable = earlier_runs(args, dataset, setting, counts, blocks, facts, check_config=False)
        missing = sorted(m for m in models if m not in args.only and m not in reusable)
        if missing:
            raise SystemExit(f"--only: no committed runs of {', '.join(missing)} on the same test windows of "
                             f"{dataset} {setting} to keep; run them (or --skip them)")
    else:
        reusable = earlier_runs(args, dataset, setting, counts, blocks, facts) if reuse and not args.ablation else {}
    runs, sums, reused, seed_errors = [], {}, {}, {}
    committed = errors_path(Path(args.out_dir), dataset, setting)
    stored = load_errors(committed) if reusable and committed.is_file() else {}
    for model in models:
        seeded = model in VARIANTS or (neural(model) and model not in args.one_seed)
        seeds = args.seeds if seeded else args.seeds[:1]
        kept, kept_sums = reusable.get(model, ([], {})) if model not in args.only else ([], {})
        kept_seeds = [r["seed"] for r in kept]
        if args.only and model not in args.only:
            seeds = kept_seeds  # kept as committed: nothing added
        elif kept and (model in VARIANTS and not args.reuse or not set(kept_seeds) <= set(seeds)):
            kept, kept_seeds = [], []  # ST-VLM only under --reuse; never seeds that were not asked for
        if kept:
            reused[model] = kept[0]["git_commit"]
            runs += kept
            log.info("%s %s %s: seeds %s reused from commit %s", dataset, setting, model, kept_seeds, reused[model])
        per_seed = []
        if kept:  # the kept seeds' own errors, where the committed file has them
            seed_errors.update({key: stored[key] for seed in kept_seeds for name in masks
                                if (key := seed_key(model, name, seed)) in stored})
        for seed in (s for s in seeds if s not in kept_seeds):
            own = train_settings(model, (dataset, setting))
            options = baseline_options(model, (dataset, setting))
            # its cap on the pair (stvlm.configs.pair_choices.EPOCH_CAPS; an ablation variant has
            # ST-VLM's) unless --epochs names one for every model
            epochs = args.epochs or epoch_cap("st-vlm" if model in VARIANTS else model, dataset, setting)
            train = TrainConfig(epochs=epochs, seed=seed, num_threads=1, **own)
            cfg = experiment(data, model, train)
            baseline = build_baseline(model, options) if model not in VARIANTS else None
            key = cfg.config_hash() + (f"-{baseline.cfg.config_hash()}" if options else "")
            state = (RunState(pair_folder(args.state_dir, dataset, setting), model, seed, key,
                              args.git_commit) if args.state_dir else None)
            run = run_model(forecast, model, cfg, state, baseline)
            pred = run.pop("pred")
            per_seed.append({name: window_abs_errors(pred, true, m)[0] for name, m in masks.items()})
            seed_errors.update({seed_key(model, name, seed): e for name, e in per_seed[-1].items()})
            made_with = {"model_hash": cfg.model.config_hash()} if model in VARIANTS else {}
            runs.append({"dataset": dataset, "setting": setting, "model": model, "seed": seed,
                         "git_commit": args.git_commit, "device": args.device, "train": own,
                         **({"options": options} if options else {}),
                         **({"epochs": epochs} if run["epochs_run"] else {}), **made_with, **run})
            log.info("%s %s %s seed %d: val mae %.4f (%.0f s)", dataset, setting, model, seed,
                     run["val"]["mae"], run["seconds"])
        # The mean over seeds of per-window error sums: the kept seeds' mean counts len(kept) times.
        sums[model] = {name: (sum(s[name] for s in per_seed) + (len(kept) * kept_sums[name] if kept else 0))
                       / (len(kept) + len(per_seed)) for name in masks}
    intervals = pair_intervals(dataset, setting, models, sums, counts, blocks)
    split = {k: v for k, v in facts.items() if k not in ("scaler", "protocol_config")}
    split["bootstrap_block"] = block_rule
    if reused:
        split["reused"] = reused  # model -> the commit its runs came from
    errors = {f"{model}|{name}": sums[model][name] for model in models for name in masks}
    errors.update({f"count|{name}": counts[name] for name in masks} | {"blocks": blocks} | seed_errors)
    return {"runs": runs, "intervals": intervals, "split": split, "errors": errors}


def earlier_runs(
    args: argparse.Namespace, dataset: str, setting: str, counts: dict[str, np.ndarray], blocks: np.ndarray,
    forecast_facts: dict[str, Any], *, check_config: bool = True,
) -> dict[str, tuple[list[dict[str, Any]], dict[str, np.ndarray]]]:
    """``--reuse`` / ``--reuse-baselines``: the committed runs (each with the commit it ran at)
    and per-window error sums (means over their seeds) of every model of (dataset, setting),
    keyed by model, as ``(runs, sums)``; only when the committed error file was made on the same test windows (identical
    per-window entry counts under both masks and identical bootstrap blocks) from the same
    lookback lags and windows of every part (``forecast_facts``: the forecast's ``describe()``),
    and a model's only when its committed runs used the training settings this file runs now on
    the pair (:func:`fewshot_setup.ran_with`) and, a baseline's, its options there
    (:func:`fewshot_setup.baseline_options`; a run that records none ran with its defaults),
    ST-VLM's only with the ST-VLM config too (each
    run's ``model_hash``, or ``meta.stvlm_model`` for runs that predate it), else nothing. With
    ``check_config=False`` (``--only``) every model's runs are returned whatever config and
    settings they ran with: they are kept as they are, never added to."""
    out_dir = Path(args.out_dir)
    path = out_dir / "fewshot_accuracy.json"
    errors = errors_path(out_dir, dataset, setting)
    if not (path.is_file() and errors.is_file()):
        return {}
    stored = load_errors(errors)
    same = np.array_equal(stored.get("blocks"), blocks) and all(
        np.array_equal(stored.get(f"count|{m}"), c) for m, c in counts.items())
    if not same:
        log.warning("%s %s: the committed errors are not on the same test windows; nothing reused", dataset, setting)
        return {}
    old = json.loads(path.read_text())
    split = old["splits"].get(f"{dataset}|{setting}", {})
    made_on = {k: split.get(k) for k in ("lookback_lags", "parts")}
    if made_on != {k: forecast_facts[k] for k in made_on}:
        log.warning("%s %s: the committed runs were made with other lookback lags or training windows "
                    "(%s, now %s); nothing reused", dataset, setting, made_on["lookback_lags"],
                    forecast_facts["lookback_lags"])
        return {}
    # Runs from before runs carried their model config's hash: the file's (last writer's) config.
    file_model = STVLMConfig.from_dict(old["meta"]["stvlm_model"]).config_hash() == STVLM_MODEL.config_hash()
    found = {}
    for model in dict.fromkeys(r["model"] for r in old["runs"]):
        runs = [r for r in old["runs"] if (r["dataset"], r["setting"], r["model"]) == (dataset, setting, model)]
        if check_config and model in VARIANTS and not all(
                r["model_hash"] == variant_config(model).config_hash() if "model_hash" in r else file_model
                for r in runs):
            continue  # another ST-VLM config
        if check_config and any(ran_with(r) != train_settings(model, (dataset, setting))
                                or r.get("options", {}) != baseline_options(model, (dataset, setting)) for r in runs):
            continue  # trained with other settings or options (or, ST-VLM, before runs recorded theirs)
        # Runs from before runs carried their commit: the commit the split says they came from.
        origin = split.get("reused", {}).get(model) or split.get("git_commit") or "?"
        runs = [{**r, "git_commit": r.get("git_commit") or origin} for r in runs]
        if runs and all(f"{model}|{m}" in stored for m in counts):
            found[model] = (runs, {m: stored[f"{model}|{m}"] for m in counts})
    return found


def kept_merges(split: dict[str, Any], only: list[str]) -> list[dict[str, Any]]:
    """``--only``: the split's ``merged`` records (where merged runs came from) of the models kept
    as committed, i.e. every record with the runs of the ``only`` models (run again) left out."""
    kept = [{**m, "runs": {model: seeds for model, seeds in m["runs"].items() if model not in only}}
            for m in split.get("merged", [])]
    return [m for m in kept if m["runs"]]


def aggregate(runs: list[dict[str, Any]], default_epochs: int) -> list[dict[str, Any]]:
    """One row per (dataset, setting, model): test metrics mean/std over seeds, budget, time;
    ``epoch_cap`` is the runs' epoch cap (their ``epochs``; ``default_epochs`` for runs that
    predate the record), ``None`` for a model that does not train by epochs."""
    rows = []
    for key in dict.fromkeys((r["dataset"], r["setting"], r["model"]) for r in runs):
        group = [r for r in runs if (r["dataset"], r["setting"], r["model"]) == key]
        row: dict[str, Any] = dict(zip(("dataset", "setting", "model"), key))
        row["seeds"] = [r["seed"] for r in group]
        for m in METRICS:
            vals = [r["test"][m] for r in group]
            row[m], row[f"{m}_std"] = statistics.fmean(vals), statistics.stdev(vals) if len(vals) > 1 else 0.0
        row["val_mae"] = statistics.fmean(r["val"]["mae"] for r in group)
        row["best_epoch"] = "/".join(str(r["best_epoch"]) for r in group if r["best_epoch"] is not None)
        row["epochs_run"] = "/".join(str(r["epochs_run"]) for r in group if r["epochs_run"] is not None)
        row["best_is_last"] = sum(r["best_epoch"] is not None and r["best_epoch"] == r["epochs_run"] for r in group)
        caps = {run_epochs(r, default_epochs) for r in group if r["epochs_run"]}
        if len(caps) > 1:
            raise ValueError(f"{' '.join(key)}: runs with different epoch caps {sorted(caps)}")
        row["epoch_cap"] = caps.pop() if caps else None
        row["parameters"] = group[0]["parameters"] or 0
        row["seconds"] = statistics.fmean(r["seconds"] for r in group)
        rows.append(row)
    return rows


# -- output -----------------------------------------------------------------------------------



def merge_into(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    """``--merge``: the runs of other results folders added to the table of ``--out-dir``, pair by
    pair (:func:`fewshot_merge.merge_pair`); every check passes before anything is written."""
    if args.only or args.reuse or args.reuse_baselines or args.ablation:
        parser.error("--merge trains nothing: without --only, --reuse, --reuse-baselines or --ablation")
    out_dir = Path(args.out_dir)
    path, page = out_dir / "fewshot_accuracy.json", out_dir / "README.md"
    missing = [str(f) for f in [path, *(d / "fewshot_accuracy.json" for d in args.merge)] if not f.is_file()]
    if missing:
        parser.error(f"--merge: no such file: {', '.join(missing)}")
    result = json.loads(path.read_text())
    sources = {d: json.loads((d / "fewshot_accuracy.json").read_text()) for d in args.merge}
    written = []
    try:
        for dataset in args.datasets:
            for setting in args.settings:
                target = errors_path(out_dir, dataset, setting)
                theirs = [(str(d), src, errors_path(d, dataset, setting)) for d, src in sources.items()]
                absent = [str(f) for f in [target, *(f for _, _, f in theirs)] if not f.is_file()]
                if absent:
                    raise ValueError(f"no such file: {', '.join(absent)}")
                result, errors, added = merge_pair(result, load_errors(target),
                                                   [(n, src, load_errors(f)) for n, src, f in theirs], dataset, setting,
                                                   tuple(args.replace))
                written.append((target, errors))
                log.info("%s %s: added %s", dataset, setting, added)
    except (ValueError, KeyError) as err:
        parser.error(f"--merge: {err}")
    command = " ".join(["python benchmarks/fewshot_accuracy.py", *map(shlex.quote, sys.argv[1:])])
    added_by = [source_command(src) for src in sources.values()]
    in_pair_order(result)
    result["rows"] = aggregate(result["runs"], result["meta"]["epochs"])
    result["meta"] = {**result["meta"], "commands": list(dict.fromkeys(
        result["meta"].get("commands", []) + [c for c in added_by if c] + [command]))}
    result.update(provenance())
    for target, errors in written:
        save_errors(target, errors)
    atomic_write_json(path, result)
    page.write_text(readme(result))
    print(f"wrote {path} and {page}")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--datasets", nargs="+", default=["nycbike-drop"])
    parser.add_argument("--settings", nargs="+", default=["st-llm-10%", "10%"], choices=list(SETTINGS))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--epochs", type=int, default=None,
                        help="every model's epoch cap (default: each model's cap on each pair, "
                        "stvlm.configs.pair_choices.EPOCH_CAPS: 40 unless the epoch-cap check raised it)")
    parser.add_argument("--data-root", default=None)
    parser.add_argument("--skip", nargs="*", default=[], help="baselines not run (say why in the README)")
    parser.add_argument("--one-seed", nargs="*", default=[],
                        help="neural baselines run with the first seed only (CPU cost; say so)")
    parser.add_argument("--ablation", action="store_true",
                        help="ST-VLM modality ablation (writes modality_ablation.json / ABLATION.md)")
    parser.add_argument("--out-dir", default=str(ACCURACY_DIR))
    parser.add_argument("--reuse-baselines", action="store_true",
                        help="take each baseline's runs and per-window errors from the committed "
                        "results of the same (dataset, setting) when they were made on the same "
                        "test windows, running only the seeds they lack (ST-VLM is run again); "
                        "the page says which were reused")
    parser.add_argument("--reuse", action="store_true",
                        help="as --reuse-baselines, and ST-VLM's committed runs too when they used "
                        "the ST-VLM config and training settings of this file (for adding seeds)")
    parser.add_argument("--merge", nargs="+", type=Path, default=None, metavar="DIR",
                        help="train nothing: add the runs that these results folders (copies of "
                        "--out-dir where other seeds ran) made of each --datasets x --settings pair "
                        "and the table lacks, with their per-window errors; intervals recomputed "
                        "(benchmarks/fewshot_merge.py)")
    parser.add_argument("--replace", nargs="+", default=[], metavar="MODEL",
                        help="with --merge: drop the table's runs of these baselines in each pair and take the "
                        "folders' runs of them instead (a pair run with --only <model> in a copy)")
    parser.add_argument("--state-dir", type=Path, default=None,
                        help="save every trained run's engine state after each epoch in this folder, "
                        "and continue from it when the same command runs again (for runs longer than "
                        "a session; benchmarks/run_state.py); a pair's states are removed once its "
                        "results are written, so processes that run side by side each need their own")
    parser.add_argument("--only", nargs="+", default=[],
                        help="run only these models (all seeds) and keep every other model's committed "
                        "runs of the (dataset, setting) as they are, each with its own commit and "
                        "config: for re-running a model whose implementation changed")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    for noisy in ("stvlm", "transformers"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    # One line per trained epoch (validation metric, best so far): the progress of runs that take
    # minutes to hours per seed.
    logging.getLogger("stvlm.engine").setLevel(logging.INFO)
    torch.set_num_threads(1)
    unknown = sorted(set(args.skip + args.one_seed) - set(BASELINES.names()))
    if unknown:
        parser.error(f"unknown baseline {unknown[0]!r} in --skip/--one-seed; known: {', '.join(BASELINES.names())}")
    unknown = sorted(set(args.only) - set(BASELINES.names()) - {"st-vlm"})
    if unknown:
        parser.error(f"unknown model {unknown[0]!r} in --only; known: st-vlm, {', '.join(BASELINES.names())}")
    if args.only and (args.reuse or args.reuse_baselines or args.ablation):
        parser.error("--only keeps the other models' committed runs itself: without --reuse, "
                     "--reuse-baselines or --ablation")
    unknown = sorted(set(args.replace) - set(BASELINES.names()))
    if unknown:
        parser.error(f"unknown baseline {unknown[0]!r} in --replace; known: {', '.join(BASELINES.names())}")
    if args.replace and not args.merge:
        parser.error("--replace takes the runs of --merge's folders: without --merge it replaces nothing")
    if args.merge:
        return merge_into(args, parser)
    check_data_root(parser, args.data_root)
    out_dir = Path(args.out_dir)
    path = out_dir / ("modality_ablation.json" if args.ablation else "fewshot_accuracy.json")
    if args.only and not path.is_file():  # before any data is read or model trained
        parser.error(f"--only keeps the other models' runs from the table in --out-dir, and {out_dir} holds "
                     f"none: run it in a copy (cp -r results/fewshot_accuracy {shlex.quote(str(out_dir))})")
    out_dir.mkdir(parents=True, exist_ok=True)
    page = out_dir / ("ABLATION.md" if args.ablation else "README.md")
    command = " ".join(["python benchmarks/fewshot_accuracy.py", *map(shlex.quote, sys.argv[1:])])
    started = provenance()  # the code this process runs: taken before any result is written
    args.git_commit = started.get("git_commit")
    args.device = started.get("device")  # each trained run names it: CPUs round differently
    for dataset in args.datasets:
        for setting in args.settings:
            res = evaluate_setting(dataset, setting, args)
            # Per-window absolute-error sums (seed means) and counts: intervals can be recomputed.
            save_errors(errors_path(out_dir, dataset, setting, args.ablation), res.pop("errors"))
            # Re-read just before merging: another run may have added other (dataset, setting) pairs.
            empty = {"runs": [], "intervals": [], "splits": {}, "meta": {"commands": []}}
            old = json.loads(path.read_text()) if path.is_file() else empty
            key = lambda r: (r["dataset"], r["setting"])  # noqa: E731
            old["runs"] = [r for r in old["runs"] if key(r) != (dataset, setting)] + res["runs"]
            old["intervals"] = [i for i in old["intervals"] if key(i) != (dataset, setting)] + res["intervals"]
            merged = kept_merges(old["splits"].get(f"{dataset}|{setting}", {}), args.only) if args.only else []
            old["splits"][f"{dataset}|{setting}"] = {"dataset": dataset, **res["split"],
                                                     "git_commit": started.get("git_commit"),
                                                     "skipped": list(args.skip), "one_seed": list(args.one_seed),
                                                     **({"merged": merged} if merged else {})}
            in_pair_order(old)
            # meta.epochs: the cap of the runs that predate the per-run record (the first run's).
            first_cap = old["meta"].get("epochs", args.epochs or TrainConfig().epochs)
            old["rows"] = aggregate(old["runs"], first_cap)
            old["meta"] = {"date": datetime.date.today().isoformat(), "epochs": first_cap,
                           "machine": machine(),
                           # what the table said of its runs that predate per-run device records
                           **({"unrecorded_machine": unrecorded_machine(old)} if old["runs"] else {}),
                           "commands": list(dict.fromkeys(old["meta"].get("commands", []) + [command])),
                           "stvlm_model": STVLM_MODEL.to_dict(), "train": TRAIN,
                           "stvlm_train": STVLM_TRAIN, "pretrained": False,
                           "skipped": list(args.skip), "one_seed": list(args.one_seed)}
            old.update(started)
            atomic_write_json(path, old)
            page.write_text(ablation_page(old) if args.ablation else readme(old))
            clear_pair(args.state_dir, dataset, setting)
            print("\n".join(table_lines([r for r in old["rows"] if (r["dataset"], r["setting"]) == (dataset, setting)])))
            print("\n".join(interval_lines([i for i in old["intervals"] if (i["dataset"], i["setting"]) == (dataset, setting)])))
    print(f"wrote {path} and {page}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
