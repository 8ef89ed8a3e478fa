"""Early stopping's monitor (``TrainConfig.monitor``): a result key or a registered mean."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from stvlm.baselines import build_baseline
from stvlm.configs import FewShotConfig, TrainConfig
from stvlm.data.pipeline import prepare_forecast
from stvlm.data.protocols import resolve_protocol
from stvlm.data.series import DatasetInfo, SpatioTemporalData
from stvlm.engine import Engine
from stvlm.monitor import MONITOR_MEANS, monitor_keys, monitor_value, reported_metrics, with_means


def counts():
    """A toy count series where a third of the entries are real zeros (no missing-value
    marker): the masked MAE (true > 0) and the all-entries MAE differ."""
    t, n = 160, 3
    steps = np.arange(t)[:, None]
    rng = np.random.default_rng(1)
    values = 4 + 3 * np.sin(2 * np.pi * steps / 24) + rng.normal(0, 1.0, (t, n))
    values = np.where(rng.random((t, n)) < 1 / 3, 0.0, np.clip(values, 0.5, None))[..., None]
    info = DatasetInfo(name="toy", folder="TOY", title="toy", description="toy", nodes=n, steps=t,
                       interval_minutes=60, channels=("v",), units=("u",))
    data = SpatioTemporalData(info=info, values=values.astype(np.float32), tod=steps[:, 0] % 24,
                              dow=(steps[:, 0] // 24) % 7)
    return prepare_forecast(data, resolve_protocol("standard", info, t), FewShotConfig())


def test_monitor_values_by_hand() -> None:
    val = {"mae": 2.0, "mae_all": 1.0, "rmse_h3": 4.0}
    assert monitor_value(val, "mae_both") == 1.5
    assert monitor_value(val, "rmse_h3") == 4.0
    assert MONITOR_MEANS.names() == ["mae_both"]


def test_with_means_adds_each_mean_whose_parts_are_there() -> None:
    results = {"mae": 2.0, "mae_all": 1.0, "mae_h3": 4.0, "mae_all_h3": 2.0, "mae_h6": 5.0, "rmse": 3.0}
    # overall and at horizon 3; not at horizon 6, where mae_all_h6 is missing
    assert with_means(results) == {**results, "mae_both": 1.5, "mae_both_h3": 3.0}
    assert with_means({"mae": 2.0, "rmse": 3.0}) == {"mae": 2.0, "rmse": 3.0}
    # a key the results already hold is theirs, not recomputed
    assert with_means({"mae": 2.0, "mae_all": 1.0, "mae_both": 9.0})["mae_both"] == 9.0
    assert with_means({"mae": 1.0, "mae_all": 2.0})["mae_both"] == monitor_value({"mae": 1.0, "mae_all": 2.0}, "mae_both")


def test_reported_metrics_follow_the_protocol() -> None:
    standard = resolve_protocol("standard", counts().data.info, 160).metrics
    assert reported_metrics(standard) == (*standard, "mae_both")
    assert reported_metrics(("mae", "rmse")) == ("mae", "rmse")  # no all-entries MAE: no mean


@pytest.mark.parametrize("name", MONITOR_MEANS.names())
def test_every_registered_mean_reads_keys_of_the_standard_protocol(name) -> None:
    fc = counts()
    keys = monitor_keys(name, fc.protocol)
    assert len(keys) > 1 and set(keys) <= set(fc.protocol.result_keys)


@pytest.mark.parametrize("name", ["bias", "bias_h3"])
def test_the_signed_bias_is_no_monitor(name) -> None:
    """Early stopping on the bias would keep the most negative forecast bias, not the best epoch."""
    from stvlm.errors import ConfigError

    with pytest.raises(ConfigError, match=f"train.monitor = '{name}' is not a validation metric of protocol "
                                          "'standard'; allowed: mae, mae_all"):
        monitor_keys(name, counts().protocol)


@pytest.mark.parametrize("monitor", ["mae", "mae_all", "mae_both"])
def test_the_engine_keeps_the_epoch_with_the_smallest_monitored_value(monitor) -> None:
    fc = counts()
    torch.manual_seed(0)
    model = build_baseline("stid", {"embed_dim": 8, "node_dim": 4, "tod_dim": 4, "dow_dim": 4}).build(fc)
    engine = Engine(model, fc, TrainConfig(epochs=6, batch_size=16, lr=1e-2, patience=10, monitor=monitor))
    result = engine.fit()
    assert all(h.val["mae"] != h.val["mae_all"] for h in result.history)  # the monitors differ here
    values = [monitor_value(h.val, monitor) for h in result.history]
    assert result.best_epoch == int(np.argmin(values)) + 1
    assert monitor_value(engine.evaluate("val"), monitor) == min(values)  # its weights restored


def test_the_default_monitor_leaves_the_config_hash_as_it_was() -> None:
    """Runs recorded before ``monitor`` existed keep their identity; another monitor changes it."""
    assert "monitor" not in TrainConfig().identity_dict()
    assert TrainConfig(monitor="mae_both").identity_dict()["monitor"] == "mae_both"
