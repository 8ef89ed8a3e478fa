"""ST-VLM candidates scored on validation only: how the accuracy benchmark's choices are made.

Each candidate changes ST-VLM's training settings (``TrainConfig``) and/or its model config
(dotted ``STVLMConfig`` paths) from the accuracy benchmark's (``benchmarks/fewshot_setup.py``:
``STVLM_MODEL``, ``TRAIN``) and is trained on the same splits, budget and seeds as
``benchmarks/fewshot_accuracy.py``. Only **validation** metrics are computed and recorded (the
test windows are never predicted), so nothing chosen from this output has seen a test metric:

    STVLM_DATA=../shared/data python benchmarks/validation_runs.py --sweep training [--seeds 0]

Sweeps (``--sweep``): the entries of ``validation_sweeps.SWEEPS``, each described there.
Each row names the model it trained (``model``), the candidate's changes (``train``,
``model_changes``, ``data_changes``) and the training windows and lookback lags it ran on.
The changes are from the benchmark's config at the file's ``git_commit`` (before b6ed1a1 ST-VLM
had a linear head, since then an MLP head; ST-VLM's patience counted from the first epoch
before ``patience-mlp`` chose to count it after the warm-up): a re-run of an older ST-VLM sweep
trains today's model. ``capacity`` and ``batch`` pin the linear head and the patience they ran
with, ``patience`` and ``both-masks`` the patience they compare; ``lookback`` trains the ridge
baseline, which has no head.
Writes ``results/fewshot_accuracy/validation-<sweep>.json`` (one row per run, with the command
and the code's commit), row by row as they finish, marked ``complete: false`` until the last: the
same command run again at the same commit and device resumes an interrupted run, and ``--merge``
and ``--rule`` refuse an unfinished file. Seeds run as separate processes (``--seeds 0 --out
a.json``, ...) become one file with ``--merge a.json b.json ...`` (:func:`merge_runs`: rows in the
order of one run, each file's commit and command kept). The newer sweeps (``patience-mlp``, ``neighbours-now``,
``head-width``, ``ema``, ``highway-now``, ``instance-norm``) write their adoption rule down before
they run: :func:`meets_rule`; ``--rule REFERENCE CANDIDATE`` applies it to a sweep's committed
file, training nothing, so a reviewer can recompute a choice in seconds. ``--epochs table``
trains each pair at the cap its model has in the accuracy table (80 on los-loop 10%, 160 on
nycbike-drop 10% for ST-VLM today), where the older ``-80`` sweeps ran one pair apart. ``loss_masks.py`` is
the loss-mask sweep, built on :func:`validation_row`.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import Any

from bench_paths import ACCURACY_DIR, ACCURACY_TABLE, REPO  # noqa: E402  (this folder is on sys.path)
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

import sweep_merge  # noqa: E402
from sweep_candidates import Candidate  # noqa: E402
from validation_sweeps import SWEEPS  # noqa: E402
from fewshot_merge import pair_cap  # noqa: E402
from fewshot_setup import (  # noqa: E402
    STVLM_MODEL, check_data_root, data_config, neural, target_value, train_settings,
)

from harness.results.provenance import provenance  # noqa: E402
from stvlm.baselines import build_baseline  # noqa: E402
from stvlm.configs import DataConfig, ExperimentConfig, TrainConfig  # noqa: E402
from stvlm.data.forecast import Forecast  # noqa: E402
from stvlm.data.pipeline import prepare  # noqa: E402
from stvlm.engine import Engine  # noqa: E402
from stvlm.experiment import prepare_run  # noqa: E402
from stvlm.io import atomic_write_json  # noqa: E402
from stvlm.metrics import evaluate_forecast  # noqa: E402
from stvlm.monitor import monitor_value  # noqa: E402


def target_metric(row: dict[str, Any]) -> float:
    """:func:`fewshot_setup.target_value` of a validation row."""
    return target_value(row["val_mae"], row["val_mae_all"])


def meets_rule(rows: list[dict[str, Any]], reference: str, candidate: str) -> dict[str, Any]:
    """The adoption rule the newer sweeps write down before they run: ``candidate`` replaces
    ``reference`` if, per (dataset, setting), its mean :func:`target_metric` over the seeds both
    ran is no worse on any pair and better on at least one.

    Returns ``pairs`` (``"dataset setting"`` -> (reference mean, candidate mean)), ``better``
    (how many pairs the candidate lowers) and ``meets`` (the verdict)."""
    by: dict[tuple[str, str, str], dict[int, float]] = {}
    for r in rows:
        by.setdefault((r["dataset"], r["setting"], r["candidate"]), {})[r["seed"]] = target_metric(r)
    pairs: dict[str, tuple[float, float]] = {}
    for (dataset, setting, label), ref in by.items():
        if label != reference or (dataset, setting, candidate) not in by:
            continue
        cand = by[(dataset, setting, candidate)]
        seeds = sorted(set(ref) & set(cand))
        if not seeds:
            raise ValueError(f"{dataset} {setting}: no seed ran both {reference!r} and {candidate!r}")
        pairs[f"{dataset} {setting}"] = (sum(ref[s] for s in seeds) / len(seeds),
                                         sum(cand[s] for s in seeds) / len(seeds))
    if not pairs:
        raise ValueError(f"no pair ran both {reference!r} and {candidate!r}")
    better = sum(c < r for r, c in pairs.values())
    return {"pairs": pairs, "better": better, "meets": better > 0 and all(c <= r for r, c in pairs.values())}


def unfinished(content: dict[str, Any]) -> bool:
    """Whether a sweep file's ``content`` is an interrupted run (written with ``complete`` false;
    finished files carry no ``complete`` key)."""
    return content.get("complete", True) is False


def interrupted_rows(out: Path, started: dict[str, Any],
                     command: str) -> dict[tuple[str, str, str, int], dict[str, Any]]:
    """The rows an interrupted run left at ``out`` (a file written with ``complete`` false), by
    (dataset, setting, candidate, seed), when it ran this ``command`` at this clean commit on this
    device (``started``: :func:`provenance`): a rerun keeps them instead of training them again.
    Empty otherwise; an unfinished file of other code, command or device is then replaced."""
    if not out.is_file():
        return {}
    old = json.loads(out.read_text())
    if not unfinished(old):
        return {}
    commit = started.get("git_commit")
    same = (old.get("command"), old.get("git_commit"), old.get("device")) == (command, commit, started.get("device"))
    if not same or not commit or commit.endswith("-dirty"):
        logging.warning("%s is an unfinished run of another command, commit or device (or of "
                        "uncommitted code): starting over", out)
        return {}
    logging.warning("%s: resuming an interrupted run, %d rows kept", out, len(old["rows"]))
    return {(r["dataset"], r["setting"], r["candidate"], r["seed"]): r for r in old["rows"]}


def finished(parser: argparse.ArgumentParser, flag: str, path: Path, content: dict[str, Any]) -> dict[str, Any]:
    """``content`` of the sweep file ``path``, or a parser error where it is an interrupted run
    (``complete`` false): its rows are not the sweep's yet."""
    if unfinished(content):
        parser.error(f"{flag}: {path} is an interrupted run (complete: false): run its command "
                     f"again to finish it ({content.get('command')})")
    return content


