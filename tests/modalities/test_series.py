"""Series tokens (ST-LLM style) and the latent compressor."""

from __future__ import annotations

import math

import pytest
import torch

from stvlm.errors import ConfigError
from stvlm.modalities.series import InstanceStats, LatentCompressor, SeriesTokenizer
from stvlm.configs import SeriesConfig

B, T, N, C, SPD = 2, 4, 5, 2, 24


def tokenizer(
    instance_norm: bool = False, out_dim: int = 7, time_encoding: str = "table", lags: int = 0,
    node_embedding: bool = True,
) -> SeriesTokenizer:
    torch.manual_seed(0)
    return SeriesTokenizer(
        SeriesConfig(dim=8, instance_norm=instance_norm, time_encoding=time_encoding,
                     node_embedding=node_embedding),
        num_nodes=N, input_len=T, in_channels=C, steps_per_day=SPD, out_dim=out_dim,
        lookback_lags=lags, output_len=3, out_channels=1,
    )


def inputs() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    torch.manual_seed(1)
    x = torch.randn(B, T, N, C)
    tod = torch.tensor([[3, 4, 5, 6], [20, 21, 22, 23]])
    dow = torch.tensor([[0, 0, 0, 0], [6, 6, 6, 6]])
    return x, tod, dow


def test_shape_and_xavier_tables() -> None:
    model = tokenizer()
    x, tod, dow = inputs()
    assert model(x, tod, dow).shape == (B, N, 7)
    assert model.node_emb.shape == (N, 8) and model.tod_emb.shape == (SPD, 8)
    assert model.dow_emb.shape == (7, 8)
    bound = (6 / (N + 8)) ** 0.5  # xavier uniform bound of a [N, D] table
    assert model.node_emb.abs().max() <= bound


def test_time_embedding_uses_the_last_step_only() -> None:
    model = tokenizer()
    x, tod, dow = inputs()
    ref = model(x, tod, dow)
    early_tod, early_dow = tod.clone(), dow.clone()
    early_tod[:, :-1] = 0
    early_dow[:, :-1] = 3
    assert torch.equal(model(x, early_tod, early_dow), ref)
    late = tod.clone()
    late[0, -1] = 7
    out = model(x, late, dow)
    assert not torch.allclose(out[0], ref[0]) and torch.equal(out[1], ref[1])


def test_exact_composition() -> None:
    model = tokenizer()
    x, tod, dow = inputs()
    out = model(x, tod, dow)
    b, n = 1, 3
    values = x[b, :, n, :].reshape(-1)  # the node's T*C values, time-major
    parts = torch.cat([
        model.value(values), model.node_emb[n], model.tod_emb[23] + model.dow_emb[6]
    ])
    assert torch.allclose(out[b, n], model.fuse(parts), atol=1e-6)


def test_a_node_token_sees_only_its_own_values() -> None:
    model = tokenizer()
    x, tod, dow = inputs()
    ref = model(x, tod, dow)
    x2 = x.clone()
    x2[:, :, 2] += 1.0
    out = model(x2, tod, dow)
    changed = (out - ref).abs().amax(dim=(0, 2)) > 0
    assert changed.tolist() == [False, False, True, False, False]


def test_instance_norm_stats_and_shift_invariance() -> None:
    model = tokenizer(instance_norm=True)
    x, tod, dow = inputs()
    ref = model(x, tod, dow)
    stats = model.last_stats
    assert stats.mean.shape == (B, 1, N, C) and stats.std.shape == (B, 1, N, C)
    assert torch.allclose(stats.mean, x.mean(dim=1, keepdim=True))
    shift = torch.randn(B, 1, N, C)
    assert torch.allclose(model(x + shift, tod, dow), ref, atol=1e-5)
    y = torch.randn(B, 3, N, 1)
    back = stats.denormalize(y)
    assert torch.allclose(back, y * stats.std[..., :1] + stats.mean[..., :1])


def test_instance_stats_of_a_tiny_window() -> None:
    x = torch.tensor([1.0, 3.0]).view(1, 2, 1, 1)
    stats = InstanceStats.of(x)
    assert stats.mean.item() == 2.0
    assert torch.isclose(stats.std, torch.tensor(1.0 + 1e-5).sqrt()).all()
    assert torch.allclose(stats.denormalize(stats.normalize(x)), x)
    assert tokenizer().last_stats is None


