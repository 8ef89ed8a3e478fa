"""Masked metrics, the training loss and protocol pooling, on hand-computed tiny arrays."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from stvlm.data.protocols import PROTOCOLS, Protocol
from stvlm.data.series import DatasetInfo
from stvlm.errors import MetricError, ProtocolError, UnknownNameError
from stvlm.metrics import (
    MASK_RULES,
    METRICS,
    OVERALL,
    POOLINGS,
    evaluate_forecast,
    mask_for,
    masked_mae,
    masked_mae_loss,
    masked_mape,
    masked_rmse,
    masked_wape,
    tgcn_accuracy,
    tgcn_r2,
    tgcn_var,
)

TRUE = np.array([[1.0, 0.0, 3.0], [4.0, 5.0, -2.0]])
PRED = np.array([[2.0, 1.0, 1.0], [4.0, 7.0, 0.0]])
# "positive" keeps true = 1, 3, 4, 5 with errors 1, -2, 0, 2; "none" adds true = 0 (err 1) and
# true = -2 (err 2).

EXPECTED = {
    ("mae", "positive"): 5 / 4,
    ("rmse", "positive"): 1.5,
    ("mape", "positive"): (1 + 2 / 3 + 0 + 2 / 5) / 4 * 100,
    ("wape", "positive"): 5 / 13 * 100,
    ("mae", "none"): 8 / 6,
    ("rmse", "none"): math.sqrt(14 / 6),
    ("mape", "none"): (1 + 2 / 3 + 0 + 2 / 5 + 1) / 5 * 100,  # true = 0 left out
    ("wape", "none"): 8 / 15 * 100,
    ("accuracy", "none"): 1 - math.sqrt(14) / math.sqrt(55),
    ("r2", "none"): 1 - 84 / 209,  # sum e^2 = 14, sum (t - 11/6)^2 = 209/6
    ("var", "none"): 1 - 68 / 209,  # Var(e) = 17/9, Var(t) = 209/36
    ("accuracy", "positive"): 1 - 3 / math.sqrt(51),
}


@pytest.mark.parametrize("name, rule", list(EXPECTED))
def test_metric_values_by_hand(name, rule):
    assert METRICS.get(name)(PRED, TRUE, rule) == pytest.approx(EXPECTED[(name, rule)], rel=1e-12)


def test_named_functions_and_torch_input():
    pred, true = torch.tensor(PRED, dtype=torch.float32), torch.tensor(TRUE, dtype=torch.float32)
    assert masked_mae(pred, true) == 1.25
    assert masked_rmse(pred, true) == 1.5
    assert masked_mape(pred, true) == pytest.approx(310 / 6)
    assert masked_wape(pred, true) == pytest.approx(500 / 13)
    assert tgcn_accuracy(pred, true) == pytest.approx(1 - math.sqrt(14 / 55))
    assert tgcn_r2(pred, true) == pytest.approx(125 / 209)
    assert tgcn_var(pred, true) == pytest.approx(141 / 209)


def test_mape_leaves_out_zero_residues():
    # SZ-TAXI holds zeros stored as 1e-17: as a truth, 1e-17 made the mean ~1e18 %.
    true = np.array([2.0, 1e-17, -5e-5, 1e-4, 4.0])
    pred = np.array([3.0, 10.0, 1.0, 2e-4, 2.0])
    # kept: 2 (50 %), 1e-4 (100 %), 4 (50 %); 1e-17 and -5e-5 (|true| <= 5e-5) left out
    assert masked_mape(pred, true, "none") == pytest.approx(200 / 3, rel=1e-9)
    assert masked_mape(pred, true, "positive") == pytest.approx(200 / 3, rel=1e-9)
    assert math.isnan(masked_mape(pred[1:3], true[1:3], "none"))  # nothing left: NaN, never 0


def test_explicit_boolean_mask():
    mask = np.array([[True, False, False], [False, False, True]])  # errors 1 and 2
    assert masked_mae(PRED, TRUE, mask) == 1.5
    assert masked_rmse(PRED, TRUE, torch.as_tensor(mask)) == pytest.approx(math.sqrt(2.5))


@pytest.mark.parametrize("name", METRICS.names())
def test_empty_mask_gives_nan(name):
    zeros = np.zeros((2, 3))
    assert math.isnan(METRICS.get(name)(zeros + 1, zeros, "positive"))


def test_zero_denominators_give_nan():
    const = np.full((2, 3), 2.0)
    assert math.isnan(tgcn_r2(const + 1, const))  # sum (t - mean)^2 = 0
    assert math.isnan(tgcn_var(const + 1, const))
    assert math.isnan(masked_wape(np.ones(3), np.zeros(3), "none"))
    # constant float64 targets whose mean leaves a residue (0.1 * 3 / 3 - 0.1 = 1.4e-17): still
    # undefined, not R2 = -5e33
    tenth = np.full(3, 0.1)
    assert math.isnan(tgcn_r2(tenth + 1, tenth)) and math.isnan(tgcn_var(tenth + 1, tenth))


def test_tgcn_scores_match_the_tgcn_evaluation_formula():
    rng = np.random.default_rng(0)
    true = rng.uniform(10, 60, size=(5, 4, 3, 1))  # [W, T, N, C]
    pred = true + rng.normal(0, 3, size=true.shape)
    a, b = true.reshape(-1, 3), pred.reshape(-1, 3)  # T-GCN: [windows * steps, nodes]
    accuracy = 1 - np.linalg.norm(a - b, "fro") / np.linalg.norm(a, "fro")
    assert tgcn_accuracy(pred, true) == pytest.approx(accuracy)
    r2 = 1 - ((a - b) ** 2).sum() / ((a - a.mean()) ** 2).sum()
    assert tgcn_r2(pred, true) == pytest.approx(r2)
    assert tgcn_var(pred, true) == pytest.approx(1 - np.var(a - b) / np.var(a))
    assert masked_rmse(pred, true, "none") == pytest.approx(math.sqrt(((a - b) ** 2).mean()))


def test_mask_rules():
    expected = torch.tensor([[True, False, True], [True, True, False]])
    torch.testing.assert_close(mask_for(TRUE, "positive"), expected)
    assert bool(mask_for(TRUE, "none").all())
    assert set(MASK_RULES.names()) == {"positive", "none"}
    with pytest.raises(UnknownNameError, match="mask rule 'nonzero'; known: positive, none"):
        mask_for(TRUE, "nonzero")


def test_shape_mismatch_raises():
    with pytest.raises(ProtocolError, match=r"pred shape \(3,\) does not match true shape \(2, 3"):
        masked_mae(np.zeros(3), TRUE)
    with pytest.raises(ProtocolError, match=r"mask shape \(3,\) does not match"):
        masked_mae(PRED, TRUE, np.ones(3, dtype=bool))


def test_loss_value_and_gradient():
    pred = torch.tensor(PRED, requires_grad=True)
    loss = masked_mae_loss(pred, torch.tensor(TRUE))
    assert loss.item() == 1.25
    loss.backward()
    expected = torch.tensor([[1, 0, -1], [0, 1, 0]], dtype=torch.float64) / 4  # sign(e) / |mask|
    torch.testing.assert_close(pred.grad, expected)


def test_loss_with_empty_mask_or_nan_targets_stays_finite():
    pred = torch.ones(2, 3, requires_grad=True)
    loss = masked_mae_loss(pred, torch.zeros(2, 3))
    loss.backward()
    assert loss.item() == 0.0 and torch.equal(pred.grad, torch.zeros(2, 3))
    pred = torch.zeros(2, requires_grad=True)
    loss = masked_mae_loss(pred, torch.tensor([float("nan"), 2.0]))
    loss.backward()
    assert loss.item() == 2.0 and torch.isfinite(pred.grad).all()


# [W=1, T_out=3, N=2, C=1]; step 1: true (2, 0), step 2: (4, 4), step 3: (1, 3).
F_TRUE = np.array([[2.0, 0.0], [4.0, 4.0], [1.0, 3.0]]).reshape(1, 3, 2, 1)
F_PRED = np.array([[3.0, 5.0], [4.0, 2.0], [3.0, 4.0]]).reshape(1, 3, 2, 1)


def tiny_protocol(**kw) -> Protocol:
    base = dict(
        name="tiny", input_len=1, output_len=3, split=(0.6, 0.2, 0.2), metrics=("mae", "rmse")
    )
    return Protocol(**(base | kw))


def test_step_pooling_with_horizon_mean_overall():
    protocol = tiny_protocol(report_horizons=(1, 3), pooling="step", overall="horizon_mean")
    out = evaluate_forecast(F_PRED, F_TRUE, protocol)
    # masked errors per step: (1), (0, 2), (2, 1)
    assert list(out) == ["mae", "rmse", "mae_h1", "rmse_h1", "mae_h3", "rmse_h3"]
    assert out["mae"] == pytest.approx((1 + 1 + 1.5) / 3)
    assert out["rmse"] == pytest.approx((1 + math.sqrt(2) + math.sqrt(2.5)) / 3)
    assert (out["mae_h1"], out["rmse_h1"]) == (1.0, 1.0)
    assert out["mae_h3"] == 1.5 and out["rmse_h3"] == pytest.approx(math.sqrt(2.5))


@pytest.mark.parametrize("pooling, overall", [("step", "horizon_mean"), ("cumulative", "pooled")])
def test_evaluate_forecast_equals_each_metric_on_its_own_selection(pooling, overall):
    # evaluate_forecast selects each step's entries once per mask and shares them between
    # metrics; the values must be exactly those of each metric selecting its own entries
    gen = torch.Generator().manual_seed(3)
    true = (torch.rand(5, 4, 6, 2, generator=gen) * 4).floor().double()  # zeros included
    true[0, 1, 2, 0] = float("nan")
    pred = true.nan_to_num(0.0) + torch.randn(5, 4, 6, 2, generator=gen, dtype=torch.float64)
    metrics = ("mae", "rmse", "mape", "wape", "mae_all", "bias")
    protocol = tiny_protocol(output_len=4, report_horizons=(2, 4), pooling=pooling, overall=overall,
                             metrics=metrics, missing_value=0.0)
    out = evaluate_forecast(pred, true, protocol)
    observed = torch.isfinite(true) & (true != 0)
    scored = {name: observed if name in ("mae_all", "bias") else observed & (true > 0) for name in metrics}

    def direct(name, steps):
        fn = METRICS.get(name)
        return fn(pred[:, steps], true[:, steps], scored[name][:, steps])

    for name in metrics:
        if overall == "horizon_mean":
            assert out[name] == float(np.mean([direct(name, slice(s, s + 1)) for s in range(4)]))
        else:
            assert out[name] == direct(name, slice(None))
        for h in (2, 4):
            assert out[f"{name}_h{h}"] == direct(name, POOLINGS.get(pooling)(h))


def test_cumulative_pooling_pools_steps_one_to_h():
    protocol = tiny_protocol(
        report_horizons=(1, 2, 3), pooling="cumulative", overall="pooled", mask="none",
        metrics=("mae", "rmse", "accuracy"),
    )
    out = evaluate_forecast(F_PRED, F_TRUE, protocol)
    # unmasked errors per step: (1, 5), (0, 2), (2, 1)
    assert out["mae_h1"] == 3.0
    assert out["mae_h2"] == 2.0
    assert out["rmse_h2"] == pytest.approx(math.sqrt(30 / 4))
    assert out["accuracy_h2"] == pytest.approx(1 - math.sqrt(30) / 6)
    assert out["mae"] == out["mae_h3"] == pytest.approx(11 / 6)


def test_empty_step_is_an_error_not_a_nan():
    true = F_TRUE.copy()
    true[:, 0] = 0.0  # step 1 fully masked under "positive"
    protocol = tiny_protocol(report_horizons=(1, 3), pooling="step", overall="pooled")
    with pytest.raises(MetricError, match=r"^mae_h1 cannot be computed: no target of this "
                       r"forecast is an observation inside mask 'positive' \(missing entries are NaN\)$"):
        evaluate_forecast(F_PRED, true, protocol)
    out = evaluate_forecast(F_PRED, true, tiny_protocol(report_horizons=(3,), pooling="step", overall="pooled"))
    assert out["mae_h3"] == 1.5 and out["mae"] == pytest.approx(5 / 4)  # the 4 scored entries


def test_nan_targets_are_never_scored_and_nan_predictions_are_an_error():
    true = F_TRUE.copy()
    true[0, 0, 0] = np.nan  # a missing target: left out of every metric, even under mask "none"
    protocol = tiny_protocol(report_horizons=(3,), pooling="step", overall="pooled", mask="none")
    pred = F_PRED.copy()
    pred[0, 0, 0] = np.nan  # at the missing target: not scored, so not an error
    out = evaluate_forecast(pred, true, protocol)
    keep = ~np.isnan(true)
    assert out["mae"] == pytest.approx(float(np.abs(F_PRED - F_TRUE)[keep].mean()))
    pred[0, 1, 0] = np.inf  # at an observed target
    with pytest.raises(MetricError, match=r"^1 of \d+ predictions at observed targets are not finite"):
        evaluate_forecast(pred, true, protocol)
    with pytest.raises(MetricError, match=r"^mae cannot be computed: no target of this forecast is "
                       r"an observation inside mask 'none' \(missing entries are NaN\)$"):
        evaluate_forecast(F_PRED, np.full_like(F_TRUE, np.nan), protocol)


@pytest.mark.parametrize("name", PROTOCOLS.names())
def test_registered_protocols_produce_flat_keys(name):
    info = DatasetInfo(
        name="los-loop", folder="LOS-LOOP", title="t", description="d", nodes=3, steps=None,
        interval_minutes=5, channels=("speed",), units=("mph",),
    )
    protocol = PROTOCOLS.get(name)(info)
    true = np.arange(1, 2 * 12 * 3 + 1, dtype=np.float64).reshape(2, 12, 3, 1)
    out = evaluate_forecast(true + 1, true, protocol)
    metrics, horizons = list(protocol.metrics), protocol.report_horizons
    expected = metrics + [f"{m}_h{h}" for h in horizons for m in metrics]
    assert list(out) == expected == list(protocol.result_keys)
    assert out["mae"] == 1.0 and out[f"mae_h{protocol.report_horizons[-1]}"] == 1.0
    assert all(isinstance(v, float) for v in out.values())


def test_forecast_with_the_wrong_horizon_raises():
    protocol = tiny_protocol(report_horizons=(1,), pooling="step", overall="pooled")
    message = r"'tiny' scores 3 output steps on axis 1, got .* \(1, 2, 2, 1\)"
    with pytest.raises(ProtocolError, match=message):
        evaluate_forecast(F_PRED[:, :2], F_TRUE[:, :2], protocol)


def test_result_key_names_and_direction():
    from stvlm.data.protocols import HIGHER_IS_BETTER, higher_is_better, horizon_key, metric_of_key

    assert horizon_key("mae_all", 12) == "mae_all_h12" and metric_of_key("mae_all_h12") == "mae_all"
    assert metric_of_key("mae") == "mae" and metric_of_key("wape_all") == "wape_all"
    assert HIGHER_IS_BETTER == {"accuracy", "r2", "var"} <= set(METRICS.names())
    assert [higher_is_better(k) for k in ("r2", "r2_h4", "var_h1", "mae", "rmse_h3")] == [
        True, True, True, False, False]


def test_pooling_and_overall_registries():
    assert POOLINGS.get("step")(3) == slice(2, 3) and POOLINGS.get("cumulative")(3) == slice(0, 3)
    assert set(OVERALL.names()) == {"horizon_mean", "pooled"}
    assert OVERALL.get("horizon_mean")(3) == [slice(0, 1), slice(1, 2), slice(2, 3)]
    assert OVERALL.get("pooled")(3) == [slice(0, 3)]


def test_horizon_mean_with_an_empty_step_names_the_step():
    true = F_TRUE.copy()
    true[:, 1] = 0.0  # output step 2 fully masked under "positive"; steps 1 and 3 are scored
    protocol = tiny_protocol(report_horizons=(3,), pooling="step", overall="horizon_mean")
    with pytest.raises(MetricError, match=r"^mae cannot be computed: no target of this forecast "
                       r"at output step 2 is an observation inside mask 'positive' \(missing "
                       r"entries are NaN\) \(overall rule 'horizon_mean' averages every output "
                       r"step\)$"):
        evaluate_forecast(F_PRED, true, protocol)
    # pooled over the steps, the same forecast is scored on the entries steps 1 and 3 keep
    out = evaluate_forecast(F_PRED, true, tiny_protocol(report_horizons=(3,), pooling="step",
                                                        overall="pooled"))
    assert out["mae_h3"] == 1.5


def test_a_ratio_to_a_zero_truth_is_an_error_that_says_so():
    true = np.full_like(F_TRUE, 2.0)  # every target the same: r2 and var divide by 0
    protocol = tiny_protocol(report_horizons=(3,), pooling="cumulative", overall="pooled",
                             mask="none", metrics=("mae", "r2", "var"))
    with pytest.raises(MetricError, match=r"^r2, var, r2_h3, var_h3 cannot be computed: the truth "
                       r"they divide by is 0 \(every scored target is 0, or for r2 and var every "
                       r"scored target is the same\)$"):
        evaluate_forecast(F_PRED, true, protocol)


def test_observed_mask_bias_and_the_all_entry_metrics():
    from stvlm.metrics import forecast_bias, observed_mask

    true = torch.tensor([0.0, 2.0, float("nan"), 4.0])
    assert observed_mask(true, None).tolist() == [True, True, False, True]
    assert observed_mask(true, 0.0).tolist() == [False, True, False, True]
    pred = torch.tensor([1.0, 2.0, 9.0, 2.0])
    assert forecast_bias(pred, true, observed_mask(true, None)) == pytest.approx((1 + 0 - 2) / 3)


@pytest.mark.parametrize(("kind", "expected"), [("mae", (1 + 3) / 2), ("mse", (1 + 9) / 2), ("huber", (0.5 + 2.5) / 2)])
def test_masked_loss_kinds_by_hand(kind, expected):
    from stvlm.metrics import LOSSES, masked_loss

    assert set(LOSSES.names()) == {"mae", "mse", "huber"}
    true = torch.tensor([1.0, float("nan"), 5.0])
    pred = torch.tensor([2.0, 7.0, 2.0], requires_grad=True)
    mask = torch.tensor([True, False, True])
    loss = masked_loss(pred, true, mask, kind, delta=1.0)
    assert float(loss.detach()) == pytest.approx(expected)
    loss.backward()
    assert pred.grad[1] == 0 and torch.isfinite(pred.grad).all()
    empty = masked_loss(pred, true, torch.zeros(3, dtype=torch.bool), kind)
    assert float(empty.detach()) == 0.0
