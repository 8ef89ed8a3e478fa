"""Few-shot selection of training windows."""

from __future__ import annotations

import typing

import numpy as np
import pytest

from stvlm.configs import FewShotConfig
from stvlm.data.fewshot import FEW_SHOT_METHODS, few_shot_count, select_few_shot
from stvlm.errors import ProtocolError

TRAIN = np.arange(10, 110, dtype=np.int64)  # 100 training windows starting at step 10


def test_first_keeps_a_contiguous_prefix():
    picked = select_few_shot(TRAIN, FewShotConfig(ratio=0.1))
    np.testing.assert_array_equal(picked, np.arange(10, 20))
    picked = select_few_shot(np.arange(7), FewShotConfig(ratio=0.3))  # ceil(2.1) = 3
    np.testing.assert_array_equal(picked, [0, 1, 2])


def test_count_rounds_up_keeps_one_and_ignores_float_noise():
    assert few_shot_count(30, 0.1) == 3  # 0.1 * 30 = 3.0000000000000004 in binary
    assert few_shot_count(10, 0.25) == 3
    assert few_shot_count(100, 0.001) == 1
    assert few_shot_count(5, 1.0) == 5
    assert select_few_shot(np.arange(5), FewShotConfig(ratio=0.01)).tolist() == [0]


def test_random_is_seeded_sorted_and_inside_the_training_part():
    cfg = FewShotConfig(ratio=0.1, method="random", seed=3)
    a = select_few_shot(TRAIN, cfg)
    b = select_few_shot(TRAIN, cfg)
    np.testing.assert_array_equal(a, b)
    assert a.size == 10 and a.dtype == np.int64
    assert np.all(np.diff(a) > 0)
    assert np.isin(a, TRAIN).all()
    assert not np.array_equal(a, np.arange(10, 20))  # not the contiguous prefix
    c = select_few_shot(TRAIN, cfg.replace(seed=4))
    assert not np.array_equal(a, c)


@pytest.mark.parametrize("method", FEW_SHOT_METHODS.names())
def test_full_ratio_keeps_every_window(method):
    picked = select_few_shot(TRAIN, FewShotConfig(ratio=1.0, method=method))
    np.testing.assert_array_equal(picked, TRAIN)


def test_registry_matches_the_config_choices():
    hints = typing.get_type_hints(FewShotConfig)
    assert set(FEW_SHOT_METHODS.names()) == set(typing.get_args(hints["method"]))


def test_empty_training_part_raises():
    with pytest.raises(ProtocolError, match=r"few_shot = first-10%: the training part holds no"):
        select_few_shot(np.zeros(0, dtype=np.int64), FewShotConfig(ratio=0.1))


def test_a_ratio_beyond_the_lookback_pool_uses_the_pool_and_says_so(caplog):
    """50% of a 200-window training part asks for 100 windows; the 60 with their lookback are
    all used, and a warning says that every ratio above 0.3 is the same experiment."""
    pool = np.arange(140, 200, dtype=np.int64)
    with caplog.at_level("WARNING", logger="stvlm.data.fewshot"):
        picked = select_few_shot(pool, FewShotConfig(ratio=0.5), total=200, dataset="toy")
    np.testing.assert_array_equal(picked, pool)
    assert caplog.messages == [
        "few_shot = first-50% asks for 100 training windows; dataset 'toy' has 60 with their "
        "periodic lookback, so all 60 are used (ratios above 0.300 all mean the whole pool)"]
    caplog.clear()
    with caplog.at_level("WARNING", logger="stvlm.data.fewshot"):
        select_few_shot(pool, FewShotConfig(ratio=1.0), total=200, dataset="toy")
    assert caplog.messages == []  # the whole training part: nothing to warn about
