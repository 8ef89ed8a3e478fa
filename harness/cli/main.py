"""The ``stvlm`` console script: single-machine verbs.

    stvlm data list|info NAME|fetch NAME [--data-root DIR]
    stvlm evaluate --dataset D --model M [--protocol P] [--few-shot R] [--json FILE]
    stvlm evaluate --checkpoint DIR [--json FILE]
    stvlm train [--config FILE] [--dataset D] [--few-shot R] [--set key=value ...] [--out DIR]
    stvlm predict --checkpoint DIR --out FILE.npz [--part test]
    stvlm report RESULTS... [--out DIR] [--anchors FILE]

Bad input (an unknown name, a missing file, a value out of range) ends with one line on stderr
naming the problem and exit status 2, before any work starts; no traceback. Output read by a
program that stops reading early (``stvlm data info sz-taxi | head``) ends the verb quietly with
status 141, a shell's for a command killed by SIGPIPE.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence

from harness.cli.commands import COMMANDS
from harness.cli.threads import shorten_openmp_spin
from stvlm.errors import STVLMError

log = logging.getLogger("stvlm")


class _Parser(argparse.ArgumentParser):
    """argparse with a one-line error and exit status 2 (argparse's own convention)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        sys.stderr.write(f"stvlm: error: {message}\n")
        raise SystemExit(2)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="stvlm", description=__doc__.split("\n\n")[0])
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress (INFO)")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    for name in COMMANDS.names():
        COMMANDS.get(name).add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the exit status."""
    shorten_openmp_spin()  # before any verb imports torch (harness/cli/threads.py says why)
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(asctime)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    try:
        return int(args.run(args) or 0)
    except STVLMError as err:
        sys.stderr.write(f"stvlm: error: {err}\n")
        return 2
    except KeyboardInterrupt:
        sys.stderr.write("stvlm: interrupted\n")
        return 130
    except BrokenPipeError:
        # The reader of stdout has gone. Point stdout at /dev/null so that the interpreter's
        # flush at exit does not raise again (the recipe of Python's signal docs).
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141
    except OSError as err:  # a file the verb reads or writes: disk full, permissions, a vanished folder
        sys.stderr.write(f"stvlm: error: {err}\n")
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
