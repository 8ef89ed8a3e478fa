"""The built-in datasets on the real data root: registry, info, status and exact loaded values."""

from __future__ import annotations

import numpy as np
import pytest

from stvlm.data.datasets import (
    DATASETS,
    dataset_info,
    dataset_names,
    dataset_status,
    load_dataset,
)
from stvlm.data.datasets.rebuild import read_windowed_npz
from stvlm.data.root import resolve_data_root
from stvlm.errors import ConfigError, DataError, UnknownNameError

BUILTIN = ["los-loop", "sz-taxi", "nycbike1", "nycbike-drop", "pems03", "pems04", "pems07",
           "pems08", "metr-la", "pems-bay"]


@pytest.fixture(scope="module")
def loaded(data_root):
    """The four datasets whose files are all in the shared data root, loaded once."""
    return {name: load_dataset(name, data_root) for name in BUILTIN[:4]}


# ----------------------------------------------------------------------------- data root

def test_resolve_data_root_prefers_argument_then_env(tmp_path, monkeypatch):
    monkeypatch.setenv("STVLM_DATA", str(tmp_path))
    assert resolve_data_root(None) == tmp_path.resolve()
    other = tmp_path / "other"
    other.mkdir()
    assert resolve_data_root(str(other)) == other.resolve()


def test_resolve_data_root_errors(tmp_path, monkeypatch):
    monkeypatch.delenv("STVLM_DATA", raising=False)
    with pytest.raises(DataError, match="pass --data-root or set STVLM_DATA"):
        resolve_data_root(None)
    with pytest.raises(DataError, match=r"nope is not a directory; pass --data-root"):
        resolve_data_root(tmp_path / "nope")
    monkeypatch.setenv("STVLM_DATA", str(tmp_path / "gone"))
    with pytest.raises(DataError, match=r"STVLM_DATA=.*gone is not a directory"):
        resolve_data_root(None)


# ----------------------------------------------------------------------------- registry / info

def test_registry_lists_every_builtin_in_order(data_root):
    assert DATASETS.names() == BUILTIN
    assert dataset_names(data_root) == BUILTIN  # no dataset.toml in the shared root


def test_unknown_dataset_lists_known_names(data_root):
    with pytest.raises(UnknownNameError) as err:
        dataset_info("los_loop", data_root)
    assert str(err.value).startswith("unknown dataset 'los_loop'; known: los-loop, sz-taxi,")
    with pytest.raises(UnknownNameError, match="unknown dataset 'nope'"):
        load_dataset("nope", data_root)


@pytest.mark.parametrize("name", BUILTIN)
def test_every_info_is_complete(name):
    info = dataset_info(name)
    assert info.name == name and info.nodes > 0 and 1440 % info.interval_minutes == 0
    assert len(info.channels) == len(info.units) >= 1
    assert info.description.count(".") >= 2 and info.citation and info.source and info.notes
    assert abs(sum(info.split) - 1.0) < 1e-9
    assert any(spec.required for spec in info.files)
    for spec in info.files:  # every recorded digest comes with its size and a pinned URL
        if spec.sha256:
            assert len(spec.sha256) == 64 and spec.size > 0
            assert spec.url.startswith("https://raw.githubusercontent.com/")


def test_info_records_match_design():
    table = {n: (dataset_info(n).nodes, dataset_info(n).interval_minutes) for n in BUILTIN}
    assert table == {
        "los-loop": (207, 5), "sz-taxi": (156, 15), "nycbike1": (128, 60),
        "nycbike-drop": (250, 30), "pems03": (358, 5), "pems04": (307, 5), "pems07": (883, 5),
        "pems08": (170, 5), "metr-la": (207, 5), "pems-bay": (325, 5),
    }
    assert dataset_info("pems04").channels == ("flow", "occupancy", "speed")
    assert dataset_info("pems03").channels == ("flow",)
    assert dataset_info("nycbike1").split == (0.7, 0.1, 0.2)
    assert dataset_info("nycbike-drop").split == (0.6, 0.2, 0.2)
    assert dataset_info("nycbike-drop").partial and dataset_info("nycbike1").partial
    assert dataset_info("sz-taxi").side_information == ("poi", "weather")
    assert dataset_info("los-loop").missing_value is None
    assert dataset_info("sz-taxi").missing_value == 0.0
    url = next(f.url for f in dataset_info("los-loop").files if f.name == "los_speed.csv")
    assert url == ("https://raw.githubusercontent.com/lehaifeng/T-GCN/"
                   "219a2346f5bf68d54d91a948e7a41a08f9edc46b/data/los_speed.csv")


