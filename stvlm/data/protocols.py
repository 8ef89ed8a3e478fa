"""Evaluation protocols: named bundles of window lengths, splits, scaler, mask and metric pooling.

A protocol is chosen by name (``DataConfig.protocol``) and built for one dataset by a factory
``factory(info) -> Protocol`` in :data:`PROTOCOLS`. Two are registered:

``standard``
    12 -> 12 steps, reported at horizons 3, 6 and 12 (step ``h`` only) and as the mean of the
    metric over all 12 steps (the ST-LLM / Graph WaveNet "average over 12 horizons"). Windows over
    the whole series are split chronologically by the dataset's ratios (6:2:2 or 7:1:2) with the
    DCRNN rounding; partial datasets keep their published test windows. Z-score fitted on the
    training part; metrics masked where ``true > 0``.
``tgcn``
    The T-GCN protocol (Zhao et al., T-ITS 2020, github.com/lehaifeng/T-GCN) for ``sz-taxi`` and
    ``los-loop``: 80/20 chronological split of the *steps*, windows formed inside each part with
    T-GCN's count, horizons of 15/30/45/60 minutes, unmasked metrics plus T-GCN's accuracy, R2 and
    explained variance. Deviations from T-GCN, on purpose:

    * T-GCN trains one model per ``pre_len`` and pools all of its output steps; we train one model
      with the largest horizon as output and report horizon ``h`` pooled over output steps
      ``1..h`` (``pooling="cumulative"``). The test windows are those of the largest ``pre_len``.
    * T-GCN has no validation set; we hold out the last 1/8 of the training-part windows for
      early stopping (``val_from_train``), so the model trains on 7/8 of T-GCN's windows.
    * T-GCN divides the series by its maximum; we z-score on the training part. Metrics are always
      computed in original units, so the metric definitions do not change.
"""

from __future__ import annotations

import math
import re
from typing import Literal

from stvlm.configs import Config, config_class, field
from stvlm.data.series import DatasetInfo
from stvlm.data.splits import split_windows
from stvlm.errors import ProtocolError
from stvlm.registry import Registry

# Literature metrics under the protocol's mask, then the same errors over every observed entry
# (``*_all``: only the dataset's missing values are left out) and the forecast bias.
STANDARD_METRICS = ("mae", "rmse", "mape", "wape", "mae_all", "rmse_all", "wape_all", "bias")
TGCN_METRICS = STANDARD_METRICS + ("accuracy", "r2", "var")
#: Metrics where larger is better; every other metric is an error (smaller is better).
HIGHER_IS_BETTER = frozenset({"accuracy", "r2", "var"})
LOOKBACK_DAYS = (1, 7)  # one day and one week, the information seasonal-naive uses

# dataset -> (seq_len, report horizons in steps); both are 15/30/45/60 minutes.
TGCN_SETTINGS: dict[str, tuple[int, tuple[int, ...]]] = {
    "sz-taxi": (4, (1, 2, 3, 4)),
    "los-loop": (12, (3, 6, 9, 12)),
}


