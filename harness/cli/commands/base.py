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


def add_data_root(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--data-root", default=None, help="folder with one sub-folder per dataset (default: $STVLM_DATA)"
    )