def test_info_to_dict_is_plain_data():
    d = dataset_info("sz-taxi").to_dict()
    assert d["files"][0]["name"] == "SZ_taxi.npz" and d["files"][0]["size"] == 3714310


def test_status_of_shared_root(data_root, tmp_path):
    status = {name: dataset_status(name, data_root) for name in BUILTIN}
    assert status == {
        "los-loop": "present", "sz-taxi": "present", "nycbike1": "present",
        "nycbike-drop": "present", "pems03": "missing", "pems04": "partial",
        "pems07": "missing", "pems08": "partial", "metr-la": "partial", "pems-bay": "partial",
    }
    assert dataset_status("los-loop", tmp_path) == "missing"


def test_pems_with_graph_only_names_the_missing_npz(data_root):
    with pytest.raises(DataError) as err:
        load_dataset("pems08", data_root)
    assert str(err.value) == (
        f"dataset 'pems08': missing file {data_root / 'PEMS08' / 'PEMS08.npz'} "
        "(see `stvlm data info pems08`)"
    )
    with pytest.raises(DataError, match=r"missing file .*metr-la\.h5"):
        load_dataset("metr-la", data_root)


def test_bad_verify_mode(data_root):
    with pytest.raises(ConfigError, match="verify: 'md5' is not a verify mode; allowed: sha256"):
        load_dataset("los-loop", data_root, verify="md5")


# ----------------------------------------------------------------------------- real values

def test_los_loop_values(loaded):
    d = loaded["los-loop"]
    assert d.values.shape == (2016, 207, 1) and d.values.dtype == np.float32
    assert d.values[0, 0, 0] == 64.375 and d.values[-1, -1, 0] == 58.875
    assert d.values[0, :3, 0].tolist() == [64.375, 67.625, 67.125]
    assert d.coords[0].tolist() == [-118.31829, 34.15497]  # sensor 773869 (lon, lat)
    assert d.coords[-1].tolist() == [-118.31747, 34.10262]
    assert int((d.adjacency != 0).sum()) == 2833 and d.adjacency.shape == (207, 207)
    assert d.timestamps[0] == np.datetime64("2012-03-01T00:00")
    assert d.timestamps[-1] == np.datetime64("2012-03-07T23:55")
    assert (d.tod[0], d.dow[0], d.tod[-1], d.dow[-1]) == (0, 3, 287, 2)  # Thu .. Wed
    assert d.grid_shape is None and d.test_target_start is None


def test_sz_taxi_values_and_side_information(loaded):
    d = loaded["sz-taxi"]
    assert d.values.shape == (2976, 156, 1)
    assert d.values[0, 0, 0] == np.float32(8.47197127) and d.values[-1, -1, 0] == 0.0
    assert round(float((d.values == 0).mean()), 4) == 0.2476
    positive = d.values[d.values > 0]  # the info's notes: 8 zero residues, 7,141 below 0.5 km/h
    assert (int((positive < 1e-12).sum()), int((positive < 0.5).sum())) == (8, 7141)
    assert d.coords is None and int((d.adjacency != 0).sum()) == 532
    assert d.node_side["poi"].shape == (156,) and d.node_side["poi"][:5].tolist() == [3, 8, 8, 8, 8]
    assert d.step_side["weather"].shape == (2976, 156)
    assert d.step_side["weather"][0, :3].tolist() == [2, 2, 2]
    assert d.timestamps[-1] == np.datetime64("2015-01-31T23:45")
    assert (d.tod[0], d.dow[0], d.tod[-1], d.dow[-1]) == (0, 3, 95, 5)


