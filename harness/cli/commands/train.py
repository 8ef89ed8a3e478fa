"""``stvlm train``: one ST-VLM experiment on one machine; writes metrics and the checkpoint."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.cli.commands.base import COMMANDS, Command, emit
from harness.study.paths import check_output_dir
from stvlm.data.root import resolve_data_root
from stvlm.run_files import RUN_CHECKPOINT, RUN_CONFIG, RUN_RECORDS, RUN_SUMMARY

if TYPE_CHECKING:
    from stvlm.configs import ExperimentConfig
    from stvlm.configs.pair_choices import PairChoices


def experiment_config(args: argparse.Namespace) -> tuple[ExperimentConfig, PairChoices | None]:
    """The ``ExperimentConfig`` a ``stvlm train`` command line names:
    ``ExperimentConfig.default()`` with the ``--config`` file laid over it (a key the file leaves
    out keeps the default: :func:`harness.study.config_files.layered`), the data flags, then
    ``--set``. The accuracy benchmark's choices for the (dataset, few-shot setting) pair fill in
    what neither the file nor ``--set`` sets (:func:`harness.cli.pair_defaults.pair_defaults`,
    which names them on stdout); returned beside the config (``None``: none applied)."""
    from harness.cli.pair_defaults import pair_defaults, set_keys
    from harness.study.config_files import layered, load_mapping
    from stvlm.configs import ExperimentConfig

    raw, from_file = layered(ExperimentConfig.default(), load_mapping(args.config) if args.config else {})
    data = [f"data.{key}={json.dumps(value)}" for key, value in (
        ("dataset", args.dataset), ("protocol", args.protocol), ("few_shot.ratio", args.few_shot),
        ("few_shot.method", args.few_shot_method), ("few_shot.budget", args.budget)) if value is not None]
    cfg = ExperimentConfig.from_dict(raw).with_overrides([*data, *(args.set or [])])
    applied = pair_defaults("st-vlm", cfg.data, user_keys=from_file | set_keys(args.set or []))
    if applied:
        cfg = cfg.with_values(applied.values)
    if args.data_root:  # absolute: the checkpoint keeps it, and is read again from elsewhere
        cfg = cfg.replace(data=cfg.data.replace(data_root=str(Path(args.data_root).expanduser().resolve())))
    return cfg, applied


def check_run_folder(out: Path, cfg: ExperimentConfig) -> None:
    """Refuse an output folder that holds the run of another experiment (its ``config.json``
    hashes otherwise): training would replace that run's checkpoint and metrics. A folder of the
    same experiment (a re-run, the default ``runs/<name>-<hash>``) is written again."""
    from stvlm.configs import ExperimentConfig
    from stvlm.errors import ConfigError, STVLMError

    if not (out / RUN_CONFIG).is_file():
        return
    try:
        stored = ExperimentConfig.from_dict(json.loads((out / RUN_CONFIG).read_text())).config_hash()
    except (OSError, ValueError, STVLMError):  # unreadable, or another version's settings
        stored = "unreadable here"
    if stored != cfg.config_hash():
        raise ConfigError(
            f"--out {str(out)!r} holds the run of another experiment (config {stored}, this one "
            f"{cfg.config_hash()}); nothing was written: remove the folder or choose another --out"
        )


def _run(args: argparse.Namespace) -> int:
    # Paths and the config first: a typo is reported before torch is imported (~5 s).
    if args.out:
        check_output_dir(args.out, "--out")
    cfg, applied = experiment_config(args)
    out = Path(args.out) if args.out else Path("runs") / f"{cfg.name}-{cfg.config_hash()}"
    check_run_folder(out, cfg)
    resolve_data_root(cfg.data.data_root)  # a missing data root too (the data loads only after torch)
    from stvlm.progress import progress_enabled

    progress_enabled()  # a bad $STVLM_PROGRESS, before the data loads rather than at the first bar

    from harness.cli.pair_defaults import record
    from harness.cli.text_tables import metrics_table
    from stvlm.experiment import prepare_run, run_experiment, save_run
    from stvlm.monitor import monitor_value
    from stvlm.progress import EpochBar

    prepared = prepare_run(cfg)  # checks the device, names and monitor before the data loads
    epochs = EpochBar(cfg.train.epochs, cfg.train.monitor, desc=f"train {cfg.data.dataset}")
    try:
        result = run_experiment(cfg, prepared=prepared, callbacks=[epochs])
    finally:
        epochs.close()
    forecast, model = prepared
    # the run first: a reader that closes stdout early (| head) ends the command at a print
    summary = {"config_hash": cfg.config_hash(), **result.summary(), **record(applied)}
    save_run(out, cfg, model, result, {RUN_SUMMARY: summary})
    emit(
        f"{cfg.name}: {cfg.model.backbone.name} backbone, {cfg.model.image.encoding} image, fusion depth "
        f"{cfg.model.fusion.depth}, {cfg.model.finetune.strategy} fine-tuning on {cfg.data.dataset} "
        f"({forecast.protocol.name}, few-shot {cfg.data.few_shot.label}); best epoch "
        f"{result.train.best_epoch} of {result.train.epochs_run} by validation {cfg.train.monitor} "
        f"{monitor_value(result.val, cfg.train.monitor):.4f}"
        + (" (the untrained start: no epoch beat it on validation)" if result.train.best_epoch == 0 else "")
    )
    p = forecast.protocol
    emit(metrics_table(result.test, p.metrics, p.report_horizons, minutes=forecast.data.info.interval_minutes))
    emit(f"wrote {out} ({', '.join(RUN_RECORDS)}, {RUN_CHECKPOINT}/)")
    return 0


def _add_parser(sub: Any) -> argparse.ArgumentParser:
    p = sub.add_parser("train", help="train one ST-VLM experiment and write metrics + checkpoint")
    p.add_argument("--config", default=None,
                   help="experiment file (.toml/.yaml/.json) laid over ExperimentConfig.default() (tiny "
                        "random ViLT, the benchmark's training budget): what neither it nor --set sets "
                        "gets the default and the accuracy benchmark's choices for ST-VLM on the pair of "
                        "dataset and few-shot setting (its epoch cap and lookback days: "
                        "stvlm.configs.pair_choices)")
    p.add_argument("--dataset", default=None, help="dataset name (default: the config's, nycbike-drop)")
    p.add_argument("--protocol", default=None, help="protocol name (standard, tgcn)")
    p.add_argument("--few-shot", type=float, default=None, metavar="RATIO",
                   help="keep this share of the training windows (first block with its lookback)")
    p.add_argument("--few-shot-method", default=None, help="first (contiguous, the default) or random "
                   "(seeded by data.few_shot.seed, 0 unless --set gives another)")
    p.add_argument("--budget", default=None, help="a named few-shot budget, e.g. st-llm-10%%")
    p.add_argument("--set", action="append", metavar="KEY=VALUE",
                   help="override a setting by dotted path, e.g. model.fusion.depth=2 (repeatable)")
    p.add_argument("--out", default=None, help="output folder (default: runs/<name>-<config hash>); "
                   "one holding another experiment's run is refused")
    p.add_argument("--data-root", default=None, help="folder with one sub-folder per dataset (default: $STVLM_DATA)")
    p.set_defaults(run=_run)
    return p


COMMANDS.add("train", Command("train", _add_parser))
