"""The command line shared by the study scripts (``studies/fewshot.py`` and friends).

    python studies/fewshot.py [--smoke-test] [--config FILE] [--storage DIR|URI]
        [--results-dir DIR] [--data-root DIR] [--num-samples N] [--optuna-storage URL]
        [--address ADDR] [--num-cpus N] [--report-every S] [-v]

The scripts stay thin: :func:`study_main` parses with :func:`build_parser`, calls
:func:`run_from_args`, prints :func:`summary` and returns :func:`exit_code` (0; 2 for bad input,
before any trial; 130 when the study stopped before its end).
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from harness.results.files import CURVES_FILE, STUDY_RECORD, TRIALS_FILE

if TYPE_CHECKING:  # the runner imports torch, Ray and the model (seconds): only when a study runs
    from harness.runtime.runner import StudyOptions, StudyOutcome
    from harness.study.spec import StudySpec


def positive_int(text: str) -> int:
    """argparse type of a count: a whole number >= 1 (``--num-cpus 0`` would otherwise mean "all
    CPUs" without a word, and ``--report-every 0`` a table with every result)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} is not allowed; give a whole number >= 1")
    return value


def build_parser(prog: str, description: str, default_config: Path) -> argparse.ArgumentParser:
    """The study scripts' arguments (defaults documented in ``--help``)."""
    p = argparse.ArgumentParser(prog=prog, description=description)
    arg = p.add_argument
    arg("--config", type=Path, default=default_config,
        help=f"study spec TOML (default: {default_config.name})")
    arg("--smoke-test", action="store_true",
        help="the same study cut to seconds: tiny models, at most 2 arms, 1 seed, 2 epochs of 2 batches")
    arg("--storage", default=None,
        help="checkpoint storage: absolute path or URI (s3://, gs://); "
             "default $STVLM_STORAGE or <results-dir>/ray")
    arg("--results-dir", default=None,
        help="results root (default $STVLM_RESULTS or runs/studies/ in the checkout, git-ignored)")
    arg("--data-root", default=None, help="folder of datasets (default $STVLM_DATA)")
    arg("--num-samples", type=positive_int, default=None,
        help="Optuna trials per arm and seed (overrides the spec)")
    arg("--optuna-storage", default=None,
        help="sqlite:////abs/optuna.db or an absolute journal file (default: optuna.db in the "
             "study's results folder; open it with optuna-dashboard)")
    arg("--mlflow", action="store_true",
        help="log every trial to MLflow (also: mlflow = true in the spec; needs mlflow-skinny)")
    arg("--mlflow-uri", default=None,
        help="MLflow tracking URI (default: $MLFLOW_TRACKING_URI, else mlflow.db in the study's "
             "results folder)")
    arg("--address", default=None,
        help="Ray cluster to join (default: $RAY_ADDRESS, else a local instance)")
    arg("--num-cpus", type=positive_int, default=None,
        help="CPUs of a local Ray instance (default: all); a resumed study keeps the number of "
        "trials at once its first launch chose")
    arg("--report-every", type=positive_int, default=15,
        help="seconds between progress tables (default: 15; a resumed study keeps its first launch's)")
    arg("-v", "--verbose", action="store_true", help="log harness progress (INFO)")
    return p


def spec_from_args(args: argparse.Namespace) -> StudySpec:
    """The study spec named by ``--config`` (cut down under ``--smoke-test``)."""
    from harness.study.spec import load_spec

    spec = load_spec(args.config)
    return spec.smoke() if args.smoke_test else spec


def options_from_args(args: argparse.Namespace) -> StudyOptions:
    from harness.runtime.runner import StudyOptions

    return StudyOptions(
        storage=args.storage,
        results_dir=args.results_dir,
        data_root=args.data_root,
        num_samples=args.num_samples,
        optuna_storage=args.optuna_storage,
        mlflow=args.mlflow,
        mlflow_uri=args.mlflow_uri,
        address=args.address,
        num_cpus=args.num_cpus,
        max_report_frequency=args.report_every,
    )


def run_from_args(args: argparse.Namespace) -> StudyOutcome:
    """Load, validate and run the study the arguments describe.

    The spec file, the results folder and the Optuna storage are checked before the runner
    (torch, Ray, the model) is imported, so a typo costs about a second, not five.
    """
    from harness.study.paths import check_optuna_storage, check_output_dir
    from harness.cli.threads import shorten_openmp_spin

    shorten_openmp_spin()  # before torch is imported; the local Ray workers inherit it

    if not Path(args.config).is_file():
        from stvlm.errors import ConfigError

        raise ConfigError(f"study config {args.config} does not exist")
    if args.results_dir:
        check_output_dir(args.results_dir, "--results-dir")
    check_optuna_storage(args.optuna_storage)
    from harness.runtime.runner import run_study

    return run_study(spec_from_args(args), options_from_args(args))


#: The study scripts' exit status when the study stopped before every planned trial ran (Ctrl-C:
#: Ray Tune saves its state and returns), as a shell reports a process ended by SIGINT.
STOPPED_EXIT = 130


def summary(outcome: StudyOutcome) -> str:
    """A few lines for the end of a study script."""
    counts = ", ".join(f"{n} {status}" for status, n in sorted(outcome.counts.items())) or "no trials"
    if outcome.complete:
        verb = "resumed and finished" if outcome.resumed else "finished"
        head = f"{verb} in {outcome.wall_seconds:.0f} s: {counts}"
    else:
        head = (f"stopped before its end after {outcome.wall_seconds:.0f} s: {counts}, "
                f"{sum(outcome.counts.values())} of {outcome.planned} planned trials recorded; the same "
                "command resumes it (recorded trials are kept, a stopped one goes on from its last "
                "checkpoint)")
    return (
        f"study {outcome.name} {head}\n"
        f"results: {outcome.results / TRIALS_FILE}\n"
        f"         {outcome.results / CURVES_FILE}\n"
        f"         {outcome.results / STUDY_RECORD}\n"
        f"checkpoints: {outcome.experiment_path}"
        + (f"\noptuna: {outcome.optuna_storage}  (browse: optuna-dashboard {outcome.optuna_storage})"
           if outcome.optuna_storage else "")
        + (f"\nmlflow: {outcome.mlflow_uri}  (browse: mlflow ui --backend-store-uri {outcome.mlflow_uri})"
           if outcome.mlflow_uri else "")
    )


def exit_code(outcome: StudyOutcome) -> int:
    """0 when every planned trial of the study ran, else :data:`STOPPED_EXIT`."""
    return 0 if outcome.complete else STOPPED_EXIT


def study_main(prog: str, description: str, default_config: Path, argv: list[str] | None = None) -> int:
    """A study script's whole command line: its exit status, the summary or a one-line error."""
    from harness.cli.commands.base import emit
    from stvlm.errors import STVLMError

    args = build_parser(prog, description, default_config).parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(name)s: %(message)s")
    try:
        outcome = run_from_args(args)
    except STVLMError as err:
        sys.stderr.write(f"{prog}: error: {err}\n")
        return 2
    except KeyboardInterrupt:  # a Ctrl-C before Ray Tune runs, or a second one while it saves
        sys.stderr.write(f"{prog}: interrupted; the same command resumes the study (recorded trials "
                         "are kept)\n")
        return STOPPED_EXIT
    emit(summary(outcome))
    return exit_code(outcome)
