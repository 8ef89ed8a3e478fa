"""The optimisation settings of a run, shared by the engine and the neural baselines."""

from __future__ import annotations

from typing import Literal

from stvlm.configs.base import Config, config_class, field

#: ST-VLM's share of warm-up steps (``ExperimentConfig.default()``, the accuracy benchmark), chosen
#: on validation MAE (results/fewshot_accuracy/validation-warmup.json, seeds 0 and 1): its first
#: forecast is a fitted one (seasonal prior + ridge highway, head at zero) that full-lr Adam steps
#: disturb from the first epoch; 30% against 5% lowered validation MAE on nycbike-drop (261
#: windows, 2.107 -> 2.053), los-loop (3.117 -> 3.105) and nycbike1 (5.472 -> 5.400) at 10% and
#: left sz-taxi level (2.928 -> 2.930; 15% was the lowest there, 2.926, and between on the other
#: three, so the adoption rule of the later sweeps, which this one predates, would have taken 15%:
#: the results page's Selection caveat). Re-run under that rule at today's settings, written before
#: it ran (validation-warmup-now-80.json), 15% was worse on los-loop 10% (3.0032 -> 3.0366, seeds 0
#: and 1), so 30% stays. The baselines keep ``TrainConfig.warmup`` (STID was worse or mixed with 30%).
STVLM_WARMUP = 0.3

#: ST-VLM's own ``TrainConfig`` settings (``ExperimentConfig.default()`` and the accuracy
#: benchmark read them here): the warm-up above, and its fitted start kept as the checkpoint to
#: beat (``start_candidate``): in the validation runs (validation-warmup.json, 30% warm-up) the
#: start scored better than every trained epoch on nycbike-drop at 261 windows (validation MAE
#: 2.032 vs 2.051 / 2.054, seeds 0 / 1) and nycbike1 10% (5.393 vs 5.400), worse on los-loop
#: (3.237 vs 3.078 / 3.132) and sz-taxi (3.412 vs 2.931 / 2.930), where training keeps its best
#: epoch. Its loss is the mean of the all-entries and the masked loss (``loss_mask = "both"``),
#: chosen on validation (results/fewshot_accuracy/validation-both-masks.json, seeds 0 and 1) by
#: the mean of the two reported MAEs, the quantity that loss targets: it never lost to
#: ``"observed"`` on any count pair (mean over seeds) and won on three, nycbike-drop 10%
#: (1.900 -> 1.878), full (1.880 -> 1.875) and nycbike1 full (3.662 -> 3.660, masked 4.690 ->
#: 4.669 and all entries 2.635 -> 2.651: a trade); the start stayed best at ST-LLM's budget and on
#: nycbike1 10%. Where no observed zero is masked (los-loop, sz-taxi) the two losses are the same
#: tensor and ``"both"`` equals ``"observed"`` exactly. Its patience counts only epochs that end
#: with the warm-up done (``patience_after_warmup``), chosen on validation
#: (results/fewshot_accuracy/validation-patience-mlp.json, seeds 0 to 4, the target pairs, MLP
#: head): with patience from the start, los-loop 10% runs whose validation MAE rose while the
#: learning rate climbed ended at the warm-up's last epoch (12 of 40) with their best epoch at
#: 2 (seeds 1 and 4: 3.179 / 3.178); counted after it they train on into the cosine decay
#: (3.106 / 3.040, seed mean 3.094 -> 3.052). On the other four pairs every seed gave the same
#: validation MAE (the kept starts only ran 21 epochs instead of 10). Its training windows are
#: rescaled to random levels (``augment_scale`` 1.5), adopted on validation
#: (results/fewshot_accuracy/validation-augment-scale.json, 40 epochs: sz-taxi 10% trains past
#: its start, 2.9245 -> 2.9202, nycbike-drop 10% 1.8747 -> 1.8729, los-loop 10% worse, 3.052 ->
#: 3.093, ending at the cap; -80.json, the table's 80-epoch budget for los-loop: 3.0126 ->
#: 3.0019; the second rule was written after the first had failed).
#: Its early stopping and kept checkpoint read the mean of the masked and the all-entries
#: validation MAE (``monitor`` "mae_both"), the quantity its loss and the sweeps' rule target,
#: adopted by a rule written before it ran (results/fewshot_accuracy/validation-monitor.json,
#: seeds 0 to 4, the count pairs: lower on four, 1.8936 -> 1.8901 at ST-LLM's budget, 1.8796 ->
#: 1.8706 on nycbike-drop full; the same on nycbike1 10%); on speed data the two MAEs are equal
#: and so are the runs.
#: The baselines start from random weights and keep ``TrainConfig``'s defaults.
STVLM_TRAIN_SETTINGS: dict[str, float | bool | str] = {
    "warmup": STVLM_WARMUP, "start_candidate": True, "loss_mask": "both", "patience_after_warmup": True,
    "augment_scale": 1.5, "monitor": "mae_both"}


