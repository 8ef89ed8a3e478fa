"""The provenance section: where each study's numbers come from and how to reproduce them."""

from __future__ import annotations

import json
from typing import Any

import polars as pl

from harness.report.document import Block, Bullets, Code, Heading, Para, Table
from harness.report.load import StudyResults
from harness.study.spec import startup_trials
from harness.study.trial_config import BASELINE_KIND, STVLM_KIND

FEW_SHOT_METHODS = {
    "first": "first: the first share of the chronological training windows, contiguous (leak-free)",
    "random": "random: a seeded RANDOM subset of the training windows (random-window few-shot, "
              "Time-VLM style; sees more diverse dates and tends to give optimistic numbers)",
}


def reproduce_command(command: str) -> str:
    """The shell line that re-runs a study from the repository root.

    Study scripts record ``<script>.py ARGS`` (the script's base name); they live in ``studies/``.
    """
    first, _, rest = command.strip().partition(" ")
    if first.endswith(".py") and "/" not in first:
        return f"python studies/{first} {rest}".strip()
    return command.strip()


def _distinct(trials: pl.DataFrame, column: str) -> list[str]:
    return [str(v) for v in trials[column].drop_nulls().unique(maintain_order=True).to_list()]


def _versions(study: StudyResults) -> dict[str, Any]:
    prov = study.spec.get("provenance") or {}
    versions = dict(prov.get("versions") or {})
    if not versions and study.trials.height:
        versions = json.loads(study.trials["versions_json"].drop_nulls()[0] or "{}")
    return versions


def _convergence(trials: pl.DataFrame) -> str:
    """Whether trained trials stopped at their best epoch (then more epochs might help them)."""
    done = trials.filter((pl.col("status") == "completed") & pl.col("epochs_run").is_not_null()
                         & pl.col("best_epoch").is_not_null())
    last = int((done["best_epoch"] == done["epochs_run"]).sum()) if done.height else 0
    return (f"convergence: the best validation epoch was the last epoch run in {last} of "
            f"{done.height} completed trained trials" + (" (more epochs might help those)" if last else ""))


#: How the provenance names the trials of each ``kind`` that train.
KIND_WORDS = {STVLM_KIND: "ST-VLM", BASELINE_KIND: "trained baselines"}


def kept_epoch_line(trials: pl.DataFrame) -> str | None:
    """Which validation value each kind of trained trial kept its best epoch by (its config's
    ``train.monitor``; a config written before the field trained with its default), with what a
    registered mean averages; None when no trial trained. The ranking metric may differ: a
    study ranks on its spec's ``metric``, the engine keeps checkpoints by the monitor."""
    from stvlm.configs import TrainConfig
    from stvlm.monitor import MONITOR_MEANS

    trained = trials.filter(pl.col("epochs_run").is_not_null())
    by_kind: dict[str, list[str]] = {}
    for kind, text in trained.select("kind", "config_json").iter_rows():
        monitor = str(((json.loads(text) if text else {}).get("train") or {}).get("monitor", TrainConfig().monitor))
        if monitor not in by_kind.setdefault(kind, []):
            by_kind[kind].append(monitor)
    if not by_kind:
        return None
    order = [k for k in KIND_WORDS if k in by_kind] + sorted(k for k in by_kind if k not in KIND_WORDS)
    used = dict.fromkeys(m for k in order for m in by_kind[k])
    means = [f"{m} is the mean of {' and '.join(MONITOR_MEANS.get(m))}" for m in used if m in MONITOR_MEANS]
    return ("best epoch: the one with the lowest validation "
            + " or ".join(f"{' / '.join(by_kind[k])} ({KIND_WORDS.get(k, k)})" for k in order)
            + (f"; {'; '.join(means)}" if means else ""))


def search_line(spec: dict[str, Any]) -> str:
    """Which Optuna sampler ran and how many trials of each group were start-up trials."""
    sampler = spec.get("sampler", "tpe")  # studies written before the field ran TPE
    n, startup = int(spec.get("num_samples", 1)), int(spec.get("startup_trials", 10))
    if not spec.get("nuisance"):
        return f"search: nothing searched (no nuisance settings); {n} trial(s) per arm and seed"
    first = startup_trials(sampler, startup, n)
    line = f"search: {sampler} sampler, {n} trial(s) per arm and seed"
    if sampler == "tpe":
        line += (f"; TPE samples its first {startup} trials of a group at random, so {first} of {n} "
                 "were random start-up trials" + (" (this search was random search)" if first == n else ""))
    return line


