"""Loaders of the canonical formats whose arrays are not in the shared root (PeMS .npz, DCRNN
.h5), written here in tmp_path in the exact layout, plus the windowed-series rebuild."""

from __future__ import annotations

import shutil

import h5py
import numpy as np
import pytest

from stvlm.data.datasets import dataset_status, load_dataset
from stvlm.data.datasets.base import load_npz_array, read_csv_matrix, read_sensor_locations
from stvlm.data.datasets.dcrnn import read_dcrnn_adjacency
from stvlm.data.datasets.pandas_h5 import read_h5_frame
from stvlm.data.datasets.pems import read_edge_list
from stvlm.data.datasets.rebuild import join, read_windowed_npz, stitch
from stvlm.data.safe_pickle import safe_load
from stvlm.errors import DataError

START_NS = np.datetime64("2012-03-01T00:00", "ns").astype(np.int64)
FIVE_MIN_NS = 5 * 60 * 10**9


def write_pandas_h5(path, columns, values, *, start_ns=START_NS, blocks=None):
    """Write ``values [T, N]`` the way pandas ``to_hdf(key='df')`` lays out a fixed frame."""
    t = values.shape[0]
    with h5py.File(path, "w") as f:
        f.create_dataset("df/axis0", data=columns)
        f.create_dataset("df/axis1", data=start_ns + np.arange(t, dtype=np.int64) * FIVE_MIN_NS)
        for k, cols in enumerate(blocks or [list(range(values.shape[1]))]):
            f.create_dataset(f"df/block{k}_items", data=columns[cols])
            f.create_dataset(f"df/block{k}_values", data=values[:, cols])  # stored [T, N_k]
            f[f"df/block{k}_values"].attrs["transposed"] = True


# ----------------------------------------------------------------------------- PeMS

def test_pems08_loads_npz_with_real_edge_list(tmp_path, data_root):
    folder = tmp_path / "PEMS08"
    folder.mkdir()
    shutil.copy(data_root / "PEMS08" / "distance.csv", folder)
    data = np.arange(4 * 170 * 3, dtype=np.float64).reshape(4, 170, 3)  # [T, N, C]
    np.savez(folder / "PEMS08.npz", data=data)
    assert dataset_status("pems08", tmp_path) == "present"
    d = load_dataset("pems08", tmp_path)
    assert d.values.shape == (4, 170, 3) and d.values.dtype == np.float32
    assert d.values[0, 0].tolist() == [0.0, 1.0, 2.0] and d.values[-1, -1, -1] == 2039.0
    # 295 listed edges = 274 distinct undirected pairs -> 548 entries + 170 self loops
    assert int(d.adjacency.sum()) == 718 and np.array_equal(d.adjacency, d.adjacency.T)
    assert d.adjacency[9, 153] == d.adjacency[153, 9] == 1.0 and np.all(np.diag(d.adjacency) == 1)
    assert d.timestamps[0] == np.datetime64("2016-07-01T00:00")
    assert d.tod.tolist() == [0, 1, 2, 3] and d.dow.tolist() == [4, 4, 4, 4]  # a Friday


def test_pems04_real_edge_list_nonzeros(data_root):
    adj = read_edge_list(data_root / "PEMS04" / "distance.csv", 307)
    assert int(adj.sum()) == 987  # 340 distinct edges, both directions, + 307 self loops


def test_pems03_maps_sensor_ids_through_id_file(tmp_path):
    folder = tmp_path / "PEMS03"
    folder.mkdir()
    ids = [str(317000 + 7 * i) for i in range(358)]
    (folder / "PEMS03.txt").write_text("\n".join(ids) + "\n")
    (folder / "PEMS03.csv").write_text(f"from,to,distance\n{ids[0]},{ids[2]},1.5\n"
                                       f"{ids[357]},{ids[1]},2.0\n")
    np.savez(folder / "PEMS03.npz", data=np.ones((2, 358, 1)))
    d = load_dataset("pems03", tmp_path)
    assert int(d.adjacency.sum()) == 358 + 4
    assert d.adjacency[0, 2] == d.adjacency[2, 0] == d.adjacency[357, 1] == 1.0
    assert d.timestamps[0] == np.datetime64("2018-09-01T00:00")


