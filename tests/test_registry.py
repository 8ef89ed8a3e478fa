"""The generic registry: registration, lookup, and the error that lists known names."""

from __future__ import annotations

import pytest

from stvlm.errors import UnknownNameError
from stvlm.registry import Registry


def test_register_get_and_order() -> None:
    reg: Registry[int] = Registry("widget")

    @reg.register("b")
    def b() -> int:
        return 2

    reg.add("a", 1)  # type: ignore[arg-type]
    assert reg.names() == ["b", "a"]
    assert reg.get("b")() == 2 and reg.get("a") == 1
    assert "a" in reg and "c" not in reg and len(reg) == 2 and list(reg) == ["b", "a"]


def test_unknown_and_duplicate_names() -> None:
    reg: Registry[int] = Registry("widget")
    reg.add("x", 1)
    reg.add("y", 2)
    with pytest.raises(UnknownNameError) as err:
        reg.get("z")
    assert str(err.value) == "unknown widget 'z'; known: x, y"
    with pytest.raises(ValueError, match="widget 'x' is already registered"):
        reg.add("x", 3)
