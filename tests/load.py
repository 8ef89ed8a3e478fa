"""Waiting on a loaded machine: limits that scale with the load, and event waits that use them.

Tests never race a fixed wall-clock deadline: on a 2-core box beside other jobs everything runs
several times slower (measured 3-20x), so a limit is a number of idle-machine seconds scaled by
the load at the moment it is checked.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable


def load_factor() -> float:
    """How many times slower than idle this machine runs now: the 1-minute load average per
    core, at least 1 (a loaded 2-core box at load 12 gives 6)."""
    return max(1.0, os.getloadavg()[0] / (os.cpu_count() or 1))


def patient(seconds: float) -> float:
    """A limit for an event that takes at most ``seconds`` on an idle machine, scaled by the
    load now: integration tests wait on events, and only give up after a load-aware limit."""
    return seconds * load_factor()


def wait_until(
    predicate: Callable[[], bool], *, what: str, seconds: float,
    alive: Callable[[], bool] = lambda: True, poll: float = 0.5,
) -> None:
    """Wait until ``predicate()`` holds, polling; fail when ``alive()`` turns false (the process
    waited on ended) or after :func:`patient` ``(seconds)``, re-scaled by the load at every poll."""
    start = time.monotonic()
    while not predicate():
        if not alive():
            raise AssertionError(f"the process ended before {what}")
        waited = time.monotonic() - start
        if waited > patient(seconds):
            raise AssertionError(f"{what} did not happen in {waited:.0f} s (load factor {load_factor():.1f})")
        time.sleep(poll)
