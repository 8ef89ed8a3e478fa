"""The backbone registry (its own module so family files can import it without cycles)."""

from __future__ import annotations

from stvlm.registry import Registry

BACKBONES: Registry = Registry("backbone")
