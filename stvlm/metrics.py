"""Forecast metrics in original units: masked MAE, RMSE, MAPE, WAPE and T-GCN's extra scores.

Every metric is ``fn(pred, true, mask) -> float`` on arrays of any equal shape (torch or numpy),
computed in float64 over the entries selected by ``mask``: a rule name from :data:`MASK_RULES`
(``"positive"``: ``true > 0``, the literature's masked metrics; ``"none"``: every entry) or a
boolean array. An empty selection gives NaN there; :func:`evaluate_forecast` applies a
protocol's pooling, returns one flat dict per forecast and raises :class:`MetricError` instead
of ever returning a NaN.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import torch

from stvlm.data.protocols import Protocol, horizon_key, metric_of_key
from stvlm.errors import MetricError, ProtocolError
from stvlm.registry import Registry

Array = torch.Tensor | np.ndarray
Mask = str | torch.Tensor | np.ndarray
MetricFn = Callable[[Array, Array, Mask], float]

MASK_RULES: Registry[Callable[[torch.Tensor], torch.Tensor]] = Registry("mask rule")
MASK_RULES.add("positive", lambda true: true > 0)
MASK_RULES.add("none", lambda true: torch.ones_like(true, dtype=torch.bool))


def mask_for(true: Array, rule: str) -> torch.Tensor:
    """Boolean mask of the scored entries of ``true`` (same shape) under a rule name."""
    return MASK_RULES.get(rule)(torch.as_tensor(true))


def _pair(pred: Array, true: Array) -> tuple[torch.Tensor, torch.Tensor]:
    """Float64 ``(pred, true)`` on one device, shapes checked."""
    t = torch.as_tensor(true).detach().to(torch.float64)
    p = torch.as_tensor(pred).detach().to(device=t.device, dtype=torch.float64)
    if p.shape != t.shape:
        raise ProtocolError(
            f"pred shape {tuple(p.shape)} does not match true shape {tuple(t.shape)}"
        )
    return p, t


def _prepare(
    pred: Array, true: Array, mask: Mask
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Float64 ``(pred, true, mask)`` on one device, shapes checked."""
    p, t = _pair(pred, true)
    if isinstance(mask, str):
        m = mask_for(t, mask)
    else:
        m = torch.as_tensor(mask, device=t.device).bool()
    if m.shape != t.shape:
        raise ProtocolError(
            f"mask shape {tuple(m.shape)} does not match true shape {tuple(t.shape)}"
        )
    return p, t, m


def _selected(pred: Array, true: Array, mask: Mask) -> tuple[torch.Tensor, torch.Tensor]:
    """The scored entries as flat float64 vectors ``(pred[mask], true[mask])``."""
    if isinstance(mask, str) and mask == "none":  # every entry, in order: nothing to select
        p, t = _pair(pred, true)
        return p.reshape(-1), t.reshape(-1)  # [M], [M]
    p, t, m = _prepare(pred, true, mask)
    return p[m], t[m]  # [M], [M]


def _constant(t: torch.Tensor) -> bool:
    """Every entry equal: the variance is 0 exactly, though ``t - t.mean()`` may leave a float
    residue (``[0.1] * 3`` in float64: 1.4e-17) that would divide into a huge finite R2."""
    return bool((t == t.reshape(-1)[0]).all())


def _divide(num: torch.Tensor, den: torch.Tensor) -> float:
    return float(num / den) if float(den) != 0.0 else math.nan


def masked_mae(pred: Array, true: Array, mask: Mask = "positive") -> float:
    """Mean absolute error over the masked entries."""
    p, t = _selected(pred, true, mask)
    return float((p - t).abs().mean()) if t.numel() else math.nan


def masked_rmse(pred: Array, true: Array, mask: Mask = "positive") -> float:
    """Root mean squared error over the masked entries."""
    p, t = _selected(pred, true, mask)
    return float((p - t).square().mean().sqrt()) if t.numel() else math.nan


