"""What early stopping reads (``TrainConfig.monitor``): one validation result key (``mae``,
``rmse_h3``, ...) or a registered mean of several (:data:`MONITOR_MEANS`).

The engine keeps the epoch with the smallest monitored value, so a monitor is an error, never
a metric where larger is better. ``mae_both`` is the mean of the masked and the all-entries
MAE, the quantity ``TrainConfig.loss_mask = "both"`` trains on; where no observed zero is
masked (speed data) the two MAEs are the same number and ``mae_both`` equals ``mae`` exactly.

A registered mean is also a reported score: :func:`with_means` adds it to a result dict (overall
and at each reported horizon), so a study can rank its trials on what the engine selects on
(``val_mae_both``) and the results files keep it beside its parts.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from stvlm.data.protocols import Protocol, higher_is_better, metric_of_key, rankable
from stvlm.errors import ConfigError
from stvlm.registry import Registry

#: monitor name -> the result keys it averages
MONITOR_MEANS: Registry[tuple[str, ...]] = Registry("monitor mean")
MONITOR_MEANS.add("mae_both", ("mae", "mae_all"))


def _averaged(name: str) -> tuple[str, ...]:
    """The keys monitor ``name`` averages: a registered mean's, else ``name`` alone."""
    return MONITOR_MEANS.get(name) if name in MONITOR_MEANS else (name,)


def monitor_keys(name: str, protocol: Protocol) -> tuple[str, ...]:
    """The validation result keys monitor ``name`` reads under ``protocol``.

    Raises:
        ConfigError: ``name`` is neither a result key of the protocol nor a registered mean of
            its keys, or is a metric where larger is better (early stopping keeps the smallest).
    """
    keys = _averaged(name)
    known = [k for k in protocol.result_keys if rankable(k)]
    missing = [k for k in keys if k not in known]
    if missing:
        means = ", ".join(MONITOR_MEANS.names())
        raise ConfigError(f"train.monitor = {name!r} is not a validation metric of protocol "
                          f"{protocol.name!r}"
                          f"{'' if keys == (name,) else f' (it averages {missing[0]!r}, which it lacks)'}; "
                          f"allowed: {', '.join(sorted(known))}, or a mean: {means}")
    wrong = [k for k in keys if higher_is_better(k)]
    if wrong:
        raise ConfigError(f"train.monitor = {name!r} is better when larger; early stopping keeps "
                          "the smallest value, so monitor an error (mae, rmse, ...)")
    return keys


def _mean(results: Mapping[str, float], keys: Sequence[str]) -> float:
    """The mean of ``results[k]`` over ``keys``: how a monitor and a reported mean average."""
    return sum(float(results[k]) for k in keys) / len(keys)


def monitor_value(val: Mapping[str, float], name: str) -> float:
    """The value of monitor ``name`` in one validation result ``val`` (the mean of its keys)."""
    return _mean(val, _averaged(name))


def reported_metrics(metrics: Sequence[str]) -> tuple[str, ...]:
    """The metric names reported under a protocol with ``metrics``: those, then each registered
    mean whose every part is one of them (``mae_both``), in registry order: the keys
    :func:`with_means` adds."""
    have = set(metrics)
    return (*metrics, *(m for m in MONITOR_MEANS.names() if set(MONITOR_MEANS.get(m)) <= have))


def with_means(results: Mapping[str, float]) -> dict[str, float]:
    """``results`` plus each registered mean whose parts it holds, overall (``mae_both``) and at
    each reported horizon whose parts it holds (``mae_both_h3``); a key ``results`` already has
    is left as it is. ``{"mae": 2, "mae_all": 1, "mae_h3": 4, "mae_all_h3": 2}`` gains
    ``{"mae_both": 1.5, "mae_both_h3": 3.0}``."""
    out = dict(results)
    for name in MONITOR_MEANS.names():
        parts = MONITOR_MEANS.get(name)
        # "" for the overall keys, "_h3" for horizon 3 (horizon_key's suffix)
        suffixes = [k[len(parts[0]):] for k in results if metric_of_key(k) == parts[0]]
        for suffix in suffixes:
            keys = [p + suffix for p in parts]
            if name + suffix not in out and all(k in results for k in keys):
                out[name + suffix] = _mean(results, keys)
    return out
