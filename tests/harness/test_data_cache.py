"""Trials in one reused worker process prepare each dataset once."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.runtime import data_cache
from stvlm.configs import DataConfig, FewShotConfig


@pytest.fixture(autouse=True)
def empty_cache():
    data_cache.clear()
    yield
    data_cache.clear()


def test_equal_configs_share_one_prepared_dataset(data_root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []
    real = data_cache.prepare
    monkeypatch.setattr(data_cache, "prepare", lambda cfg: calls.append(cfg) or real(cfg))
    ten = DataConfig(dataset="los-loop", data_root=str(data_root), few_shot=FewShotConfig(ratio=0.1))
    first = data_cache.cached_prepare(ten)
    assert data_cache.cached_prepare(DataConfig.from_dict(ten.to_dict())) is first  # equal, not the same object
    twenty = data_cache.cached_prepare(ten.replace(few_shot=FewShotConfig(ratio=0.2)))
    assert twenty is not first and twenty.num_windows("train") > first.num_windows("train")
    assert [c.few_shot.ratio for c in calls] == [0.1, 0.2]


def test_the_least_recently_used_dataset_goes_first(data_root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(data_cache, "MAX_CACHED", 2)
    monkeypatch.setattr(data_cache, "prepare", lambda cfg: object())  # identity is what is checked
    a, b, c = (DataConfig(dataset="los-loop", data_root=str(data_root), few_shot=FewShotConfig(ratio=r))
               for r in (0.1, 0.2, 0.3))
    kept_a = data_cache.cached_prepare(a)
    data_cache.cached_prepare(b)
    assert data_cache.cached_prepare(a) is kept_a  # a is now the most recent
    data_cache.cached_prepare(c)  # evicts b
    assert data_cache.cached_prepare(a) is kept_a and len(data_cache._CACHE) == 2
