"""Loading pickled arrays without executing arbitrary code.

``pickle.load`` runs whatever callable a file names, so a downloaded ``adj_mx.pkl`` could run
``os.system``. :class:`RestrictedUnpickler` resolves only an explicit allow-list of globals: the
functions numpy uses to rebuild arrays, dtypes and scalars, and the builtin container/scalar
types. Anything else raises :class:`~stvlm.errors.UnsafePickleError` before it is called, as
does an allowed call that would allocate more than the file holds from a size written in it
(``bytearray(3 * 10**9)`` is a 35-byte pickle).

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

#: Allowed callables that allocate from a number in the file (a size or a shape) rather than
#: from data in it: ``bytearray(3 * 10**9)`` is 35 bytes of pickle. Each is checked against the
#: file's size (:meth:`RestrictedUnpickler.find_class`); the others build from the file's data.
_SIZED = {
    "builtins.bytes": lambda args: _count(args[0]) if args and isinstance(args[0], int) else 0,
    "builtins.bytearray": lambda args: _count(args[0]) if args and isinstance(args[0], int) else 0,
    "numpy.ndarray": lambda args: _count(args[0] if args else 0, args[1] if len(args) > 1 else float),
}
for _module in ("numpy.core", "numpy._core"):
    _SIZED[f"{_module}.multiarray._reconstruct"] = lambda args: _count(args[1] if len(args) > 1 else 0, args[2]
                                                                      if len(args) > 2 else float)


def _count(shape: Any, dtype: Any = "u1") -> int:
    """Bytes an allocation of ``shape`` elements of ``dtype`` takes (``shape``: an int or ints)."""
    dims = shape if isinstance(shape, (tuple, list)) else (shape,)
    try:
        size = int(np.prod([int(d) for d in dims], dtype=object))
        return size * np.dtype(dtype).itemsize
    except (TypeError, ValueError):
        return 0  # not a size: numpy or Python will refuse it themselves

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

    def __init__(self, file, *, source: Path | str, encoding: str = "latin1", size: int | None = None) -> None:
        super().__init__(file, encoding=encoding)
        self.source = source
        #: the most bytes one size-driven allocation may take: the file's size and 1 MiB (an
        #: array rebuilt from the file's data is no larger than the file)
        self.limit = (size or 0) + 2**20

    def find_class(self, module: str, name: str) -> Any:
        """Return the allowed global ``module.name``, refusing an allocation larger than the
        file (:data:`_SIZED`); refuse everything else."""
        key = f"{module}.{name}"
        py3_module = "builtins" if module == "__builtin__" else module  # Python-2 spelling
        full = f"{py3_module}.{name}"
        try:
            fn = ALLOWED_GLOBALS[full]
        except KeyError:
            raise UnsafePickleError(
                f"{self.source}: refused to load {key!r} from a pickle; allowed: numpy arrays, "
                "dtypes and scalars, and builtin containers (re-save the data as .npy/.npz)"
            ) from None
        if full not in _SIZED:
            return fn

        def sized(*args: Any) -> Any:
            args = tuple(getattr(a, "original", a) for a in args)  # _reconstruct(ndarray, ...) takes the type
            wanted = _SIZED[full](args)
            if wanted > self.limit:
                raise UnsafePickleError(f"{self.source}: refused {full} of {wanted:,} bytes from a pickle of "
                                        f"{self.limit - 2**20:,} bytes (a size in the file, not data)")
            return fn(*args)

        sized.original = fn  # type: ignore[attr-defined]
        return sized


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
            return RestrictedUnpickler(handle, source=path, encoding=encoding, size=path.stat().st_size).load()
        except UnsafePickleError:
            raise
        except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError, MemoryError) as err:
            raise DataError(
                f"{path}: not a readable pickle ({type(err).__name__}: {err})"
            ) from None
