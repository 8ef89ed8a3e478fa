"""Build a comparison report from study results; the same as ``stvlm report``, for ``ray job submit``.

    python studies/report.py runs/studies/fewshot-nycbike-drop --anchors results/anchors/published.csv
    ray job submit --address http://HEAD:8265 --working-dir . -- \\
        python studies/report.py /shared/studies/fewshot-nycbike-drop /shared/studies/fewshot-gpt2 \\
        --out /shared/compare

Inside a Ray job the working dir is a temporary copy of the checkout, without its git-ignored
files (``runs/``) and deleted with the job: give the study folders the job wrote (absolute, as
its ``--results-dir`` was) and an absolute ``--out``; a relative report folder is refused.

Needs no Ray instance: it reads the Parquet files of the given results folders.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a script (ray job submit uploads the checkout uninstalled)
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from harness.cli.commands.report import add_report_arguments, run_report  # noqa: E402
from stvlm.errors import STVLMError  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="studies/report.py", description=__doc__.split("\n")[0])
    add_report_arguments(parser)
    parser.set_defaults(prog="python studies/report.py")
    args = parser.parse_args(argv)
    try:
        return run_report(args)
    except STVLMError as err:
        sys.stderr.write(f"report: error: {err}\n")
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
