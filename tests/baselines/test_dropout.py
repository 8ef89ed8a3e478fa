"""FastDropout: the threshold arithmetic, the kept entries' scale, eval identity, gradients."""

from __future__ import annotations

import pytest
import torch

from stvlm.baselines.dropout import FastDropout


def test_threshold_and_scale_from_the_rounded_probability():
    d = FastDropout(0.15)
    assert d.threshold == 9830  # round(0.15 * 65536) = round(9830.4)
    assert d.scale == 65536 / (65536 - 9830)
    assert FastDropout(0.5).threshold == 32768 and FastDropout(0.5).scale == 2.0
    assert FastDropout(0.99999999).threshold == 65535  # never drops everything


def test_each_entry_is_zero_or_scaled_and_the_drop_rate_matches():
    torch.manual_seed(0)
    d = FastDropout(0.5).train()
    x = torch.full((400, 1000), 3.0)
    y = d(x)
    assert y.shape == x.shape
    assert set(torch.unique(y).tolist()) == {0.0, 6.0}
    dropped = float((y == 0).float().mean())
    assert abs(dropped - 0.5) < 0.005  # 400k entries: the standard error is 0.0008


def test_seeded_draws_repeat_and_differ_between_calls():
    d = FastDropout(0.3).train()
    x = torch.ones(7, 5, 3)  # 105 entries: not a multiple of four
    torch.manual_seed(1)
    a, b = d(x), d(x)
    torch.manual_seed(1)
    assert torch.equal(d(x), a) and not torch.equal(a, b)


def test_identity_in_eval_and_at_zero():
    x = torch.randn(4, 6)
    assert FastDropout(0.4).eval()(x) is x
    assert FastDropout(0.0).train()(x) is x
    empty = torch.zeros(0, 3)
    assert FastDropout(0.4).train()(empty) is empty


def test_gradient_flows_through_kept_entries_only():
    torch.manual_seed(2)
    d = FastDropout(0.25).train()
    x = torch.ones(64, 64, requires_grad=True)
    y = d(x)
    y.sum().backward()
    kept = y != 0
    assert torch.equal(x.grad, torch.where(kept, torch.tensor(d.scale), torch.tensor(0.0)))


@pytest.mark.parametrize("p", [-0.1, 1.0, 1.5])
def test_probability_out_of_range_is_an_error(p):
    with pytest.raises(ValueError, match=r"dropout probability must be in \[0, 1\)"):
        FastDropout(p)
