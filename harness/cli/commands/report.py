"""``stvlm report RESULTS... [--out DIR] [--anchors FILE]``: studies in, comparison report out."""

from __future__ import annotations

import argparse
import os
import shlex
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from harness.cli.commands.base import COMMANDS, Command, emit
from harness.study.owned import check_report_dir
from harness.study.paths import check_output_dir


def add_report_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """The report's arguments (shared by ``stvlm report`` and ``studies/report.py``)."""
    parser.add_argument("results", nargs="+", metavar="RESULTS",
                        help="results/<study> folders (trials.parquet + study.json); several = side by side")
    parser.add_argument("--out", default=None, help="report folder (default: <first RESULTS>/report)")
    parser.add_argument("--anchors", default=None,
                        help="CSV of published numbers, e.g. results/anchors/published.csv")
    parser.add_argument("--metric", default=None,
                        help="ranking and plotting metric (default: the study's metric, else mae)")
    parser.add_argument("--level", type=float, default=0.95, help="confidence level of seed-noise intervals")
    return parser


def report_command(args: argparse.Namespace) -> str:
    """The command line that reproduces this report (recorded in its provenance)."""
    words = [*shlex.split(args.prog), *args.results]
    for flag, value in (("--out", args.out), ("--anchors", args.anchors), ("--metric", args.metric)):
        if value is not None:
            words += [flag, str(value)]
    if args.level != 0.95:
        words += ["--level", f"{args.level:g}"]
    return shlex.join(words)


def report_target(args: argparse.Namespace) -> str:
    """The report folder as given: ``--out``, or the default ``<first RESULTS>/report``
    (:func:`harness.report.build.default_out_dir`, not imported here: it loads the report stack)."""
    return str(args.out) if args.out is not None else f"{args.results[0]}/report"


def check_job_output(args: argparse.Namespace, env: Mapping[str, str] = os.environ) -> None:
    """Inside ``ray job submit --working-dir`` the script runs in a temporary copy of the working
    dir that is deleted with the job: refuse a relative report folder (``--out``, or the default
    ``<first RESULTS>/report``), which would be written there and lost."""
    from harness.study.storage import ray_job_id
    from stvlm.errors import ConfigError

    job = ray_job_id(env)
    target = report_target(args)
    if job and not Path(target).expanduser().is_absolute():
        raise ConfigError(
            f"the report folder {target!r} is a relative path inside the Ray job {job} (its working dir "
            "is a temporary copy that is deleted); pass an absolute --out"
        )


def run_report(args: argparse.Namespace) -> int:
    """Build the report described by parsed arguments and print where it went."""
    check_job_output(args)
    if args.out is not None:
        check_output_dir(args.out, "--out")
    check_report_dir(report_target(args), "--out", args.results)  # before the report stack loads

    from harness.report import ReportConfig, build_report

    cfg = ReportConfig.from_dict({"metric": args.metric, "level": args.level})
    command = report_command(args)
    out = build_report(args.results, args.out, args.anchors, config=cfg, command=command)
    emit(f"wrote {out / 'report.md'}")
    emit(f"wrote {out / 'report.html'}")
    return 0


def _add_parser(sub: Any) -> argparse.ArgumentParser:
    parser = sub.add_parser("report", help="aggregate study results into a Markdown + HTML report")
    add_report_arguments(parser)
    parser.set_defaults(run=run_report, prog="stvlm report")
    return parser


COMMANDS.add("report", Command("report", _add_parser))
