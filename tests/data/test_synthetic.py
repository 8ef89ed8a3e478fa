"""The synthetic bring-your-own dataset: exact shapes, the k-NN graph, determinism, and that the
normal bring-your-own path (``prepare``) loads it from a data root in tmp_path."""

from __future__ import annotations

import math

import numpy as np
import pytest

from stvlm.configs import DataConfig
from stvlm.data.datasets import dataset_info
from stvlm.data.pipeline import prepare
from stvlm.data.synthetic import SyntheticConfig, knn_adjacency, synthetic_arrays, write_synthetic
from stvlm.errors import ConfigError


def test_folder_has_the_custom_format_with_exact_shapes(tmp_path) -> None:
    cfg = SyntheticConfig(nodes=6, days=2, interval_minutes=360, neighbours=2, name="syn-6")
    path = write_synthetic(tmp_path, cfg)
    assert path == tmp_path / "syn-6" and cfg.steps == 8
    assert sorted(p.name for p in path.iterdir()) == [
        "adjacency.npy", "coords.npy", "dataset.toml", "values.npy"]
    values, coords, adj = (np.load(path / f"{k}.npy") for k in ("values", "coords", "adjacency"))
    assert (values.shape, values.dtype) == ((8, 6, 1), np.float32)
    assert (coords.shape, coords.dtype) == ((6, 2), np.float64)
    assert (adj.shape, adj.dtype) == ((6, 6), np.float32)
    assert np.array_equal(adj, adj.T) and np.diag(adj).tolist() == [1.0] * 6
    assert ((adj > 0).sum(axis=1) >= 3).all()  # itself and at least its 2 nearest neighbours
    assert (coords[:, 0] >= 8.3).all() and (coords[:, 0] <= 8.9).all()
    assert (coords[:, 1] >= 47.2).all() and (coords[:, 1] <= 47.6).all()
    assert (values >= 0).all()


def test_knn_adjacency_exact_weights() -> None:
    # k = 1: 0 <-> 1 at distance 1, 2 -> 1 at distance 2; sigma = std(1, 1, 2) = sqrt(2/9)
    adj = knn_adjacency(np.array([[0.0, 0.0], [1.0, 0.0], [3.0, 0.0]]), 1)
    near, far = np.float32(math.exp(-4.5)), np.float32(math.exp(-18.0))
    assert adj.tolist() == [[1.0, near, 0.0], [near, 1.0, far], [0.0, far, 1.0]]


def test_same_seed_same_bytes_other_seed_other_values(tmp_path) -> None:
    cfg = SyntheticConfig(nodes=7, days=1, neighbours=3)
    a = write_synthetic(tmp_path / "a", cfg)
    b = write_synthetic(tmp_path / "b", cfg)
    for name in ("values.npy", "coords.npy", "adjacency.npy", "dataset.toml"):
        assert (a / name).read_bytes() == (b / name).read_bytes()
    other = synthetic_arrays(cfg.replace(seed=1))
    assert not np.array_equal(other["values"], np.load(a / "values.npy"))


def test_noiseless_speeds_dip_at_the_weekday_rush_hours() -> None:
    cfg = SyntheticConfig(nodes=5, days=7, neighbours=0, noise=0.0)
    v = synthetic_arrays(cfg)["values"][..., 0]  # [168, 5], hourly from Monday 00:00
    assert v.shape == (168, 5)
    assert np.argmin(v[:12], axis=0).tolist() == [8] * 5  # Monday morning: 08:00 (+- 0.5 h)
    assert np.argmin(v[12:24], axis=0).min() >= 5  # Monday evening dip: 17:00-18:00
    assert (v[:24].min(axis=0) < v[120:144].min(axis=0)).all()  # Saturday dips less
    assert (v.max(axis=0) <= 70.0).all() and (v.min(axis=0) >= 50.0 * 0.5 - 1e-4).all()


def test_prepare_loads_it_through_the_bring_your_own_path(tmp_path) -> None:
    write_synthetic(tmp_path, SyntheticConfig(nodes=6, neighbours=2, name="syn-6"))
    info = dataset_info("syn-6", tmp_path)
    assert (info.nodes, info.steps, info.coordinates, info.adjacency) == (6, 504, "latlon", True)
    forecast = prepare(DataConfig(dataset="syn-6", data_root=str(tmp_path)))
    data = forecast.data
    assert data.values.shape == (504, 6, 1) and data.coords.shape == (6, 2)
    assert data.adjacency.shape == (6, 6)
    assert data.timestamps[0] == np.datetime64("2024-01-01T00:00") and data.dow[0] == 0
    assert forecast.lookback_lags == (24, 168)
    assert forecast.splits.counts() == {"train": 121, "train_full": 121, "val": 96, "test": 96}


def test_no_neighbours_writes_no_adjacency_and_removes_an_old_one(tmp_path) -> None:
    write_synthetic(tmp_path, SyntheticConfig(nodes=4, days=1, neighbours=1, name="g"))
    path = write_synthetic(tmp_path, SyntheticConfig(nodes=4, days=1, neighbours=0, name="g"))
    assert not (path / "adjacency.npy").exists()
    assert dataset_info("g", tmp_path).adjacency is False


@pytest.mark.parametrize("kwargs, message", [
    ({"interval_minutes": 7}, "interval_minutes = 7 must divide 1440"),
    ({"nodes": 4, "neighbours": 4}, "neighbours = 4 must be < nodes = 4"),
    ({"nodes": 1}, "nodes = 1"),
])
def test_config_errors(kwargs, message) -> None:
    with pytest.raises(ConfigError, match=message):
        SyntheticConfig(**kwargs)
