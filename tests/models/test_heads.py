"""The prediction head: linear or MLP, zero start, output shape."""

from __future__ import annotations

import pytest
import torch

from stvlm.configs import HeadConfig
from stvlm.models.heads import PredictionHead


@pytest.mark.parametrize("hidden", [0, 64])
def test_a_zero_started_head_predicts_zero_and_names_its_output_layer(hidden: int) -> None:
    head = PredictionHead(HeadConfig(hidden=hidden), dim=5, context_dim=3, output_len=4, out_channels=2)
    assert isinstance(head.output_layer, torch.nn.Linear)
    assert (head.output_layer.in_features, head.output_layer.out_features) == (hidden or 8, 8)
    assert head.output_layer is (head.net[-1] if hidden else head.net)
    tokens, context = torch.randn(2, 7, 5), torch.randn(2, 3)
    out = head(tokens, context)  # [B, T_out, N, C_out]
    assert out.shape == (2, 4, 7, 2) and torch.equal(out, torch.zeros(2, 4, 7, 2))
    assert sum(p.numel() for p in head.parameters()) == ((8 * 64 + 64) + (64 * 8 + 8) if hidden else 8 * 8 + 8)


def test_the_mlp_head_computes_gelu_of_its_hidden_layer() -> None:
    """Hand-set weights: out = W2 gelu(W1 [token; context] + b1) + b2, per node and step."""
    head = PredictionHead(HeadConfig(hidden=2, dropout=0.0), dim=1, context_dim=1, output_len=1, out_channels=1)
    with torch.no_grad():
        head.net[0].weight.copy_(torch.tensor([[1.0, 0.0], [0.0, -1.0]]))
        head.net[0].bias.zero_()
        head.output_layer.weight.copy_(torch.tensor([[2.0, 3.0]]))
        head.output_layer.bias.fill_(0.5)
    out = head(torch.tensor([[[1.0]]]), torch.tensor([[2.0]]))  # token 1, context 2
    gelu = torch.nn.functional.gelu
    expected = 2.0 * gelu(torch.tensor(1.0)) + 3.0 * gelu(torch.tensor(-2.0)) + 0.5
    assert torch.allclose(out.reshape(()), expected)


def test_the_default_head_is_the_mlp_chosen_on_validation() -> None:
    assert HeadConfig().hidden == 64 and HeadConfig().zero_init
