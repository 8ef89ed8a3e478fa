"""File verification: missing, truncated and altered files; modes; the in-process digest cache."""

from __future__ import annotations

import hashlib
import os
import shutil

import pytest

from stvlm.data import checksum
from stvlm.data.checksum import sha256_file, verify_files
from stvlm.data.datasets import dataset_info, load_dataset
from stvlm.data.series import DatasetInfo, FileSpec
from stvlm.errors import ConfigError, DataError

LOS_SHA = "7b732d86ae32b2930595becba28aff39dacbfb2197e250fc0332e1744ce2cbf4"


def tiny_info(tmp_path, content: bytes = b"hello world\n", *, required_extra: bool = True):
    """A two-file dataset in tmp_path: a.txt with recorded size/sha, b.txt without."""
    folder = tmp_path / "TINY"
    folder.mkdir(exist_ok=True)
    (folder / "a.txt").write_bytes(content)
    info = DatasetInfo(
        name="tiny", folder="TINY", title="t", description="d", nodes=1, steps=1,
        interval_minutes=60, channels=("v",), units=("u",),
        files=(FileSpec(name="a.txt", size=12, sha256=hashlib.sha256(b"hello world\n").hexdigest()),
               FileSpec(name="b.txt", required=required_extra)),
    )
    return info, folder


def test_sha256_file_matches_hashlib_and_real_file(tmp_path, data_root):
    path = tmp_path / "x.bin"
    path.write_bytes(os.urandom(3 * checksum.CHUNK_BYTES + 17))  # several chunks
    assert sha256_file(path) == hashlib.sha256(path.read_bytes()).hexdigest()
    assert sha256_file(data_root / "LOS-LOOP" / "los_speed.csv") == LOS_SHA


def test_digest_cache_is_keyed_by_size_and_mtime(tmp_path):
    path = tmp_path / "x.txt"
    path.write_bytes(b"abc")
    first = sha256_file(path)
    stat = path.stat()
    key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    assert checksum._DIGEST_CACHE[key] == first
    checksum._DIGEST_CACHE[key] = "cached"  # a repeated call must not read the file again
    assert sha256_file(path) == "cached"
    path.write_bytes(b"abd")
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))  # new size/mtime -> rehash
    assert sha256_file(path) == hashlib.sha256(b"abd").hexdigest()


def test_verify_passes_and_reports_missing_required_file(tmp_path):
    info, folder = tiny_info(tmp_path)
    with pytest.raises(DataError) as err:
        verify_files(info, folder, "sha256")
    assert str(err.value) == (
        f"dataset 'tiny': missing file {folder.resolve() / 'b.txt'} (see `stvlm data info tiny`)"
    )
    info, folder = tiny_info(tmp_path, required_extra=False)
    for mode in ("sha256", "size", "none"):
        verify_files(info, folder, mode)  # optional b.txt may be absent


def test_verify_modes_on_altered_file(tmp_path):
    info, folder = tiny_info(tmp_path, b"hello World\n", required_extra=False)  # same size
    verify_files(info, folder, "size")
    verify_files(info, folder, "none")
    with pytest.raises(DataError) as err:
        verify_files(info, folder, "sha256")
    actual = hashlib.sha256(b"hello World\n").hexdigest()
    expected = hashlib.sha256(b"hello world\n").hexdigest()
    assert str(err.value) == (
        f"dataset 'tiny': checksum mismatch for {folder.resolve() / 'a.txt'}: sha256 {actual}, "
        f"expected {expected}"
    )
    with pytest.raises(ConfigError, match="verify: 'fast' is not a verify mode"):
        verify_files(info, folder, "fast")


def test_truncated_real_file(tmp_path, data_root):
    folder = tmp_path / "LOS-LOOP"
    folder.mkdir()
    (tmp_path / "METR-LA").mkdir()
    shutil.copy(data_root / "METR-LA" / "graph_sensor_locations.csv", tmp_path / "METR-LA")
    shutil.copy(data_root / "LOS-LOOP" / "los_adj.csv", folder)
    (folder / "los_speed.csv").write_bytes((data_root / "LOS-LOOP" / "los_speed.csv")
                                           .read_bytes()[:123])
    message = (f"dataset 'los-loop': {folder / 'los_speed.csv'} is truncated or altered: "
               "123 bytes, expected 3402125")
    for mode in ("sha256", "size"):
        with pytest.raises(DataError) as err:
            load_dataset("los-loop", tmp_path, verify=mode)
        assert str(err.value) == message


def test_missing_coordinate_file_of_los_loop(tmp_path, data_root):
    folder = tmp_path / "LOS-LOOP"
    folder.mkdir()
    for name in ("los_speed.csv", "los_adj.csv"):
        shutil.copy(data_root / "LOS-LOOP" / name, folder)
    with pytest.raises(DataError) as err:
        load_dataset("los-loop", tmp_path, verify="none")
    path = tmp_path / "METR-LA" / "graph_sensor_locations.csv"
    assert str(err.value) == (
        f"dataset 'los-loop': missing file {path} (see `stvlm data info los-loop`)"
    )


def test_every_shared_file_matches_its_recorded_digest(data_root):
    checked = 0
    for name in ("los-loop", "sz-taxi", "nycbike1", "nycbike-drop", "metr-la", "pems-bay",
                 "pems04", "pems08"):
        info = dataset_info(name)
        for spec in info.files:
            path = checksum.file_path(data_root / info.folder, spec)
            if spec.sha256 and path.is_file():
                assert path.stat().st_size == spec.size
                assert sha256_file(path) == spec.sha256
                checked += 1
    assert checked == 21  # the 20 files of the shared root; METR-LA locations counted twice