#: MAPE leaves out every entry with ``|true|`` at or below this (original units): the ratio is
#: undefined at zero and meaningless at a zero's floating-point residue. BasicTS's
#: ``masked_mape`` drops the same entries (``torch.isclose(target, 0, atol=5e-5)``). SZ-TAXI's
#: file holds 78 values in (0, 5e-5] km/h (eight at 1e-17 to 6e-15, seventy at 1.5e-7 to 4.3e-5,
#: where its convention's 0 means "no taxi"); counted as truths, two of the tiniest in the test
#: part made every model's MAPE about 1e15 %. The other metrics count them as readings.
MAPE_ZERO_TOL = 5e-5


def masked_mape(pred: Array, true: Array, mask: Mask = "positive") -> float:
    """Mean absolute percentage error (percent) over masked entries with ``|true| > 5e-5``.

    Entries with ``|true| <=`` :data:`MAPE_ZERO_TOL` are always left out (the ratio is undefined
    at zero, and a zero's rounding residue would dominate the mean).
    """
    p, t = _selected(pred, true, mask)
    keep = t.abs() > MAPE_ZERO_TOL
    p, t = p[keep], t[keep]
    return float(((p - t).abs() / t.abs()).mean() * 100) if t.numel() else math.nan


def masked_wape(pred: Array, true: Array, mask: Mask = "positive") -> float:
    """Weighted absolute percentage error (percent): ``sum|e| / sum|true|`` over masked entries."""
    p, t = _selected(pred, true, mask)
    return _divide((p - t).abs().sum() * 100, t.abs().sum()) if t.numel() else math.nan


def forecast_bias(pred: Array, true: Array, mask: Mask = "none") -> float:
    """Mean prediction minus mean truth over the masked entries (original units)."""
    p, t = _selected(pred, true, mask)
    return float((p - t).mean()) if t.numel() else math.nan


def observed_mask(true: Array, missing_value: float | None) -> torch.Tensor:
    """Entries that are observations: finite and not the dataset's missing-value marker."""
    t = torch.as_tensor(true)
    mask = torch.isfinite(t)
    if missing_value is not None:
        mask &= t != missing_value
    return mask


def tgcn_accuracy(pred: Array, true: Array, mask: Mask = "none") -> float:
    """T-GCN accuracy ``1 - ||Y - Yhat||_F / ||Y||_F`` over the flattened entries."""
    p, t = _selected(pred, true, mask)
    if not t.numel():
        return math.nan
    return 1.0 - _divide(torch.linalg.vector_norm(t - p), torch.linalg.vector_norm(t))


def tgcn_r2(pred: Array, true: Array, mask: Mask = "none") -> float:
    """T-GCN coefficient of determination ``1 - sum((y - yhat)^2) / sum((y - mean(y))^2)``."""
    p, t = _selected(pred, true, mask)
    if not t.numel() or _constant(t):
        return math.nan
    return 1.0 - _divide((t - p).square().sum(), (t - t.mean()).square().sum())


def tgcn_var(pred: Array, true: Array, mask: Mask = "none") -> float:
    """T-GCN explained variance ``1 - Var(y - yhat) / Var(y)`` (population variances)."""
    p, t = _selected(pred, true, mask)
    if not t.numel() or _constant(t):
        return math.nan
    return 1.0 - _divide((t - p).var(unbiased=False), t.var(unbiased=False))


METRICS: Registry[MetricFn] = Registry("metric")
for _name, _fn in (
    ("mae", masked_mae),
    ("rmse", masked_rmse),
    ("mape", masked_mape),
    ("wape", masked_wape),
    ("mae_all", masked_mae),
    ("rmse_all", masked_rmse),
    ("wape_all", masked_wape),
    ("bias", forecast_bias),
    ("accuracy", tgcn_accuracy),
    ("r2", tgcn_r2),
    ("var", tgcn_var),
):
    METRICS.add(_name, _fn)

# Metrics scored on every observed entry (the dataset's missing values left out) instead of the
# protocol's mask: for count data a zero is an observation, which ``true > 0`` hides.
OBSERVED_SCOPE = frozenset({"mae_all", "rmse_all", "wape_all", "bias"})