def test_gradients_reach_every_parameter() -> None:
    model = tokenizer()
    x, tod, dow = inputs()
    model(x, tod, dow).sum().backward()
    used = {"tod_emb": [6, 23], "dow_emb": [0, 6]}  # rows at the last steps of the batch
    for name, p in model.named_parameters():
        grad = p.grad[used[name]] if name in used else p.grad
        assert grad.abs().sum(dim=-1).min() > 0, name
    assert model.tod_emb.grad[:6].abs().sum() == 0  # earlier steps' rows are not used


def test_cyclic_time_and_lookback_exact_composition() -> None:
    model = tokenizer(time_encoding="cyclic", lags=2)
    x, tod, dow = inputs()
    torch.manual_seed(2)
    lookback = torch.randn(B, 2, T + 3, N, 1)  # [B, P, T_in + T_out, N, C_out]
    y_tod = torch.tensor([[7, 8, 9], [0, 1, 2]])  # the second window crosses midnight
    y_dow = torch.tensor([[0, 0, 0], [0, 0, 0]])  # ... into Monday
    out = model(x, tod, dow, lookback, y_tod, y_dow)
    b, n = 1, 3
    values = torch.cat([x[b, :, n, :].reshape(-1), lookback[b, :, :, n, 0].reshape(-1)])
    # Sunday 23:00 (tod 23 of 24) and Monday 00:00, by hand: sin/cos of 1 and 2 day harmonics,
    # sin/cos of the weekday, the weekend flag.
    a, w = 2 * math.pi * 23 / 24, 2 * math.pi * 6 / 7
    last = [math.sin(a), math.cos(a), math.sin(2 * a), math.cos(2 * a), math.sin(w), math.cos(w), 1.0]
    first = [0.0, 1.0, 0.0, 1.0, 0.0, 1.0, 0.0]
    time = model.time_proj(torch.tensor(last + first))
    parts = torch.cat([model.value(values), model.node_emb[n], time])
    assert torch.allclose(out[b, n], model.fuse(parts), atol=1e-5)
    # Without target times, the next step after the last input is used: the same here.
    assert torch.allclose(model(x, tod, dow, lookback), out, atol=1e-6)
    with pytest.raises(ConfigError, match="need a lookback of 2 lags"):
        model(x, tod, dow)


def test_cyclic_time_has_no_parameter_that_unseen_days_leave_untrained() -> None:
    """One backward on windows of a single weekday reaches every parameter a test window of any
    other day uses: no table row stays at its random initial value."""
    model = tokenizer(time_encoding="cyclic", lags=1)
    x, tod, dow = inputs()
    monday = torch.zeros_like(dow)  # training block: Mondays only
    lookback = torch.randn(B, 1, T + 3, N, 1)
    model(x, tod, monday, lookback).sum().backward()
    untrained = [name for name, p in model.named_parameters() if p.grad is None or not p.grad.any()]
    assert untrained == []
    assert not any(isinstance(m, torch.nn.Embedding) for m in model.modules())
    # The table encoding leaves unseen weekday rows untouched (why cyclic is the default).
    table = tokenizer(time_encoding="table")
    table(x, tod, monday).sum().backward()
    assert table.dow_emb.grad[1:].abs().sum() == 0


@pytest.mark.parametrize("node_embedding,time_encoding,parts", [
    (False, "none", 1), (False, "cyclic", 2), (True, "none", 2),
])
def test_tokens_without_node_or_time_part(node_embedding: bool, time_encoding: str, parts: int) -> None:
    """Without a node embedding or a calendar part, the token is the projection of the parts
    that remain (in the order values, node, time), and no parameter of the dropped part exists."""
    model = tokenizer(time_encoding=time_encoding, lags=1, node_embedding=node_embedding)
    x, tod, dow = inputs()
    lookback = torch.randn(B, 1, T + 3, N, 1)
    out = model(x, tod, dow, lookback)
    assert model.fuse.in_features == parts * 8
    assert (model.node_emb is None) is not node_embedding
    assert hasattr(model, "time_proj") is (time_encoding == "cyclic")
    b, n = 0, 2
    values = torch.cat([x[b, :, n, :].reshape(-1), lookback[b, :, :, n, 0].reshape(-1)])
    expected = [model.value(values)]
    if node_embedding:
        expected.append(model.node_emb[n])
    if time_encoding == "cyclic":
        expected.append(model.time_embedding(tod, dow)[b])
    assert torch.allclose(out[b, n], model.fuse(torch.cat(expected)), atol=1e-6)
    if not node_embedding and time_encoding == "none":
        # Shared by all nodes and all times: two nodes with the same values get the same token
        # (up to float rounding: a row's position in the batched matmul can change its last bit).
        x2, lb2 = x.clone(), lookback.clone()
        x2[:, :, 4], lb2[..., 4, :] = x2[:, :, 1], lb2[..., 1, :]
        tok = model(x2, tod, dow.roll(1, 0), lb2)
        torch.testing.assert_close(tok[:, 4], tok[:, 1], rtol=0, atol=1e-6)
        assert not torch.allclose(tok[:, 4], tok[:, 2], atol=1e-3)  # other values, another token


