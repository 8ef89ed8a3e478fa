"""First-layer fusion: depths, the zero-gate identity, the spatial bias and errors."""

from __future__ import annotations

import math

import pytest
import torch

from stvlm.errors import ConfigError
from stvlm.models.backbones import BACKBONES, Backbone, Segments, build_backbone
from stvlm.configs import BackboneConfig, FusionConfig
from stvlm.models.fusion import Fusion, GatedCrossAttention, SpatialBias, segment_mean

B, M, D = 2, 4, 32
POSITIONS = torch.tensor([[0.1, 0.1], [0.9, 0.1], [0.1, 0.9], [0.6, 0.4]])  # (x, y), y down


def tiny(name: str = "vilt") -> Backbone:
    torch.manual_seed(0)
    return build_backbone(BackboneConfig(name=name)).eval()


def inputs(bb: Backbone):
    enc = bb.tokenizer(["traffic speed on monday", "max speed"], padding="max_length",
                       max_length=6, truncation=True, return_tensors="pt")
    gen = torch.Generator().manual_seed(3)
    pixels = torch.randn(B, 3, bb.image_size, bb.image_size, generator=gen) if bb.has_vision else None
    tokens, mask, seg = bb.embed(enc["input_ids"], enc["attention_mask"], pixels)
    st = torch.randn(B, M, D, generator=gen)
    return tokens, mask, seg, st


def unwrapped(bb: Backbone, tokens, mask, seg, st, enter: int) -> torch.Tensor:
    """The backbone's blocks alone, with the ST tokens joining the input of block ``enter``."""
    st = bb.position_embed(st, mask)
    full_mask = torch.cat([mask, torch.ones(B, M, dtype=torch.bool)], dim=1)
    context = bb.block_context(full_mask, seg.with_st(M), tokens.dtype)
    prefix = bb.block_context(mask, seg, tokens.dtype)
    hidden = tokens
    for i in range(bb.num_layers):
        if i == enter:
            hidden = torch.cat([hidden, st], dim=1)
        hidden = bb.run_block(i, hidden, context if i >= enter else prefix)
    return bb.final_norm(hidden)


@pytest.mark.parametrize("name", BACKBONES.names())
@pytest.mark.parametrize("depth,enter", [(0, 0), (1, 0), (2, 1), ("all", 0)])
def test_zero_gate_adapter_leaves_the_backbone_unchanged(name, depth, enter):
    bb = tiny(name)
    fusion = Fusion(FusionConfig(depth=depth, heads=2), bb, POSITIONS).eval()
    tokens, mask, seg, st = inputs(bb)
    with torch.no_grad():
        out = fusion(bb, tokens, mask, seg, st)
        ref = unwrapped(bb, tokens, mask, seg, st + fusion.type_embedding, enter)
    assert torch.equal(out.hidden, ref)
    assert torch.equal(out.st, ref[:, -M:])
    if fusion.adapters:  # an open gate changes the result, so the comparison can fail
        with torch.no_grad():
            for adapter in fusion.adapters.values():
                adapter.gate.fill_(0.5)
            assert not torch.allclose(fusion(bb, tokens, mask, seg, st).st, out.st)


@pytest.mark.parametrize("depth,adapters,enter,length", [
    (0, [], 0, 6 + 17 + M), (1, ["0"], 0, 6 + 17 + M), (2, ["1"], 1, 6 + 17 + M),
    ("all", ["0", "1"], 0, 6 + 17 + M), ("late", ["late"], 0, 6 + 17),
])
def test_every_depth_has_its_adapters_and_shapes(depth, adapters, enter, length):
    bb = tiny("vilt")
    fusion = Fusion(FusionConfig(depth=depth, heads=4), bb, POSITIONS)
    assert list(fusion.adapters) == adapters and fusion.enter == enter
    assert (fusion.spatial is not None) == (depth in (1, 2, "all"))  # only adapters read it
    assert all(a.gate.item() == 0.0 for a in fusion.adapters.values())
    tokens, mask, seg, st = inputs(bb)
    out = fusion(bb, tokens, mask, seg, st)
    assert out.st.shape == (B, M, D) and out.hidden.shape == (B, length, D)
    assert out.mask.shape == (B, length)
    out.st.sum().backward()
    assert fusion.type_embedding.grad is not None
    assert all(a.gate.grad.abs() > 0 for a in fusion.adapters.values())  # the gate learns


def test_late_fusion_with_zero_gate_passes_the_st_tokens_through():
    bb = tiny("vilt")
    fusion = Fusion(FusionConfig(depth="late", heads=2), bb, POSITIONS).eval()
    tokens, mask, seg, st = inputs(bb)
    with torch.no_grad():
        out = fusion(bb, tokens, mask, seg, st)
        plain = bb.final_norm(bb.run_block(1, bb.run_block(0, tokens, bb.block_context(
            mask, seg, tokens.dtype)), bb.block_context(mask, seg, tokens.dtype)))
    assert torch.equal(out.st, st + fusion.type_embedding)
    assert torch.equal(out.hidden, plain) and out.segments == seg


def test_late_fusion_keeps_the_st_tokens_in_float32_under_a_bfloat16_backbone():
    """The late ST tokens never enter the backbone: a bfloat16 backbone must not round them."""
    bb = tiny("vilt").to(torch.bfloat16)
    fusion = Fusion(FusionConfig(depth="late", heads=2), bb, POSITIONS).eval()
    tokens, mask, seg, st = inputs(bb)
    with torch.no_grad():
        out = fusion(bb, tokens.to(torch.bfloat16), mask, seg, st)
    assert tokens.to(torch.bfloat16).dtype == torch.bfloat16 and out.st.dtype == torch.float32
    assert torch.equal(out.st, st + fusion.type_embedding)  # zero gate: exact, unrounded


