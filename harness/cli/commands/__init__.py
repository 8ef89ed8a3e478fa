"""CLI verbs of ``stvlm``: each module registers one ``Command`` in ``COMMANDS``."""

from __future__ import annotations

from harness.cli.commands.base import COMMANDS, Command, emit
from harness.cli.commands import data as _data  # noqa: F401  (registers "data")
from harness.cli.commands import evaluate as _evaluate  # noqa: F401  (registers "evaluate")
from harness.cli.commands import train as _train  # noqa: F401  (registers "train")
from harness.cli.commands import report as _report  # noqa: F401  (registers "report")
from harness.cli.commands import predict as _predict  # noqa: F401  (registers "predict")

__all__ = ["COMMANDS", "Command", "emit"]
