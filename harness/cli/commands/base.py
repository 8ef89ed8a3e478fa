"""The command registry and the output function of the CLI."""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from typing import Any, Callable

from stvlm.registry import Registry


@dataclass(frozen=True)
class Command:
    """A CLI verb: ``add_parser(subparsers)`` declares its arguments and sets ``run``."""

    name: str
    add_parser: Callable[[Any], argparse.ArgumentParser]


COMMANDS: Registry[Command] = Registry("command")


def emit(text: str = "") -> None:
    """Write one block of user-facing output to stdout (the CLI's only output channel)."""
    sys.stdout.write(text + ("\n" if not text.endswith("\n") else ""))
    sys.stdout.flush()


#: What ``--data-root`` defaults to for a checkpoint, which keeps the root it was trained with
#: (:func:`stvlm.experiment.load_checkpoint`).
CHECKPOINT_ROOT = "the checkpoint's own data root where that folder exists, else $STVLM_DATA"


def add_data_root(parser: argparse.ArgumentParser, default: str = "$STVLM_DATA") -> None:
    """``--data-root``, its help naming what it defaults to."""
    parser.add_argument(
        "--data-root", default=None, help=f"folder with one sub-folder per dataset (default: {default})"
    )
