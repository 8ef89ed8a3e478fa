"""Non-finite values are data: counted, filled where models read, never scored, never a NaN."""

from __future__ import annotations

import numpy as np
import pytest

from stvlm.baselines import BASELINES
from stvlm.configs import TrainConfig
from stvlm.data.missing import NonFinite, fill_forward
from stvlm.data.scalers import StandardScaler
from stvlm.errors import DataError
from stvlm.evaluation import evaluate_baseline
from tests.baselines.test_baselines import forecast_of, tiny, weekly_series

NAN = np.nan


def test_fill_forward_carries_the_last_finite_value_per_node_and_channel():
    values = np.array([
        [[NAN, 1.0], [5.0, NAN]],
        [[2.0, NAN], [NAN, NAN]],
        [[NAN, 3.0], [7.0, 4.0]],
    ])  # [T=3, N=2, C=2]
    filled = fill_forward(values, fallback=np.array([-1.0, -2.0]))
    np.testing.assert_array_equal(filled, [
        [[-1.0, 1.0], [5.0, -2.0]],
        [[2.0, 1.0], [5.0, -2.0]],
        [[2.0, 3.0], [7.0, 4.0]],
    ])
    finite = np.ones((2, 1, 1))
    assert fill_forward(finite, np.zeros(1)) is finite  # no copy when nothing is missing


def test_nonfinite_counts_and_words():
    counts = NonFinite.of(np.array([1.0, NAN, np.inf, -np.inf, NAN]))
    assert (counts.nan, counts.inf, counts.total) == (2, 2, 4)
    assert counts.describe(5000) == "2 NaN, 2 Inf of 5,000 entries"
    assert NonFinite.of(np.arange(3)).describe(3) == "none"


def test_inf_is_stored_as_nan_and_counted_as_given():
    values = weekly_series()
    values[3, 0, 0], values[4, 1, 0], values[5, 1, 0] = np.inf, -np.inf, NAN
    data = tiny(values)
    assert (data.nonfinite.nan, data.nonfinite.inf) == (1, 2)
    assert not np.isinf(data.values).any() and int(np.isnan(data.values).sum()) == 3


def test_a_series_without_a_finite_value_is_an_error():
    with pytest.raises(DataError, match=r"^dataset 'tiny': values has no finite entry "
                       r"\(280 NaN, 0 Inf of 280 entries\)$"):
        tiny(np.full((140, 2, 1), NAN))


def test_scaler_leaves_non_finite_entries_out_and_names_an_empty_channel():
    values = np.array([[[1.0, NAN]], [[3.0, NAN]], [[NAN, 5.0]]])  # [T=3, N=1, C=2]
    scaler = StandardScaler.fit(values)
    np.testing.assert_allclose(scaler.mean, [2.0, 5.0])
    np.testing.assert_allclose(scaler.std, [1.0, 1.0])  # channel 1: one value, std 0 -> 1
    with pytest.raises(DataError, match=r"^scaler fit: channel\(s\) \[1\] have no finite value "
                       r"in steps \[0, 2\) \(the training part\)"):
        StandardScaler.fit(values, 0, 2)


def test_models_read_filled_inputs_and_targets_keep_nan():
    values = weekly_series()
    values[40:44, 0, 0] = NAN  # four steps of node 0 inside the training part
    fc = forecast_of(tiny(values))
    np.testing.assert_array_equal(fc.filled_values[40:44, 0, 0], values[39, 0, 0])
    assert np.isfinite(fc._scaled).all()
    batch = next(fc.batches("train", 1000))
    assert np.isfinite(batch.x.numpy()).all() and np.isfinite(batch.lookback.numpy()).all()
    assert int(np.isnan(batch.y.numpy()).sum()) > 0  # targets stay missing: never scored


@pytest.mark.parametrize("name", BASELINES.names())
def test_every_baseline_scores_a_series_with_nan_and_inf(name: str) -> None:
    values = weekly_series()
    rng = np.random.default_rng(0)
    cells = rng.choice(values.size, 20, replace=False)
    flat = values.reshape(-1)
    flat[cells[:10]], flat[cells[10:]] = NAN, np.inf
    fc = forecast_of(tiny(values))
    result = evaluate_baseline(fc, name, {}, TrainConfig(epochs=2, batch_size=16, seed=1))
    for part in (result.val, result.test):
        assert all(np.isfinite(v) for v in part.values()), part
