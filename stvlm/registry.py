"""One generic name -> factory registry.

Components register where they are defined::

    DATASETS = Registry("dataset")

    @DATASETS.register("los-loop")
    def los_loop(...): ...

Registries are filled by explicit imports in the package ``__init__`` files (no filesystem scans),
and looking up an unknown name raises :class:`~stvlm.errors.UnknownNameError` listing the known
ones.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

from stvlm.errors import UnknownNameError

T = TypeVar("T")


class Registry(Generic[T]):
    """A mapping from names to objects (usually factories) of one kind.

    Args:
        kind: what the registry holds, used in error messages ("dataset", "image encoder").
    """

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._entries: dict[str, T] = {}

    def register(self, name: str) -> Callable[[T], T]:
        """Decorator that registers its target under ``name``; duplicates raise ``ValueError``."""

        def decorator(obj: T) -> T:
            self.add(name, obj)
            return obj

        return decorator

    def add(self, name: str, obj: T) -> None:
        """Register ``obj`` under ``name``; a name can be registered once only."""
        if name in self._entries:
            raise ValueError(f"{self.kind} {name!r} is already registered")
        self._entries[name] = obj

    def get(self, name: str) -> T:
        """Return the entry for ``name``, or raise listing the known names."""
        try:
            return self._entries[name]
        except KeyError:
            raise UnknownNameError(
                f"unknown {self.kind} {name!r}; known: {', '.join(self.names())}"
            ) from None

    def names(self) -> list[str]:
        """Registered names, in registration order."""
        return list(self._entries)

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def __repr__(self) -> str:
        return f"Registry({self.kind!r}, {self.names()})"


def unknown_name(path: str, value: object, allowed: list[str]) -> UnknownNameError:
    """The error for a config field holding an unregistered name (one wording everywhere):
    ``"<path> = <value> is unknown; allowed: <names>"``."""
    return UnknownNameError(f"{path} = {value!r} is unknown; allowed: {', '.join(allowed)}")