def study_provenance(study: StudyResults, trials: pl.DataFrame) -> list[Block]:
    """Blocks describing one study: data, protocol, few-shot method, counts, code, environment.

    Args:
        study: the loaded study (``study.json`` in ``spec``).
        trials: that study's prepared trials.
    """
    spec, prov = study.spec, study.spec.get("provenance") or {}
    counts = {s: int((trials["status"] == s).sum()) for s in ("completed", "pruned", "failed")}
    methods = _distinct(trials, "few_shot_method")
    commits = sorted({*_distinct(trials, "git_commit"), *([prov["git_commit"]] if prov.get("git_commit") else [])})
    devices = sorted({*_distinct(trials, "device"), *([prov["device"]] if prov.get("device") else [])})
    items = [
        f"results folder: {shown_path(study.path)}",
        f"datasets: {', '.join(_distinct(trials, 'dataset'))}; "
        f"protocols: {', '.join(_distinct(trials, 'protocol'))}",
        "few-shot selection: " + "; ".join(FEW_SHOT_METHODS.get(m, m) for m in methods),
        f"few-shot labels: {', '.join(_distinct(study.trials, 'few_shot_label'))}",  # with their seeds
        f"trials: {trials.height} in all, {counts['completed']} completed, {counts['pruned']} pruned, "
        f"{counts['failed']} failed (pruned and failed trials are not averaged in)",
        _convergence(trials),
        *([line] if (line := kept_epoch_line(trials)) else []),
        f"git commit: {', '.join(commits) or 'unknown'}",
        f"device: {', '.join(devices) or 'unknown'}",
        f"started: {spec.get('started_at', 'unknown')}; finished: {spec.get('finished_at') or 'not finished'}",
    ]
    if len(spec.get("runs") or []) > 1:
        items.append(f"runs: {len(spec['runs'])} (the study was resumed)")
    if spec.get("storage"):
        items.append(f"Ray storage: {shown_path(spec['storage'])}")
    if study.storage is not None:
        items.append(f"Optuna storage: {shown_path(study.storage)}")
    if isinstance(spec.get("spec"), dict):
        items.append(search_line(spec["spec"]))
    blocks: list[Block] = [Heading(3, f"Study {study.name}"), Bullets(tuple(items))]
    runs = [r for r in spec.get("runs") or [] if isinstance(r, dict) and r.get("command")]
    command = spec.get("command") or prov.get("command") or (runs[-1]["command"] if runs else None)
    if command:
        blocks += [Para("Reproduce (from the repository root, at the commit above):"),
                   Code(reproduce_command(str(command)), "bash")]
    versions = _versions(study)
    if versions:
        blocks += [Para("Package versions:"),
                   Table(("package", "version"), tuple((k, str(v)) for k, v in versions.items()))]
    return blocks


def study_spec_blocks(study: StudyResults) -> list[Block]:
    """The validated spec and the arms of one study (for the appendix)."""
    spec = study.spec
    blocks: list[Block] = []
    if "spec" in spec:
        blocks += [Heading(3, f"Study spec of {study.name} (validated)"),
                   Code(json.dumps(spec["spec"], indent=2, default=str), "json")]
    if "arms" in spec:
        blocks += [Para(f"Arms of {study.name}:"), Code(json.dumps(spec["arms"], indent=1, default=str), "json")]
    return blocks


def shown_path(path: object) -> str:
    """A path as a report shows it: relative to the working directory when inside it, else
    ``.../<last two parts>`` (no machine-specific absolute path in a shared report); URIs as is."""
    import os
    from pathlib import Path

    text = str(path)
    if "://" in text:
        return text
    p = Path(text)
    if not p.is_absolute():
        return text
    try:
        return os.path.relpath(p, Path.cwd()) if p.is_relative_to(Path.cwd()) else ".../" + "/".join(p.parts[-2:])
    except ValueError:
        return ".../" + "/".join(p.parts[-2:])


def report_provenance(command: str | None) -> list[Block]:
    """How this report itself was made (the report command, the reporting code's commit)."""
    from harness.results.provenance import git_commit, package_versions

    versions = package_versions(("stvlm-studies", "polars", "seaborn", "matplotlib", "optuna"))
    items = [f"report code commit: {git_commit() or 'unknown'}",
             "report packages: " + ", ".join(f"{k} {v}" for k, v in versions.items())]
    if command:
        items.insert(0, f"report command: {command}")
    return [Heading(3, "This report"), Bullets(tuple(items))]
