"""Seeds of one accuracy-table pair, run in separate processes, merged into the table.

A model's seeds on one (dataset, setting) run one after another in one ``fewshot_accuracy.py``
process. Where one seed takes an hour on one core (Graph WaveNet on los-loop's full training
part), the missing seeds can run side by side instead, each in its own copy of the results
folder::

    cp -r results/fewshot_accuracy /tmp/gwnet-1
    python benchmarks/fewshot_accuracy.py --out-dir /tmp/gwnet-1 --only gwnet --seeds 1 \\
        --datasets los-loop --settings full --skip staeformer
    ... (seed 2 in /tmp/gwnet-2, at the same time)
    python benchmarks/fewshot_accuracy.py --merge /tmp/gwnet-1 /tmp/gwnet-2 \\
        --datasets los-loop --settings full

Every run saves the per-window errors of each seed it makes (``<model>|<metric>|seed<n>`` in
the pair's ``errors-*.npz``, beside the seed means the intervals read), so a merge adds exactly
those seeds: a model's seed-mean errors become ``(k * mean + sum of the new seeds) / (k + n)``
over the table's ``k`` seeds and the ``n`` added, its rows and every interval of the pair are
recomputed, and the pair's split records where each added run came from (``merged``). A source
run of a (model, seed) the table already holds must be that same run (equal test metrics: a
reused one) and is skipped; anything else is refused with the source's name, before anything
is written.

A baseline re-run whole in copies (``--only gru --epochs 320 --out-dir /tmp/gru-a``, e.g. to
check a longer epoch cap on validation before deciding) enters the table with ``--replace``:
the table's runs of that model in the pair are dropped and the copies' taken instead, exactly
as ``--only gru`` run in the table's own folder would have made the pair::

    python benchmarks/fewshot_accuracy.py --merge /tmp/gru-a --replace gru \
        --datasets nycbike-drop --settings 10%
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from fewshot_setup import ran_with
from stvlm.bootstrap import paired_block_bootstrap_sums


def seed_key(model: str, metric: str, seed: int) -> str:
    """The ``errors-*.npz`` key of one seed's per-window error sums ``[W]``."""
    return f"{model}|{metric}|seed{seed}"


def metric_names(errors: dict[str, np.ndarray]) -> list[str]:
    """The error metrics of an ``errors-*.npz`` (``count|<metric>`` keys, in file order)."""
    return [k.split("|", 1)[1] for k in errors if k.startswith("count|")]


def pair_slug(dataset: str, setting: str) -> str:
    """One (dataset, setting) as a file-name part: ``nycbike1-10pct``."""
    return f"{dataset}-{setting.replace('%', 'pct')}"


def errors_path(out_dir: Path, dataset: str, setting: str, ablation: bool = False) -> Path:
    """The per-window error file of one (dataset, setting) in a results folder."""
    return out_dir / f"errors-{pair_slug(dataset, setting)}{'-ablation' if ablation else ''}.npz"


def split_option(result: dict[str, Any], split: dict[str, Any], field: str) -> list[str]:
    """The models a run option (``skipped`` or ``one_seed``) named for one split of a benchmark
    JSON; splits from before the option was recorded per split take the last run's (``meta``)."""
    return split.get(field, result.get("meta", {}).get(field, []))


def run_epochs(run: dict[str, Any], default: int | None) -> int | None:
    """A run's epoch cap: its own ``epochs`` record, else ``default`` (its file's ``meta.epochs``:
    runs from before the record all ran at the file's cap)."""
    return run.get("epochs", default)


def pair_cap(table: dict[str, Any], model: str, dataset: str, setting: str) -> int:
    """The epoch cap ``model``'s runs of (``dataset``, ``setting``) have in ``table`` (a benchmark
    JSON): where the epoch-cap check raised it, the longer one.

    Raises:
        ValueError: no run of ``model`` there, a closed-form model (no cap), or runs with several caps.
    """
    default = table["meta"]["epochs"]
    caps = {run_epochs(r, default) for r in table["runs"]
            if (r["model"], r["dataset"], r["setting"]) == (model, dataset, setting) and r.get("epochs_run")}
    if len(caps) != 1:
        raise ValueError(f"{model} {dataset} {setting}: " + (
            f"runs with caps {sorted(caps)}" if caps else "the table has no trained run of it to take a cap from"))
    return int(caps.pop())


def load_errors(path: Path) -> dict[str, np.ndarray]:
    """Every array of an ``errors-*.npz``."""
    with np.load(path) as saved:
        return {k: saved[k] for k in saved.files}


