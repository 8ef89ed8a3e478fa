"""Rebuilding one contiguous series from DCRNN-style windowed samples.

Windowed files (``x``, ``y`` with ``x_offsets`` / ``y_offsets``) hold, for consecutive anchor
times ``t_i = t_0 + i``, the values at ``t_i + offset``. Every time step covered by some sample can
therefore be read back; this module does so and checks that all copies of a step agree, that no
step in between is missing, and that two files (validation, test) join without a gap.
"""

from __future__ import annotations

import zipfile

import numpy as np

from stvlm.errors import DataError


def stitch(windows: np.ndarray, offsets: np.ndarray, *, source: str) -> tuple[np.ndarray, int]:
    """Read the contiguous series back out of overlapping windows.

    Args:
        windows: ``[W, K, N, C]`` samples; sample ``i`` holds steps ``t_0 + i + offsets[k]``.
        offsets: ``[K]`` integer offsets relative to each sample's anchor time.
        source: file name used in error messages.

    Returns:
        ``series`` ``[W + max(offsets) - min(offsets), N, C]`` and ``first``, the offset of
        ``series[0]`` relative to ``t_0`` (``min(offsets)``).

    Raises:
        DataError: two samples disagree on a step, or some step inside the span is not covered.
    """
    offsets = np.asarray(offsets, dtype=np.int64).reshape(-1)  # [K]
    if windows.ndim != 4 or windows.shape[1] != offsets.size:
        raise DataError(
            f"{source}: windows have shape {windows.shape}, expected (W, {offsets.size}, N, C)"
        )
    count = windows.shape[0]
    first = int(offsets.min())
    length = count + int(offsets.max()) - first
    series = np.zeros((length,) + windows.shape[2:], dtype=windows.dtype)  # [L, N, C]
    seen = np.zeros(length, dtype=bool)
    for k, offset in enumerate(offsets):
        pos = np.arange(count) + int(offset) - first  # [W] series index of window slot k
        slot = windows[:, k]  # [W, N, C]
        old = series[pos]  # [W, N, C]
        same = ((old == slot) | (np.isnan(old) & np.isnan(slot))).all(axis=(1, 2))  # [W]
        clash = np.flatnonzero(seen[pos] & ~same)
        if clash.size:
            i = int(clash[0])
            raise DataError(
                f"{source}: sample {i} (offset {int(offset)}) disagrees with another sample on "
                f"step {i + int(offset)}; consecutive samples must shift by one step"
            )
        series[pos] = slot
        seen[pos] = True
    if not seen.all():
        raise DataError(
            f"{source}: step {int(np.flatnonzero(~seen)[0]) + first} relative to the first anchor "
            "is not covered by any sample; cannot rebuild a contiguous series"
        )
    return series, first


def join(first: np.ndarray, second: np.ndarray, overlap: int, *, what: str) -> np.ndarray:
    """Concatenate two series whose last/first ``overlap`` steps must be identical.

    Args:
        first: ``[L1, ...]`` earlier series.
        second: ``[L2, ...]`` later series.
        overlap: number of shared steps (``window span - 1`` for consecutive samples).
        what: description of the two parts for error messages.

    Returns:
        ``[L1 + L2 - overlap, ...]``.

    Raises:
        DataError: the shared steps differ.
    """
    if overlap > min(len(first), len(second)) or not np.array_equal(
        first[len(first) - overlap:], second[:overlap], equal_nan=True
    ):
        raise DataError(
            f"{what} do not join: the last {overlap} steps of the first part differ from the "
            "first steps of the second, so the second does not start one step after the first"
        )
    return np.concatenate([first, second[overlap:]], axis=0)


def read_windowed_npz(path) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Read a DCRNN-style sample file.

    Args:
        path: ``.npz`` with arrays ``x``, ``y``, ``x_offsets``, ``y_offsets``.

    Returns:
        ``x`` ``[W, K_x, N, C_x]``, ``y`` ``[W, K_y, N, C_y]``, ``x_offsets`` ``[K_x]`` and
        ``y_offsets`` ``[K_y]`` (int64).

    Raises:
        DataError: an array is missing or the shapes do not fit together.
    """
    try:
        with np.load(path, allow_pickle=False) as archive:
            missing = [k for k in ("x", "y", "x_offsets", "y_offsets") if k not in archive.files]
            if missing:
                raise DataError(
                    f"{path}: missing arrays {missing}; expected x, y, x_offsets, y_offsets"
                )
            x, y = archive["x"], archive["y"]
            x_off = archive["x_offsets"].astype(np.int64).reshape(-1)  # [K_x]
            y_off = archive["y_offsets"].astype(np.int64).reshape(-1)  # [K_y]
    except (OSError, ValueError, zipfile.BadZipFile) as err:
        raise DataError(f"{path}: not a readable .npz file ({err})") from None
    if x.ndim != 4 or y.ndim != 4 or x.shape[0] != y.shape[0] or x.shape[2] != y.shape[2]:
        raise DataError(
            f"{path}: x {x.shape} and y {y.shape} must be [W, K, N, C] with the same W and N"
        )
    if x.shape[1] != x_off.size or y.shape[1] != y_off.size:
        raise DataError(
            f"{path}: x {x.shape} / y {y.shape} do not match {x_off.size} x_offsets / "
            f"{y_off.size} y_offsets"
        )
    return x, y, x_off, y_off