@config_class
class TrainConfig(Config):
    """Optimisation settings of one run (used by the engine and the neural baselines)."""

    epochs: int = field(40, ge=1, help="maximum number of epochs")
    batch_size: int = field(16, ge=1)
    eval_batch_size: int = field(64, ge=1, help="windows per batch when predicting val/test")
    lr: float = field(
        1e-3, gt=0.0,
        help="peak learning rate of AdamW. ST-VLM keeps 1e-3: 3e-4 and 1e-4 trained no run past its "
        "fitted start where 1e-3 keeps it and were worse on nycbike-drop 10% (validation-lr-now.json)",
    )
    weight_decay: float = field(1e-4, ge=0.0)
    patience: int = field(10, ge=1, help="epochs without validation improvement before stopping")
    grad_clip: float = field(5.0, ge=0.0, help="max gradient norm; 0 disables clipping")
    seed: int = field(0, ge=0, le=2**32 - 1, help="seed of torch, numpy and Python's random (numpy's limit: < 2**32)")
    device: Literal["auto", "cpu", "cuda"] = field("auto", help="'auto': CUDA when available")
    amp: bool = field(True, help="bf16 autocast on CUDA (ignored on CPU)")
    max_batches_per_epoch: int | None = field(
        None, ge=1, help="cap on training batches per epoch (smoke runs)"
    )
    num_threads: int | None = field(
        None, ge=1, help="torch CPU threads of the run, from the data and the model's build on "
        "(stvlm.experiment.prepare_run); default: torch's",
    )
    schedule: Literal["constant", "cosine"] = field(
        "cosine", help="learning-rate schedule over the planned optimizer steps (after warm-up)"
    )
    warmup: float = field(
        0.05, ge=0.0, lt=1.0, help="share of the planned optimizer steps with a linear warm-up"
    )
    min_lr_ratio: float = field(0.05, ge=0.0, le=1.0, help="cosine floor as a share of lr")
    patience_after_warmup: bool = field(
        False, identity="unless_default",
        help="count patience only for epochs that end with the warm-up done: early stopping cannot "
        "end a run while its learning rate is still rising (matters with a long warm-up and "
        "start_candidate, whose fitted start can out-score every warm-up epoch)",
    )
    ema_decay: float = field(
        0.0, ge=0.0, lt=1.0, identity="unless_default",
        help="exponential moving average of the trainable weights, per optimizer step (0 disables): "
        "each epoch is validated, kept as best and restored with the average, which starts at the "
        "model's initial weights (ST-VLM: its fitted start), not with the raw weights. ST-VLM "
        "keeps 0: 0.9 and 0.98 made los-loop 10% worse in every seed (validation-ema.json)",
    )
    augment_scale: float = field(
        1.0, ge=1.0, le=10.0, identity="unless_default",
        help="level augmentation of the training windows: each window's inputs, lookback and "
        "targets (target channels, original units) multiplied by one factor, log-uniform in "
        "[1/augment_scale, augment_scale], drawn anew every epoch (1 disables; "
        "stvlm.data.augment). Validation and test windows are never changed; ST-VLM's prompt "
        "is not rescaled (its statistics are the window's as it is). ST-VLM trains with 1.5 "
        "(STVLM_TRAIN_SETTINGS, chosen on validation); the baselines keep 1 (STID and the GRU "
        "were worse with it on validation at 10%), except the accuracy benchmark's GRU on sz-taxi "
        "full, where it met its own rule (stvlm.configs.pair_choices.BASELINE_TRAIN)",
    )
    start_candidate: bool = field(
        False,
        help="also score the untrained model on validation before the first step and keep it as "
        "the checkpoint to beat: when no epoch improves on it, training ends at its start "
        "(best_epoch 0). For a model whose start is already a fitted forecast (ST-VLM: seasonal "
        "prior + ridge highway, head at zero)",
    )
    monitor: str = field(
        "mae", identity="unless_default",
        help="validation metric of early stopping and the best checkpoint (lower is better): a "
        "result key of the protocol (mae, mae_all, rmse, mae_h3, ...) or a mean of them "
        "(stvlm.monitor.MONITOR_MEANS: mae_both, the mean of the masked and the all-entries MAE, "
        "which loss_mask 'both' trains on, ST-VLM's monitor: STVLM_TRAIN_SETTINGS, chosen on "
        "validation); checked against the protocol when training starts",
    )
    loss: Literal["mae", "mse", "huber"] = field(
        "mae", help="training loss in original units: mae (median), mse (mean), huber"
    )
    huber_delta: float = field(1.0, gt=0.0, help="Huber threshold in original units")
    loss_mask: Literal["observed", "protocol", "both"] = field(
        "observed",
        help="'observed': the loss skips only the dataset's missing values (a zero count is an "
        "observation); 'protocol': the protocol's metric mask (true > 0 under 'standard'); "
        "'both': the mean of the two losses (targets both reported metrics)",
    )


def without_stvlm_settings(train: TrainConfig) -> TrainConfig:
    """``train`` with the keys of :data:`STVLM_TRAIN_SETTINGS` back at ``TrainConfig``'s
    defaults: how the neural baselines train beside ST-VLM (the accuracy benchmark, studies on
    the ``benchmark`` and ``stvlm`` presets), from random starts, with every other setting (budget, batch,
    learning rate) shared."""
    defaults = TrainConfig()
    return train.replace(**{key: getattr(defaults, key) for key in STVLM_TRAIN_SETTINGS})
