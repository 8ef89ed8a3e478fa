"""User-facing error types.

Every error a user can cause with bad input derives from :class:`STVLMError`. Command-line entry
points catch it and print its message as one line (no traceback) with a non-zero exit, so each
message must name the problem by itself: the field or file, the value, and what is allowed.
"""

from __future__ import annotations


class STVLMError(Exception):
    """Base class for errors caused by user input or the environment (not by bugs)."""


class ConfigError(STVLMError, ValueError):
    """A configuration value is unknown, of the wrong type or out of range."""


class UnknownNameError(ConfigError, KeyError):
    """A name was looked up in a registry that does not hold it."""

    def __str__(self) -> str:  # KeyError would otherwise quote the message
        return str(self.args[0]) if self.args else ""


class DataError(STVLMError):
    """A dataset file is missing, truncated, corrupt or does not match its checksum."""


class UnsafePickleError(DataError):
    """A pickle file asked to load a type outside the allowed set."""


class ProtocolError(STVLMError, ValueError):
    """An evaluation protocol does not fit a dataset (e.g. horizon longer than the series)."""


class MetricError(STVLMError, ValueError):
    """A metric cannot be computed (no scored entry, non-finite predictions): never a NaN."""