def test_pems_edge_list_errors(tmp_path):
    edges = tmp_path / "distance.csv"
    edges.write_text("from,to,cost\n0,5,1.0\n")
    with pytest.raises(DataError, match=r"line 2 names node 5, expected 0\.\.3 \(an edge list "):
        read_edge_list(edges, 4)
    edges.write_text("from,to,cost\n-1,3,1.0\n")  # node 3 is fine: the message names -1
    with pytest.raises(DataError, match=r"line 2 names node -1, expected 0\.\.3 "):
        read_edge_list(edges, 4)
    edges.write_text("from,to,cost\n0,x,1.0\n")
    with pytest.raises(DataError, match=r"line 2 \['0', 'x', '1.0'\] must name node indices "
                                        r"0\.\.3"):
        read_edge_list(edges, 4)
    ids = tmp_path / "ids.txt"
    ids.write_text("10\n11\n")
    with pytest.raises(DataError, match=r"ids\.txt: lists 2 sensor ids, expected 4"):
        read_edge_list(edges, 4, ids)


def test_pems_without_edge_list_and_bad_shapes(tmp_path):
    folder = tmp_path / "PEMS07"
    folder.mkdir()
    np.savez(folder / "PEMS07.npz", data=np.zeros((3, 883, 1)))
    assert load_dataset("pems07", tmp_path).adjacency is None
    np.savez(folder / "PEMS07.npz", data=np.zeros((3, 880, 1)))
    with pytest.raises(DataError, match=r"PEMS07\.npz: data has shape \(3, 880, 1\), expected "
                                        r"\(\*, 883, 1\)"):
        load_dataset("pems07", tmp_path)
    np.savez(folder / "PEMS07.npz", values=np.zeros((3, 883, 1)))
    with pytest.raises(DataError, match=r"PEMS07\.npz: has no array 'data'; it holds values"):
        load_dataset("pems07", tmp_path)


# ----------------------------------------------------------------------------- DCRNN h5

def test_metr_la_h5_with_real_graph_files(tmp_path, data_root):
    folder = tmp_path / "METR-LA"
    folder.mkdir()
    for name in ("adj_mx.pkl", "graph_sensor_locations.csv"):
        shutil.copy(data_root / "METR-LA" / name, folder)
    ids, _ = read_dcrnn_adjacency(folder / "adj_mx.pkl", 207)
    values = np.arange(3 * 207, dtype=np.float64).reshape(3, 207)  # [T, N]
    write_pandas_h5(folder / "metr-la.h5", np.array(ids, dtype="S6"), values,
                    blocks=[list(range(100, 207)), list(range(100))])  # two blocks, reordered
    assert dataset_status("metr-la", tmp_path) == "present"
    d = load_dataset("metr-la", tmp_path)
    assert d.values.shape == (3, 207, 1)
    np.testing.assert_array_equal(d.values[:, :, 0], values.astype(np.float32))
    assert d.coords[0].tolist() == [-118.31829, 34.15497]  # sensor 773869
    assert int((d.adjacency != 0).sum()) == 1722
    assert d.timestamps.tolist()[0] == np.datetime64("2012-03-01T00:00").item()
    assert d.tod.tolist() == [0, 1, 2] and d.dow.tolist() == [3, 3, 3]


def test_pems_bay_h5_with_integer_sensor_columns(tmp_path, data_root):
    folder = tmp_path / "PEMS-BAY"
    folder.mkdir()
    for name in ("adj_mx_bay.pkl", "graph_sensor_locations_bay.csv"):
        shutil.copy(data_root / "PEMS-BAY" / name, folder)
    ids, _ = read_dcrnn_adjacency(folder / "adj_mx_bay.pkl", 325)
    start = np.datetime64("2017-01-01T00:00", "ns").astype(np.int64)
    write_pandas_h5(folder / "pems-bay.h5", np.array([int(s) for s in ids]),
                    np.full((2, 325), 65.0), start_ns=start)
    d = load_dataset("pems-bay", tmp_path)
    assert d.values[1, 324, 0] == 65.0 and int((d.adjacency != 0).sum()) == 2694
    assert d.coords[0].tolist() == [-121.901149, 37.364085]  # sensor 400001, no header row
    assert d.dow.tolist() == [6, 6]  # 2017-01-01 was a Sunday


def test_dcrnn_sensor_order_mismatch(tmp_path, data_root):
    folder = tmp_path / "METR-LA"
    folder.mkdir()
    for name in ("adj_mx.pkl", "graph_sensor_locations.csv"):
        shutil.copy(data_root / "METR-LA" / name, folder)
    ids, _ = read_dcrnn_adjacency(folder / "adj_mx.pkl", 207)
    swapped = np.array([ids[1], ids[0]] + ids[2:], dtype="S6")
    write_pandas_h5(folder / "metr-la.h5", swapped, np.zeros((2, 207)))
    with pytest.raises(DataError, match=r"adj_mx\.pkl: sensor ids do not match the sensor order "
                                        r"of the data \(207 vs 207 sensors, first difference at "
                                        r"position 0\)"):
        load_dataset("metr-la", tmp_path)


