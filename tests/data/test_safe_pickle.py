"""The restricted unpickler: real Python-2 / Python-3 numpy pickles load, code does not run."""

from __future__ import annotations

import os
import pickle

import numpy as np
import pytest

from stvlm.data.safe_pickle import safe_load
from stvlm.errors import DataError, UnsafePickleError


class RunsShell:
    """Pickles to ``os.system(command)``: what a malicious adj_mx.pkl would contain."""

    def __init__(self, command: str) -> None:
        self.command = command

    def __reduce__(self):
        return (os.system, (self.command,))


class CallsEval:
    def __reduce__(self):
        return (eval, ("1 + 1",))


def test_python2_dcrnn_pickles_load(data_root):
    ids, id_to_ind, adj = safe_load(data_root / "METR-LA" / "adj_mx.pkl")
    assert len(ids) == 207 and ids[0] == "773869" and id_to_ind["773869"] == 0
    assert adj.shape == (207, 207) and adj.dtype == np.float32
    assert int((adj != 0).sum()) == 1722 and float(adj.max()) == 1.0
    ids, _, adj = safe_load(data_root / "PEMS-BAY" / "adj_mx_bay.pkl")
    assert len(ids) == 325 and int((adj != 0).sum()) == 2694


def test_python3_numpy_pickle_loads(data_root):
    adj = safe_load(data_root / "NYCBike_drop_partial" / "adj_mx.pkl")
    assert adj.shape == (250, 250) and adj.dtype == np.float64
    assert int((adj != 0).sum()) == 20006 and np.all(np.diag(adj) == 1.0)


@pytest.mark.parametrize("protocol", [0, 2, 4, 5])
def test_numpy_containers_round_trip(tmp_path, protocol):
    obj = {"adj": np.arange(6, dtype=np.float32).reshape(2, 3), "ids": ["a", "b"],
           "pair": (1, 2.5), "scalar": np.float64(3.5), "set": {1, 2}, "raw": b"\x00\xff"}
    path = tmp_path / f"p{protocol}.pkl"
    path.write_bytes(pickle.dumps(obj, protocol=protocol))
    back = safe_load(path)
    np.testing.assert_array_equal(back["adj"], obj["adj"])
    assert back["ids"] == ["a", "b"] and back["pair"] == (1, 2.5) and back["scalar"] == 3.5
    assert back["set"] == {1, 2} and back["raw"] == b"\x00\xff"


def test_malicious_pickle_is_refused_and_does_not_run(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "adj_mx.pkl"
    path.write_bytes(pickle.dumps([RunsShell(f"touch {marker}")], protocol=2))
    with pytest.raises(UnsafePickleError) as err:
        safe_load(path)
    refused = f"{os.system.__module__}.system"  # 'posix.system' on Linux
    assert str(err.value).startswith(f"{path}: refused to load '{refused}' from a pickle; allowed:")
    assert not marker.exists()
    assert isinstance(err.value, DataError)


def test_builtin_functions_are_refused(tmp_path):
    path = tmp_path / "eval.pkl"
    path.write_bytes(pickle.dumps(CallsEval()))
    with pytest.raises(UnsafePickleError, match="refused to load 'builtins.eval'"):
        safe_load(path)


def test_garbage_is_a_data_error(tmp_path):
    path = tmp_path / "junk.pkl"
    path.write_bytes(b"\x80\x04garbage")
    with pytest.raises(DataError, match=r"junk\.pkl: not a readable pickle \("):
        safe_load(path)


class Allocates:
    """Pickles to a call that allocates from a number in the file: ``fn(*args)``."""

    def __init__(self, fn, *args) -> None:
        self.fn, self.args = fn, args

    def __reduce__(self):
        return (self.fn, self.args)


@pytest.mark.parametrize(("fn", "args", "refused"), [
    (bytearray, (3 * 10**9,), "builtins.bytearray of 3,000,000,000 bytes"),
    (bytes, (10**9,), "builtins.bytes of 1,000,000,000 bytes"),
    (np.ndarray, ((10**4, 10**4),), "numpy.ndarray of 800,000,000 bytes"),
])
def test_a_size_in_the_file_cannot_allocate_more_than_the_file(tmp_path, fn, args, refused):
    """A 35-byte pickle of bytearray(3e9) took 2.9 GB; a 74-byte ndarray((3e7,)) 2.1 GB."""
    path = tmp_path / "bomb.pkl"
    path.write_bytes(pickle.dumps([Allocates(fn, *args)], protocol=2))
    with pytest.raises(UnsafePickleError, match=rf"bomb\.pkl: refused {refused} from a pickle of "
                                                rf"{path.stat().st_size} bytes \(a size in the file, not data\)"):
        safe_load(path)
    small = tmp_path / "small.pkl"
    small.write_bytes(pickle.dumps([Allocates(fn, *([4] if fn is not np.ndarray else [(2, 2)]))], protocol=2))
    assert len(safe_load(small)[0]) in (2, 4)  # within the file's size it still loads

