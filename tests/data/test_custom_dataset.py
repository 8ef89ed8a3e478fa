"""Bring-your-own datasets: a tiny folder written in tmp_path, discovered, validated, loaded."""

from __future__ import annotations

import numpy as np
import pytest

from stvlm.data.datasets import dataset_info, dataset_names, dataset_status, load_dataset
from stvlm.data.datasets.custom import CustomDataset, read_spec
from stvlm.errors import DataError, UnknownNameError

TOML = """\
name = "tiny-city"
title = "Tiny city"
description = "Speeds on three roads. Made up for a test."
interval_minutes = 360
channels = ["speed", "flow"]
units = ["km/h", "veh/h"]
target_channels = [0]
missing_value = 0.0
split = [0.5, 0.25, 0.25]
start = 2024-01-06T06:00:00
"""


def write_dataset(root, toml: str = TOML, folder: str = "tiny"):
    """A 5-step, 3-node, 2-channel dataset with every optional file."""
    path = root / folder
    path.mkdir(parents=True, exist_ok=True)
    (path / "dataset.toml").write_text(toml)
    np.save(path / "values.npy", np.arange(30, dtype=np.int64).reshape(5, 3, 2))  # [T, N, C]
    np.save(path / "coords.npy", np.array([[0.0, 1.0], [2.0, 3.0], [4.0, 5.0]]))
    np.save(path / "adjacency.npy", np.eye(3))
    np.save(path / "node_side_poi.npy", np.array([1, 2, 3]))
    np.save(path / "step_side_weather.npy", np.array([0, 1, 1, 0, 2]))
    return path


def test_discovered_and_loaded(tmp_path):
    write_dataset(tmp_path)
    assert dataset_names(tmp_path)[-1] == "tiny-city"
    assert dataset_status("tiny-city", tmp_path) == "present"
    info = dataset_info("tiny-city", tmp_path)
    assert (info.nodes, info.steps, info.folder, info.coordinates) == (3, 5, "tiny", "latlon")
    assert info.split == (0.5, 0.25, 0.25) and info.missing_value == 0.0
    assert info.side_information == ("poi", "weather") and info.adjacency
    d = load_dataset("tiny-city", tmp_path)
    assert d.values.dtype == np.float32 and d.values.shape == (5, 3, 2)
    assert d.values[0, 0].tolist() == [0.0, 1.0] and d.values[-1, -1].tolist() == [28.0, 29.0]
    assert d.coords[2].tolist() == [4.0, 5.0] and d.adjacency.dtype == np.float32
    assert d.timestamps[0] == np.datetime64("2024-01-06T06:00")  # a Saturday
    assert d.tod.tolist() == [1, 2, 3, 0, 1] and d.dow.tolist() == [5, 5, 5, 6, 6]
    assert d.node_side["poi"].tolist() == [1, 2, 3]
    assert d.step_side["weather"].tolist() == [0, 1, 1, 0, 2]


def test_timestamps_file_and_counted_calendar(tmp_path):
    path = write_dataset(tmp_path, TOML.replace("start = 2024-01-06T06:00:00\n", ""))
    assert load_dataset("tiny-city", tmp_path).tod.tolist() == [0, 1, 2, 3, 0]
    assert load_dataset("tiny-city", tmp_path).dow.tolist() == [0, 0, 0, 0, 1]
    seconds = np.datetime64("2024-01-01T00:00", "s").astype(np.int64) + 21600 * np.arange(5)
    np.save(path / "timestamps.npy", seconds)  # int64 seconds since the epoch
    d = load_dataset("tiny-city", tmp_path)
    assert d.timestamps[-1] == np.datetime64("2024-01-02T00:00") and d.dow.tolist()[-1] == 1
    np.save(path / "timestamps.npy", seconds[::-1].copy())
    with pytest.raises(DataError, match=r"timestamps\.npy: timestamps must be strictly increasing"):
        load_dataset("tiny-city", tmp_path)
    # 30-minute stamps under interval_minutes = 360: the day lag (4 steps) would read 2 h back
    np.save(path / "timestamps.npy", seconds[0] + 1800 * np.arange(5))
    with pytest.raises(DataError, match=r"timestamps\.npy: step 1 \(2024-01-01T00:30\) is 30 min after "
                                        r"step 0, not interval_minutes = 360; the steps must be evenly "
                                        r"spaced \(a missing step is a row of NaN\)"):
        load_dataset("tiny-city", tmp_path)
    np.save(path / "timestamps.npy", np.delete(seconds[0] + 21600 * np.arange(6), 3))  # one step missing
    with pytest.raises(DataError, match=r"step 3 \(2024-01-02T00:00\) is 720 min after step 2"):
        load_dataset("tiny-city", tmp_path)