def save_errors(path: Path, errors: dict[str, np.ndarray]) -> None:
    """Write an ``errors-*.npz`` atomically (a temporary file beside it, then a rename)."""
    tmp = path.with_name(f".{path.stem}.tmp.npz")
    np.savez_compressed(tmp, **errors)
    os.replace(tmp, path)


def source_command(result: dict[str, Any]) -> str | None:
    """The command that last wrote a benchmark JSON (the newest of ``meta.commands``)."""
    commands = result.get("meta", {}).get("commands") or [result.get("command")]
    return commands[-1]


def pair_intervals(
    dataset: str, setting: str, models: list[str], sums: dict[str, dict[str, np.ndarray]],
    counts: dict[str, np.ndarray], blocks: np.ndarray,
) -> list[dict[str, Any]]:
    """ST-VLM (``models[0]``) against every other model of one pair, per metric: the paired
    day-block bootstrap interval of the MAE difference from per-window error sums (seed means)."""
    intervals = []
    for model in models[1:]:
        for name in counts:
            iv = paired_block_bootstrap_sums(sums[models[0]][name], sums[model][name], counts[name], blocks)
            intervals.append({"dataset": dataset, "setting": setting, "baseline": model, "metric": name,
                              "diff": iv.diff, "low": iv.low, "high": iv.high, "blocks": iv.blocks,
                              "st_vlm_better": iv.high < 0})
    return intervals


def setting_clash(run: dict[str, Any], other: dict[str, Any]) -> str | None:
    """What two runs of one model recorded differently (ST-VLM's config hash, a baseline's
    options, a training setting), or ``None``; a fact one of them did not record is no clash."""
    if run.get("model_hash") and other.get("model_hash") and run["model_hash"] != other["model_hash"]:
        return "ST-VLM config (model_hash)"
    for fact, mine, theirs in (("options", run.get("options"), other.get("options")),
                               ("training setting", ran_with(run), ran_with(other))):
        if mine is not None and theirs is not None:
            keys = sorted(k for k in mine.keys() & theirs.keys() if mine[k] != theirs[k])
            if keys:
                return f"{fact} {keys[0]} ({mine[keys[0]]!r}, the table's run: {theirs[keys[0]]!r})"
    return None