@config_class
class Protocol(Config):
    """How windows are cut, split, scaled and scored for one dataset.

    Args:
        name: registry name of the protocol.
        input_len: input steps T_in.
        output_len: output steps T_out.
        report_horizons: 1-based output steps at which metrics are reported (``mae_h3`` ...).
        pooling: ``"step"``: horizon h uses output step h only; ``"cumulative"``: steps 1..h
            (T-GCN: the model with ``pre_len`` h).
        overall: ``"horizon_mean"``: the overall metric is the mean of the per-step metrics over
            all output steps (ST-LLM); ``"pooled"``: one metric over all output steps (T-GCN).
        split: (train, val, test) ratios; ``standard``: of the windows, ``tgcn``: of the steps.
        val_from_train: share of the training-part windows (the last ones) held out for
            validation, for protocols whose source has no validation split.
        mask: entries scored: ``"positive"`` (``true > 0``) or ``"none"``.
        scaler: input scaler fitted on the training part.
        window_rule: how windows are formed and split (see :mod:`stvlm.data.splits`).
        metrics: names in :data:`stvlm.metrics.METRICS` reported by ``evaluate_forecast``.
        lookback_days: periodic lookback: every model may see the target channels at the same
            time of day these many days before each input and target step (ST-SSL's lagged
            offsets). A lag that does not fit the series (see
            :func:`stvlm.data.pipeline.lookback_lags`) is left out and the outputs say so.
        missing_value: the dataset's missing-value marker (``None``: every finite entry is an
            observation); the ``*_all`` metrics and the training loss skip only these entries.
        description: one paragraph for reports.
    """

    name: str = field(help="registry name of the protocol")
    input_len: int = field(ge=1, help="input steps T_in")
    output_len: int = field(ge=1, help="output steps T_out")
    report_horizons: tuple[int, ...] = field(ge=1, help="1-based output steps that are reported")
    pooling: Literal["step", "cumulative"] = field(help="output steps behind one horizon")
    overall: Literal["horizon_mean", "pooled"] = field(help="how the overall metric is formed")
    split: tuple[float, float, float] = field(ge=0.0, le=1.0, help="(train, val, test) ratios")
    val_from_train: float = field(0.0, ge=0.0, lt=1.0, help="last share of train windows -> val")
    mask: Literal["positive", "none"] = field("positive", help="entries that are scored")
    scaler: Literal["zscore"] = field("zscore", help="input scaler, fitted on the training part")
    window_rule: Literal["standard", "tgcn"] = field("standard", help="window and split rule")
    metrics: tuple[str, ...] = field(STANDARD_METRICS, help="reported metric names")
    lookback_days: tuple[int, ...] = field((), ge=1, help="periodic lookback lags, in days")
    missing_value: float | None = field(None, help="the dataset's missing-value marker")
    description: str = field("", help="one paragraph for reports")

    def check(self) -> None:
        if not self.report_horizons or max(self.report_horizons) > self.output_len:
            self.fail(
                "report_horizons", f"must be non-empty and each <= output_len={self.output_len}"
            )
        if list(self.report_horizons) != sorted(set(self.report_horizons)):
            self.fail("report_horizons", "must be strictly increasing")
        if not math.isclose(sum(self.split), 1.0, abs_tol=1e-6):
            self.fail("split", "must sum to 1")

    @property
    def result_keys(self) -> tuple[str, ...]:
        """The keys :func:`stvlm.metrics.evaluate_forecast` returns, in order: each metric
        overall, then :func:`horizon_key` of each metric at each reported horizon."""
        names = tuple(self.metrics)
        return names + tuple(horizon_key(n, h) for h in self.report_horizons for n in names)

    @property
    def window_len(self) -> int:
        """Steps one window spans (``input_len + output_len``)."""
        return self.input_len + self.output_len


def horizon_key(name: str, h: int) -> str:
    """The result key of metric ``name`` at reported horizon ``h``: ``<name>_h<h>``."""
    return f"{name}_h{h}"


def metric_of_key(key: str) -> str:
    """The metric name of a result key (the inverse of :func:`horizon_key`): ``mae_h3`` ->
    ``mae``; an overall key is its own name."""
    return re.sub(r"_h\d+$", "", key)


#: Metrics with a sign: neither their smallest nor their largest value is best, so nothing ranks,
#: stops early or tunes on them (the forecast bias, mean prediction minus mean truth).
SIGNED = frozenset({"bias"})


def rankable(key: str) -> bool:
    """Whether result key ``key`` can rank forecasts (every metric but the signed ones)."""
    return metric_of_key(key) not in SIGNED


def higher_is_better(key: str) -> bool:
    """Whether a larger value of the metric of result key ``key`` is better (T-GCN's accuracy,
    R2 and explained variance; every other metric is an error)."""
    return metric_of_key(key) in HIGHER_IS_BETTER


PROTOCOLS: Registry = Registry("protocol")


