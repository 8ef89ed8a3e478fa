"""Prepared datasets kept for the life of a worker process.

Tune reuses a trial's actor for the next trial with the same resources
(``TuneConfig(reuse_actors=True)``), so a process runs many trials of a study; most of them read
the same dataset, protocol and few-shot selection. :func:`cached_prepare` loads, checks and
windows each such ``DataConfig`` once per process and hands the same (read-only)
:class:`~stvlm.data.pipeline.ForecastData` to every later trial. Nothing in the library writes to
a prepared forecast. No Ray here.
"""

from __future__ import annotations

import logging
from collections import OrderedDict

from stvlm.configs import DataConfig, canonical_hash
from stvlm.data.pipeline import ForecastData, prepare

log = logging.getLogger(__name__)

#: Prepared datasets kept per process (the least recently used goes first): a study's arms
#: vary the few-shot ratio, so a process meets a handful of selections of one dataset.
MAX_CACHED = 4

_CACHE: OrderedDict[str, ForecastData] = OrderedDict()


def cached_prepare(data: DataConfig) -> ForecastData:
    """``stvlm.data.pipeline.prepare(data)``, once per process for equal configs (where the
    data lives included: two roots may hold different files)."""
    key = canonical_hash(data.to_dict())  # every field: where the data lives too
    if key in _CACHE:
        _CACHE.move_to_end(key)
        log.debug("dataset %s from this process's cache", data.dataset)
        return _CACHE[key]
    forecast = prepare(data)
    _CACHE[key] = forecast
    while len(_CACHE) > MAX_CACHED:
        _CACHE.popitem(last=False)
    return forecast


def clear() -> None:
    """Forget every cached dataset."""
    _CACHE.clear()
