"""The OpenMP spin the CLI and the study scripts set before torch loads (harness/cli/threads.py)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from harness.cli.threads import SPIN_COUNT, shorten_openmp_spin

REPO = Path(__file__).resolve().parents[2]


def test_sets_the_spin_unless_a_policy_is_set() -> None:
    env: dict[str, str] = {}
    assert shorten_openmp_spin(env) and env == {"GOMP_SPINCOUNT": SPIN_COUNT} and SPIN_COUNT == "10000"
    for given in ({"OMP_WAIT_POLICY": "ACTIVE"}, {"GOMP_SPINCOUNT": "300000"}):
        env = dict(given)
        assert not shorten_openmp_spin(env) and env == given  # the user's choice is kept


def test_the_cli_sets_it_before_torch_is_imported() -> None:
    """In a fresh interpreter: after `stvlm data list` ran, the variable is set and torch had not
    been imported when it was (libgomp reads it when torch loads it)."""
    code = (
        "import os, sys\n"
        "import harness.cli.threads as t\n"
        "real = t.shorten_openmp_spin\n"
        "seen = []\n"
        "def spy(env=os.environ):\n"
        "    seen.append('torch' in sys.modules)\n"
        "    return real(env)\n"
        "t.shorten_openmp_spin = spy\n"
        "import harness.cli.main as cli\n"
        "cli.shorten_openmp_spin = spy\n"
        "cli.main(['data', 'list'])\n"
        "print('RESULT', seen, os.environ.get('GOMP_SPINCOUNT'))\n"
    )
    env = {k: v for k, v in __import__("os").environ.items() if k not in ("GOMP_SPINCOUNT", "OMP_WAIT_POLICY")}
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=300)
    line = [ln for ln in done.stdout.splitlines() if ln.startswith("RESULT")]
    assert line == ["RESULT [False] 10000"], (done.stdout[-1000:], done.stderr[-1000:])