def test_a_start_with_an_offset_is_its_wall_clock(tmp_path):
    """docs/datasets.md: features read local wall-clock time; 06:00-05:00 is 06:00, not 11:00 UTC."""
    write_dataset(tmp_path, TOML.replace("start = 2024-01-06T06:00:00", "start = 2024-01-06T06:00:00-05:00"))
    d = load_dataset("tiny-city", tmp_path)
    assert d.timestamps[0] == np.datetime64("2024-01-06T06:00") and d.tod.tolist() == [1, 2, 3, 0, 1]


def test_grid_shape_gives_grid_coordinates(tmp_path):
    path = write_dataset(tmp_path, TOML + "grid_shape = [1, 3]\n")
    (path / "coords.npy").unlink()
    d = load_dataset("tiny-city", tmp_path)
    assert d.grid_shape == (1, 3) and d.info.coordinates == "grid"
    assert d.coords.tolist() == [[0.0, 0.0], [1.0, 0.0], [2.0, 0.0]]
    (path / "dataset.toml").write_text(TOML + "grid_shape = [2, 2]\n")
    with pytest.raises(DataError, match=r"grid_shape = \[2, 2\] has 4 cells, values have N = 3"):
        load_dataset("tiny-city", tmp_path)


@pytest.mark.parametrize("extra, message", [
    ("colour = 'red'\n", "unknown key 'colour'; allowed: name, title, description"),
    ("coordinates = 'utm'\n", "coordinates = 'utm'; allowed: latlon, projected, grid"),
    ("[files]\nvals = 'v.npy'\n", "unknown key 'files.vals'; allowed: values, coords"),
    ("[files]\nvalues = '../../outside/secret.npy'\n",
     r"files.values = '../../outside/secret.npy' must be a file name in the dataset's folder \(no folder part\)"),
    ("[files]\nvalues = '/etc/secret.npy'\n", r"files.values = '/etc/secret.npy' must be a file name"),
    ("[files]\ncoords = '..'\n", r"files.coords = '..' must be a file name"),
])
def test_toml_rejects_unknown_keys(tmp_path, extra, message):
    write_dataset(tmp_path, TOML + extra)
    with pytest.raises(DataError, match=message):
        dataset_names(tmp_path)


@pytest.mark.parametrize("old, new, message", [
    ('name = "tiny-city"', 'name = "Tiny City"', "name = 'Tiny City' must use lower-case"),
    ("interval_minutes = 360", "interval_minutes = 7", "interval_minutes = 7 must divide 1440"),
    ("interval_minutes = 360", 'interval_minutes = "6h"', "interval_minutes = '6h' must be an "
                                                          "integer dividing 1440"),
    ('units = ["km/h", "veh/h"]', 'units = ["km/h"]', r"units = \['km/h'\] must be a non-empty "
                                                      "list of 2 strs"),
    ("target_channels = [0]", "target_channels = [2]", r"target_channels = \[2\] must be "
                                                       r"channel indices 0\.\.1"),
    ("split = [0.5, 0.25, 0.25]", "split = [0.5, 0.5, 0.5]", "split = .* summing to 1"),
    ("start = 2024-01-06T06:00:00", 'start = "soon"', "start = 'soon' is not a date-time"),
    ("target_channels = [0]", "target_channels = [0]\ngrid_shape = [-1, -3]",
     r"grid_shape = \[-1, -3\] must be two positive counts \(rows, cols\)"),
    ('name = "tiny-city"\n', "", "missing required key"),
    ("channels", "channels = [", "not valid TOML"),
])
def test_toml_validation_errors(tmp_path, old, new, message):
    write_dataset(tmp_path, TOML.replace(old, new, 1))
    with pytest.raises(DataError, match=message):
        read_spec(tmp_path / "tiny" / "dataset.toml")


