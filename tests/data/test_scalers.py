"""The z-score scaler: fit on chosen steps, numpy and torch transforms, state round trip."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from stvlm.data.scalers import SCALERS, StandardScaler, scaler_from_dict
from stvlm.errors import ConfigError, UnknownNameError

# [T=3, N=2, C=2]: channel 0 = 1..6, channel 1 = 10 everywhere.
VALUES = np.stack([np.arange(1, 7).reshape(3, 2), np.full((3, 2), 10.0)], axis=-1)


def test_fit_uses_time_and_nodes_per_channel():
    scaler = StandardScaler.fit(VALUES)
    np.testing.assert_allclose(scaler.mean, [3.5, 10.0])
    np.testing.assert_allclose(scaler.std, [np.sqrt(35 / 12), 1.0])  # population std; 0 -> 1


def test_fit_on_steps_ignores_the_rest():
    scaler = StandardScaler.fit(VALUES, 0, 2)  # steps 0, 1: channel 0 = 1, 2, 3, 4
    np.testing.assert_allclose(scaler.mean, [2.5, 10.0])
    np.testing.assert_allclose(scaler.std, [np.sqrt(1.25), 1.0])
    changed = VALUES.copy()
    changed[2] = 1000.0  # a step outside the fit range
    np.testing.assert_array_equal(StandardScaler.fit(changed, 0, 2).mean, scaler.mean)


def test_constant_channel_maps_to_zero():
    scaled = StandardScaler.fit(VALUES).transform(VALUES)
    np.testing.assert_array_equal(scaled[..., 1], 0.0)


def test_numpy_round_trip_and_values():
    scaler = StandardScaler.fit(VALUES)
    scaled = scaler.transform(VALUES)
    assert scaled[0, 0, 0] == pytest.approx((1 - 3.5) / np.sqrt(35 / 12))
    np.testing.assert_allclose(scaler.inverse_transform(scaled), VALUES)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_torch_round_trip_keeps_dtype(dtype):
    scaler = StandardScaler.fit(VALUES)
    x = torch.as_tensor(VALUES, dtype=dtype)[None]  # [B=1, T, N, C]
    scaled = scaler.transform(x)
    assert scaled.dtype == dtype and scaled.shape == x.shape
    np.testing.assert_allclose(scaled.double().numpy(), scaler.transform(VALUES)[None], rtol=1e-6)
    torch.testing.assert_close(scaler.inverse_transform(scaled), x)


def test_channel_subset_uses_the_selected_statistics():
    scaler = StandardScaler(mean=[1.0, 5.0], std=[2.0, 4.0])
    pred = torch.tensor([[0.5], [-1.0]])  # [..., C_out = 1], channel 1
    restored = scaler.inverse_transform(pred, channels=[1])
    torch.testing.assert_close(restored, torch.tensor([[7.0], [1.0]]))
    np.testing.assert_allclose(scaler.transform(np.array([9.0]), channels=(1,)), [1.0])


def test_state_round_trip():
    scaler = StandardScaler.fit(VALUES)
    state = scaler.to_dict()
    assert state["kind"] == "zscore"
    for rebuilt in (StandardScaler.from_dict(state), scaler_from_dict(state)):
        np.testing.assert_array_equal(rebuilt.mean, scaler.mean)
        np.testing.assert_array_equal(rebuilt.std, scaler.std)


def test_every_registered_scaler_fits_and_inverts():
    for name in SCALERS.names():
        scaler = SCALERS.get(name).fit(VALUES)
        np.testing.assert_allclose(scaler.inverse_transform(scaler.transform(VALUES)), VALUES)


def test_error_paths():
    scaler = StandardScaler.fit(VALUES)
    with pytest.raises(ConfigError, match="scaler has 2 channels .* input has 3"):
        scaler.transform(np.zeros((4, 3)))
    with pytest.raises(ConfigError, match=r"non-empty \[T, N, C\] series, got steps \[5, None\)"):
        StandardScaler.fit(VALUES, 5)
    with pytest.raises(ConfigError, match="mean has 2 channels but std has 1"):
        StandardScaler([0.0, 1.0], [1.0])
    with pytest.raises(ConfigError, match="expected keys kind, mean, std"):
        StandardScaler.from_dict({"kind": "zscore", "mean": [0.0]})
    with pytest.raises(UnknownNameError, match="unknown scaler 'minmax'"):
        scaler_from_dict({"kind": "minmax", "min": [0.0], "max": [1.0]})