@PROTOCOLS.register("standard")
def standard(info: DatasetInfo) -> Protocol:
    """12 -> 12, horizons 3/6/12 + mean over 12 steps, the dataset's split, masked metrics."""
    ratios = ":".join(f"{r * 10:g}" for r in info.split)
    return Protocol(
        name="standard",
        input_len=12,
        output_len=12,
        report_horizons=(3, 6, 12),
        pooling="step",
        overall="horizon_mean",
        split=info.split,
        mask="positive",
        scaler="zscore",
        window_rule="standard",
        metrics=STANDARD_METRICS,
        lookback_days=LOOKBACK_DAYS,
        missing_value=info.missing_value,
        description=(
            f"12 steps in, 12 out; chronological {ratios} split of the windows (DCRNN rounding); "
            "periodic lookback of the same time of day 1 and 7 days earlier where the series has "
            "it; z-score fitted on the training part; literature metrics masked where true > 0, "
            "*_all metrics and bias over every observed entry, reported at steps 3, 6, 12 and as "
            "the mean over the 12 steps."
        ),
    )


@PROTOCOLS.register("tgcn")
def tgcn(info: DatasetInfo) -> Protocol:
    """The T-GCN protocol for ``sz-taxi`` (4 steps in) and ``los-loop`` (12 steps in)."""
    if info.name not in TGCN_SETTINGS:
        raise ProtocolError(
            f"protocol 'tgcn' is defined for datasets {', '.join(TGCN_SETTINGS)} only, "
            f"not {info.name!r}; use protocol 'standard'"
        )
    seq_len, horizons = TGCN_SETTINGS[info.name]
    minutes = "/".join(str(h * info.interval_minutes) for h in horizons)
    return Protocol(
        name="tgcn",
        input_len=seq_len,
        output_len=max(horizons),
        report_horizons=horizons,
        pooling="cumulative",
        overall="pooled",
        split=(0.8, 0.0, 0.2),
        val_from_train=0.125,
        mask="none",
        scaler="zscore",
        window_rule="tgcn",
        metrics=TGCN_METRICS,
        lookback_days=LOOKBACK_DAYS,
        missing_value=None,  # T-GCN trains and scores on every entry, SZ-taxi's zeros included
        description=(
            f"T-GCN protocol: {seq_len} steps in, horizons {minutes} min (steps "
            f"{', '.join(map(str, horizons))}, each pooled over output steps 1..h); 80/20 "
            "chronological split of the steps, windows inside each part (T-GCN's count); "
            "validation = last 1/8 of the training windows (T-GCN has none); z-score on the "
            "training part (T-GCN divides by the max; metrics are in original units either way); "
            "unmasked MAE, RMSE, accuracy, R2, var over every entry, a zero included (T-GCN "
            "scores and trains on SZ-taxi's zeros, its slots without a taxi, as speeds); "
            "periodic lookback of 1 and 7 days, which T-GCN's models do not read "
            "(data.lookback_days = [] gives them only the input steps)."
        ),
    )


def resolve_protocol(
    name: str, info: DatasetInfo, num_steps: int, *, test_target_start: int | None = None
) -> Protocol:
    """Build protocol ``name`` for a dataset and check that it fits the series.

    Args:
        name: registered protocol name.
        info: the dataset's info record.
        num_steps: length T of the loaded series.
        test_target_start: the dataset's first published test target step (partial datasets).

    Returns:
        The protocol.

    Raises:
        UnknownNameError: ``name`` is not registered.
        ProtocolError: the protocol is not defined for this dataset, one window is longer than the
            series, or a split part (train, val, test) would hold no window.
    """
    protocol = PROTOCOLS.get(name)(info)
    if protocol.window_len > num_steps:
        raise ProtocolError(
            f"protocol {name!r} on dataset {info.name!r}: one window needs input_len + output_len "
            f"= {protocol.input_len} + {protocol.output_len} = {protocol.window_len} steps, "
            f"the series has {num_steps}"
        )
    split_windows(protocol, num_steps, dataset=info.name, test_target_start=test_target_start)
    return protocol