@pytest.mark.parametrize("name, array, message", [
    ("values.npy", np.zeros((5, 3)), r"values\.npy: values have shape \(5, 3\), expected "
                                     r"\(T, N, 2\)"),
    ("coords.npy", np.zeros((3, 3)), r"coords\.npy: coords has shape \(3, 3\), expected \(3, 2\)"),
    ("adjacency.npy", np.zeros((3, 2)), r"adjacency\.npy: adjacency has shape \(3, 2\), "
                                        r"expected \(3, 3\)"),
    ("timestamps.npy", np.zeros(4, dtype=np.int64), r"timestamps\.npy: timestamps has shape "
                                                    r"\(4,\), expected \(5\)"),
    ("node_side_poi.npy", np.zeros(4), r"node side 'poi' has shape \(4,\), expected \(3\)"),
    ("step_side_weather.npy", np.zeros((5, 2)), r"step side 'weather' has shape \(5, 2\), "
                                                r"expected \(5, 3\)"),
])
def test_array_shape_errors_name_file_and_shapes(tmp_path, name, array, message):
    path = write_dataset(tmp_path)
    np.save(path / name, array)
    with pytest.raises(DataError, match=message):
        load_dataset("tiny-city", tmp_path)


def test_name_clashes_and_unknown_names(tmp_path):
    write_dataset(tmp_path)
    write_dataset(tmp_path, folder="copy")
    with pytest.raises(DataError, match=r"dataset name 'tiny-city' is also used by "
                                        r".*dataset\.toml"):
        dataset_names(tmp_path)
    (tmp_path / "copy" / "dataset.toml").write_text(TOML.replace("tiny-city", "los-loop"))
    with pytest.raises(DataError, match="name 'los-loop' is a built-in dataset"):
        dataset_names(tmp_path)
    (tmp_path / "copy" / "dataset.toml").unlink()
    with pytest.raises(UnknownNameError, match=r"known: los-loop, .*pems-bay, tiny-city \(bring"):
        dataset_info("tiny", tmp_path)


def test_missing_values_file_and_explicit_optional_file(tmp_path):
    path = write_dataset(tmp_path, TOML + '[files]\nadjacency = "graph.npy"\n')
    with pytest.raises(DataError, match=r"dataset 'tiny-city': missing file .*graph\.npy"):
        load_dataset("tiny-city", tmp_path)
    assert dataset_status("tiny-city", tmp_path) == "partial"
    (path / "values.npy").unlink()
    (path / "graph.npy").write_bytes(b"")
    assert CustomDataset(path).info.steps is None
    assert dataset_status("tiny-city", tmp_path) == "partial"
    with pytest.raises(DataError) as err:
        load_dataset("tiny-city", tmp_path)
    assert str(err.value) == (f"dataset 'tiny-city': missing file {path / 'values.npy'} "
                              "(see `stvlm data info tiny-city`)")


def test_values_must_be_numeric(tmp_path):
    path = write_dataset(tmp_path)
    np.save(path / "values.npy", np.full((5, 3, 2), "x"))
    with pytest.raises(DataError, match=r"values\.npy: dtype <U1; expected numbers"):
        load_dataset("tiny-city", tmp_path)


