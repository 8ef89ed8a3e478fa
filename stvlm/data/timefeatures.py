"""Calendar features of time steps: time of day, day of week, and the encodings models use.

Conventions used across the project: ``tod`` is the step of the day in ``[0, steps_per_day)``,
``dow`` the day of the week with 0 = Monday (ISO weekday - 1), and ``time_of_week`` the step of the
week ``dow * steps_per_day + tod`` (the index of a historical-average baseline).
"""

from __future__ import annotations

import math
from typing import TypeVar

import numpy as np
import torch

ArrayT = TypeVar("ArrayT", np.ndarray, torch.Tensor)

# 1970-01-01 (day 0 of datetime64) was a Thursday, day 3 when Monday is 0.
_EPOCH_DOW = 3


def make_timestamps(
    start: str | np.datetime64, num_steps: int, interval_minutes: int
) -> np.ndarray:
    """Evenly spaced step start times.

    Args:
        start: first timestamp (``"2012-03-01T00:00"``).
        num_steps: T.
        interval_minutes: minutes between steps.

    Returns:
        ``[T]`` ``datetime64[m]``.
    """
    first = np.datetime64(start, "m")
    return first + np.arange(num_steps, dtype=np.int64) * np.timedelta64(interval_minutes, "m")


def tod_from_timestamps(timestamps: np.ndarray, interval_minutes: int) -> np.ndarray:
    """Step of the day of each timestamp.

    Args:
        timestamps: ``[T]`` datetime64 (any unit).
        interval_minutes: minutes per step.

    Returns:
        ``[T]`` int64 ``minutes since midnight // interval_minutes``.
    """
    minutes = timestamps.astype("datetime64[m]")
    since_midnight = (minutes - minutes.astype("datetime64[D]")).astype(np.int64)  # minutes
    return since_midnight // interval_minutes


def dow_from_timestamps(timestamps: np.ndarray) -> np.ndarray:
    """Day of the week of each timestamp, 0 = Monday.

    Args:
        timestamps: ``[T]`` datetime64 (any unit).

    Returns:
        ``[T]`` int64 in ``[0, 7)``.
    """
    days = timestamps.astype("datetime64[D]").astype(np.int64)  # days since 1970-01-01
    return (days + _EPOCH_DOW) % 7


def time_of_week(tod: ArrayT, dow: ArrayT, steps_per_day: int) -> ArrayT:
    """Step of the week ``dow * steps_per_day + tod``, in ``[0, 7 * steps_per_day)``.

    Args:
        tod: ``[...]`` int step of the day.
        dow: ``[...]`` int day of the week (same shape).
        steps_per_day: steps in one day.
    """
    return dow * steps_per_day + tod


def tod_fraction(tod: ArrayT, steps_per_day: int) -> ArrayT:
    """Time of day as a fraction of the day in ``[0, 1)`` (``tod / steps_per_day``).

    Args:
        tod: ``[...]`` int step of the day.
        steps_per_day: steps in one day.

    Returns:
        ``[...]`` float32 (float64 for numpy input).
    """
    if isinstance(tod, torch.Tensor):
        return tod.to(torch.float32) / steps_per_day
    return np.asarray(tod, dtype=np.float64) / steps_per_day


def cyclic_encoding(index: ArrayT, period: int) -> ArrayT:
    """Sine / cosine encoding of a periodic index (e.g. ``tod`` with period ``steps_per_day``).

    Args:
        index: ``[...]`` int or float position in the period.
        period: length of the period.

    Returns:
        ``[..., 2]`` ``(sin, cos)`` of ``2 * pi * index / period``; float32 for torch input,
        float64 for numpy input.
    """
    if isinstance(index, torch.Tensor):
        angle = index.to(torch.float32) * (2 * math.pi / period)
        return torch.stack((torch.sin(angle), torch.cos(angle)), dim=-1)  # [..., 2]
    angle = np.asarray(index, dtype=np.float64) * (2 * math.pi / period)
    return np.stack((np.sin(angle), np.cos(angle)), axis=-1)  # [..., 2]


CALENDAR_HARMONICS = 2  # daily sine/cosine pairs of :func:`calendar_features`


def calendar_feature_count(harmonics: int = CALENDAR_HARMONICS) -> int:
    """Width of :func:`calendar_features`: ``2 * harmonics`` (day) + 2 (week) + 1 (weekend)."""
    return 2 * harmonics + 3


def calendar_features(
    tod: torch.Tensor, dow: torch.Tensor, steps_per_day: int, harmonics: int = CALENDAR_HARMONICS
) -> torch.Tensor:
    """Continuous calendar features that generalise from a few days of training.

    A learned table row per time of day / day of week is only trained for the rows the training
    windows visit; a few-shot block of two days leaves five day-of-week rows at their random
    initial values. These features are fixed functions of the calendar, so any linear map of them
    is trained by every window and is defined on every unseen day.

    Args:
        tod: ``[...]`` int64 step of the day.
        dow: ``[...]`` int64 day of the week, 0 = Monday (same shape).
        steps_per_day: steps in one day.
        harmonics: daily sine/cosine pairs (periods of 1, 1/2, ... day).

    Returns:
        ``[..., calendar_feature_count(harmonics)]`` float32:
        ``sin/cos(2 pi k tod / steps_per_day)`` for ``k = 1..harmonics``, ``sin/cos(2 pi dow / 7)``
        and a weekend flag (1 on Saturday and Sunday, else 0).
    """
    parts = [cyclic_encoding(tod * k, steps_per_day) for k in range(1, harmonics + 1)]  # [..., 2] each
    parts.append(cyclic_encoding(dow, 7))  # [..., 2]
    parts.append((dow >= 5).to(torch.float32)[..., None])  # [..., 1]
    return torch.cat(parts, dim=-1)  # [..., 2 * harmonics + 3]
