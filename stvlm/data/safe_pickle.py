"""Loading pickled arrays without executing arbitrary code.

``pickle.load`` runs whatever callable a file names, so a downloaded ``adj_mx.pkl`` could run
``os.system``. :class:`RestrictedUnpickler` resolves only an explicit allow-list of globals: the
functions numpy uses to rebuild arrays, dtypes and scalars, and the builtin container/scalar
types. Anything else raises :class:`~stvlm.errors.UnsafePickleError` before it is called.

Python-2 pickles (the DCRNN ``adj_mx.pkl`` files) load with ``encoding="latin1"``, the default.
"""

from __future__ import annotations

import builtins
import codecs
import pickle
from pathlib import Path
from typing import Any

import numpy as np

from stvlm.errors import DataError, UnsafePickleError

try:  # numpy >= 2 moved the implementation modules to numpy._core
    from numpy._core import multiarray as _multiarray
    from numpy._core import numeric as _numeric
except ImportError:  # pragma: no cover - numpy 1.x
    from numpy.core import multiarray as _multiarray  # type: ignore[no-redef]
    from numpy.core import numeric as _numeric  # type: ignore[no-redef]

_NUMPY_GLOBALS: dict[str, Any] = {
    "numpy.ndarray": np.ndarray,
    "numpy.dtype": np.dtype,
}
for _module in ("numpy.core", "numpy._core"):
    _NUMPY_GLOBALS[f"{_module}.multiarray._reconstruct"] = _multiarray._reconstruct
    _NUMPY_GLOBALS[f"{_module}.multiarray.scalar"] = _multiarray.scalar
    # protocol-5 array pickles rebuild from an in-band buffer
    _NUMPY_GLOBALS[f"{_module}.numeric._frombuffer"] = _numeric._frombuffer

_BUILTIN_NAMES = (
    "dict", "list", "tuple", "set", "frozenset", "str", "bytes", "bytearray",
    "int", "float", "complex", "bool", "slice",
)

ALLOWED_GLOBALS: dict[str, Any] = {
    **_NUMPY_GLOBALS,
    **{f"builtins.{name}": getattr(builtins, name) for name in _BUILTIN_NAMES},
    # protocol <= 2 pickles written by Python 3 store bytes as _codecs.encode(text, "latin1")
    "_codecs.encode": codecs.encode,
}


class RestrictedUnpickler(pickle.Unpickler):
    """An unpickler that resolves only the globals in :data:`ALLOWED_GLOBALS`.

    Args:
        file: a binary file object.
        source: the file's path, named in error messages.
        encoding: how Python-2 ``str`` objects are decoded (``"latin1"`` keeps numpy buffers).
    """

    def __init__(self, file, *, source: Path | str, encoding: str = "latin1") -> None:
        super().__init__(file, encoding=encoding)
        self.source = source

    def find_class(self, module: str, name: str) -> Any:
        """Return the allowed global ``module.name``; refuse everything else."""
        key = f"{module}.{name}"
        py3_module = "builtins" if module == "__builtin__" else module  # Python-2 spelling
        try:
            return ALLOWED_GLOBALS[f"{py3_module}.{name}"]
        except KeyError:
            raise UnsafePickleError(
                f"{self.source}: refused to load {key!r} from a pickle; allowed: numpy arrays, "
                "dtypes and scalars, and builtin containers (re-save the data as .npy/.npz)"
            ) from None


def safe_load(path: str | Path, encoding: str = "latin1") -> Any:
    """Unpickle a file that may hold only numpy arrays and builtin containers.

    Args:
        path: the pickle file.
        encoding: decoding of Python-2 ``str`` objects (``"latin1"`` for numpy pickles).

    Returns:
        The unpickled object (e.g. DCRNN's ``[sensor_ids, id_to_index, adj [N, N]]``).

    Raises:
        UnsafePickleError: the file names a global outside the allow-list.
        DataError: the file is not a readable pickle.
    """
    path = Path(path)
    with path.open("rb") as handle:
        try:
            return RestrictedUnpickler(handle, source=path, encoding=encoding).load()
        except UnsafePickleError:
            raise
        except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError) as err:
            raise DataError(
                f"{path}: not a readable pickle ({type(err).__name__}: {err})"
            ) from None
