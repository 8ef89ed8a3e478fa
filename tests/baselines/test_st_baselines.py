"""Graph WaveNet and STAEformer on tiny hand-made forecasts: shapes, exact pieces, gradients."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
import torch

from stvlm.baselines import build_baseline
from stvlm.baselines.gwnet import (
    GWNetBaseline,
    GWNetConfig,
    adaptive_adjacency,
    diffusion,
    transition_matrices,
)
from stvlm.baselines.staeformer import STAEformerBaseline, STAEformerConfig
from stvlm.configs import FewShotConfig
from stvlm.data.batch import STBatch
from stvlm.data.pipeline import prepare_forecast
from stvlm.data.protocols import resolve_protocol
from stvlm.data.series import DatasetInfo, SpatioTemporalData
from stvlm.errors import ConfigError

STEPS_PER_DAY = 4
N = 3
T_IN = T_OUT = 12
LAGS = (STEPS_PER_DAY * 3, STEPS_PER_DAY * 7)  # 12 and 28 steps, each >= T_out
ADJ = np.array([[0.0, 2.0, 0.0], [1.0, 0.0, 1.0], [0.0, 0.5, 0.0]], dtype=np.float32)

TINY_GWNET = GWNetConfig(
    residual_channels=4, dilation_channels=4, skip_channels=8, end_channels=8, blocks=2, layers=2,
    adaptive_dim=3, dropout=0.0,
)
TINY_STAE = STAEformerConfig(
    input_embedding_dim=4, tod_embedding_dim=4, dow_embedding_dim=4, adaptive_embedding_dim=4,
    feed_forward_dim=8, heads=2, temporal_layers=1, spatial_layers=1, dropout=0.0,
)


def tiny_forecast(adjacency: np.ndarray | None = None, lags: tuple[int, ...] = ()):
    """Two channels (target: channel 0), 3 nodes, 140 six-hour steps; ``lookback_lags`` set by hand."""
    t = 140
    steps = np.arange(t)
    rng = np.random.default_rng(0)
    values = np.stack(
        [
            10 + (steps[:, None] % 28) + 5 * np.arange(N)[None, :] + rng.normal(size=(t, N)),
            rng.normal(size=(t, N)) * 3 + 1,
        ],
        axis=-1,
    ).astype(np.float32)  # [T, N, 2]
    info = DatasetInfo(
        name="tiny", folder="TINY", title="tiny", description="a tiny series", nodes=N, steps=t,
        interval_minutes=1440 // STEPS_PER_DAY, channels=("v", "w"), units=("u", "u"),
        adjacency=adjacency is not None,
    )
    data = SpatioTemporalData(
        info=info, values=values, tod=steps % STEPS_PER_DAY, dow=(steps // STEPS_PER_DAY) % 7,
        adjacency=adjacency,
    )
    fc = prepare_forecast(data, resolve_protocol("standard", info, t), FewShotConfig())
    fc.lookback_lags = tuple(lags)  # stand-in for the pipeline's lookback lags
    return fc


def a_batch(fc, b: int = 4, lags: int = 0, seed: int = 0) -> STBatch:
    batch = next(fc.batches("train", b))
    g = torch.Generator().manual_seed(seed)
    lookback = torch.randn(b, lags, T_IN + T_OUT, N, 1, generator=g) if lags else None  # [B, P, T_in+T_out, N, 1]
    return dataclasses.replace(batch, lookback=lookback)


def build(kind: str, fc, cfg=None, seed: int = 0) -> torch.nn.Module:
    torch.manual_seed(seed)
    if kind == "gwnet":
        return GWNetBaseline(cfg or TINY_GWNET).build(fc)
    return STAEformerBaseline(cfg or TINY_STAE).build(fc)


# -- shared checks --------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["gwnet", "staeformer"])
@pytest.mark.parametrize("lags", [(), LAGS])
def test_output_shape_with_and_without_lookback(kind: str, lags: tuple[int, ...]) -> None:
    fc = tiny_forecast(ADJ, lags)
    model = build(kind, fc).eval()
    batch = a_batch(fc, b=3, lags=len(lags))
    with torch.no_grad():
        out = model(batch)
    assert out.shape == (3, T_OUT, N, 1)
    assert torch.isfinite(out).all()


@pytest.mark.parametrize("kind", ["gwnet", "staeformer"])
def test_lookback_is_used_and_checked(kind: str) -> None:
    fc = tiny_forecast(ADJ, LAGS)
    model = build(kind, fc).eval()
    batch = a_batch(fc, lags=2)
    with torch.no_grad():
        base = model(batch)
        for part in (slice(0, T_IN), slice(T_IN, T_IN + T_OUT)):  # input-aligned, target-aligned
            lb = batch.lookback.clone()
            lb[:, :, part] += 1.0
            assert not torch.allclose(model(dataclasses.replace(batch, lookback=lb)), base)
        with pytest.raises(ValueError, match="built for 2 lookback lags; batch.lookback is None"):
            model(dataclasses.replace(batch, lookback=None))
        with pytest.raises(ValueError, match="built for 2 lookback lags"):
            model(dataclasses.replace(batch, lookback=batch.lookback[:, :1]))


@pytest.mark.parametrize("kind", ["gwnet", "staeformer"])
def test_gradients_reach_every_parameter(kind: str) -> None:
    fc = tiny_forecast(ADJ, LAGS)
    model = build(kind, fc).train()
    batch = a_batch(fc, lags=2)
    loss = (model(batch) - batch.y).abs().mean()
    loss.backward()
    names = [name for name, p in model.named_parameters()]
    assert names
    for name, p in model.named_parameters():
        assert p.grad is not None, f"{name} gets no gradient"
        assert p.grad.abs().sum() > 0, f"{name} has an all-zero gradient"


@pytest.mark.parametrize("kind", ["gwnet", "staeformer"])
def test_same_seed_same_model(kind: str) -> None:
    fc = tiny_forecast(ADJ, LAGS)
    batch = a_batch(fc, lags=2)
    a, b, c = build(kind, fc, seed=5).eval(), build(kind, fc, seed=5).eval(), build(kind, fc, seed=6).eval()
    with torch.no_grad():
        assert torch.equal(a(batch), b(batch))
        assert not torch.equal(a(batch), c(batch))


def test_registered_and_bad_options_name_the_field() -> None:
    assert isinstance(build_baseline("gwnet", {"blocks": 1}), GWNetBaseline)
    assert isinstance(build_baseline("staeformer", {"heads": 8}), STAEformerBaseline)
    with pytest.raises(ConfigError, match=r"^gwnet.dropout = 1 is out of range; allowed: >= 0 and < 1$"):
        build_baseline("gwnet", {"dropout": 1})
    with pytest.raises(ConfigError, match=r"^blocks = 0 is out of range; allowed: >= 1$"):
        GWNetConfig(blocks=0)
    with pytest.raises(ConfigError, match=r"^kernel_size = 1 is out of range; allowed: >= 2$"):
        GWNetConfig(kernel_size=1)
    with pytest.raises(ConfigError, match=r"^staeformer.input_embedding_dim = 0 is out of range"):
        build_baseline("staeformer", {"input_embedding_dim": 0})
    with pytest.raises(ConfigError, match=r"^heads = 5 must divide the model width 152 "):
        STAEformerConfig(heads=5)


def test_defaults_are_the_papers() -> None:
    g = GWNetConfig()
    assert (g.residual_channels, g.dilation_channels, g.skip_channels, g.end_channels) == (32, 32, 256, 512)
    assert (g.blocks, g.layers, g.kernel_size, g.adaptive_dim, g.diffusion_order, g.dropout) == (4, 2, 2, 10, 2, 0.3)
    s = STAEformerConfig()
    assert (s.input_embedding_dim, s.tod_embedding_dim, s.dow_embedding_dim, s.adaptive_embedding_dim) == (24, 24, 24, 80)
    assert (s.feed_forward_dim, s.heads, s.temporal_layers, s.spatial_layers, s.dropout) == (256, 4, 3, 3, 0.1)
    assert s.model_dim == 152


# -- Graph WaveNet -------------------------------------------------------------------------------


def test_adaptive_adjacency_is_row_softmax_of_relu() -> None:
    e1 = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])  # [3, 2]
    e2 = torch.tensor([[1.0, -1.0, 0.0], [0.0, 2.0, -1.0]])  # [2, 3]
    # E1 E2 = [[1, -1, 0], [0, 2, -1], [1, 1, -1]]; ReLU -> [[1, 0, 0], [0, 2, 0], [1, 1, 0]]
    e, e2_ = math.e, math.e**2
    expected = torch.tensor(
        [
            [e / (e + 2), 1 / (e + 2), 1 / (e + 2)],
            [1 / (e2_ + 2), e2_ / (e2_ + 2), 1 / (e2_ + 2)],
            [e / (2 * e + 1), e / (2 * e + 1), 1 / (2 * e + 1)],
        ]
    )
    got = adaptive_adjacency(e1, e2)
    torch.testing.assert_close(got, expected)
    torch.testing.assert_close(got.sum(dim=1), torch.ones(3))

    # The model's last support is exactly this matrix of its own node embeddings.
    model = build("gwnet", tiny_forecast(ADJ), TINY_GWNET.replace(adaptive_dim=2))
    with torch.no_grad():
        model.nodevec1.copy_(e1)
        model.nodevec2.copy_(e2)
    torch.testing.assert_close(model.supports()[-1], expected)


def test_transition_matrices_by_hand() -> None:
    fwd, bwd = transition_matrices(ADJ)
    # rows of A: [0, 2, 0] / 2, [1, 0, 1] / 2, [0, 0.5, 0] / 0.5
    torch.testing.assert_close(fwd, torch.tensor([[0.0, 1.0, 0.0], [0.5, 0.0, 0.5], [0.0, 1.0, 0.0]]))
    # rows of A^T: [0, 1, 0] / 1, [2, 0, 0.5] / 2.5, [0, 1, 0] / 1
    torch.testing.assert_close(bwd, torch.tensor([[0.0, 1.0, 0.0], [0.8, 0.0, 0.2], [0.0, 1.0, 0.0]]))
    zero_row = transition_matrices(np.array([[0.0, 1.0], [0.0, 0.0]]))
    torch.testing.assert_close(zero_row[0], torch.tensor([[0.0, 1.0], [0.0, 0.0]]))  # no 0/0


def test_supports_with_and_without_adjacency() -> None:
    with_adj = build("gwnet", tiny_forecast(ADJ))
    assert len(with_adj.supports()) == 3
    torch.testing.assert_close(torch.stack(with_adj.supports()[:2]), transition_matrices(ADJ))
    without = build("gwnet", tiny_forecast(None))
    assert len(without.supports()) == 1
    # graph conv input: (1 + S * order) * dilation channels
    assert with_adj.graph_convs[0].mlp.in_channels == (1 + 3 * 2) * 4
    assert without.graph_convs[0].mlp.in_channels == (1 + 1 * 2) * 4


def test_order_two_diffusion_by_hand() -> None:
    a = torch.tensor([[0.0, 1.0, 0.0], [0.0, 0.0, 1.0], [0.5, 0.0, 0.5]])
    h = torch.tensor([1.0, 2.0, 3.0]).reshape(1, 1, 3, 1)  # [B=1, C=1, N=3, L=1]
    # h'[w] = sum_v a[v, w] h[v]: [0.5*3, 1*1, 1*2 + 0.5*3] = [1.5, 1, 3.5]
    # h''   = [0.5*3.5, 1*1.5, 1*1 + 0.5*3.5] = [1.75, 1.5, 2.75]
    out = diffusion(h, [a], order=2)  # [1, 3, 3, 1]
    expected = torch.tensor([[1.0, 2.0, 3.0], [1.5, 1.0, 3.5], [1.75, 1.5, 2.75]]).reshape(1, 3, 3, 1)
    torch.testing.assert_close(out, expected)
    # Two supports stack as [h, A h, A A h, I h, I I h].
    out2 = diffusion(h, [a, torch.eye(3)], order=2)
    assert out2.shape == (1, 5, 3, 1)
    torch.testing.assert_close(out2[:, 3:], h.expand(1, 2, 3, 1))


def input_sensitivity(model: torch.nn.Module, batch: STBatch) -> torch.Tensor:
    """``[T_in]`` summed |d output / d x| per input step (exact zeros outside the receptive field)."""
    x = batch.x.clone().requires_grad_(True)
    model(dataclasses.replace(batch, x=x)).sum().backward()
    return x.grad.abs().sum(dim=(0, 2, 3))  # [T_in]


def test_receptive_field_is_causal_and_padded() -> None:
    fc = tiny_forecast(ADJ)
    batch = a_batch(fc)
    small = TINY_GWNET.replace(blocks=1, layers=2)  # 1 + 1 + 2 = 4 steps
    model = build("gwnet", fc, small).eval()
    assert model.receptive_field == 4
    sens = input_sensitivity(model, batch)
    assert torch.all(sens[: T_IN - 4] == 0)  # outside the receptive field: no effect at all
    assert torch.all(sens[T_IN - 4 :] > 0)
    with torch.no_grad():
        early = batch.x.clone()
        early[:, : T_IN - 4] += 5.0
        assert torch.equal(model(dataclasses.replace(batch, x=early)), model(batch))
    # The paper's sizes: receptive field 13, the 12 input steps padded by one, every step reaches
    # the output (step 0 through one path only, so its influence is small but not zero).
    full = build("gwnet", fc, GWNetConfig(dropout=0.0)).eval()
    assert full.receptive_field == 13
    assert torch.all(input_sensitivity(full, batch) > 0)


def test_evaluation_computes_the_skips_at_the_last_step_only_with_the_same_forecast() -> None:
    fc = tiny_forecast(ADJ)
    batch = a_batch(fc)
    for cfg in (TINY_GWNET.replace(blocks=1, layers=2), GWNetConfig(dropout=0.0)):  # L' > 1, and = 1
        model = build("gwnet", fc, cfg).eval()
        assert model._skip_input(torch.ones(1, 1, 1, 5)).shape == (1, 1, 1, 1)
        with torch.no_grad():
            fast = model(batch)
            model._skip_input = lambda h: h  # every step, as in training
            full = model(batch)
        # the same sums, in an order the CPU's kernel picks: bit for bit on an Intel Xeon, one
        # unit in the last place apart on an AMD EPYC (1.9e-6 at 28.8)
        ulp = torch.finfo(torch.float32).eps * torch.maximum(fast.abs(), full.abs())
        assert torch.all((fast - full).abs() <= ulp)
    training = build("gwnet", fc, TINY_GWNET).train()
    assert training._skip_input(torch.ones(1, 1, 1, 5)).shape == (1, 1, 1, 5)


# -- STAEformer ----------------------------------------------------------------------------------


def test_staeformer_is_node_equivariant_given_its_adaptive_embedding() -> None:
    fc = tiny_forecast(None, LAGS)
    model = build("staeformer", fc).eval()
    batch = a_batch(fc, lags=2)
    perm = torch.tensor([2, 0, 1])
    permuted = build("staeformer", fc).eval()
    with torch.no_grad():
        permuted.adaptive.copy_(model.adaptive[:, perm])
        permuted.unscale.mean.copy_(model.unscale.mean)
        p_batch = dataclasses.replace(batch, x=batch.x[:, :, perm], lookback=batch.lookback[:, :, :, perm])
        torch.testing.assert_close(permuted(p_batch), model(batch)[:, :, perm], atol=1e-5, rtol=1e-5)
        # Without permuting the embedding, the nodes are distinguishable.
        assert not torch.allclose(model(p_batch), model(batch)[:, :, perm], atol=1e-3)


def test_staeformer_target_lookback_adds_a_linear_term() -> None:
    fc = tiny_forecast(None, LAGS)
    model = build("staeformer", fc).eval()
    batch = a_batch(fc, lags=2)
    zeroed = batch.lookback.clone()
    zeroed[:, :, T_IN:] = 0.0
    with torch.no_grad():
        diff = model(batch) - model(dataclasses.replace(batch, lookback=zeroed))  # [B, T_out, N, 1]
    w = model.lookback_proj.weight  # [T_out*C_out, P*T_out*C_out]
    std = model.unscale.std  # [1]
    for b in range(2):
        for n in range(N):
            flat = batch.lookback[b, :, T_IN:, n, :].reshape(-1)  # [P*T_out*C_out], order (P, T_out, C_out)
            expected = (w @ flat).reshape(T_OUT, 1) * std  # [T_out, C_out]
            torch.testing.assert_close(diff[b, :, n], expected, atol=1e-5, rtol=1e-4)


def test_staeformer_has_no_calendar_lookup_tables() -> None:
    model = build("staeformer", tiny_forecast(None))
    assert not any(isinstance(m, torch.nn.Embedding) for m in model.modules())
    # Time of day and day of week still matter, through the continuous calendar features.
    fc = tiny_forecast(None)
    batch = a_batch(fc)
    model.eval()
    with torch.no_grad():
        base = model(batch)
        assert not torch.allclose(model(dataclasses.replace(batch, x_dow=(batch.x_dow + 1) % 7)), base)
        assert not torch.allclose(
            model(dataclasses.replace(batch, x_tod=(batch.x_tod + 1) % STEPS_PER_DAY)), base
        )


def test_optional_parts_can_be_switched_off() -> None:
    fc = tiny_forecast(None, LAGS)
    batch = a_batch(fc, b=2, lags=2)
    gw = build("gwnet", fc, TINY_GWNET.replace(calendar_input=False)).eval()
    assert gw.start_conv.in_channels == 2 + 2 * 1  # C + P * C_out
    stae_cfg = TINY_STAE.replace(tod_embedding_dim=0, dow_embedding_dim=0, adaptive_embedding_dim=0, heads=1)
    stae = build("staeformer", fc, stae_cfg).eval()
    assert stae.adaptive is None and stae.tod_proj is None and stae.dow_proj is None
    with torch.no_grad():
        assert gw(batch).shape == stae(batch).shape == (2, T_OUT, N, 1)


@pytest.mark.parametrize("kind", ["gwnet", "staeformer"])
def test_lookback_switch_off_ignores_the_lookback(kind: str) -> None:
    fc = tiny_forecast(ADJ, LAGS)
    cfg = (TINY_GWNET if kind == "gwnet" else TINY_STAE).replace(lookback=False)
    model = build(kind, fc, cfg).eval()
    batch = a_batch(fc, lags=2)
    with torch.no_grad():
        assert torch.equal(model(batch), model(dataclasses.replace(batch, lookback=None)))
    assert model.lookback_lags == 0


def test_the_best_epoch_comes_back_with_its_batchnorm_statistics() -> None:
    """Graph WaveNet's BatchNorm running statistics are buffers, not parameters: the engine kept
    only trainable parameters, so the model it returned (and scored on test) had the best epoch's
    weights but the last epoch's statistics (val MAE 2.4086 against the recorded 2.3999 here)."""
    from stvlm.baselines.gwnet import GWNetBaseline
    from stvlm.configs import TrainConfig
    from stvlm.engine import Engine
    from stvlm.seed import seed_everything

    fc = tiny_forecast(ADJ, LAGS)
    cfg = TrainConfig(epochs=12, batch_size=4, lr=0.05, patience=100, device="cpu", warmup=0.0, num_threads=1,
                      schedule="constant")
    seed_everything(0)
    engine = Engine(GWNetBaseline(TINY_GWNET).build(fc), fc, cfg)
    result = engine.fit()
    assert result.best_epoch < len(result.history)  # the last epoch is not the best one
    assert engine.evaluate("val")["mae"] == result.best_val["mae"]
