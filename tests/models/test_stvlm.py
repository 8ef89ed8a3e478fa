"""The composed ST-VLM: every backbone x encoders x fusion depths, units, modalities, errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from stvlm.baselines import build_baseline
from stvlm.data.pipeline import prepare_forecast
from stvlm.data.protocols import Protocol
from stvlm.data.series import DatasetInfo, SpatioTemporalData
from stvlm.errors import ConfigError, UnknownNameError
from stvlm.models import STAGES, build_model
from stvlm.models.backbones import BACKBONES
from stvlm.configs import BackboneConfig, STVLMConfig
from tests.models.toy import N, T_IN, T_OUT, toy_forecast



@pytest.fixture(scope="module")
def forecast():
    """40 steps of 4 nodes with 2 channels (speed, flow), coordinates and a path graph."""
    return toy_forecast()


def config(name="vilt", encoding="grid_heatmap", depth=1, **kw) -> STVLMConfig:
    """The tiny preset; the head starts random (not at zero), so one backward reaches every
    upstream parameter (with the default zero head, gradients reach them from the second step)."""
    cfg = STVLMConfig.tiny()
    cfg = cfg.replace(head=cfg.head.replace(zero_init=False))
    kw.setdefault("use_image", name != "gpt2")
    return cfg.replace(
        backbone=BackboneConfig(name=name), image=cfg.image.replace(encoding=encoding),
        fusion=cfg.fusion.replace(depth=depth), **kw,
    )


def build(cfg, forecast, seed=0):
    torch.manual_seed(seed)
    return build_model(cfg, forecast)


@pytest.mark.parametrize("name", BACKBONES.names())
@pytest.mark.parametrize("encoding,depth", [
    ("grid_heatmap", 0), ("learnable", 1), ("spectral_grid", "late"), ("learnable", "all"),
    ("correlation", 2),
])
def test_forward_backward_for_every_backbone(forecast, name, encoding, depth):
    model = build(config(name, encoding, depth), forecast)
    batch = next(forecast.batches("train", 3))
    pred = model(batch)
    assert pred.shape == (3, T_OUT, N, 1) and torch.isfinite(pred).all()
    (pred - batch.y).abs().mean().backward()
    assert model.fusion.type_embedding.grad is not None
    assert all(p.grad is not None for p in model.head.parameters())
    if encoding == "learnable" and model.image_encoder is not None:
        grads = [p.grad for p in model.image_encoder.parameters()]
        assert grads and all(g is not None and g.abs().sum() > 0 for g in grads)


@pytest.mark.parametrize("name", BACKBONES.names())
@pytest.mark.parametrize("depth", [0, 1, "late", "all"])
def test_bfloat16_backbone_with_float32_encoders_and_head(forecast, name, depth):
    """BackboneConfig.dtype: the backbone computes in bfloat16, everything around it in float32,
    at every fusion depth; the forecast comes back float32 and every adapter gets a gradient
    (the backbone frozen: a low-precision backbone that trains is refused, below)."""
    cfg = config(name, "learnable", depth)
    cfg = cfg.replace(finetune=cfg.finetune.replace(strategy="frozen"))
    model = build(cfg.replace(backbone=cfg.backbone.replace(dtype="bfloat16")), forecast)
    assert {p.dtype for p in model.backbone.model.parameters()} == {torch.bfloat16}
    assert {p.dtype for p in model.head.parameters()} == {torch.float32}
    batch = next(forecast.batches("train", 3))
    pred = model(batch)
    assert pred.dtype == torch.float32 and torch.isfinite(pred).all()
    (pred - batch.y).abs().mean().backward()
    assert all(p.grad is not None for p in model.fusion.adapters.parameters())


@pytest.mark.parametrize("name", BACKBONES.names())
def test_every_trainable_parameter_gets_a_gradient(forecast, name):
    """No unused trainable parameter (DDP without find_unused_parameters needs this)."""
    cfg = config(name, "learnable")
    model = build(cfg.replace(finetune=cfg.finetune.replace(strategy="full")), forecast)
    model(next(forecast.batches("train", 2))).sum().backward()
    assert [n for n, p in model.named_parameters() if p.requires_grad and p.grad is None] == []


@pytest.mark.parametrize("dtype", ["bfloat16", "float16"])
@pytest.mark.parametrize("strategy", ["layernorm", "pfa", "lora", "full"])
def test_a_low_precision_backbone_whose_weights_train_is_refused(dtype, strategy):
    """AdamW on bfloat16 weights drops updates below half a rounding step (a norm's gain at 1.0
    stays 1.0 at lr 1e-3), and on float16 weights overflows; there is no master fp32 copy."""
    tiny = STVLMConfig.tiny()
    with pytest.raises(ConfigError, match=rf"^backbone.dtype = '{dtype}' with finetune.strategy = '{strategy}' "
                                          rf"trains backbone weights in {dtype}, where AdamW loses small updates"):
        tiny.replace(backbone=tiny.backbone.replace(dtype=dtype), finetune=tiny.finetune.replace(strategy=strategy))


@pytest.mark.parametrize("name", BACKBONES.names())
def test_every_buffer_is_a_constant_of_the_build(forecast, name):
    """Training steps in train and eval mode change no buffer, so DDP need not broadcast them
    (``broadcast_buffers=False`` in harness/runtime/train_driver.py: the broadcast also ran in
    evaluation, where ranks can run different batch counts, and NCCL would wait for ever)."""
    model = build(config(name, "learnable"), forecast)
    before = {n: b.clone() for n, b in model.named_buffers()}
    opt = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.1)
    for batch in list(forecast.batches("train", 2))[:2]:
        opt.zero_grad()
        model(batch).sum().backward()
        opt.step()
    with torch.no_grad():
        model.eval()(next(forecast.batches("val", 2)))
    after = dict(model.named_buffers())
    assert before.keys() == after.keys() and all(torch.equal(before[n], after[n]) for n in before)


def test_same_seed_gives_identical_outputs(forecast):
    batch = next(forecast.batches("val", 4))
    a = build(config(encoding="learnable"), forecast).eval()(batch)
    b = build(config(encoding="learnable"), forecast).eval()(batch)
    c = build(config(encoding="learnable"), forecast, seed=1).eval()(batch)
    assert torch.equal(a, b) and not torch.equal(a, c)


@pytest.mark.parametrize("instance_norm", [False, True])
def test_predictions_are_in_original_units(forecast, instance_norm):
    cfg = config()
    cfg = cfg.replace(head=cfg.head.replace(highway_init="zero"))  # the highway adds 0 too
    model = build(cfg.replace(series=cfg.series.replace(instance_norm=instance_norm)), forecast)
    with torch.no_grad():  # a head that predicts 0 in normalised units
        model.head.output_layer.weight.zero_()
        model.head.output_layer.bias.zero_()
    batch = next(forecast.batches("test", 2))
    pred = model.eval()(batch)
    mean, std = forecast.scaler.mean[0], forecast.scaler.std[0]
    if instance_norm:  # the window's own mean, per node
        raw = batch.x[..., 0] * std + mean  # [B, T_in, N]
        expected = raw.mean(dim=1, keepdim=True).expand(-1, T_OUT, -1)[..., None]
    else:  # the training mean
        expected = torch.full((2, T_OUT, N, 1), float(mean))
    torch.testing.assert_close(pred, expected.float(), atol=1e-4, rtol=1e-5)


@pytest.mark.parametrize("use_image,use_text,use_series,context", [
    (True, True, True, 64), (False, True, True, 32), (True, False, True, 32),
    (True, True, False, 64), (False, False, True, 0),
])
def test_modality_dropout(forecast, use_image, use_text, use_series, context):
    model = build(config(use_image=use_image, use_text=use_text, use_series=use_series), forecast)
    assert (model.image_encoder is not None, model.token_table is not None) == (use_image, use_text)
    assert hasattr(model, "series") == use_series and hasattr(model, "node_embedding") != use_series
    assert model.head.context_dim == context
    batch = next(forecast.batches("train", 2))
    assert model(batch).shape == (2, T_OUT, N, 1)


@pytest.mark.parametrize("name", ["vilt", "gpt2"])
@pytest.mark.parametrize("depth", [2, "late"])
def test_series_only_model_runs_at_every_depth(forecast, name, depth):
    """ST-LLM style: no text, no image; the ST tokens alone go through (or past) the blocks."""
    model = build(config(name, depth=depth, use_image=False, use_text=False), forecast)
    pred = model(next(forecast.batches("train", 2)))
    assert pred.shape == (2, T_OUT, N, 1) and torch.isfinite(pred).all()


def test_latent_compressor_keeps_the_node_output(forecast):
    cfg = config()
    model = build(cfg.replace(series=cfg.series.replace(num_latents=2)), forecast)
    assert model.compressor is not None and model.fusion.spatial is None
    assert model(next(forecast.batches("train", 2))).shape == (2, T_OUT, N, 1)


def test_token_table_covers_every_window_and_no_tokenizer_in_forward(forecast):
    model = build(config(), forecast)
    starts = np.concatenate([forecast.splits.part(p) for p in ("train_full", "val", "test")])
    ids, mask = model.token_table.lookup(torch.as_tensor(starts))
    assert ids.shape == (starts.size, 40) and mask.shape == (starts.size, 40)
    assert ids[:, 0].eq(2).all()  # [CLS]
    model.backbone.tokenizer = None  # forward must not need it
    model(next(forecast.batches("test", 2)))


def test_stage_timings_and_profiler_labels(forecast):
    model = build(config(), forecast)
    batch = next(forecast.batches("train", 2))
    with model.stage_timings() as timings:
        model(batch)
        model(batch)
    assert tuple(timings) == STAGES == ("image", "text", "series", "backbone", "head")
    assert all(v >= 0 for v in timings.values()) and timings["backbone"] > 0
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as prof:
        model(batch)
    names = {e.name for e in prof.events()}
    assert {f"stvlm.{s}" for s in STAGES} <= names


def test_build_errors(forecast):
    with pytest.raises(ConfigError) as err:
        build(config("gpt2").replace(use_image=True), forecast)
    assert str(err.value) == (
        "use_image = true is not allowed with backbone.name = 'gpt2' (no vision tower); set "
        "use_image = false or use one of: vilt, clip, siglip, smolvlm, qwen2-vl, qwen2.5-vl"
    )
    with pytest.raises(UnknownNameError) as err:
        build(config("blip"), forecast)
    assert str(err.value) == (
        "backbone.name = 'blip' is unknown; allowed: vilt, clip, siglip, smolvlm, qwen2-vl, "
        "qwen2.5-vl, gpt2"
    )
    with pytest.raises(UnknownNameError, match="image.encoding = 'photo' is unknown; allowed: "):
        build(config(encoding="photo"), forecast)
    cfg = config()
    with pytest.raises(ConfigError) as err:
        build(cfg.replace(text=cfg.text.replace(max_length=100)), forecast)
    assert str(err.value) == (
        "text.max_length = 100 is larger than the vilt backbone's 64 text positions; allowed: 4..64"
    )
    with pytest.raises(ConfigError, match="image.size = 30 does not fit backbone 'vilt'"):
        build(cfg.replace(image=cfg.image.replace(size=30)), forecast)
    with pytest.raises(ConfigError, match="fusion.depth = 7 is larger than the backbone's 2"):
        build(config(depth=7), forecast)
    with pytest.raises(ConfigError) as err:
        build(config("gpt2").replace(text=cfg.text.replace(max_length=510)), forecast)
    assert str(err.value) == (
        "the gpt2 backbone takes at most 512 tokens, but text + image + 4 ST tokens make 514; "
        "set series.num_latents (K tokens) or a shorter text.max_length"
    )


def daily_counts(values: np.ndarray, missing_value: float | None = None):
    """A forecast of six-hour steps (4 a day) with a one-day lookback (4 steps >= T_out = 3)."""
    t = values.shape[0]
    info = DatasetInfo(name="toy", folder="TOY", title="toy", description="Hand-made counts.",
                       nodes=N, steps=t, interval_minutes=360, channels=("count",), units=("n",))
    steps = np.arange(t)
    data = SpatioTemporalData(info=info, values=values, tod=steps % 4, dow=(steps // 4) % 7)
    proto = Protocol(name="standard", input_len=T_IN, output_len=T_OUT, report_horizons=(1, 3),
                     pooling="step", overall="horizon_mean", split=(0.6, 0.2, 0.2),
                     lookback_days=(1,), missing_value=missing_value)
    return prepare_forecast(data, proto)


@pytest.fixture(scope="module")
def lookback_forecast():
    """60 six-hour steps of 4 nodes (see daily_counts)."""
    rng = np.random.default_rng(1)
    return daily_counts((rng.random((60, N, 1)) * 50 + 1).astype(np.float32))


@pytest.mark.parametrize("name", ["vilt", "gpt2"])
def test_residual_head_starts_at_the_seasonal_prior(lookback_forecast, name):
    f = lookback_forecast
    assert f.lookback_lags == (4,)
    cfg = config(name, "node_time", 1)
    cfg = cfg.replace(head=cfg.head.replace(zero_init=True, highway_init="zero"))
    model = build(cfg, f).eval()
    batch = next(f.batches("test", 5))
    pred = model(batch)
    # Zero head and zero highway: the forecast is the lagged target values, unscaled.
    prior = batch.lookback[:, 0, T_IN:]  # [B, T_out, N, 1] scaled, one lag
    expected = prior * float(f.scaler.std[0]) + float(f.scaler.mean[0])
    assert torch.allclose(pred, expected, atol=1e-4)
    np.testing.assert_allclose(expected.numpy(), f.data.values[batch.start.numpy()[:, None] + T_IN - 4 + np.arange(T_OUT)], rtol=1e-5)
    # With two lags (one and two days) the start is their mean: the seasonal-mean baseline.
    two = prepare_forecast(f.data, f.protocol.replace(lookback_days=(1, 2)))
    assert two.lookback_lags == (4, 8)
    pred = build(cfg, two).eval()(next(two.batches("test", 5)))
    baseline = build_baseline("seasonal-mean").predict(two, "test")[:5]  # [B, T_out, N, 1]
    np.testing.assert_allclose(pred.detach().numpy(), baseline, rtol=1e-5)


def test_no_parameter_used_at_test_time_stays_untrained(lookback_forecast):
    """Three training steps on windows of a single day reach every trainable parameter (the zero
    head first, then the paths behind it, then LoRA's A behind its zero B), and no time table
    exists whose unseen rows test windows would read."""
    f = lookback_forecast
    cfg = config("vilt", "learnable", 1)
    model = build(cfg.replace(head=cfg.head.replace(zero_init=True)), f)  # the default head
    start = {n: p.detach().clone() for n, p in model.named_parameters() if p.requires_grad}
    opt = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.1)
    day_one = f.splits.train[f.data.dow[f.splits.train + T_IN - 1] == f.data.dow[f.splits.train[0] + T_IN - 1]]
    batch = next(f.batches("train", 100))
    keep = torch.isin(batch.start, torch.as_tensor(day_one))
    for _ in range(3):
        loss = (model(batch)[keep] - batch.y[keep]).abs().mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    untouched = [n for n, p in model.named_parameters() if p.requires_grad and torch.equal(p, start[n])]
    assert untouched == []
    time_tables = [n for n, _ in model.named_parameters() if "tod_emb" in n or "dow_emb" in n]
    assert time_tables == [] and not any(isinstance(m, torch.nn.Embedding) and m.num_embeddings in (4, 7)
                                         for m in model.series.modules())


@pytest.mark.parametrize("missing_value,targets", [(None, "observed"), (0.0, "observed"), (0.0, "all")])
def test_ridge_highway_start_is_the_least_squares_fit_of_the_training_windows(missing_value, targets):
    """With alpha = 0 the first forecast's residuals on the training entries it is fitted to
    (``head.highway_targets``: the observations, or every finite target, missing zeros included)
    are orthogonal to every highway input and to the bias (the normal equations), output by output."""
    rng = np.random.default_rng(3)
    values = (rng.random((60, N, 1)) * 50 + 1).astype(np.float32)
    values[rng.random(values.shape) < 0.2] = 0.0  # zeros: missing under missing_value = 0
    f = daily_counts(values, missing_value)
    cfg = config("vilt", "node_time", 1)
    cfg = cfg.replace(head=cfg.head.replace(zero_init=True, highway_init="ridge", highway_alpha=0.0,
                                            highway_targets=targets))
    model = build(cfg, f).eval()
    assert model.highway.weight.abs().sum() > 0
    batch = next(f.batches("train", 1000))
    with torch.no_grad():
        pred = model(batch).double()  # [W, T_out, N, 1]
        x, lookback, _, _ = model.normalized_inputs(batch)
        feats = model.series.node_features(x, lookback).double()  # [W, N, F]
    left_out = missing_value == 0.0 and targets == "observed"
    observed = batch.y != 0 if left_out else torch.ones_like(batch.y, dtype=torch.bool)
    resid = torch.where(observed, pred - batch.y.double(), torch.zeros_like(pred))[..., 0]  # [W, T_out, N]
    ones = feats.new_ones(*feats.shape[:2], 1)
    normal = torch.einsum("wtn,wnf->tf", resid, torch.cat([feats, ones], dim=-1))  # [T_out, F+1]
    scale = float(resid.abs().sum())
    assert scale > 1.0
    assert float(normal.abs().max()) < 1e-6 * scale * float(feats.abs().max())


def test_frozen_highway_keeps_its_ridge_start_through_training():
    rng = np.random.default_rng(3)
    f = daily_counts((rng.random((60, N, 1)) * 50 + 1).astype(np.float32), None)
    cfg = config("vilt", "node_time", 1)
    runs = {}
    for trainable in (True, False):
        cfg_t = cfg.replace(head=cfg.head.replace(highway_init="ridge", highway_trainable=trainable))
        model = build(cfg_t, f)
        start = model.highway.weight.detach().clone()
        assert model.highway.weight.requires_grad is trainable and model.head.output_layer.weight.requires_grad
        opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=1e-2)
        for batch in list(f.batches("train", 8))[:2]:
            opt.zero_grad()
            (model(batch) - batch.y).abs().mean().backward()
            opt.step()
        runs[trainable] = torch.equal(model.highway.weight, start)
    assert runs == {True: False, False: True}


def test_ridge_highway_start_needs_a_highway():
    head = STVLMConfig.tiny().head
    with pytest.raises(ConfigError, match=r"highway_init = 'ridge' needs highway = true"):
        head.replace(highway=False, highway_init="ridge")
    with pytest.raises(ConfigError, match=r"highway_init = 'auto' needs highway = true"):
        head.replace(highway=False)  # the default start is 'auto'
    assert head.replace(highway=False, highway_init="zero").highway is False


def test_auto_highway_start_keeps_the_ridge_fit_only_if_it_beats_the_prior_on_validation(lookback_forecast):
    from stvlm.models.warm_start import choose_highway_start, linear_start_mae

    f = lookback_forecast
    cfg = config("vilt", "node_time", 1)
    model = build(cfg.replace(head=cfg.head.replace(zero_init=True, highway_init="zero")), f).eval()
    p = f.protocol
    # The prior's MAE by hand: the one-day lag of every val target (original units), mask true > 0.
    true = f.targets("val")  # [W, T_out, N, 1]
    lagged = f.data.values[f.splits.val[:, None] + T_IN + np.arange(T_OUT)[None, :] - 4]  # [W, T_out, N, 1]
    by_hand = float(np.abs(lagged - true)[true > 0].mean())
    prior = linear_start_mae(model, f.batches("val", 7), mask_rule=p.mask, missing_value=None, highway=False)
    assert prior == pytest.approx(by_hand, rel=1e-5)
    for alpha in (0.0, 1e9):
        info = choose_highway_start(model, f, alpha=alpha, fit_missing_value=p.missing_value)
        assert info["val_mae_prior"] == pytest.approx(by_hand, rel=1e-5)
        assert info["start"] == ("ridge" if info["val_mae_ridge"] < info["val_mae_prior"] else "zero")
        zero = bool(model.highway.weight.abs().sum() == 0 and model.highway.bias.abs().sum() == 0)
        assert zero == (info["start"] == "zero")


@pytest.mark.timeout(300, method="thread")  # a regression spins in C, past the signal method's reach
def test_ridge_start_solves_wide_systems_under_several_threads():
    """pytorch#142815: a batched ``torch.linalg.solve`` of systems 151 wide or more, after
    ``torch.set_num_threads(2)``, spins forever in MKL on the CPU wheels (it hung ST-VLM's ridge
    start on nycbike1, 169 features, in Ray trials). The start's solver returns, exactly."""
    from stvlm.models.warm_start import _solve_ridge

    width, outputs = 160, 2
    gram = 3.0 * torch.eye(width, dtype=torch.float64).expand(outputs, width, width).contiguous()  # [O, F+1, F+1]
    rhs = torch.full((outputs, width), 12.0, dtype=torch.float64)  # [O, F+1]
    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        solution = _solve_ridge(gram, rhs, penalty=1.0, jitter=0.0)
    finally:
        torch.set_num_threads(threads)
    expected = torch.full((outputs, width), 3.0, dtype=torch.float64)  # 12 / (3 + 1)
    expected[:, -1] = 4.0  # the bias is not penalised: 12 / 3
    assert torch.equal(solution, expected)


def test_auto_highway_start_refuses_a_non_finite_score(lookback_forecast, monkeypatch):
    """A NaN validation MAE loses every comparison: it must stop the build, not reset the
    highway to zero as if the prior had won."""
    from stvlm.models import warm_start

    def nan_fit(model, batches, *, missing_value, alpha):
        torch.nn.init.constant_(model.highway.weight, float("nan"))

    monkeypatch.setattr(warm_start, "ridge_highway", nan_fit)
    f = lookback_forecast
    cfg = config("vilt", "node_time", 1)
    model = build(cfg.replace(head=cfg.head.replace(zero_init=True, highway_init="zero")), f).eval()
    with pytest.raises(ValueError, match=r"^highway start: the validation MAE of prior \+ ridge is not finite \(\d"):
        warm_start.choose_highway_start(model, f, alpha=1.0, fit_missing_value=None)
