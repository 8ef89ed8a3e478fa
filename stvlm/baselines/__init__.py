"""Baselines evaluated on the same windows, splits and metrics as ST-VLM.

``BASELINES`` maps a name to a :class:`BaselineSpec` (its config class and factory);
``build_baseline(name, options)`` validates the options strictly and returns the baseline.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from stvlm.baselines.base import Baseline, NeuralBaseline
from stvlm.baselines.gru import GRUBaseline, GRUConfig
from stvlm.baselines.gwnet import GWNetBaseline, GWNetConfig
from stvlm.baselines.ridge import RidgeConfig, RidgePerNode
from stvlm.baselines.seasonal import (
    HistoricalAverage,
    HistoryConfig,
    LastValue,
    NoOptions,
    SeasonalConfig,
    SeasonalMean,
    SeasonalNaive,
)
from stvlm.baselines.staeformer import STAEformerBaseline, STAEformerConfig
from stvlm.baselines.stid import STIDBaseline, STIDConfig
from stvlm.configs import Config
from stvlm.registry import Registry


@dataclass(frozen=True)
class BaselineSpec:
    """How to build one registered baseline."""

    config: type[Config]
    factory: Callable[[Any], Baseline]
    defaults: Mapping[str, Any] = None  # type: ignore[assignment]
    description: str = ""


BASELINES: Registry[BaselineSpec] = Registry("model")
BASELINES.add("historical-average", BaselineSpec(HistoryConfig, HistoricalAverage, {}, "mean by time of week"))
BASELINES.add("historical-average-all", BaselineSpec(
    HistoryConfig, HistoricalAverage, {"history": "all"},
    "mean by time of week over every step before the test targets (reference line)"))
BASELINES.add("seasonal-naive", BaselineSpec(SeasonalConfig, SeasonalNaive, {"days": 7}, "value one week earlier"))
BASELINES.add("seasonal-naive-day", BaselineSpec(SeasonalConfig, SeasonalNaive, {"days": 1}, "value one day earlier"))
BASELINES.add("seasonal-mean", BaselineSpec(
    NoOptions, SeasonalMean, {}, "mean of the periodic lookback lags (ST-VLM's seasonal prior)"))
BASELINES.add("last-value", BaselineSpec(NoOptions, LastValue, {}, "last observed input"))
BASELINES.add("ridge", BaselineSpec(RidgeConfig, RidgePerNode, {}, "ridge regression per node"))
BASELINES.add("gru", BaselineSpec(GRUConfig, GRUBaseline, {}, "GRU shared by all nodes"))
BASELINES.add("stid", BaselineSpec(STIDConfig, STIDBaseline, {}, "STID-style MLP with identity embeddings"))
BASELINES.add("gwnet", BaselineSpec(GWNetConfig, GWNetBaseline, {}, "Graph WaveNet (Wu et al., IJCAI 2019)"))
BASELINES.add("staeformer", BaselineSpec(STAEformerConfig, STAEformerBaseline, {}, "STAEformer (Liu et al., CIKM 2023)"))


def build_baseline(name: str, options: Mapping[str, Any] | None = None) -> Baseline:
    """Build baseline ``name`` with ``options`` (validated by its config; unknown keys raise)."""
    spec = BASELINES.get(name)
    cfg = spec.config.from_dict({**(spec.defaults or {}), **(options or {})}, path=name)
    baseline = spec.factory(cfg)
    baseline.name = name
    return baseline


def trains(name: str) -> bool:
    """Whether baseline ``name`` is a network trained by the engine (on the trial's device); the
    others compute on the CPU whatever the device."""
    factory = BASELINES.get(name).factory
    return isinstance(factory, type) and issubclass(factory, NeuralBaseline)


__all__ = ["BASELINES", "Baseline", "BaselineSpec", "build_baseline", "trains"]
