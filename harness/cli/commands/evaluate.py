"""``stvlm evaluate``: train what needs training, score on the protocol's windows, write JSON."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from harness.cli.commands.base import CHECKPOINT_ROOT, COMMANDS, Command, add_data_root, emit
from harness.study.owned import CHECKPOINT_MARKER, check_checkpoint_dir, check_not_owned
from harness.study.paths import check_output_file
from stvlm.data.root import resolve_data_root
from stvlm.errors import ConfigError


def _parse_sets(items: list[str]) -> dict[str, dict[str, Any]]:
    """``--set model.hidden=32 --set train.epochs=3 --set data.lookback_days=[1,7,14]`` ->
    {"model": {...}, "train": {...}, "data": {...}} (``data`` keys may be dotted paths)."""
    out: dict[str, dict[str, Any]] = {"model": {}, "train": {}, "data": {}}
    for item in items:
        key, sep, raw = item.partition("=")
        scope, dot, name = key.partition(".")
        if not sep or not dot or scope not in out or not name:
            raise ConfigError(
                f"--set {item!r} is not of the form model.KEY=VALUE, train.KEY=VALUE or data.KEY=VALUE"
            )
        try:
            out[scope][name] = json.loads(raw)
        except json.JSONDecodeError:
            out[scope][name] = raw
    return out


def _write_json(path: str, record: dict[str, Any]) -> Path:
    """Write the record (before the tables are printed: a reader that closes stdout early, as
    ``| head`` does, ends the command, and the record must be on disk by then)."""
    from harness.results.provenance import provenance
    from stvlm.io import atomic_write_json

    return atomic_write_json(Path(path), {**record, "provenance": provenance()})


#: evaluate's data options, and their values when not given: with --checkpoint they do not
#: apply (the checkpoint's own selection is scored), so giving one is an error.
DATA_FLAGS = {"--model": ("model", None), "--protocol": ("protocol", "standard"),
              "--few-shot": ("few_shot", 1.0), "--few-shot-method": ("few_shot_method", "first"),
              "--seed": ("seed", 0), "--set": ("set", None), "--verify": ("verify", "sha256")}


def _check_checkpoint_dataset(checkpoint: str, dataset: str | None) -> None:
    """Refuse a ``--dataset`` other than the one the checkpoint was trained on, read from its
    ``experiment.json`` before the model stack loads (an unreadable file is left to the loader)."""
    if not dataset:
        return
    try:
        stored = json.loads((Path(checkpoint) / CHECKPOINT_MARKER).read_text())["data"]["dataset"]
    except (OSError, ValueError, KeyError, TypeError):
        return
    if dataset != stored:
        raise ConfigError(f"--dataset {dataset!r} does not match the checkpoint's dataset {stored!r}; "
                          "ST-VLM checkpoints hold per-node weights of their dataset")


def _run_checkpoint(args: argparse.Namespace) -> int:
    from harness.cli.text_tables import metrics_table
    from stvlm.engine import Engine
    from stvlm.experiment import load_checkpoint
    from stvlm.monitor import with_means

    cfg, forecast, model = load_checkpoint(args.checkpoint, data_root=args.data_root)
    engine = Engine(model, forecast, cfg.train)
    # the scores and the registered means of them (mae_both), as metrics.json holds them
    metrics = {part: with_means(engine.evaluate(part, progress=True)) for part in ("val", "test")}
    p = forecast.protocol
    written = _write_json(args.json, {
        "dataset": cfg.data.dataset, "model": "stvlm", "checkpoint": str(args.checkpoint),
        "experiment": cfg.to_dict(), "protocol": p.to_dict(), "split": forecast.describe(),
        "metrics": metrics,
    }) if args.json else None
    emit(f"checkpoint {args.checkpoint} on {cfg.data.dataset} ({p.name} protocol)")
    emit(metrics_table(metrics["test"], p.metrics, p.report_horizons, minutes=forecast.data.info.interval_minutes))
    if written:
        emit(f"wrote {written}")
    return 0


def _data_config(args: argparse.Namespace, sets: dict[str, dict[str, Any]]) -> tuple[Any, Any]:
    """The data selection the flags and ``--set data.*`` name, with the accuracy benchmark's
    choices for this baseline on that pair filled in under what ``--set`` names (they are added
    to ``sets``); and those choices (``PairChoices`` or ``None``)."""
    from harness.cli.pair_defaults import pair_defaults
    from stvlm.configs import DataConfig, FewShotConfig

    few_shot = FewShotConfig.from_dict(
        {"ratio": args.few_shot, "method": args.few_shot_method, "seed": args.seed}, path="few_shot"
    )
    data_cfg = DataConfig.from_dict({
        "dataset": args.dataset, "data_root": args.data_root, "protocol": args.protocol,
        "few_shot": few_shot.to_dict(), "verify": args.verify,
    }).with_values(sets["data"], source="--set data")
    user = {f"{scope}.{key}" for scope, values in sets.items() for key in values}
    applied = pair_defaults(args.model, data_cfg, user_keys=user)
    for path, value in (applied.values if applied else {}).items():
        scope, _, key = path.partition(".")
        sets[scope][key] = value
    return data_cfg.with_values(sets["data"], source="--set data"), applied


def _check_train_sets(baseline: Any, train: dict[str, Any]) -> None:
    """Refuse ``--set train.*`` for a baseline that trains no network: it would be accepted, written
    into the JSON record, and ignored."""
    from stvlm.baselines import BASELINES, trains

    if train and not trains(baseline.name):
        neural = [n for n in BASELINES.names() if trains(n)]
        raise ConfigError(f"--set train.{next(iter(train))} does not apply to {baseline.name!r}, which trains "
                          f"no network; train.* settings apply to: {', '.join(neural)}")


def _run(args: argparse.Namespace) -> int:
    if args.json:  # paths before the model stack is imported
        check_output_file(args.json, "--json")
        check_not_owned(args.json, "--json")
    if args.data_root:
        resolve_data_root(args.data_root)
    if args.checkpoint:
        given = [flag for flag, (name, _) in DATA_FLAGS.items() if getattr(args, name) is not None]
        if given:
            raise ConfigError(f"{given[0]} does not apply with --checkpoint: a checkpoint is scored on the "
                              "data selection and protocol it was trained with (its experiment.json)")
        check_checkpoint_dir(args.checkpoint)
        _check_checkpoint_dataset(args.checkpoint, args.dataset)
        return _run_checkpoint(args)
    if not args.model or not args.dataset:
        raise ConfigError("stvlm evaluate needs --dataset and --model, or --checkpoint DIR")

    from harness.cli.pair_defaults import record
    from harness.cli.text_tables import metrics_table
    from stvlm.baselines import build_baseline
    from stvlm.configs import TrainConfig
    from stvlm.data.pipeline import prepare
    from stvlm.evaluation import evaluate_baseline

    for name, default in DATA_FLAGS.values():
        if getattr(args, name) is None:
            setattr(args, name, default)
    sets = _parse_sets(args.set or [])
    # Validate everything the user typed before touching any file.
    _check_train_sets(build_baseline(args.model, sets["model"]), sets["train"])
    data_cfg, applied = _data_config(args, sets)
    train = TrainConfig.from_dict({"seed": args.seed, **sets["train"]}, path="train")
    forecast = prepare(data_cfg)
    result = evaluate_baseline(forecast, args.model, sets["model"], train)
    protocol = forecast.protocol
    few_shot = data_cfg.few_shot  # what ran: --set data.* may have changed the flags' selection
    written = _write_json(args.json, {
        "dataset": data_cfg.dataset,
        "protocol": protocol.to_dict(),
        "few_shot": {**few_shot.to_dict(), "label": few_shot.label},
        "split": forecast.describe(),
        "train": train.to_dict(),
        **result.to_dict(),
        **record(applied),
    }) if args.json else None
    emit(
        f"{args.model} on {data_cfg.dataset} ({protocol.name} protocol, few-shot {few_shot.label}, "
        f"{forecast.num_windows('train')} training windows, {forecast.num_windows('test')} test windows)"
    )
    bad = forecast.data.nonfinite
    if bad.total:
        emit(f"non-finite values: {bad.describe(forecast.data.values.size)}; never scored as "
             "targets, read as the last finite value of their node as inputs")
    emit(metrics_table(result.test, protocol.metrics, protocol.report_horizons,
                       minutes=forecast.data.info.interval_minutes))
    if written:
        emit(f"wrote {written}")
    return 0


def _add_parser(sub: Any) -> argparse.ArgumentParser:
    p = sub.add_parser("evaluate", help="evaluate a baseline (or an ST-VLM checkpoint) on a dataset")
    p.add_argument("--dataset", default=None, help="dataset name (see `stvlm data list`)")
    p.add_argument("--model", default=None, help="baseline name, e.g. seasonal-naive, ridge, stid")
    p.add_argument("--checkpoint", default=None, help="an ST-VLM checkpoint folder from `stvlm train`")
    p.add_argument("--protocol", default=None, help="standard (default) or tgcn")
    p.add_argument("--few-shot", type=float, default=None, help="share of training windows, in (0, 1] (default 1)")
    p.add_argument("--few-shot-method", default=None, help="first (contiguous, the default) or random")
    p.add_argument("--seed", type=int, default=None, help="seed of training and of a random selection (default 0)")
    p.add_argument("--set", action="append", metavar="SCOPE.KEY=VALUE",
                   help="model.* options of the baseline, train.* settings or data.* settings, e.g. "
                        "data.lookback_days=[1,7,14] (repeatable); what it leaves, the accuracy benchmark's "
                        "choices for this baseline on this dataset and few-shot setting fill in "
                        "(its lookback days, epoch cap, options: stvlm.configs.pair_choices)")
    p.add_argument("--verify", help="file check before loading: sha256 (default), size or none; a checkpoint "
                   "is loaded with the check it was trained with")
    p.add_argument("--json", default=None, help="write the metrics and provenance to this file")
    add_data_root(p, f"$STVLM_DATA; with --checkpoint, {CHECKPOINT_ROOT}")
    p.set_defaults(run=_run)
    return p


COMMANDS.add("evaluate", Command("evaluate", _add_parser))
