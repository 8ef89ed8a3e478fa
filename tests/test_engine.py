"""The training engine: early stopping, best weights, callbacks, and exact resume."""

from __future__ import annotations

from dataclasses import asdict

import numpy as np
import pytest
import torch

from stvlm.baselines.stid import STIDConfig
from stvlm.baselines import build_baseline
from stvlm.configs import FewShotConfig, TrainConfig
from stvlm.data.pipeline import prepare_forecast
from stvlm.data.protocols import resolve_protocol
from stvlm.data.series import DatasetInfo, SpatioTemporalData
from stvlm.engine import Engine, EngineState, EpochRecord, load_trainable_state, trainable_state
from stvlm.weights import WeightAverage


def forecast():
    t, n = 160, 3
    steps = np.arange(t)[:, None]
    rng = np.random.default_rng(0)
    values = (10 + 5 * np.sin(2 * np.pi * steps / 24) + rng.normal(0, 0.5, (t, n)) + np.arange(n))[..., None]
    info = DatasetInfo(name="toy", folder="TOY", title="toy", description="toy", nodes=n, steps=t,
                       interval_minutes=60, channels=("v",), units=("u",))
    data = SpatioTemporalData(info=info, values=values.astype(np.float32), tod=steps[:, 0] % 24,
                              dow=(steps[:, 0] // 24) % 7)
    return prepare_forecast(data, resolve_protocol("standard", info, t), FewShotConfig())


def stid(fc, seed: int = 0):
    torch.manual_seed(seed)
    return build_baseline("stid", {"embed_dim": 8, "node_dim": 4, "tod_dim": 4, "dow_dim": 4}).build(fc)


def test_trains_and_restores_the_best_weights() -> None:
    fc = forecast()
    engine = Engine(stid(fc), fc, TrainConfig(epochs=6, batch_size=16, lr=1e-2, patience=10))
    before = engine.evaluate("val")["mae"]
    result = engine.fit()
    assert result.epochs_run == 6 and not result.stopped_early
    vals = [h.val["mae"] for h in result.history]
    assert result.best_epoch == int(np.argmin(vals)) + 1
    assert result.best_val["mae"] == min(vals) < before
    assert engine.evaluate("val")["mae"] == min(vals)  # the model ends with its best weights
    assert [h.windows_seen for h in result.history] == [fc.num_windows("train") * e for e in range(1, 7)]


def test_early_stopping_after_patience_epochs_without_improvement() -> None:
    fc = forecast()
    # A learning rate too small to change the metric: epoch 1 is the best, then no improvement.
    engine = Engine(stid(fc), fc, TrainConfig(epochs=20, batch_size=16, lr=1e-30, patience=2))
    result = engine.fit()
    assert (result.best_epoch, result.epochs_run, result.stopped_early) == (1, 3, True)


def test_a_run_that_reaches_its_cap_did_not_stop_early() -> None:
    """The last allowed epoch may also use up the patience: the run still ran every epoch."""
    fc = forecast()
    engine = Engine(stid(fc), fc, TrainConfig(epochs=3, batch_size=16, lr=1e-30, patience=2))
    result = engine.fit()
    assert (result.best_epoch, result.epochs_run, result.stopped_early) == (1, 3, False)


def test_callback_can_stop_training() -> None:
    fc = forecast()
    seen = []

    def stop_at_two(record, state) -> bool:
        seen.append((record.epoch, state.epoch))
        return record.epoch == 2

    result = Engine(stid(fc), fc, TrainConfig(epochs=5, batch_size=16)).fit(callbacks=[stop_at_two])
    assert seen == [(1, 1), (2, 2)] and result.epochs_run == 2 and result.stopped_early


CUDA = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


@pytest.mark.parametrize(("ema_decay", "augment_scale", "device"),
                         [(0.0, 1.0, "cpu"), (0.5, 1.0, "cpu"), (0.0, 1.5, "cpu"),
                          pytest.param(0.0, 1.0, "cuda", marks=CUDA)])
def test_resume_reproduces_the_uninterrupted_run_exactly(tmp_path, ema_decay, augment_scale, device) -> None:
    """On CUDA, dropout draws from the device's generator, which fit() re-seeds: the state keeps
    it too (a resumed GPU run replayed epoch 1's dropout masks before)."""
    fc = forecast()
    cfg = TrainConfig(epochs=4, batch_size=16, lr=5e-3, seed=7, patience=10, ema_decay=ema_decay,
                      augment_scale=augment_scale, device=device)
    full_engine = Engine(stid(fc), fc, cfg)
    full = full_engine.fit()

    saved = tmp_path / "state.pt"

    def interrupt(record, state) -> bool:
        state.save(saved)
        return record.epoch == 2

    Engine(stid(fc), fc, cfg).fit(callbacks=[interrupt])
    state = EngineState.load(saved)
    assert (state.cuda_rng_state is None) == (device == "cpu")
    resumed_engine = Engine(stid(fc, seed=123), fc, cfg)  # different init: the state must win
    resumed = resumed_engine.fit(resume=state)
    def timeless(history):
        return [{k: v for k, v in asdict(h).items() if k != "seconds"} for h in history]

    assert timeless(resumed.history) == timeless(full.history)
    for name, tensor in trainable_state(full_engine.model).items():
        torch.testing.assert_close(trainable_state(resumed_engine.model)[name], tensor, rtol=0, atol=0)


def test_state_round_trip(tmp_path) -> None:
    record = EpochRecord(epoch=1, train_loss=0.5, val={"mae": 1.5}, seconds=2.0, windows_seen=16, is_best=True)
    state = EngineState(epoch=3, best_metric=1.5, history=[record], model_state={"w": torch.ones(2)})
    state.save(tmp_path / "s.pt")
    loaded = EngineState.load(tmp_path / "s.pt")
    assert (loaded.epoch, loaded.best_metric, loaded.history) == (3, 1.5, [record])  # records, not dicts
    torch.testing.assert_close(loaded.model_state["w"], torch.ones(2))
    assert not list(tmp_path.glob("*.tmp"))


def test_predict_order_and_shape() -> None:
    fc = forecast()
    engine = Engine(stid(fc), fc, TrainConfig(epochs=1, batch_size=7))
    pred = engine.predict("test")
    assert pred.shape == fc.targets("test").shape
    # Batch size does not change the predictions (window order is the split's order).
    np.testing.assert_allclose(engine.predict("test", batch_size=64), pred, rtol=1e-6, atol=1e-6)


def test_predict_hands_its_windows_to_gather_even_when_it_has_none() -> None:
    """A data-parallel rank may hold no window of a part: predict still hands ``gather`` a
    ``[0, T_out, N, C_out]`` array, and whatever ``gather`` returns is the prediction."""
    fc = forecast()
    shape = fc.targets("val").shape  # [W, T_out, N, C_out]

    class NoWindows:  # this rank's share of every evaluation part is empty
        def __getattr__(self, name):
            return getattr(fc, name)

        def batches(self, part, batch_size, **kwargs):
            return iter(())

        def gather(self, part, pred):
            handed.append(pred)
            return np.ones(shape, dtype=np.float32)

    handed: list[np.ndarray] = []
    engine = Engine(stid(fc), NoWindows(), TrainConfig(epochs=1))
    pred = engine.predict("val")
    assert [h.shape for h in handed] == [(0, *shape[1:])] and handed[0].dtype == np.float32
    assert pred.shape == shape and float(pred.sum()) == float(np.prod(shape))


def test_stid_config_in_use() -> None:
    assert STIDConfig(embed_dim=8).embed_dim == 8


def test_learning_rate_schedule_by_hand():
    import math

    import pytest

    from stvlm.engine import lr_factor

    cfg = TrainConfig(warmup=0.1, min_lr_ratio=0.0)  # 100 steps: 10 of warm-up
    assert [lr_factor(s, 100, cfg) for s in (0, 4, 9)] == [0.1, 0.5, 1.0]
    assert lr_factor(10, 100, cfg) == 1.0
    assert lr_factor(99, 100, cfg) == pytest.approx(0.0, abs=1e-12)
    assert lr_factor(10 + 89 // 2, 100, cfg) == pytest.approx(0.5 * (1 + math.cos(math.pi * 44 / 89)))
    flat = TrainConfig(warmup=0.0, schedule="constant")
    assert {lr_factor(s, 50, flat) for s in range(50)} == {1.0}
    floor = TrainConfig(warmup=0.0, min_lr_ratio=0.05)
    assert lr_factor(49, 50, floor) == pytest.approx(0.05)


@pytest.mark.parametrize("loss_mask, expected", [("observed", 2.0), ("protocol", 3.0), ("both", 2.5)])
def test_loss_masks_by_hand(loss_mask, expected) -> None:
    """Targets 0 (a real zero count), 2 and 4, NaN (missing), prediction 0: 'observed' scores
    every observation (|0|, |2|, |4| -> 2), 'protocol' only true > 0 (3), 'both' their mean."""
    fc = forecast()
    engine = Engine(stid(fc), fc, TrainConfig(loss_mask=loss_mask))
    true = torch.tensor([0.0, 2.0, 4.0, float("nan")]).reshape(1, 4, 1, 1)  # [B, T_out, N, C]
    assert engine._loss(torch.zeros_like(true), true).item() == expected


@pytest.mark.parametrize("loss_mask, expected", [("observed", 2.0), ("protocol", 2.0), ("both", 2.0)])
def test_an_unmasked_protocol_never_trains_on_a_nan_target(loss_mask, expected) -> None:
    """Under tgcn the protocol's mask is "none": its loss is still over the observed entries (a
    NaN target gave a NaN loss)."""
    fc = forecast()
    engine = Engine(stid(fc), fc, TrainConfig(loss_mask=loss_mask))
    engine.mask_rule = "none"
    true = torch.tensor([0.0, 2.0, 4.0, float("nan")]).reshape(1, 4, 1, 1)  # [B, T_out, N, C]
    assert engine._loss(torch.zeros_like(true), true).item() == expected


def test_both_masks_train_exactly_as_observed_where_no_observed_zero_is_masked() -> None:
    """The toy series has no zeros, so both masks select the same entries: 'both' averages two
    identical losses and must train bit for bit as 'observed' (what lets ST-VLM's default
    ``loss_mask = both`` leave los-loop and sz-taxi as they were)."""
    fc = forecast()
    states = []
    for loss_mask in ("observed", "both"):
        engine = Engine(stid(fc), fc, TrainConfig(epochs=2, batch_size=16, lr=1e-2, loss_mask=loss_mask))
        history = engine.fit().history
        states.append(([h.train_loss for h in history], trainable_state(engine.model)))
    assert states[0][0] == states[1][0]
    assert all(torch.equal(states[0][1][k], states[1][1][k]) for k in states[0][1])


def test_start_candidate_keeps_the_start_when_no_epoch_beats_it() -> None:
    """A learning rate that wrecks the model: the untrained start stays the checkpoint."""
    fc = forecast()
    model = stid(fc)
    start = {k: v.clone() for k, v in trainable_state(model).items()}
    engine = Engine(model, fc, TrainConfig(epochs=20, batch_size=16, lr=1e3, patience=2, start_candidate=True))
    before = engine.evaluate("val")
    result = engine.fit()
    assert (result.best_epoch, result.epochs_run, result.stopped_early) == (0, 2, True)
    assert result.best_val == before == result.start_val  # the start's validation metrics, not an epoch's
    assert not any(h.is_best for h in result.history)
    for name, tensor in trainable_state(engine.model).items():  # back at the start, bit for bit
        torch.testing.assert_close(tensor, start[name], rtol=0, atol=0)
    assert engine.evaluate("val") == before


@pytest.mark.parametrize("after_warmup, epochs_run", [(False, 2), (True, 6)])
def test_patience_after_warmup_lets_the_warmup_finish(after_warmup, epochs_run) -> None:
    """The start out-scores every epoch (lr 1e3). Warm-up: 25% of 20 planned epochs, so it ends
    with epoch 5. Patience 2 counts epochs 1 and 2, or (after the warm-up) epochs 5 and 6."""
    fc = forecast()
    cfg = TrainConfig(epochs=20, batch_size=16, lr=1e3, patience=2, start_candidate=True, warmup=0.25,
                      patience_after_warmup=after_warmup)
    engine = Engine(stid(fc), fc, cfg)
    assert engine.planned_steps() % 4 == 0  # the warm-up is whole epochs
    result = engine.fit()
    assert (result.best_epoch, result.epochs_run, result.stopped_early) == (0, epochs_run, True)
    assert result.history[0].optimizer_steps * 5 == engine.planned_steps() // 4  # epoch 5 ends it


def test_start_candidate_leaves_training_as_it_was() -> None:
    """Scoring the start draws no random number: the epochs are those of a run without it, and
    an epoch that beats the start is kept as before."""
    fc = forecast()
    cfg = TrainConfig(epochs=4, batch_size=16, lr=1e-2, seed=3, patience=10)
    plain = Engine(stid(fc), fc, cfg).fit()
    engine = Engine(stid(fc), fc, cfg.replace(start_candidate=True))
    with_start = engine.fit()
    assert [(h.train_loss, h.val) for h in with_start.history] == [(h.train_loss, h.val) for h in plain.history]
    assert with_start.best_epoch == plain.best_epoch >= 1 and with_start.best_val == plain.best_val
    assert plain.start_val == {} and with_start.start_val["mae"] > with_start.best_val["mae"]  # beaten
    assert engine.evaluate("val") == plain.best_val


def test_start_candidate_is_scored_once_across_a_resume(tmp_path) -> None:
    fc = forecast()
    cfg = TrainConfig(epochs=3, batch_size=16, lr=1e3, seed=1, patience=10, start_candidate=True)
    full = Engine(stid(fc), fc, cfg).fit()
    saved = tmp_path / "state.pt"

    def interrupt(record, state) -> bool:
        state.save(saved)
        return record.epoch == 1

    Engine(stid(fc), fc, cfg).fit(callbacks=[interrupt])
    state = EngineState.load(saved)
    assert state.best_epoch == 0 and state.start_val == full.best_val
    resumed_engine = Engine(stid(fc, seed=99), fc, cfg)  # another init: the saved start must win
    resumed = resumed_engine.fit(resume=state)
    assert (resumed.best_epoch, resumed.best_val) == (0, full.best_val)
    assert resumed_engine.evaluate("val") == full.best_val


@pytest.mark.parametrize("start_candidate", [False, True])
def test_a_monitor_the_validation_metrics_lack_is_refused_before_training(start_candidate) -> None:
    fc = forecast()
    cfg = TrainConfig(epochs=1, start_candidate=start_candidate)
    with pytest.raises(ValueError, match=r"^train.monitor = 'accuracy' is not a validation metric of "
                       r"protocol 'standard'; allowed: mae, .*"
                       r", wape_h6, or a mean: mae_both$"):
        Engine(stid(fc), fc, cfg.replace(monitor="accuracy"))
    assert Engine(stid(fc), fc, cfg.replace(monitor="mae_h12")).monitor == "mae_h12"
    assert Engine(stid(fc), fc, cfg.replace(monitor="mae_both")).monitor == "mae_both"


def test_a_monitor_where_larger_is_better_is_refused() -> None:
    """Early stopping keeps the smallest value; the check runs before the model or data is used."""
    from types import SimpleNamespace

    from stvlm.data.protocols import Protocol

    protocol = Protocol(name="tiny", input_len=1, output_len=2, report_horizons=(2,), pooling="step",
                        overall="pooled", split=(0.6, 0.2, 0.2), metrics=("mae", "r2"))
    with pytest.raises(ValueError, match=r"^train.monitor = 'r2_h2' is better when larger; early stopping "
                       r"keeps the smallest value, so monitor an error \(mae, rmse, ...\)$"):
        Engine(torch.nn.Identity(), SimpleNamespace(protocol=protocol), TrainConfig(monitor="r2_h2"))
    with pytest.raises(ValueError, match=r"^train.monitor = 'mae_both' is not a validation metric of protocol "
                       r"'tiny' \(it averages 'mae_all', which it lacks\); allowed: mae, mae_h2, r2, "
                       r"r2_h2, or a mean: mae_both$"):
        Engine(torch.nn.Identity(), SimpleNamespace(protocol=protocol), TrainConfig(monitor="mae_both"))


def test_ema_update_by_hand() -> None:
    """One averaging step with decay 0.75: 0.75 * 1 + 0.25 * 3 = 1.5 for every trainable weight;
    the average starts at the model's weights, and a decay outside [0, 1) is refused."""
    fc = forecast()
    model = stid(fc)
    with torch.no_grad():
        for p in model.parameters():
            p.fill_(1.0)
    average = WeightAverage(model, 0.75)
    with torch.no_grad():
        for p in model.parameters():
            p.fill_(3.0)
    average.update(model)
    state = average.state()
    assert state and state.keys() == trainable_state(model).keys()
    assert all(torch.equal(v, torch.full_like(v, 1.5)) for v in state.values())
    with average.applied(model):
        assert all(torch.equal(v, torch.full_like(v, 1.5)) for v in trainable_state(model).values())
    assert all(torch.equal(v, torch.full_like(v, 3.0)) for v in trainable_state(model).values())
    with pytest.raises(ValueError, match="decay 1.0 is outside"):
        WeightAverage(model, 1.0)


def test_ema_validates_keeps_and_restores_the_average_while_training_the_raw_weights() -> None:
    """One optimizer step per epoch, decay 0.5: epoch 1 is judged by 0.5 * start + 0.5 * w1,
    where w1 are the weights the same run without the average reaches (training is unchanged);
    that average is the checkpoint the model ends with."""
    fc = forecast()
    base = TrainConfig(epochs=1, batch_size=16, lr=1e-2, seed=2, max_batches_per_epoch=1)
    plain_engine = Engine(stid(fc), fc, base)
    start = {k: v.clone() for k, v in trainable_state(plain_engine.model).items()}
    plain_engine.fit()
    raw = trainable_state(plain_engine.model)  # w1: the only epoch is the best
    engine = Engine(stid(fc), fc, base.replace(ema_decay=0.5))
    states = []
    result = engine.fit(callbacks=[lambda record, state: states.append(state.model_state)])
    assert all(torch.equal(states[0][k], raw[k]) for k in raw)  # the raw weights trained as before
    expected = {k: start[k].clone().mul_(0.5).add_(raw[k], alpha=0.5) for k in raw}
    kept = trainable_state(engine.model)
    assert all(torch.equal(kept[k], expected[k]) for k in raw)
    assert not all(torch.equal(kept[k], raw[k]) for k in raw)  # the average, not the last weights
    check = Engine(stid(fc), fc, base)
    load_trainable_state(check.model, expected)
    assert result.history[0].val == check.evaluate("val") == engine.evaluate("val")


def test_ema_decay_must_be_below_one() -> None:
    with pytest.raises(ValueError, match="ema_decay"):
        TrainConfig(ema_decay=1.0)


class _Recorder(torch.nn.Module):
    """Predicts a learned constant and records the targets of every batch it sees, by mode."""

    def __init__(self) -> None:
        super().__init__()
        self.level = torch.nn.Parameter(torch.zeros(()))
        self.seen: dict[bool, list[torch.Tensor]] = {True: [], False: []}

    def forward(self, batch):
        self.seen[self.training].append(batch.y.clone())
        return self.level.expand_as(batch.y)


def test_augment_scale_rescales_the_training_windows_only() -> None:
    from stvlm.data.augment import level_factors

    fc = forecast()
    cfg = TrainConfig(epochs=2, batch_size=16, seed=3, augment_scale=2.0, patience=10)
    model = _Recorder()
    Engine(model, fc, cfg).fit()
    expected = []
    for epoch in range(2):  # the engine's draws: one generator per epoch, one factor per window
        levels = torch.Generator().manual_seed(3 * 1000 + epoch)
        for b in fc.batches("train", 16, shuffle=True, seed=3 * 1000 + epoch):
            factors = level_factors(len(b), 2.0, levels)
            expected.append(b.y * factors.view(-1, 1, 1, 1))
    assert len(model.seen[True]) == len(expected)
    for got, want in zip(model.seen[True], expected):
        torch.testing.assert_close(got, want, rtol=0, atol=0)
    plain = [b.y for e in range(2) for b in fc.batches("train", 16, shuffle=True, seed=3 * 1000 + e)]
    assert not any(torch.equal(g, p) for g, p in zip(model.seen[True], plain))  # every batch moved
    val = [b.y for b in fc.batches("val", cfg.eval_batch_size)] * 2  # validated once per epoch
    assert len(model.seen[False]) == len(val)
    for got, want in zip(model.seen[False], val):
        torch.testing.assert_close(got, want, rtol=0, atol=0)  # validation windows as they are


def test_the_kept_optimizer_state_is_a_cpu_copy_independent_of_the_optimizer() -> None:
    """EngineState.optimizer_state, taken every epoch: on a GPU a deep copy kept AdamW's moments
    twice in GPU memory; the copy is on the CPU like the kept weights, and loads back."""
    from stvlm.weights import cpu_copy

    layer = torch.nn.Linear(3, 2)
    opt = torch.optim.AdamW(layer.parameters(), lr=0.1)
    layer(torch.ones(1, 3)).sum().backward()
    opt.step()
    kept = cpu_copy(opt.state_dict())
    moment = opt.state_dict()["state"][0]["exp_avg"]
    assert torch.equal(kept["state"][0]["exp_avg"], moment) and kept["state"][0]["exp_avg"].device.type == "cpu"
    assert kept["param_groups"] == opt.state_dict()["param_groups"]
    opt.step()  # the optimizer moves on; the kept copy does not
    assert not torch.equal(kept["state"][0]["exp_avg"], opt.state_dict()["state"][0]["exp_avg"])
    again = torch.optim.AdamW(torch.nn.Linear(3, 2).parameters(), lr=0.1)
    again.load_state_dict(kept)
    assert torch.equal(again.state_dict()["state"][0]["exp_avg"], kept["state"][0]["exp_avg"])
    assert cpu_copy(((1, [2.0]), "x")) == ((1, [2.0]), "x")
