"""Reading a pandas ``DataFrame`` saved with ``to_hdf(..., format="fixed")`` using h5py only.

DCRNN's ``metr-la.h5`` / ``pems-bay.h5`` were written by pandas (PyTables) under key ``df``.
The fixed format stores the frame as plain HDF5 datasets, so PyTables is not needed to read it::

    df/axis0            column labels  [N]  (bytes strings or int64)
    df/axis1            row index      [T]  (int64 nanoseconds for a DatetimeIndex)
    df/block{k}_items   the columns of block k
    df/block{k}_values  block k's values, stored [T, N_k] (attribute ``transposed``)
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from stvlm.errors import DataError


@dataclass(frozen=True)
class H5Frame:
    """The parts of a fixed-format frame.

    Args:
        columns: column labels as strings, ``N`` entries.
        index: ``[T]`` row index as stored (int64 ns for timestamps).
        values: ``[T, N]`` float64 values, columns in ``columns`` order.
    """

    columns: tuple[str, ...]
    index: np.ndarray
    values: np.ndarray


def _labels(array: np.ndarray) -> tuple[str, ...]:
    """Column labels as strings (bytes are decoded, numbers printed)."""
    return tuple(v.decode() if isinstance(v, bytes) else str(v) for v in array.tolist())


def read_h5_frame(path: Path, key: str = "df") -> H5Frame:
    """Read a pandas fixed-format frame from ``path`` under ``key``.

    Args:
        path: the ``.h5`` file.
        key: the HDFStore key (``"df"`` for DCRNN files).

    Returns:
        An :class:`H5Frame`.

    Raises:
        DataError: the file is not HDF5, lacks ``key``, or is not a fixed-format frame.
    """
    import h5py  # optional at import time: only the DCRNN loaders need it

    try:
        handle = h5py.File(path, "r")
    except OSError as err:
        raise DataError(f"{path}: not a readable HDF5 file ({err})") from None
    with handle:
        if key not in handle or not isinstance(handle[key], h5py.Group):
            raise DataError(f"{path}: no pandas frame under key {key!r}; keys: {list(handle)}")
        group = handle[key]
        for part in ("axis0", "axis1", "block0_items", "block0_values"):
            if part not in group:
                raise DataError(
                    f"{path}: {key}/{part} is missing; expected a frame written by pandas "
                    "to_hdf(format='fixed')"
                )
        columns = _labels(group["axis0"][()])
        index = np.asarray(group["axis1"][()])
        position = {name: i for i, name in enumerate(columns)}
        values = np.empty((len(index), len(columns)), dtype=np.float64)  # [T, N]
        filled = np.zeros(len(columns), dtype=bool)
        block = 0
        while f"block{block}_values" in group:
            items = _labels(group[f"block{block}_items"][()])
            data = np.asarray(group[f"block{block}_values"][()])
            if data.shape == (len(items), len(index)) and data.shape != (len(index), len(items)):
                data = data.T  # [T, N_k]: stored untransposed
            if data.shape != (len(index), len(items)):
                raise DataError(
                    f"{path}: {key}/block{block}_values has shape {data.shape}, expected "
                    f"({len(index)}, {len(items)})"
                )
            for j, item in enumerate(items):
                if item not in position:
                    raise DataError(f"{path}: block{block} column {item!r} is not in {key}/axis0")
                values[:, position[item]] = data[:, j]
                filled[position[item]] = True
            block += 1
        if not filled.all():
            raise DataError(f"{path}: {int((~filled).sum())} columns of {key} have no values")
    return H5Frame(columns=columns, index=index, values=values)