def sweep_labels(sweep: str) -> list[str]:
    """The labels of ``sweep``'s candidates, in the sweep's order."""
    return [Candidate(*c).label for c in SWEEPS[sweep][2]]


def merge_runs(sweep: str, sources: list[tuple[str, dict[str, Any]]]) -> dict[str, Any]:
    """:func:`sweep_merge.merge_runs` over ``sweep``'s pairs and candidates."""
    return sweep_merge.merge_runs(sweep, SWEEPS[sweep][0], sweep_labels(sweep), sources)


def forecast_of(dataset: str, setting: str, data_root: str | None) -> tuple[DataConfig, Forecast]:
    """The accuracy benchmark's data config and prepared splits of (dataset, setting)."""
    data = data_config(dataset, setting, data_root)
    return data, prepare(data)


def stvlm_engine(data: DataConfig, forecast: Forecast, train: TrainConfig, model_changes: dict[str, Any]) -> Engine:
    """An engine over ST-VLM as the accuracy benchmark builds it (``STVLM_MODEL`` with the
    changes, dotted paths), on ``forecast`` with ``train``."""
    cfg = ExperimentConfig(name="validation run", data=data, model=STVLM_MODEL.with_values(model_changes),
                           train=train)
    _, module = prepare_run(cfg, forecast)
    return Engine(module, forecast, train)


