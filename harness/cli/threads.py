"""OpenMP's spin-wait, shortened for every process the ``stvlm`` verbs and study scripts run.

torch's CPU wheels run their thread pools on GNU OpenMP, whose idle threads spin for about
300,000 iterations before they sleep. Alone that is harmless; beside other busy processes the
spinning threads take the cores the working ones need. Measured with
``benchmarks/contention.py`` on 2 idle cores (``stvlm evaluate`` of a STID fit, 13-17 s alone;
results/benchmarks/contention.json): with libgomp's default spin, four copies side by side took
19.7x as long as one alone and one copy beside a CPU hog 9.9x. With a spin of 10,000
iterations: 4.7x and 2.2x, and no slower alone. ``OMP_WAIT_POLICY=PASSIVE`` (no spin) gave
2.5x and 1.2x but was about 25% slower alone in an earlier run, so the short spin is the
default.

libgomp reads the variable when it is loaded, so :func:`shorten_openmp_spin` must run before
torch is imported; a wait policy the user set (``OMP_WAIT_POLICY`` or ``GOMP_SPINCOUNT``) is
kept. Child processes (Ray workers of a local instance) inherit it.
"""

from __future__ import annotations

import os
from collections.abc import MutableMapping

#: Spin iterations before an idle OpenMP thread sleeps (libgomp's default is 300,000).
SPIN_COUNT = "10000"


def shorten_openmp_spin(env: MutableMapping[str, str] = os.environ) -> bool:
    """Set ``GOMP_SPINCOUNT`` unless a wait policy is already set; whether it was set here."""
    if "OMP_WAIT_POLICY" in env or "GOMP_SPINCOUNT" in env:
        return False
    env["GOMP_SPINCOUNT"] = SPIN_COUNT
    return True