def merge_pair(
    result: dict[str, Any], errors: dict[str, np.ndarray], sources: list[tuple[str, dict[str, Any], dict[str, np.ndarray]]],
    dataset: str, setting: str, replace: tuple[str, ...] = (),
) -> tuple[dict[str, Any], dict[str, np.ndarray], dict[str, list[int]]]:
    """The table ``result`` (a benchmark JSON) and its pair's ``errors`` with the runs the
    ``sources`` (name, JSON, errors) made of (dataset, setting) and the table lacks.

    With ``replace`` (baselines), the table's runs of those models in the pair are dropped (runs,
    per-seed errors, merge records) and only the sources' runs of those models are read: the
    pair becomes what ``--only <replace>`` would have made of it, the other models' runs as the
    table holds them (a source's runs of other models, e.g. older ones, are not compared).

    Returns the new JSON (runs, intervals and split of the pair, whose ``skipped`` no longer names
    an added model; the caller aggregates the rows), the new errors and the added seeds per model.

    Raises:
        ValueError: naming the source: other test windows, lookback lags or training windows; a
            run of a seed the table holds with other results; a seed two sources add; an added
            seed without its per-window errors; an added seed of another epoch cap, ST-VLM config,
            options or training setting than the model's runs in the table; nothing to add; a
            replaced model that is ST-VLM, not in the pair or
            not in any source.
    """
    key = f"{dataset}|{setting}"
    if key not in result["splits"]:
        raise ValueError(f"the table has no {dataset} {setting} to merge into")
    split = result["splits"][key]
    names = metric_names(errors)
    in_pair = lambda r: (r["dataset"], r["setting"]) == (dataset, setting)  # noqa: E731
    order = list(dict.fromkeys(r["model"] for r in result["runs"] if in_pair(r)))  # the pair's model order
    for model in replace:
        if model == "st-vlm" or model not in order:
            raise ValueError(f"--replace {model}: not a baseline of the table's {dataset} {setting}")
    runs = [r for r in result["runs"] if in_pair(r) and r["model"] not in replace]
    if replace:
        errors = {k: v for k, v in errors.items() if not any(k.startswith(f"{m}|") and "|seed" in k for m in replace)}
        split = {**split, "merged": [rec for rec in ({**m, "runs": {k: v for k, v in m["runs"].items() if k not in replace}}
                                                     for m in split.get("merged", [])) if rec["runs"]],
                 "reused": {k: v for k, v in split.get("reused", {}).items() if k not in replace}}
    held = {(r["model"], r["seed"]): r for r in runs}
    added: dict[tuple[str, int], dict[str, Any]] = {}
    per_seed: dict[str, np.ndarray] = {}
    merged = []
    for name, src, src_errors in sources:
        theirs = src.get("splits", {}).get(key)
        if theirs is None:
            raise ValueError(f"{name}: has no {dataset} {setting}")
        same_windows = np.array_equal(src_errors.get("blocks"), errors["blocks"]) and all(
            np.array_equal(src_errors.get(f"count|{m}"), errors[f"count|{m}"]) for m in names)
        if not same_windows:
            raise ValueError(f"{name}: {dataset} {setting} was scored on other test windows")
        for fact in ("lookback_lags", "parts"):
            if theirs.get(fact) != split.get(fact):
                raise ValueError(f"{name}: {dataset} {setting} ran with other {fact.replace('_', ' ')} "
                                 f"({theirs.get(fact)}, the table: {split.get(fact)})")
        taken: dict[str, list[int]] = {}
        for run in (r for r in src["runs"] if in_pair(r) and (not replace or r["model"] in replace)):
            model, seed = run["model"], run["seed"]
            if (model, seed) in held:
                if run["test"] != held[(model, seed)]["test"]:
                    raise ValueError(f"{name}: {model} seed {seed} differs from the table's run of that seed")
                continue
            if (model, seed) in added:
                raise ValueError(f"{name}: {model} seed {seed} is also in an earlier source")
            missing = [m for m in names if seed_key(model, m, seed) not in src_errors]
            if missing:
                raise ValueError(f"{name}: no per-seed errors of {model} seed {seed} ({seed_key(model, missing[0], seed)}): "
                                 "made before runs saved them; run that seed again")
            cap, held_caps = run_epochs(run, src.get("meta", {}).get("epochs")), {
                run_epochs(r, result["meta"].get("epochs")) for r in runs if r["model"] == model and r.get("epochs_run")}
            if run.get("epochs_run") and held_caps and held_caps != {cap}:
                raise ValueError(f"{name}: {model} seed {seed} ran with an epoch cap of {cap}, the table's "
                                 f"{model} runs with {held_caps.pop()}: re-run every seed with --only")
            clash = next((c for r in runs if r["model"] == model and (c := setting_clash(run, r))), None)
            if clash:
                raise ValueError(f"{name}: {model} seed {seed} ran with another {clash}: its seeds cannot "
                                 "share a row; re-run every seed with --only")
            added[(model, seed)] = {**run, "epochs": cap} if run.get("epochs_run") else run
            per_seed.update({seed_key(model, m, seed): src_errors[seed_key(model, m, seed)] for m in names})
            taken.setdefault(model, []).append(seed)
        if taken:
            merged.append({"from": name, "git_commit": src.get("git_commit"), "command": source_command(src),
                           **{k: src[k] for k in ("device", "versions") if k in src}, "runs": taken})
    if not added:
        raise ValueError(f"no source adds a run to {dataset} {setting}")
    absent = [m for m in replace if m not in {model for model, _ in added}]
    if absent:
        raise ValueError(f"--replace {absent[0]}: no source has a run of it on {dataset} {setting}")
    models = list(dict.fromkeys(order + [r["model"] for r in runs] + [m for m, _ in added]))
    new_errors = {**errors, **per_seed}
    for model in {m for m, _ in added}:
        kept = sum(r["model"] == model for r in runs)
        seeds = [s for m, s in added if m == model]
        for m in names:
            total = kept * errors[f"{model}|{m}"] if kept else 0.0
            new_errors[f"{model}|{m}"] = (total + sum(per_seed[seed_key(model, m, s)] for s in seeds)) / (kept + len(seeds))
    pair_runs = [r for model in models for r in [*(r for r in runs if r["model"] == model),
                                                 *(r for (m, _), r in added.items() if m == model)]]
    sums = {model: {m: new_errors[f"{model}|{m}"] for m in names} for model in models}
    counts = {m: errors[f"count|{m}"] for m in names}
    intervals = pair_intervals(dataset, setting, models, sums, counts, errors["blocks"])
    out = dict(result)
    out["runs"] = [r for r in result["runs"] if not in_pair(r)] + pair_runs
    out["intervals"] = [i for i in result["intervals"] if not in_pair(i)] + intervals
    added_seeds: dict[str, list[int]] = {}
    for model, seed in added:
        added_seeds.setdefault(model, []).append(seed)
    # A model the pair's run skipped is in the table once merged: the page's "Not run" list reads this.
    skipped = [m for m in split_option(result, split, "skipped") if m not in added_seeds]
    out["splits"] = {**result["splits"],
                     key: {**split, "skipped": skipped, "merged": [*split.get("merged", []), *merged]}}
    return out, new_errors, added_seeds