def validation_row(
    data: DataConfig, forecast: Forecast, *, seed: int, epochs: int,
    train_changes: dict[str, Any], model_changes: dict[str, Any], model: str = "st-vlm",
    pair: tuple[str, str] | None = None,
) -> dict[str, Any]:
    """Train ST-VLM (or the neural baseline ``model``) with the changes (``model_changes``:
    ST-VLM's dotted config paths, or the baseline's options) on the benchmark's budget (the
    model's own training settings on ``pair``, (dataset, setting), where it has some:
    :func:`fewshot_setup.train_settings`); its validation metrics only. A baseline is built from
    its defaults and ``model_changes`` alone, not with the options the table gives it on the
    pair (``BASELINE_TRAIN``'s, e.g. the GRU's two layers on sz-taxi full): a candidate names
    each option it runs with, so a committed sweep keeps its meaning when a choice is adopted.

    Returns the kept checkpoint's ``val_mae`` (masked) and ``val_mae_all`` (every observed
    entry), for ST-VLM the start's (the built model before any step) and the best trained
    epoch's by ``train.monitor`` (``trained_*``: what training reached, whether or not it beat
    the start), and the best / run epochs.
    """
    train = TrainConfig(**{"epochs": epochs, "seed": seed, "num_threads": 1, **train_settings(model, pair), **train_changes})
    if model != "st-vlm":
        baseline = build_baseline(model, model_changes)  # the baseline's options (unknown keys raise)
        fit = baseline.fit(forecast, train)
        val = evaluate_forecast(baseline.predict(forecast, "val"), forecast.targets("val"), forecast.protocol)
        return {"seed": seed, "val_mae": val["mae"], "val_mae_all": val["mae_all"],
                "best_epoch": fit.get("best_epoch"), "epochs_run": fit.get("epochs_run")}
    engine = stvlm_engine(data, forecast, train, model_changes)
    start = {} if train.start_candidate else engine.evaluate("val")  # else fit() scores the start
    fit = engine.fit()
    start, val = start or fit.start_val, fit.best_val or engine.evaluate("val")  # best checkpoint
    trained = min(fit.history, key=lambda record: monitor_value(record.val, train.monitor)).val
    return {"seed": seed, "val_mae": val["mae"], "val_mae_all": val["mae_all"],
            "start_val_mae": start["mae"], "start_val_mae_all": start["mae_all"],
            "trained_val_mae": trained["mae"], "trained_val_mae_all": trained["mae_all"],
            "best_epoch": fit.best_epoch, "epochs_run": fit.epochs_run}


def rule_check(parser: argparse.ArgumentParser, sweep: str, path: Path, reference: str, candidate: str) -> int:
    """``--rule``: :func:`meets_rule` of ``candidate`` against ``reference`` on the rows of the
    sweep's file ``path``, logged a line per pair and a verdict; status 0 (the verdict is the
    output). Labels that are not the sweep's candidates, or a missing file, stop the parser."""
    labels = sweep_labels(sweep)
    unknown = [label for label in (reference, candidate) if label not in labels]
    if unknown:
        parser.error(f"--rule: {', '.join(map(repr, unknown))} not a candidate of --sweep {sweep} "
                     f"(its candidates: {', '.join(map(repr, labels))})")
    if not path.is_file():
        parser.error(f"--rule: no such file: {path} (run the sweep first, or name its file with --out)")
    try:
        rows = finished(parser, "--rule", path, json.loads(path.read_text()))["rows"]
        verdict = meets_rule(rows, reference, candidate)
    except ValueError as err:
        parser.error(f"--rule: {err}")
    for pair, (ref, cand) in verdict["pairs"].items():
        logging.warning("%s: %r %.4f, %r %.4f (mean validation target over the seeds both ran)",
                        pair, reference, ref, candidate, cand)
    logging.warning("%r %s the rule against %r (no worse on any pair, better on one at least): "
                    "better on %d of %d", candidate, "meets" if verdict["meets"] else "does not meet",
                    reference, verdict["better"], len(verdict["pairs"]))
    return 0


def epochs_option(value: str) -> int | str:
    """``--epochs``: a positive whole number, or :data:`sweep_merge.TABLE`."""
    if value == sweep_merge.TABLE:
        return value
    if not value.isdigit() or int(value) < 1:
        raise argparse.ArgumentTypeError(f"{value!r} is neither a positive whole number nor "
                                         f"'{sweep_merge.TABLE}'")
    return int(value)


