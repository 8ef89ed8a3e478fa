"""Sliding windows over a contiguous series.

A window is named by its start ``s``: inputs are the steps ``[s, s + T_in)`` and targets the steps
``[s + T_in, s + T_in + T_out)``. Every split, few-shot selection and batch in the project is an
array of window starts into one series, so nothing is ever copied into a ``[W, T, N, C]`` array
before a batch needs it.
"""

from __future__ import annotations

import numpy as np


def window_starts(num_steps: int, input_len: int, output_len: int, stride: int = 1) -> np.ndarray:
    """Every window start that fits in a series.

    Args:
        num_steps: length T of the series.
        input_len: input steps T_in of one window (>= 1).
        output_len: target steps T_out of one window (>= 1).
        stride: steps between consecutive starts (>= 1).

    Returns:
        ``[W]`` int64 starts ``s = 0, stride, 2 * stride, ...`` with
        ``s + input_len + output_len <= num_steps``; empty when no window fits.
    """
    if input_len < 1 or output_len < 1 or stride < 1:
        raise ValueError(
            "input_len, output_len and stride must be >= 1, "
            f"got {input_len}, {output_len}, {stride}"
        )
    last = num_steps - input_len - output_len  # the last start that still fits
    if last < 0:
        return np.zeros(0, dtype=np.int64)
    return np.arange(0, last + 1, stride, dtype=np.int64)


def window_index(starts: np.ndarray, length: int, offset: int = 0) -> np.ndarray:
    """Step indices of a stretch of ``length`` steps at ``offset`` from each window start.

    Args:
        starts: ``[W]`` window starts.
        length: steps per window (``T_in`` for inputs, ``T_out`` for targets).
        offset: first step relative to the start (``0`` for inputs, ``T_in`` for targets).

    Returns:
        ``[W, length]`` int64 indices ``starts[w] + offset + t``.
    """
    starts = np.asarray(starts, dtype=np.int64)
    return starts[:, None] + offset + np.arange(length, dtype=np.int64)  # [W, length]


def gather_windows(
    array: np.ndarray, starts: np.ndarray, length: int, offset: int = 0
) -> np.ndarray:
    """Gather windows from a time-major array with one fancy-indexing call.

    Args:
        array: ``[T, ...]`` any array whose first axis is time.
        starts: ``[W]`` window starts.
        length: steps per window.
        offset: first step relative to each start.

    Returns:
        ``[W, length, ...]`` copies of ``array[s + offset : s + offset + length]``.
    """
    return array[window_index(starts, length, offset)]  # [W, length, ...]


def covered_steps(starts: np.ndarray, input_len: int, output_len: int) -> tuple[int, int]:
    """The half-open step range ``[first, stop)`` touched by the inputs and targets of windows.

    Args:
        starts: ``[W]`` window starts (W >= 1).
        input_len: T_in.
        output_len: T_out.

    Returns:
        ``(min(starts), max(starts) + input_len + output_len)``.
    """
    starts = np.asarray(starts, dtype=np.int64)
    if starts.size == 0:
        raise ValueError("covered_steps needs at least one window start")
    return int(starts.min()), int(starts.max()) + input_len + output_len