def test_h5_reader_errors(tmp_path):
    bad = tmp_path / "x.h5"
    bad.write_bytes(b"not hdf5")
    with pytest.raises(DataError, match=r"x\.h5: not a readable HDF5 file"):
        read_h5_frame(bad)
    with h5py.File(tmp_path / "y.h5", "w") as f:
        f.create_dataset("df/axis0", data=np.array([b"a"]))
    with pytest.raises(DataError, match=r"y\.h5: df/axis1 is missing; expected a frame written "):
        read_h5_frame(tmp_path / "y.h5")
    with pytest.raises(DataError, match=r"no pandas frame under key 'speed'; keys: \['df'\]"):
        read_h5_frame(tmp_path / "y.h5", key="speed")


def test_h5_reader_untransposed_block(tmp_path):
    with h5py.File(tmp_path / "z.h5", "w") as f:
        f.create_dataset("df/axis0", data=np.array([b"a", b"b"]))
        f.create_dataset("df/axis1", data=np.arange(3, dtype=np.int64))
        f.create_dataset("df/block0_items", data=np.array([b"b", b"a"]))
        f.create_dataset("df/block0_values", data=np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]))
    frame = read_h5_frame(tmp_path / "z.h5")
    assert frame.columns == ("a", "b")
    assert frame.values.tolist() == [[4.0, 1.0], [5.0, 2.0], [6.0, 3.0]]


def test_real_dcrnn_pickles_have_expected_structure(data_root):
    ids, sensor_to_index, adj = safe_load(data_root / "PEMS-BAY" / "adj_mx_bay.pkl")
    assert ids[:3] == ["400001", "400017", "400030"] and sensor_to_index["400001"] == 0
    assert adj.shape == (325, 325) and int((adj != 0).sum()) == 2694


# ----------------------------------------------------------------------------- rebuild

def _windows(series, offsets, count):
    """[W, K, 1, 1] windows of a 1-D series, anchored at t_i = -min(offsets) + i."""
    base = -min(offsets)
    return np.array([[series[base + i + o] for o in offsets] for i in range(count)],
                    dtype=np.float64)[:, :, None, None]


def test_stitch_reads_series_back():
    series = np.arange(10.0) * 3
    offsets = [-4, -3, 0, 1]  # a gap at -2, -1 is filled by later samples
    out, first = stitch(_windows(series, offsets, 5), np.array(offsets), source="s.npz")
    assert first == -4 and out[:, 0, 0].tolist() == series[:10].tolist()


def test_stitch_errors():
    series = np.arange(10.0)
    windows = _windows(series, [-1, 0, 1], 6)
    windows[3, 0] = 99.0
    with pytest.raises(DataError, match=r"s\.npz: sample 2 \(offset 0\) disagrees with another "
                                        "sample on step 2; consecutive samples must shift"):
        stitch(windows, np.array([-1, 0, 1]), source="s.npz")
    with pytest.raises(DataError, match=r"step -3 relative to the first anchor is not covered"):
        stitch(_windows(series, [-5, 0], 2), np.array([-5, 0]), source="s.npz")
    with pytest.raises(DataError, match=r"windows have shape \(6, 3, 1, 1\), expected \(W, 2, N"):
        stitch(windows, np.array([0, 1]), source="s.npz")


def test_join():
    a, b = np.arange(6.0), np.arange(3.0, 9.0)
    assert join(a, b, 3, what="a and b").tolist() == list(range(9))
    with pytest.raises(DataError, match=r"^a and b do not join: the last 2 steps"):
        join(a, b, 2, what="a and b")


def test_nycbike_drop_refuses_files_that_do_not_join(tmp_path, data_root):
    folder = tmp_path / "NYCBike_drop_partial"
    folder.mkdir()
    shutil.copy(data_root / "NYCBike_drop_partial" / "val.npz", folder / "val.npz")
    shutil.copy(data_root / "NYCBike_drop_partial" / "val.npz", folder / "test.npz")
    shutil.copy(data_root / "NYCBike_drop_partial" / "adj_mx.pkl", folder)
    with pytest.raises(DataError, match=r"val\.npz and .*test\.npz do not join: the last 23 steps"):
        load_dataset("nycbike-drop", tmp_path, verify="none")
    with pytest.raises(DataError, match=r"test\.npz is truncated or altered: 3523917 bytes, "
                                        "expected 3650736"):
        load_dataset("nycbike-drop", tmp_path, verify="size")