def sweep_caps(epochs: int | str, model: str, pairs: tuple[tuple[str, str], ...],
               table_path: Path = ACCURACY_TABLE,
               ) -> dict[tuple[str, str], int]:
    """Each pair's epoch cap: ``epochs`` itself, or under :data:`sweep_merge.TABLE` the cap
    ``model``'s rows have there in the accuracy table (:func:`fewshot_merge.pair_cap`), all read
    before anything trains. Raises ``ValueError`` naming the pair the table cannot give one for."""
    if epochs != sweep_merge.TABLE:
        return {pair: int(epochs) for pair in pairs}
    table = json.loads(table_path.read_text())
    return {pair: pair_cap(table, model, *pair) for pair in pairs}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sweep", choices=list(SWEEPS), required=True)
    parser.add_argument("--seeds", nargs="+", type=int, default=[0])
    parser.add_argument("--epochs", type=epochs_option, default=sweep_merge.DEFAULT_EPOCHS,
                        help=f"the epoch cap of every run (default {sweep_merge.DEFAULT_EPOCHS}), or "
                        f"'{sweep_merge.TABLE}': each pair at the cap the sweep's model has there in the "
                        "accuracy table (fewshot_accuracy.json; 80 or 160 where the epoch-cap check chose "
                        "them), recorded in each row")
    parser.add_argument("--data-root", default=None)
    parser.add_argument("--out", type=Path, default=None,
                        help="default: results/fewshot_accuracy/validation-<sweep>.json")
    parser.add_argument("--merge", nargs="+", type=Path, default=None, metavar="FILE",
                        help="train nothing: merge these files of the sweep's runs (say, one per "
                        "seed) into --out, rows in the order of one run of every seed")
    parser.add_argument("--rule", nargs=2, metavar=("REFERENCE", "CANDIDATE"), default=None,
                        help="train nothing: apply meets_rule to --out's rows (default: the committed file) "
                        "and log, per pair, both mean validation targets and the verdict")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    out = args.out or ACCURACY_DIR / f"validation-{args.sweep}.json"
    if args.rule:
        return rule_check(parser, args.sweep, out, *args.rule)
    if args.merge:
        missing = [str(f) for f in args.merge if not f.is_file()]
        if missing:
            parser.error(f"--merge: no such file: {', '.join(missing)}")
        try:
            merged = merge_runs(args.sweep, [(f.name, finished(parser, "--merge", f, json.loads(f.read_text())))
                                             for f in args.merge])
        except KeyError as err:
            parser.error(f"--merge: a file or one of its rows has no {err} field: "
                         "not a validation_runs output")
        except (ValueError, json.JSONDecodeError) as err:
            parser.error(f"--merge: {err}")
        merged["merge_command"] = " ".join(["python benchmarks/validation_runs.py", *sys.argv[1:]])
        atomic_write_json(out, merged)
        logging.warning("merged %d rows from %d files into %s", len(merged["rows"]), len(args.merge), out)
        return 0
    check_data_root(parser, args.data_root)
    pairs, model, candidates = SWEEPS[args.sweep]
    try:
        caps = sweep_caps(args.epochs, model, pairs)
    except ValueError as err:
        parser.error(f"--epochs {args.epochs}: {err}")
    started, rows = provenance(), []
    command = " ".join(["python benchmarks/validation_runs.py", *sys.argv[1:]])
    done = interrupted_rows(out, started, command)
    seeded = model == "st-vlm" or neural(model)
    seeds = args.seeds if seeded else args.seeds[:1]  # a closed-form fit is the same for every seed
    for dataset, setting in pairs:
        keys = [(dataset, setting, Candidate(*c).label, seed) for c in candidates for seed in seeds]
        if all(key in done for key in keys):  # the pair ran whole before the interruption
            rows += [done[key] for key in keys]
            continue
        base, prepared = forecast_of(dataset, setting, args.data_root)
        for cand in (Candidate(*c) for c in candidates):
            data = base.with_values(cand.data)
            forecast = prepared if data == base else prepare(data)
            for seed in seeds:
                if (kept := done.get((dataset, setting, cand.label, seed))) is not None:
                    rows.append(kept)
                    continue
                row = validation_row(data, forecast, seed=seed, epochs=caps[(dataset, setting)],
                                     train_changes=cand.train, model_changes=cand.model, model=model,
                                     pair=(dataset, setting))
                rows.append({"dataset": dataset, "setting": setting, "model": model, "candidate": cand.label,
                             # the cap trained: a candidate's own (the epoch-cap rounds') over --epochs
                             "epochs": cand.train.get("epochs", caps[(dataset, setting)]),
                             "train": cand.train, "model_changes": cand.model,
                             "data_changes": cand.data,
                             "lookback_lags": list(forecast.lookback_lags),
                             "train_windows": int(forecast.splits.train.size),
                             "train_first_start": int(forecast.splits.train[0]), **row})
                logging.warning("%s %s %s %-18s seed %d: val MAE %.4f, all entries %.4f (best epoch %s of %s)",
                                dataset, setting, model, cand.label, seed, row["val_mae"], row["val_mae_all"],
                                row["best_epoch"], row["epochs_run"])
                # every row as it comes, marked unfinished: an interrupted run loses nothing
                atomic_write_json(out, {**started, "command": command, "complete": False, "rows": rows})
    atomic_write_json(out, {**started, "command": command, "rows": rows})
    logging.warning("wrote %s", out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
