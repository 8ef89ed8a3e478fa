"""Closed-form start of ST-VLM's linear highway (``head.highway_init = "ridge"``).

The highway maps each node's window and lookback values to its forecast, one linear map shared
by all nodes. Trained by SGD from zero it moves slowly (a few hundred optimizer steps at
``lr = 1e-3`` in the few-shot settings), while the backbone path, with many more parameters,
fits and then over-fits first. Starting the highway at its ridge solution on the training
windows puts the model's first forecast at a fitted linear one (the estimator of the
``ridge`` baseline, on the model's own inputs; like the baseline, the start fits every finite
target by default, or only the observations: ``head.highway_targets``) and leaves the backbone
path the correction.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable

import torch

from stvlm.data.batch import STBatch
from stvlm.metrics import mask_for, observed_mask
from stvlm.models.stvlm import STVLM

log = logging.getLogger(__name__)


@torch.no_grad()
def ridge_highway(
    model: STVLM, batches: Iterable[STBatch], *, missing_value: float | None, alpha: float
) -> dict[str, float]:
    """Set ``model.highway`` to the ridge regression of the training targets on its inputs.

    The regression target of each (window, node, target step, channel) is the value the
    highway must add in the head's units: the target, scaled (and instance normalised), minus
    the seasonal prior when ``head.residual = "lookback"`` (the head starts at zero under
    ``head.zero_init``, so the model's first forecast is prior + highway). Entries that are not
    observations (``missing_value``, NaN) are left out, output by output; each entry is
    weighted by the square of its scale back to original units (normalised to mean 1), so the
    fit minimises squared error in original units. The bias is not penalised.

    Args:
        model: an ST-VLM with a highway (``head.highway`` and series tokens).
        batches: the training windows.
        missing_value: the dataset's missing-value marker (``None``: only NaN is missing).
        alpha: L2 penalty on the weights, in rows (a row is one window of one node).

    Returns:
        ``{"rows": windows x nodes, "entries": observed entries, "features": F}``.
    """
    if model.highway is None:
        raise ValueError("ridge_highway needs a model with a highway (head.highway, use_series)")
    width = model.highway.in_features + 1  # F + bias
    outputs = model.highway.out_features  # T_out * C_out
    gram = torch.zeros(outputs, width, width, dtype=torch.float64)  # [O, F+1, F+1]
    rhs = torch.zeros(outputs, width, dtype=torch.float64)  # [O, F+1]
    rows, entries, weight_sum = 0, 0, 0.0
    residual = model.cfg.head.residual == "lookback"
    for batch in batches:
        x, lookback, stats, prior = model.normalized_inputs(batch)
        feats = model.series.node_features(x, lookback).double()  # [B, N, F]
        target = model.to_model_units(batch.y.float(), stats)  # [B, T_out, N, C_out]
        if residual and prior is not None:
            target = target - prior.float()
        scale = model.target_std.expand_as(target)  # [B, T_out, N, C_out]
        if stats is not None:
            scale = scale * stats.std[..., list(model.context.target_channels)]
        mask = observed_mask(batch.y, missing_value) & torch.isfinite(target)
        weight = torch.where(mask, scale.square(), torch.zeros_like(scale)).double()
        target = torch.where(mask, target, torch.zeros_like(target)).double()
        b, n = feats.shape[:2]
        f = torch.cat([feats, feats.new_ones(b, n, 1)], dim=-1).reshape(b * n, width)  # [R, F+1]
        t = target.permute(0, 2, 1, 3).reshape(b * n, outputs)  # [R, T_out*C_out], highway order
        w = weight.permute(0, 2, 1, 3).reshape(b * n, outputs)  # [R, O]
        for o in range(outputs):  # one output at a time: [R, F+1] at most, never [R, O, F+1]
            gram[o] += ((f * w[:, o : o + 1]).T @ f).cpu()  # [F+1, F+1]
        rhs += ((w * t).T @ f).cpu()  # [O, F+1]
        rows, entries, weight_sum = rows + b * n, entries + int(mask.sum()), weight_sum + float(w.sum())
    if not entries:
        raise ValueError("ridge_highway: the training windows have no observed target entry")
    solution = _solve_ridge(gram, rhs, alpha * weight_sum / entries, 1e-9 * weight_sum / entries)  # [O, F+1]
    weight_param = model.highway.weight
    weight_param.copy_(solution[:, :-1].to(weight_param.dtype))
    model.highway.bias.copy_(solution[:, -1].to(weight_param.dtype))
    log.info("highway: ridge start on %d rows (%d entries), alpha %g", rows, entries, alpha)
    return {"rows": rows, "entries": entries, "features": width - 1}


def _solve_ridge(gram: torch.Tensor, rhs: torch.Tensor, penalty: float, jitter: float) -> torch.Tensor:
    """Solve ``(gram + penalty I' + jitter I) w = rhs`` per output; ``I'`` leaves the bias (last
    feature) unpenalised. ``gram``: ``[O, F+1, F+1]``, ``rhs``: ``[O, F+1]`` -> ``[O, F+1]``.

    One unbatched solve per output, never one batched ``torch.linalg.solve``: on the CPU wheels
    (torch 2.13 here; pytorch/pytorch#142815, reported for 2.5) a batched solve of systems 151
    wide or more, after ``torch.set_num_threads(k > 1)``, fails in MKL ("Parameter 6 was
    incorrect on entry to DLASWP") and then spins forever, so a Ray trial (it sets its threads
    before it builds the model) hung on nycbike1 with three lag days (two channels: 169
    features). At one thread the loop gives the batched solve's result bit for bit."""
    width = gram.shape[-1]
    diag = torch.full((width,), penalty, dtype=torch.float64)
    diag[-1] = 0.0  # the bias is not penalised
    system = gram + torch.diag(diag)[None] + jitter * torch.eye(width, dtype=torch.float64)[None]
    return torch.stack([torch.linalg.solve(system[o], rhs[o].unsqueeze(-1)).squeeze(-1)  # [F+1]
                        for o in range(system.shape[0])])  # [O, F+1]


@torch.no_grad()
def linear_start_mae(
    model: STVLM, batches: Iterable[STBatch], *, mask_rule: str, missing_value: float | None,
    highway: bool,
) -> float:
    """MAE (original units, the protocol's mask) of the model's linear start on ``batches``:
    the seasonal prior plus, with ``highway``, the highway's forecast; the backbone path is left
    out (it starts at zero under ``head.zero_init``). No backbone forward pass: cheap.
    """
    total, count = 0.0, 0
    for batch in batches:
        x, lookback, stats, prior = model.normalized_inputs(batch)
        feats = model.series.node_features(x, lookback) if highway else None  # [B, N, F]
        start = model.add_linear(torch.zeros_like(batch.y, dtype=torch.float32), feats, prior)
        pred = model.to_original_units(start, stats)  # [B, T_out, N, C_out]
        mask = mask_for(batch.y, mask_rule) & observed_mask(batch.y, missing_value)
        total += float((pred - torch.nan_to_num(batch.y)).abs()[mask].sum())
        count += int(mask.sum())
    if not count:
        raise ValueError("linear_start_mae: no observed entry to score")
    return total / count


def choose_highway_start(
    model: STVLM, forecast, *, alpha: float, fit_missing_value: float | None
) -> dict[str, float | str]:
    """``head.highway_init = "auto"``: fit the ridge start (leaving out targets equal to
    ``fit_missing_value``; ``None``: only NaN), keep it only if it lowers the validation MAE of
    the starting forecast (prior + highway, scored with the protocol's masks) below the prior's
    alone, else reset the highway to zero. A choice made on validation windows only.

    Raises:
        ValueError: either score is NaN or infinite (a NaN would lose every comparison and
            reset the highway silently).
    """
    p = forecast.protocol
    ridge_highway(model, forecast.batches("train", 64), missing_value=fit_missing_value, alpha=alpha)
    score = {h: linear_start_mae(model, forecast.batches("val", 64), mask_rule=p.mask,
                                 missing_value=p.missing_value, highway=h) for h in (False, True)}
    bad = [name for name, h in (("the prior", False), ("prior + ridge", True)) if not math.isfinite(score[h])]
    if bad:
        raise ValueError(f"highway start: the validation MAE of {' and '.join(bad)} is not finite "
                         f"({score[False]} / {score[True]}); the inputs or the ridge solve gave NaN or inf")
    keep = score[True] < score[False]
    if not keep:
        torch.nn.init.zeros_(model.highway.weight)
        torch.nn.init.zeros_(model.highway.bias)
    log.info("highway start: %s (validation MAE of the start: prior %.4f, prior + ridge %.4f)",
             "ridge" if keep else "zero", score[False], score[True])
    return {"start": "ridge" if keep else "zero", "val_mae_prior": score[False],
            "val_mae_ridge": score[True]}