def write_bike_drop(folder, adj_source, *, steps=40, val_windows=9, tod_fraction=None,
                    dow_shift=0):
    """A synthetic NYCBike_drop_partial folder: the last ``steps`` steps of the 2016 span."""
    folder.mkdir(exist_ok=True)
    shutil.copy(adj_source, folder / "adj_mx.pkl")
    absolute = 4368 - steps + np.arange(steps)
    counts = np.arange(steps * 250, dtype=np.float64).reshape(steps, 250) % 7
    tod = (absolute % 48) / 48 if tod_fraction is None else tod_fraction
    dow = (absolute // 48 + dow_shift) % 7
    series = np.stack([counts, np.broadcast_to(tod[:, None], counts.shape),
                       np.broadcast_to(dow[:, None], counts.shape)], axis=-1)  # [T, N, 3]
    x = np.stack([series[i:i + 12] for i in range(steps - 23)])  # [W, 12, N, 3]
    y = np.stack([series[i + 12:i + 24, :, :1] for i in range(steps - 23)])  # [W, 12, N, 1]
    offsets = {"x_offsets": np.arange(-11, 1).reshape(-1, 1),
               "y_offsets": np.arange(1, 13).reshape(-1, 1)}
    np.savez(folder / "val.npz", x=x[:val_windows], y=y[:val_windows], **offsets)
    np.savez(folder / "test.npz", x=x[val_windows:], y=y[val_windows:], **offsets)
    return counts


def test_bike_drop_synthetic_calendar_and_checks(tmp_path, data_root):
    adj = data_root / "NYCBike_drop_partial" / "adj_mx.pkl"
    folder = tmp_path / "NYCBike_drop_partial"
    counts = write_bike_drop(folder, adj)
    d = load_dataset("nycbike-drop", tmp_path, verify="none")
    np.testing.assert_array_equal(d.values[:, :, 0], counts.astype(np.float32))
    assert d.test_target_start == 9 + 12 and d.timestamps[-1] == np.datetime64("2016-06-30T23:30")
    assert (d.tod[0], d.dow[0]) == (8, 3)  # 2016-06-30 04:00, a Thursday
    write_bike_drop(folder, adj, dow_shift=1)  # day index no longer fits the calendar
    d = load_dataset("nycbike-drop", tmp_path, verify="none")
    assert d.timestamps is None and d.dow[0] == 4
    write_bike_drop(folder, adj, tod_fraction=np.full(40, 0.3))
    with pytest.raises(DataError, match=r"val\.npz: channel 1 is not a time-of-day fraction k/48"):
        load_dataset("nycbike-drop", tmp_path, verify="none")
    write_bike_drop(folder, adj, tod_fraction=np.full(40, 0.5))
    with pytest.raises(DataError, match=r"channels do not advance by one 30-minute step"):
        load_dataset("nycbike-drop", tmp_path, verify="none")


def test_reader_errors(tmp_path):
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(DataError, match=r"bad\.npz: not a readable \.npz file"):
        load_npz_array(bad, "data")
    with pytest.raises(DataError, match=r"bad\.npz: not a readable \.npz file"):
        read_windowed_npz(bad)
    np.savez(bad, x=np.zeros((2, 3, 4, 1)), y=np.zeros((2, 1, 4, 1)))
    with pytest.raises(DataError, match=r"missing arrays \['x_offsets', 'y_offsets'\]"):
        read_windowed_npz(bad)
    np.savez(bad, x=np.zeros((2, 3, 4, 1)), y=np.zeros((3, 1, 4, 1)), x_offsets=np.arange(3),
             y_offsets=np.arange(1))
    with pytest.raises(DataError, match=r"x \(2, 3, 4, 1\) and y \(3, 1, 4, 1\) must be"):
        read_windowed_npz(bad)
    csv_file = tmp_path / "m.csv"
    csv_file.write_text("1,2\n3,x\n")
    with pytest.raises(DataError, match=r"m\.csv: not a numeric CSV matrix"):
        read_csv_matrix(csv_file)
    csv_file.write_text("index,sensor_id,latitude,longitude\n0,1,north,2\n")
    with pytest.raises(DataError, match=r"m\.csv: line 2 is '0,1,north,2', expected index,"
                                        "sensor_id,latitude,longitude"):
        read_sensor_locations(csv_file, header=True)
