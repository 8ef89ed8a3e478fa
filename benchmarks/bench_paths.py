"""Where the benchmark scripts read and write, in one place.

Every script runs as ``python benchmarks/<name>.py`` (so this folder is first on ``sys.path``)
and takes its default output paths from here; ``--out``/``--json``/``--out-dir`` still override
them.
"""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
"""The repository's root."""

ACCURACY_DIR = REPO / "results" / "fewshot_accuracy"
"""The few-shot accuracy table's folder: its page, its JSON and every check that feeds it."""

ACCURACY_TABLE = ACCURACY_DIR / "fewshot_accuracy.json"
"""The committed accuracy table (:mod:`fewshot_accuracy` writes it)."""

BENCHMARKS_DIR = REPO / "results" / "benchmarks"
"""The speed and scaling benchmarks' records."""