@pytest.mark.parametrize("name", ["gpt2", "qwen2-vl"])
def test_decoder_text_and_image_outputs_do_not_see_st_tokens(name):
    bb = tiny(name)
    fusion = Fusion(FusionConfig(depth="all", heads=2), bb, POSITIONS).eval()
    with torch.no_grad():
        for adapter in fusion.adapters.values():
            adapter.gate.fill_(1.0)
        tokens, mask, seg, st = inputs(bb)
        out = fusion(bb, tokens, mask, seg, st)
        plain = bb.final_norm(bb.run_block(1, bb.run_block(0, tokens, bb.block_context(
            mask, seg, tokens.dtype)), bb.block_context(mask, seg, tokens.dtype)))
    length = tokens.shape[1]
    torch.testing.assert_close(out.hidden[:, :length], plain, atol=1e-6, rtol=1e-6)


def test_spatial_bias_exact_values_and_own_patch():
    bias = SpatialBias(torch.tensor([[0.25, 0.25], [0.8, 0.3]]), (2, 2), sigma=1.0)
    e = math.exp
    torch.testing.assert_close(bias(), torch.tensor([
        [1.0, e(-0.5), e(-0.5), e(-1.0)],  # node 0 sits at the centre of patch 0
        [e(-(1.1**2 + 0.1**2) / 2), e(-(0.1**2 + 0.1**2) / 2),
         e(-(1.1**2 + 0.9**2) / 2), e(-(0.1**2 + 0.9**2) / 2)],
    ]))
    grid = SpatialBias(POSITIONS, (4, 4), sigma=0.5)
    own = [(int(y * 4)) * 4 + int(x * 4) for x, y in POSITIONS.tolist()]
    assert grid().argmax(dim=1).tolist() == own == [0, 3, 12, 6]
    with torch.no_grad():
        grid.beta.fill_(3.0)
    torch.testing.assert_close(grid(), 3.0 * grid.kernel)


def test_spatial_bias_points_attention_at_the_node_patch():
    bb = tiny("vilt")
    fusion = Fusion(FusionConfig(depth=1, heads=2, bias_sigma=0.3), bb, POSITIONS)
    tokens, mask, seg, st = inputs(bb)
    bias = fusion.bias_for(seg, M, tokens.shape[1])  # [M, L]: patches only
    assert bias.shape == (M, 23)
    assert torch.equal(bias[:, :7], torch.zeros(M, 7))  # text and CLS keys get no bias
    assert bias[:, 7:].argmax(dim=1).tolist() == [0, 3, 12, 6]
    assert fusion.bias_for(seg, 3, 23) is None  # latents, not nodes: no bias
    assert fusion.bias_for(Segments(text=slice(0, 6)), M, 6) is None  # no image
    attn = GatedCrossAttention(D, heads=2)
    with torch.no_grad():  # uniform logits, values = the normalised context
        attn.q.weight.zero_()
        attn.q.bias.zero_()
        attn.kv.weight.copy_(torch.cat([torch.zeros(D, D), torch.eye(D)]))
        attn.kv.bias.zero_()
        attn.out.weight.copy_(torch.eye(D))
        attn.out.bias.zero_()
        fusion.spatial.beta.fill_(60.0)
    context = torch.randn(B, 23, D)
    delta = attn.delta(st, context, torch.ones(B, 23, dtype=torch.bool), fusion.bias_for(seg, M, 23))
    own = attn.norm_kv(context)[:, [7, 10, 19, 13]]  # patch tokens 0, 3, 12, 6
    torch.testing.assert_close(delta, own, atol=1e-4, rtol=1e-4)


def test_masked_context_tokens_get_no_attention():
    attn = GatedCrossAttention(8, heads=2)
    query, context = torch.randn(1, 2, 8), torch.randn(1, 3, 8)
    keep = torch.tensor([[True, True, False]])
    changed = context.clone()
    changed[0, 2] = 100.0
    assert torch.equal(attn.delta(query, context, keep), attn.delta(query, changed, keep))
    assert torch.equal(attn(query, context[:, :0], keep[:, :0]), query)


def test_no_spatial_bias_when_disabled_or_without_positions():
    bb = tiny("vilt")
    assert Fusion(FusionConfig(spatial_bias=False), bb, POSITIONS).spatial is None
    assert Fusion(FusionConfig(), bb, None).spatial is None
    assert Fusion(FusionConfig(), tiny("gpt2"), POSITIONS).spatial is None


def test_segment_mean_is_masked():
    hidden = torch.arange(12, dtype=torch.float32).view(1, 4, 3)
    mask = torch.tensor([[True, False, True, True]])
    assert segment_mean(hidden, mask, slice(0, 2)).tolist() == [[0.0, 1.0, 2.0]]
    assert segment_mean(hidden, mask, slice(1, 4)).tolist() == [[7.5, 8.5, 9.5]]
    assert segment_mean(hidden, mask, slice(2, 2)) is None


def test_fusion_errors():
    bb = tiny("vilt")
    with pytest.raises(ConfigError) as err:
        Fusion(FusionConfig(depth=7), bb, None)
    assert str(err.value) == (
        "fusion.depth = 7 is larger than the backbone's 2 layers; allowed: 0..2, 'late' or 'all'"
    )
    with pytest.raises(ConfigError) as err:
        Fusion(FusionConfig(heads=5), bb, None)
    assert str(err.value) == (
        "fusion.heads = 5 does not divide the backbone width 32; allowed: 1, 2, 4, 8, 16, 32"
    )
    with pytest.raises(ConfigError, match="fusion.depth = -1 is out of range"):
        FusionConfig.from_dict({"depth": -1}, path="fusion")