#: Metrics in percent (the percentage errors, on either scope); T-GCN's accuracy, R2 and explained
#: variance (the higher-is-better ones) are unitless; every other metric is in the dataset's units.
PERCENT_METRICS = frozenset(name for name in METRICS.names() if METRICS.get(name) in (masked_mape, masked_wape))


def masked_mae_loss(
    pred: torch.Tensor, true: torch.Tensor, rule: str | torch.Tensor = "positive"
) -> torch.Tensor:
    """Differentiable masked MAE for training: :func:`masked_loss` of kind ``mae``.

    Args:
        pred: ``[B, T_out, N, C_out]`` prediction in original units.
        true: same shape, targets in original units (NaN allowed where the mask is False).
        rule: mask rule name, or a boolean mask of ``true``'s shape (e.g. :func:`observed_mask`).

    Returns:
        Scalar float32 tensor; 0 (with zero gradients, no NaN) when the mask is empty.
    """
    mask = mask_for(true, rule) if isinstance(rule, str) else rule
    return masked_loss(pred, true, mask, "mae")


LOSSES: Registry[Callable[[torch.Tensor, float], torch.Tensor]] = Registry("loss")
LOSSES.add("mae", lambda err, delta: err.abs())
LOSSES.add("mse", lambda err, delta: err.square())
LOSSES.add("huber", lambda err, delta: torch.nn.functional.huber_loss(
    err, torch.zeros_like(err), reduction="none", delta=delta))


def masked_loss(
    pred: torch.Tensor, true: torch.Tensor, mask: torch.Tensor, kind: str = "mae", delta: float = 1.0
) -> torch.Tensor:
    """Differentiable training loss over the mask entries, in original units.

    Args:
        pred: ``[B, T_out, N, C_out]`` prediction.
        true: same shape (NaN allowed where the mask is False).
        mask: boolean, same shape.
        kind: a name in :data:`LOSSES`: ``mae`` (the median), ``mse`` (the mean), ``huber``
            (quadratic within ``delta`` original units, linear beyond).
        delta: the Huber threshold.

    Returns:
        Scalar float32 tensor; 0 (with zero gradients, no NaN) when the mask is empty.
    """
    fn = LOSSES.get(kind)
    mask = mask.to(true.device).bool()
    safe_true = torch.where(mask, true, torch.zeros_like(true))  # no NaN reaches the graph
    err = fn(pred.float() - safe_true.float(), delta) * mask
    return err.sum() / mask.sum().clamp_min(1)


# ---- pooling over output steps ---------------------------------------------------------------

POOLINGS: Registry[Callable[[int], slice]] = Registry("pooling")
POOLINGS.add("step", lambda h: slice(h - 1, h))  # horizon h = output step h
POOLINGS.add("cumulative", lambda h: slice(0, h))  # horizon h = output steps 1..h (T-GCN)


class _Scored:
    """One forecast under one mask; each slice of output steps is selected once and every
    metric on that mask reads the same flat vectors (the values a metric would select itself)."""

    def __init__(self, p: torch.Tensor, t: torch.Tensor, m: torch.Tensor) -> None:
        self.p, self.t, self.m = p, t, m  # [W, T_out, ...] each
        self.num_steps = t.shape[1]
        self._cache: dict[tuple[int, int, int], tuple[torch.Tensor, torch.Tensor]] = {}

    def entries(self, steps: slice) -> tuple[torch.Tensor, torch.Tensor]:
        """``(pred, true)`` at the scored entries of output ``steps``, flat, in row-major order."""
        key = steps.indices(self.num_steps)
        if key not in self._cache:
            m = self.m[:, steps]
            self._cache[key] = (self.p[:, steps][m], self.t[:, steps][m])  # [M], [M]
        return self._cache[key]

    def score(self, fn: MetricFn, steps: slice) -> float:
        """``fn`` over the scored entries of ``steps``."""
        return fn(*self.entries(steps), "none")