def test_names_use_stvlm_data_when_no_root_is_given(tmp_path, monkeypatch):
    write_dataset(tmp_path)
    monkeypatch.setenv("STVLM_DATA", str(tmp_path))
    assert dataset_names()[-1] == "tiny-city"
    assert load_dataset("tiny-city").values.shape == (5, 3, 2)
    monkeypatch.delenv("STVLM_DATA")
    assert "tiny-city" not in dataset_names()


def test_projected_coordinates_and_distance_weights(tmp_path):
    toml = TOML + 'coordinates = "projected"\nadjacency_weights = "distance"\n'
    path = write_dataset(tmp_path, toml)
    # metres between roads: 0 -> 1 is 100 m, 1 -> 2 is 300 m, 0 and 2 are not linked (inf)
    np.save(path / "adjacency.npy", np.array([[0.0, 100.0, np.inf], [100.0, 0.0, 300.0],
                                              [np.inf, 300.0, 0.0]]))
    assert dataset_info("tiny-city", tmp_path).coordinates == "projected"
    adj = load_dataset("tiny-city", tmp_path).adjacency
    sigma = np.std([100.0, 100.0, 300.0, 300.0])  # 100: the std of the four linked entries
    near, far = np.exp(-(100.0 / sigma) ** 2), np.exp(-(300.0 / sigma) ** 2)  # e^-1, e^-9 < 0.1
    np.testing.assert_allclose(adj, [[1.0, near, 0.0], [near, 1.0, 0.0], [0.0, 0.0, 1.0]], rtol=1e-6)
    assert far < 0.1  # below the threshold: dropped
    np.save(path / "adjacency.npy", -np.ones((3, 3)))
    with pytest.raises(DataError, match=r"adjacency\.npy: adjacency distances must be >= 0"):
        load_dataset("tiny-city", tmp_path)
    (path / "dataset.toml").write_text(TOML + 'adjacency_weights = "metres"\n')
    with pytest.raises(DataError, match=r"adjacency_weights = 'metres'; allowed: closeness, distance"):
        read_spec(path / "dataset.toml")


def test_a_marker_float32_cannot_hold_is_found_by_the_loss_and_the_metrics(tmp_path):
    """Values load as float32, where -99.9 is -99.90000153: the marker is kept as the values hold
    it, so the metrics (which compare in float64) find the missing entries as the loss does."""
    import torch

    from stvlm.metrics import observed_mask

    path = write_dataset(tmp_path, TOML.replace("missing_value = 0.0", "missing_value = -99.9"))
    values = np.arange(30, dtype=np.float64).reshape(5, 3, 2)
    values[1, 2, 0] = values[4, 0, 0] = -99.9
    np.save(path / "values.npy", values)
    info, d = dataset_info("tiny-city", tmp_path), load_dataset("tiny-city", tmp_path)
    assert info.missing_value == float(np.float32(-99.9))
    stored = torch.from_numpy(d.values[..., 0])
    for true in (stored, stored.double()):  # the loss's float32 and the metrics' float64
        assert (~observed_mask(true, info.missing_value)).nonzero().tolist() == [[1, 2], [4, 0]]


def test_pickled_or_corrupt_npy_files_are_refused_unread(tmp_path):
    """A side file holding Python objects (a pickle inside the .npy) is never unpickled, and a
    values file that is no .npy is one line naming it."""
    path = write_dataset(tmp_path)
    np.save(path / "step_side_weather.npy", np.array([{"x": 1}, 0, 1, 0, 2], dtype=object), allow_pickle=True)
    with pytest.raises(DataError, match=r"step_side_weather\.npy: not a readable \.npy file \(.*allow_pickle"):
        load_dataset("tiny-city", tmp_path)
    write_dataset(tmp_path)
    (path / "values.npy").write_bytes(b"not an array")
    with pytest.raises(DataError, match=r"values\.npy: not a readable \.npy file"):
        dataset_info("tiny-city", tmp_path)