def test_nycbike1_rebuild_and_join(loaded, data_root):
    d = loaded["nycbike1"]
    assert d.values.shape == (1369, 128, 2) and d.grid_shape == (16, 8)
    assert d.values[0, 0].tolist() == [0.0, 0.0] and d.values[-1, -1].tolist() == [2.0, 2.0]
    assert float(d.values.sum(dtype=np.float64)) == 3598738.0
    assert d.coords[0].tolist() == [0.0, 0.0] and d.coords[9].tolist() == [1.0, 1.0]  # (col, row)
    assert int((d.adjacency != 0).sum()) == 884 and d.test_target_start == 505
    vx, vy, _, _ = read_windowed_npz(data_root / "NYCBike1_partial" / "val.npz")
    tx, ty, _, _ = read_windowed_npz(data_root / "NYCBike1_partial" / "test.npz")
    np.testing.assert_array_equal(d.values[0], vx[0, 0])  # offset -73 of the first val sample
    np.testing.assert_array_equal(d.values[504], vy[-1, 0])  # last val target
    np.testing.assert_array_equal(d.values[431], tx[0, 0])  # first test window start
    np.testing.assert_array_equal(d.values[505], ty[0, 0])  # first test target
    np.testing.assert_array_equal(d.values[-1], ty[-1, 0])
    assert d.timestamps[0] == np.datetime64("2014-08-04T23:00")
    assert d.timestamps[-1] == np.datetime64("2014-09-30T23:00")
    assert (d.tod[0], d.dow[0], d.tod[-1], d.dow[-1]) == (23, 0, 23, 1)


def test_nycbike1_inferred_calendar_fits_the_data(loaded):
    """Hourly minimum at 04:00, and Saturday/Sunday lack the weekday morning peak."""
    d = loaded["nycbike1"]
    total = d.values.sum(axis=(1, 2))  # [T]
    hourly = np.array([total[d.tod == h].mean() for h in range(24)])
    assert int(hourly.argmin()) == 4 and int(hourly[6:11].argmax()) + 6 == 8
    ratio = [total[(d.dow == w) & (d.tod >= 7) & (d.tod < 10)].mean()
             / total[(d.dow == w) & (d.tod >= 11) & (d.tod < 16)].mean() for w in range(7)]
    assert [round(float(r), 2) for r in ratio] == [1.34, 1.61, 1.55, 1.5, 1.24, 0.35, 0.25]


def test_nycbike_drop_rebuild_and_join(loaded, data_root):
    d = loaded["nycbike-drop"]
    assert d.values.shape == (1762, 250, 1) and d.test_target_start == 882
    assert d.values[0, 0, 0] == 2.0 and d.values[-1, -1, 0] == 1.0
    assert float(d.values.sum(dtype=np.float64)) == 1440321.0
    assert int((d.adjacency != 0).sum()) == 20006 and d.coords is None
    vx, vy, _, _ = read_windowed_npz(data_root / "NYCBike_drop_partial" / "val.npz")
    tx, ty, _, _ = read_windowed_npz(data_root / "NYCBike_drop_partial" / "test.npz")
    np.testing.assert_array_equal(d.values[869:881, :, 0], vx[-1, :, :, 0])  # last val window
    np.testing.assert_array_equal(d.values[881:893], vy[-1])
    np.testing.assert_array_equal(d.values[870:882, :, 0], tx[0, :, :, 0])  # next window: test
    np.testing.assert_array_equal(d.values[-12:], ty[-1])
    assert (d.tod[0], d.dow[0]) == (14, 2)  # file: tod 14/48, day index 5 -> Wednesday
    assert d.timestamps[0] == np.datetime64("2016-05-25T07:00")
    assert d.timestamps[-1] == np.datetime64("2016-06-30T23:30")
    assert (d.tod[-1], d.dow[-1]) == (47, 3)  # Thursday 2016-06-30 23:30


def test_nycbike_drop_weekend_evidence(loaded):
    """The dow conversion puts the two days without a morning commute on Saturday/Sunday."""
    d = loaded["nycbike-drop"]
    total = d.values[:, :, 0].sum(axis=1)  # [T]
    ratio = [total[(d.dow == w) & (d.tod >= 14) & (d.tod < 19)].sum()
             / total[(d.dow == w) & (d.tod >= 22) & (d.tod < 30)].sum() for w in range(7)]
    assert [round(r, 2) for r in ratio[5:]] == [0.17, 0.15]
    assert min(ratio[:5]) > 0.7


def test_size_mode_loads_the_same_values(data_root, loaded):
    again = load_dataset("los-loop", data_root, verify="size")
    np.testing.assert_array_equal(again.values, loaded["los-loop"].values)