# overall rule -> the output-step slices it scores (of T_out steps); the overall metric is the
# mean of the metric over those slices
OVERALL: Registry[Callable[[int], list[slice]]] = Registry("overall metric rule")
OVERALL.add("horizon_mean", lambda n: [slice(s, s + 1) for s in range(n)])  # ST-LLM: mean of steps
OVERALL.add("pooled", lambda n: [slice(0, n)])  # T-GCN: one metric over all output steps


def evaluate_forecast(pred: Array, true: Array, protocol: Protocol) -> dict[str, float]:
    """All metrics of a protocol for one forecast, as a flat dict.

    Args:
        pred: ``[W, T_out, N, C_out]`` predictions in original units.
        true: same shape, targets in original units.
        protocol: gives the metric names, mask rule, overall rule and horizon pooling.

    Returns:
        ``{"mae": ..., "rmse": ..., ..., "mae_h3": ..., ...}``: first each metric overall, then
        ``<metric>_h<h>`` for each reported horizon h. Metrics in :data:`OBSERVED_SCOPE` use every
        observed entry (:func:`observed_mask` of the protocol's ``missing_value``), the others
        the protocol's mask and the observed entries (a NaN target is never scored).

    Raises:
        MetricError: a prediction at an observed target is not finite, or a metric has no
            entry to score (never a NaN result).
    """
    p, t, m = _prepare(pred, true, protocol.mask)
    if t.ndim < 2 or t.shape[1] != protocol.output_len:
        raise ProtocolError(
            f"protocol {protocol.name!r} scores {protocol.output_len} output steps on axis 1, "
            f"got a forecast of shape {tuple(t.shape)}"
        )
    fns = {name: METRICS.get(name) for name in protocol.metrics}
    observed = observed_mask(t, protocol.missing_value)
    diverged = int((observed & ~torch.isfinite(p)).sum())
    if diverged:
        raise MetricError(
            f"{diverged:,} of {int(observed.sum()):,} predictions at observed targets are not "
            "finite (NaN or Inf): the model diverged or read a non-finite input; no metric computed"
        )
    by_scope = {True: _Scored(p, t, observed), False: _Scored(p, t, m & observed)}  # one per mask
    scored = {name: by_scope[name in OBSERVED_SCOPE] for name in fns}
    parts = OVERALL.get(protocol.overall)(t.shape[1])
    out = {}
    for name, fn in fns.items():
        for steps in parts:
            where = "" if len(parts) == 1 else f" at output step {steps.stop}"
            _check_scored(name, scored[name].m[:, steps], protocol, where)
        out[name] = float(np.mean([scored[name].score(fn, steps) for steps in parts]))
    pool = POOLINGS.get(protocol.pooling)
    for h in protocol.report_horizons:
        steps = pool(h)
        for name, fn in fns.items():
            key = horizon_key(name, h)
            _check_scored(key, scored[name].m[:, steps], protocol)
            out[key] = scored[name].score(fn, steps)
    undefined = [k for k, v in out.items() if math.isnan(v)]
    if undefined:
        raise MetricError(
            f"{', '.join(undefined)} cannot be computed: the truth they divide by is 0 (every "
            "scored target is 0, or for r2 and var every scored target is the same)"
        )
    return out


def _check_scored(name: str, mask: torch.Tensor, protocol: Protocol, where: str = "") -> None:
    """A :class:`MetricError` when ``mask`` selects no entry, naming why (``where``: which
    output step of the overall metric, if it averages several)."""
    if bool(mask.any()):
        return
    rule = "" if metric_of_key(name) in OBSERVED_SCOPE else f" inside mask {protocol.mask!r}"
    missing = "NaN" if protocol.missing_value is None else f"NaN or {protocol.missing_value:g}"
    averages = f" (overall rule {protocol.overall!r} averages every output step)" if where else ""
    raise MetricError(
        f"{name} cannot be computed: no target of this forecast{where} is an observation{rule} "
        f"(missing entries are {missing}){averages}"
    )
