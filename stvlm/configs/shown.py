"""A config value as a one-line error shows it: ``repr``, bounded.

A config comes from files a user may not have written (a YAML file's aliases can name 43 million
strings in 443 bytes), so an error message never prints more than a bounded part of a value.
"""

from __future__ import annotations

import reprlib
from typing import Any

_BOUNDED = reprlib.Repr()
_BOUNDED.maxlevel, _BOUNDED.maxstring, _BOUNDED.maxother = 2, 120, 120
_BOUNDED.maxlist = _BOUNDED.maxtuple = _BOUNDED.maxdict = _BOUNDED.maxset = _BOUNDED.maxfrozenset = 8


def shown(value: Any) -> str:
    """``repr(value)`` for a one-line error: a 400-digit integer cut to its first and last
    digits, and a large or deep value (a YAML alias bomb: 443 bytes, 43 million strings) cut by
    :mod:`reprlib`; small values read exactly as ``repr``."""
    if isinstance(value, int) and not isinstance(value, bool):
        text = repr(value)
        return text if len(text) <= 40 else f"{text[:18]}...{text[-18:]} ({len(text)} digits)"
    bounded = _BOUNDED.repr(value)
    return repr(value) if "..." not in bounded else bounded
