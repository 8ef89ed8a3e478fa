"""What a successful run may print: checks shared by the tests that run studies."""

from __future__ import annotations

import re

# Lines a successful run must never print: the tokenizer's "sequence length is longer than the
# specified maximum" warning (prompts are cut on purpose), and a traceback of the driver. Lines
# Ray forwards from trial workers start with "(<actor> pid=...)"; Ray's own worker-shutdown race
# (ray-project/ray#63888) can print one there, outside our code, so only driver lines count.
NOISE = ("longer than the specified maximum sequence length", "will result in indexing errors")
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def assert_clean_output(text: str) -> None:
    """A successful study printed no alarming warning and no driver traceback."""
    for line in text.splitlines():
        line = ANSI.sub("", line)  # Ray colours the "(<actor> pid=...)" prefix of worker lines
        assert not any(n in line for n in NOISE), line
        if "Traceback" in line:
            assert line.lstrip().startswith("("), f"driver traceback in a successful run:\n{text[-3000:]}"