def test_errors() -> None:
    model = tokenizer()
    _, tod, dow = inputs()
    match = r"shape \(2, 4, 6, 2\); expected \[B, T_in=4, N=5, C=2\]"
    with pytest.raises(ConfigError, match=match):
        model(torch.zeros(2, 4, 6, 2), tod, dow)
    with pytest.raises(ConfigError, match="steps_per_day = 0 is not allowed"):
        SeriesTokenizer(
            SeriesConfig(), num_nodes=3, input_len=2, in_channels=1, steps_per_day=0, out_dim=4
        )
    with pytest.raises(ConfigError, match="heads = 3 does not divide dim = 8"):
        LatentCompressor(4, 8, 3)
    with pytest.raises(ConfigError, match="num_latents = 0 is not allowed"):
        LatentCompressor(0, 8, 2)


def test_compressor_shapes_and_symmetries() -> None:
    torch.manual_seed(0)
    comp = LatentCompressor(num_latents=3, dim=8, heads=2).eval()
    tokens = torch.randn(2, 6, 8)
    latents = comp.compress(tokens)
    assert latents.shape == (2, 3, 8)
    perm = torch.tensor([5, 2, 0, 1, 4, 3])
    assert torch.allclose(comp.compress(tokens[:, perm]), latents, atol=1e-6)  # node order free
    out = comp.expand(latents, tokens)
    assert out.shape == (2, 6, 8)
    assert torch.allclose(comp.expand(latents, tokens[:, perm]), out[:, perm], atol=1e-6)
    out.sum().backward()
    assert comp.latents.grad is not None and comp.latents.grad.abs().sum() > 0


def test_neighbour_mean_follows_each_nodes_own_features() -> None:
    # A path graph 0-1-2-3-4 with weights 1, except 1-2 at 3: node 1 sees (1 x node 0 + 3 x node 2) / 4.
    a = torch.zeros(N, N)
    for i, w in zip(range(N - 1), (1.0, 3.0, 1.0, 1.0)):
        a[i, i + 1] = a[i + 1, i] = w
    a += torch.eye(N)  # self loops are not neighbours
    plain = SeriesTokenizer(SeriesConfig(dim=8), num_nodes=N, input_len=T, in_channels=C,
                            steps_per_day=SPD, out_dim=7, neighbours=a)
    with_mean = SeriesTokenizer(SeriesConfig(dim=8, neighbours=True), num_nodes=N, input_len=T,
                                in_channels=C, steps_per_day=SPD, out_dim=7, neighbours=a)
    x, tod, dow = inputs()
    own = plain.node_features(x, None)  # [B, N, T*C]
    assert plain.nb_index is None and plain.feature_width == T * C  # off: the adjacency is unused
    feats = with_mean.node_features(x, None)
    assert with_mean.feature_width == 2 * T * C and feats.shape == (B, N, 2 * T * C)
    assert torch.equal(feats[..., : T * C], own)
    expected = torch.stack([own[:, 1], (own[:, 0] + 3 * own[:, 2]) / 4, (3 * own[:, 1] + own[:, 3]) / 4,
                            (own[:, 2] + own[:, 4]) / 2, own[:, 3]], dim=1)  # [B, N, T*C]
    assert torch.allclose(feats[..., T * C:], expected, atol=1e-6)
    assert with_mean(x, tod, dow).shape == (B, N, 7)
    no_graph = SeriesTokenizer(SeriesConfig(dim=8, neighbours=True), num_nodes=N, input_len=T,
                               in_channels=C, steps_per_day=SPD, out_dim=7)
    assert no_graph.feature_width == T * C  # no adjacency: nothing to mix


def test_neighbour_mean_carries_gradients_to_the_inputs() -> None:
    a = torch.ones(N, N)
    model = SeriesTokenizer(SeriesConfig(dim=8, neighbours=True), num_nodes=N, input_len=T,
                            in_channels=C, steps_per_day=SPD, out_dim=7, neighbours=a)
    x, _, _ = inputs()
    x.requires_grad_(True)
    model.node_features(x, None)[..., T * C:].sum().backward()
    assert torch.allclose(x.grad, torch.ones_like(x))  # each node's mean weights sum to 1 over N - 1 others
