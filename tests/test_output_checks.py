"""The clean-output check of the smoke study (tests/output.py) on hand-made lines."""

from __future__ import annotations

import pytest

from tests.output import assert_clean_output


def test_worker_lines_may_carry_ray_tracebacks_coloured_or_not() -> None:
    assert_clean_output("(run_trial pid=7) Traceback (most recent call last):")
    assert_clean_output("\x1b[36m(run_trial pid=7)\x1b[0m Traceback (most recent call last):")


@pytest.mark.parametrize("line", [
    "Traceback (most recent call last):",
    "\x1b[31mTraceback (most recent call last):\x1b[0m",
    "Token indices sequence length is longer than the specified maximum sequence length",
])
def test_driver_tracebacks_and_tokenizer_warnings_fail(line: str) -> None:
    with pytest.raises(AssertionError):
        assert_clean_output(f"study finished\n{line}\n")
