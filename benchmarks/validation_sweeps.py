"""The sweeps of ``validation_runs.py``: each one's (dataset, setting) pairs, the model it trains
and its candidates (made of ``sweep_candidates.py``'s), with the rule a newer sweep wrote down before it ran (in the comment above
its entry of :data:`SWEEPS`; ``validation_runs.meets_rule`` applies most of them).

Sweeps (``--sweep``): ``training``: the shared lr 1e-3 against 3e-4 and 1e-4, weight decay 1e-2 and
head dropout 0.3, on the four datasets at 10% (nycbike-drop at ST-LLM's 261 windows);
``neighbours``: the node tokens and highway with and without their graph neighbours' mean
(``series.neighbours``), and ``neighbours-now`` the same at today's settings on the target pairs;
``highway``: the linear highway trained or kept at its start (``head.highway_trainable``);
``patience``: early stopping's patience counted from the start or only after the warm-up
(``patience_after_warmup``), on the five pairs where ST-VLM kept its start (linear head), and
``patience-mlp`` the same on the target pairs with the MLP head; ``both-masks``: the training loss
over every observation (``TrainConfig``'s default, ST-VLM's until f2d0b04) against the mean of it
and the masked loss (``loss_mask = "both"``), that with patience counted after the warm-up too, on
the count datasets' pairs (nycbike-drop at three budgets, nycbike1 at two); ``capacity``: how much
of the random backbone trains (LoRA rank 4 and 16, ST-LLM's partially frozen attention of the last
layer or both) and an MLP head (64 hidden) against the linear one, on the target pairs (the four
datasets at 10%, nycbike-drop at ST-LLM's budget too); ``batch``: 16, 32 and 64 windows per
optimizer step on the same pairs; ``head-width``: the MLP head's 32, 64 and 128 hidden units on the
same pairs; ``ema``: a moving average of the weights (``ema_decay`` 0.9 and 0.98 per step) against
none, on the same pairs; ``instance-norm``: the series instance normalised per window (RevIN,
``series.instance_norm``) or not, on the same pairs; ``highway-now``: the highway trained or frozen
at its start (``highway`` at today's settings); ``warmup``: the share of warm-up steps, 5% against
15% and 30%, for ST-VLM and (``warmup-stid``, ``warmup-gru``) for STID and the GRU, all on the same
pairs, and ``warmup-now`` 30% against 15% at today's settings on the target pairs (``-80``
likewise); ``augment-*``: level augmentation of the training windows for ST-VLM (``augment-scale``,
``-80``), STID and the GRU, and pair by pair for the runners-up on sz-taxi full;
``series-dim``: the series tokens 16, 32 or 64 wide (``-80``: los-loop 10% at 80 epochs);
``image-fusion``: the image encoding (``auto``, ``node_time``, ``learnable``) and the fusion depth
(1, 0, ``all``) on the target pairs (``-80``: los-loop 10% at 80 epochs);
``regularise``: weight decay 1e-2, head dropout 0.3 and LoRA dropout 0.1 at today's settings
(``-80``: los-loop 10% at 80 epochs, run first);
``text-parts``: the compact prompt without its statistics or its time sentence (``-80`` likewise);
``backbone-size``: the tiny random ViLT against the ``small`` preset on the target pairs (``-80``
likewise, run first); ``gru-sz-taxi-full``: the GRU's width, depth and learning rate where ST-VLM
beats it (the candidates' model changes are then the baseline's options), ``gru-los-loop-10``
its width and depth where it is level;
``backbone``: the tiny random ViLT (hidden 32, 2 layers) against the ``small`` preset (256 wide, 4 layers; about 14x
the step time on CPU: ``step_throughput.json``), on the two nycbike pairs only, where ST-VLM does not win; ``loss``: the
training loss, MAE (the median) against MSE (the mean, the objective of the ridge fit that starts
the highway), over observed entries and over the mean of both masks (``loss_mask``);
``highway-targets``: the ridge start fitted to the observations or to every finite target
(``head.highway_targets``), now that the start is a checkpoint candidate, on sz-taxi 10%, the only
dataset here with missing zeros (where the two differ); ``lookback``: the periodic lookback's days
(``DataConfig.lookback_days``: the protocol's 1 and 7 against more days, fewer, and none), scored
with the closed-form ``ridge`` baseline (one fit per candidate, the same for every seed), which
reads the lookback directly and so measures what the information is worth; the few-shot block moves
to where the longest kept lag is available; ``cap-<model>``: 80 epochs for the (model, pair)s whose
best epoch was the 40th in at least two of five seeds, and ``cap160-<model>``: 160 for those whose
best epoch was then the 80th in two of five, and ``cap320-gru`` 320 where it was then the 160th
(``epoch_cap.ROUNDS``), judged by ``epoch_cap.py`` against the table's own shorter-cap runs;
``ridge-alpha``: the ridge baseline's alpha per pair (30 to 30,000 against ``RidgeConfig``'s 3,000);
``monitor``: early stopping on the mean of both MAEs against the masked MAE, on the count pairs;
``batch-now``: 8 windows per step against 16 at today's settings (``-80`` likewise, run first).
"""

from __future__ import annotations

from epoch_cap import ROUNDS
from sweep_candidates import (
    ALL_PAIRS, AUGMENT, BACKBONE_SIZE, BATCH_NOW, COUNT_PAIRS, FOUR, IMAGE_FUSION, KEPT_START, LINEAR_HEAD,
    PATIENCE_CAP, PATIENCE_FROM_START, REGULARISE, SERIES_DIMS, TARGET_PAIRS, TEXT_PARTS, WARMUP_NOW, WARMUPS,
    Candidate, at_table_budgets,
)


#: sweep -> (its (dataset, setting) pairs, the model it trains: "st-vlm" or a neural baseline,
#: its candidates).
SWEEPS: dict[str, tuple[tuple[tuple[str, str], ...], str, tuple[Candidate, ...]]] = {
    "training": (FOUR, "st-vlm", (
        ("as benchmarked", {}, {}),
        ("lr 3e-4", {"lr": 3e-4}, {}),
        ("lr 1e-4", {"lr": 1e-4}, {}),
        ("weight decay 1e-2", {"weight_decay": 1e-2}, {}),
        ("head dropout 0.3", {}, {"head.dropout": 0.3}),
    )),
    "neighbours": (FOUR, "st-vlm", (
        ("as benchmarked", {}, {}),
        ("neighbour mean", {}, {"series.neighbours": True}),
    )),
    "highway": (FOUR, "st-vlm", (
        ("as benchmarked", {}, {}),
        ("frozen highway", {}, {"head.highway_trainable": False}),
    )),
    "backbone": ((("nycbike-drop", "st-llm-10%"), ("nycbike1", "10%")), "st-vlm", (
        ("as benchmarked", {}, {}),
        ("small ViLT", {}, {"backbone.preset": "small"}),
    )),
    "loss": (FOUR, "st-vlm", (
        ("as benchmarked", {}, {}),
        ("mse loss", {"loss": "mse"}, {}),
        ("mse loss, both masks", {"loss": "mse", "loss_mask": "both"}, {}),
    )),
    "highway-targets": ((("sz-taxi", "10%"),), "st-vlm", (
        ("as benchmarked", {}, {}),
        ("ridge start on all targets", {}, {"head.highway_targets": "all"}),
    )),
    # What the periodic lookback's information is worth. Every candidate names its days: the
    # benchmark's own (fewshot_setup.LOOKBACK_DAYS) are what this sweep chose, so "as benchmarked"
    # would change meaning once chosen.
    "lookback": (ALL_PAIRS, "ridge", tuple(
        (label, {}, {}, {"lookback_days": days}) for label, days in (
            ("days 1, 7", (1, 7)), ("days 1, 2, 7", (1, 2, 7)), ("days 1-7", (1, 2, 3, 4, 5, 6, 7)),
            ("days 1, 7, 14", (1, 7, 14)), ("day 1", (1,)), ("week only", (7,)), ("none", ()),
        )
    )),
    # The pairs where ST-VLM kept its start in every seed: patience ran out at epoch 10, inside
    # the 30% warm-up (12 of 40 epochs), before the learning rate peaked or decayed.
    "patience": (KEPT_START, "st-vlm", (
        ("as benchmarked", PATIENCE_FROM_START, {}),
        ("patience after warm-up", {"patience_after_warmup": True}, {}),
    )),
    # The count datasets, where a zero is an observation and the two reported metrics differ
    # (elsewhere "both" is the "observed" loss): the mean of the two losses, with patience
    # counted from the start or only after the warm-up, against the all-entries loss. Every
    # candidate names its loss: this sweep chose "both" for the benchmark, so "as benchmarked"
    # would change meaning once chosen.
    "both-masks": (COUNT_PAIRS, "st-vlm", (
        ("all-entries loss", {"loss_mask": "observed", **PATIENCE_FROM_START}, {}),
        ("both masks", {"loss_mask": "both", **PATIENCE_FROM_START}, {}),
        ("both masks, patience after warm-up", {"loss_mask": "both", "patience_after_warmup": True}, {}),
    )),
    # How much of the random backbone trains, and the head's depth, on the target pairs. Every
    # candidate names its head and fine-tuning: this sweep chose the MLP head, so an unnamed one
    # would change meaning.
    "capacity": (TARGET_PAIRS, "st-vlm", (
        ("lora r4", PATIENCE_FROM_START, {"finetune.strategy": "lora", "finetune.lora_rank": 4, **LINEAR_HEAD}),
        ("lora r16", PATIENCE_FROM_START, {"finetune.strategy": "lora", "finetune.lora_rank": 16, **LINEAR_HEAD}),
        ("pfa, last layer", PATIENCE_FROM_START, {"finetune.strategy": "pfa", "finetune.trainable_layers": 1, **LINEAR_HEAD}),
        ("pfa, both layers", PATIENCE_FROM_START, {"finetune.strategy": "pfa", "finetune.trainable_layers": 2, **LINEAR_HEAD}),
        ("lora r4, MLP head 64", PATIENCE_FROM_START, {"finetune.strategy": "lora", "finetune.lora_rank": 4, "head.hidden": 64}),
    )),
    # Windows per optimizer step on the same pairs: 16 gives 5 steps per epoch at 66 windows and
    # 17 at ST-LLM's 261, where training moves away from the start from the first epoch. With the
    # linear head, ST-VLM's head when this ran.
    "batch": (TARGET_PAIRS, "st-vlm", (
        ("batch 16", {"batch_size": 16, **PATIENCE_FROM_START}, LINEAR_HEAD),
        ("batch 32", {"batch_size": 32, **PATIENCE_FROM_START}, LINEAR_HEAD),
        ("batch 64", {"batch_size": 64, **PATIENCE_FROM_START}, LINEAR_HEAD),
    )),
    # Early stopping's patience counted from the start or only after the warm-up, now with the
    # MLP head, on the target pairs: with it, runs on los-loop 10% stopped at epoch 12 (the end
    # of the 30% warm-up) with their best epoch at 2 (seed 1 of validation-capacity.json's four).
    # Rule, fixed before running (:func:`meets_rule`, against the first candidate): "patience
    # after warm-up" becomes ST-VLM's default. Both candidates name the setting: the default
    # may change.
    "patience-mlp": (TARGET_PAIRS, "st-vlm", (
        ("patience from the start", {"patience_after_warmup": False}, {}),
        ("patience after warm-up", {"patience_after_warmup": True}, {}),
    )),
    # The graph neighbours' mean in the node tokens and the highway (whose ridge start then
    # fits it too: a spatial ridge), at today's settings on the target pairs; "neighbours" ran
    # before the ridge start, the kept start and the MLP head. Rule, fixed before running
    # (:func:`meets_rule`, against the first candidate): the neighbour mean becomes ST-VLM's
    # default. Both candidates name the setting.
    "neighbours-now": (TARGET_PAIRS, "st-vlm", (
        ("own node only", {}, {"series.neighbours": False}),
        ("neighbour mean", {}, {"series.neighbours": True}),
    )),
    # The MLP head's width on the target pairs (only 64 was tried, by "capacity"). Rule, fixed
    # before running (:func:`meets_rule`, against 64): a width that meets it replaces 64; if
    # both do, the one better on more pairs.
    "head-width": (TARGET_PAIRS, "st-vlm", (
        ("MLP head 64", {}, {"head.hidden": 64}),
        ("MLP head 32", {}, {"head.hidden": 32}),
        ("MLP head 128", {}, {"head.hidden": 128}),
    )),
    # A moving average of the weights (``ema_decay``, per optimizer step), which starts at the
    # fitted start: validation judges, keeps and restores the average instead of the raw
    # weights. Steps per epoch on these pairs: 3 (nycbike1 10%) to 17 (ST-LLM's budget); 0.9
    # averages about the last 10 steps, 0.98 about the last 50. Rule, fixed before running
    # (:func:`meets_rule`, against "no average"): a decay that meets it becomes ST-VLM's
    # default; if both do, the one better on more pairs, then the smaller decay. Every
    # candidate names the setting.
    "ema": (TARGET_PAIRS, "st-vlm", (
        ("no average", {"ema_decay": 0.0}, {}),
        ("average 0.9", {"ema_decay": 0.9}, {}),
        ("average 0.98", {"ema_decay": 0.98}, {}),
    )),
    # The linear highway trained or frozen at its start, at today's settings on the target pairs
    # ("highway" ran before the kept start, the MLP head and patience after the warm-up: a frozen
    # highway helped nycbike1 and cost sz-taxi). With the start kept as a candidate, a frozen
    # highway leaves the head and backbone path to learn only a correction of the fitted start.
    # Rule, fixed before running (:func:`meets_rule`, against "highway trains"), decided on five
    # seeds: a frozen highway becomes ST-VLM's default. Both candidates name the setting.
    "highway-now": (TARGET_PAIRS, "st-vlm", (
        ("highway trains", {}, {"head.highway_trainable": True}),
        ("highway frozen", {}, {"head.highway_trainable": False}),
    )),
    # RevIN-style instance normalisation of the series (``series.instance_norm``: each window's
    # inputs, lookback and seasonal prior less the window's own mean over its input steps, over
    # its std; the forecast mapped back), at today's settings on the target pairs. ``training``'s
    # predecessor tried it once (nycbike-drop at 261 windows, one seed, before the ridge start and
    # the kept start); ``kept_start.py`` has since found sz-taxi 10%'s few-shot block before a
    # level shift of the series, which a per-window level removes. Rule, fixed before running
    # (:func:`meets_rule`, against "no instance norm"), decided on five seeds: instance
    # normalisation becomes ST-VLM's default. Both candidates name the setting.
    "instance-norm": (TARGET_PAIRS, "st-vlm", (
        ("no instance norm", {}, {"series.instance_norm": False}),
        ("instance norm", {}, {"series.instance_norm": True}),
    )),
    # The learning rate at today's settings, on the target pairs ST-VLM trains at 40 epochs
    # (los-loop 10% runs at 80): ``training`` tried 3e-4 and 1e-4 on one seed before the ridge
    # start, the kept start and the MLP head, and they helped at ST-LLM's budget and nycbike1.
    # Three of these pairs now keep the fitted start in every seed: does a smaller step train
    # past it? Rule, fixed before running (:func:`meets_rule`, against "lr 1e-3", seeds 0 and 1):
    # a rate that meets it is then run on los-loop 10% at 80 epochs and on five seeds, and
    # becomes ST-VLM's default only if no pair is worse there; if both meet, the one better on
    # more pairs. Every candidate names the rate.
    "lr-now": ((("nycbike-drop", "st-llm-10%"), ("nycbike-drop", "10%"), ("sz-taxi", "10%"),
                ("nycbike1", "10%")), "st-vlm", (
        ("lr 1e-3", {"lr": 1e-3}, {}),
        ("lr 3e-4", {"lr": 3e-4}, {}),
        ("lr 1e-4", {"lr": 1e-4}, {}),
    )),
    # Level augmentation of the training windows (``TrainConfig.augment_scale``: each window's
    # inputs, lookback and targets times one factor, log-uniform in [1/r, r]), at today's
    # settings. ``kept_start.py`` found sz-taxi 10%'s block before a level shift of the series,
    # where training fits the block's level and validation rises; a correction trained across
    # levels may carry over. r = 1.5 was picked from 1.25, 1.5 and 2 in a scratch probe (seeds 0
    # and 1, validation only; the table's 80 epochs on los-loop): 2 was worse on los-loop and
    # nycbike-drop 10%, 1.25 trained no kept start past it. Rule, fixed before running
    # (:func:`meets_rule`, against "no augmentation", seeds 0 to 4): r = 1.5 becomes ST-VLM's
    # default. Both candidates name the setting. ``augment-stid``: the same rule for STID's
    # own training. ``augment-gru-<dataset>``: the same for the GRU where it decides a verdict
    # (run at the table's caps, ``--epochs`` 160 on los-loop, 320 on nycbike-drop; seeds 0 and
    # 1); Graph WaveNet is not probed, for CPU time.
    "augment-scale": (TARGET_PAIRS, "st-vlm", AUGMENT),
    "augment-stid": (TARGET_PAIRS, "stid", AUGMENT),
    **{f"augment-gru-{d}": (((d, "10%"),), "gru", AUGMENT) for d in ("los-loop", "nycbike-drop")},
    # ``augment-scale`` (40 epochs) did not meet its rule: better on sz-taxi 10% (2.9245 to
    # 2.9202) and nycbike-drop 10% (1.8747 to 1.8729), level where the start is kept, worse on
    # los-loop 10% (3.052 to 3.093), whose augmented runs ended at the cap (best epoch 38 to 40).
    # The table trains ST-VLM on los-loop 10% for 80 epochs (the epoch-cap rule). Second rule,
    # fixed before running ``--epochs 80`` on that pair (:func:`meets_rule`, seeds 0 to 4): r =
    # 1.5 becomes ST-VLM's default if it lowers los-loop 10%'s mean validation MAE at 80 epochs,
    # the other target pairs counting as measured at their table budget in ``augment-scale``.
    "augment-scale-80": ((("los-loop", "10%"),), "st-vlm", AUGMENT),
    # sz-taxi full is the one pair where ST-VLM beats every baseline, and sz-taxi is where the
    # augmentation helps (ST-VLM trained past its start at 10%; STID's validation MAE at 10% fell
    # 3.297 to 3.250 with it, though STID failed the all-pairs rule on los-loop). Does the win
    # survive offering it to the runners-up there, pair by pair (a per-pair choice, more
    # generous to the baseline than ST-VLM's one rule for all pairs)? Rule, fixed before
    # running (:func:`meets_rule`): the GRU (closest, -0.019; seeds 0 and 1 as in the other
    # GRU sweeps) and STID (seeds 0 to 4), each at the table's 40 epochs: a model that meets it
    # has its sz-taxi full rows re-run with ``augment_scale`` 1.5 on five seeds, and the table
    # uses those. Graph WaveNet (34 min a run here) is not probed.
    **{f"augment-{m}-sz-taxi-full": ((("sz-taxi", "full"),), m, AUGMENT) for m in ("gru", "stid")},
    # Graph WaveNet, 0.058 behind there, by the same rule on seeds 0 and 1, running the
    # augmented candidate only (about 35 min a run here): the reference is the table's own runs
    # of those seeds (validation target 2.9269, 2.9325), which the same code reproduces, as the
    # GRU's and ST-VLM's references did to the digit. If it meets the rule, its five table seeds
    # are re-run with it (``BASELINE_TRAIN``). It met it: 2.9297 -> 2.9253 (seed 0 2.9269 ->
    # 2.9288, seed 1 2.9325 -> 2.9218), and its five table seeds were re-run with it.
    "augment-gwnet-sz-taxi-full": ((("sz-taxi", "full"),), "gwnet", AUGMENT[1:]),
    # The series tokens' width (``series.dim``): in the tiny preset each node's features (its 12
    # inputs and the lookback of every input and target step, 36 to 84 values) pass a 16-wide
    # linear map before the 32-wide backbone, a rank-16 bottleneck for everything the VLM path
    # adds to the highway; never swept. Rule, fixed before running (:func:`meets_rule` against
    # "series dim 16", seeds 0 to 4, each target pair at its table budget: ``series-dim`` at 40
    # epochs, ``series-dim-80`` on los-loop 10% at 80, read together): a width that meets it
    # becomes the benchmark's (``STVLM_MODEL``); if both do, the one better on more pairs, then
    # the narrower. Neither met it: 32 and 64 lowered sz-taxi 10% (2.9202 to 2.9186 / 2.9196)
    # and nycbike-drop 10% (1.8729 to 1.8715 / 1.8702), kept both kept starts, and raised
    # los-loop 10% (3.0019 to 3.0379 / 3.0294), so the token stays 16 wide.
    **at_table_budgets("series-dim", SERIES_DIMS),
    # The paper's own axes, never swept on this table: the image encoding (``image.encoding``;
    # "auto" is grid_heatmap on los-loop, which has coordinates, and spectral_grid elsewhere)
    # and where the series tokens meet the VLM (``fusion.depth``: 1, the first layer, against
    # the embeddings, 0, and an adapter after every block, "all"), at today's settings on the
    # target pairs, each at its table budget (``image-fusion``: 40 epochs, ``image-fusion-80``:
    # los-loop 10% at 80). Rule, fixed before running (:func:`meets_rule` against the first
    # candidate, seeds 0 and 1): a candidate that meets it runs seeds 2 to 4 as well, and
    # becomes the benchmark's (``STVLM_MODEL``) if it meets it on all five; if several do, the
    # one better on more pairs, then the first listed. Every candidate names its setting.
    # None met it: every one was worse on los-loop 10% (3.0036 to 3.0481 node_time, 3.0425
    # learnable, 3.0550 depth 0, 3.0309 depth "all"); node_time lowered sz-taxi 10% (2.9213 to
    # 2.9173) and nycbike-drop 10% (1.8732 to 1.8722), depth 0 and "all" sz-taxi only; the
    # kept starts stayed kept. So the image stays "auto" and fusion at the first layer.
    **at_table_budgets("image-fusion", IMAGE_FUSION),
    # Regularisation at today's settings: los-loop 10%, where the VLM path learns most (0.23
    # over its start on validation), has vetoed every added capacity (series width, head width,
    # fusion depth "all") and ``training`` last tried weight decay 1e-2 and head dropout 0.3 on
    # one seed before the ridge start, the kept start and the MLP head. Rule, fixed before
    # running (:func:`meets_rule` against the first candidate): los-loop 10% first, at its table
    # budget (``regularise-80``, seeds 0 and 1); a candidate no worse there runs the other
    # target pairs (``regularise``, seeds 0 and 1), then seeds 2 to 4 if it meets the rule on
    # all five pairs, and becomes ST-VLM's setting if it meets it on five seeds; if several do,
    # the one better on more pairs, then the first listed. Every candidate names its setting.
    # None met it: weight decay 1e-2 was level on los-loop 10% (3.0036 to 3.0031) and
    # nycbike-drop 10% and worse on sz-taxi 10% (2.9213 to 2.9216); head dropout 0.3 (3.0120)
    # and LoRA dropout 0.1 (3.0115) were worse on los-loop 10%.
    **at_table_budgets("regularise", REGULARISE),
    # Which part of the prompt the text's gain on los-loop 10% comes from (the modality
    # ablation: -0.040 [-0.067, -0.017] on test at 80 epochs, 5 seeds): the window's statistics
    # sentence or its time sentence, each dropped from the compact prompt. Rule, fixed before
    # running, as ``regularise``'s: los-loop 10% first (``text-parts-80``, seeds 0 and 1), a
    # candidate no worse there runs the other target pairs (``text-parts``), then seeds 2 to 4
    # if it meets :func:`meets_rule` on all five, and becomes ST-VLM's setting if it meets it on
    # five seeds. Every candidate names its setting. Neither met it: without the time sentence
    # met it on seeds 0 and 1 (los-loop 10% 3.0036 to 3.0027, sz-taxi 10% 2.9213 to 2.9194)
    # but not on five (los-loop 10% 3.0019 to 3.0060); without the statistics los-loop 10% was
    # worse on both (3.0058, 3.0083). The prompt keeps both sentences.
    **at_table_budgets("text-parts", TEXT_PARTS),
    # The backbone's size at today's settings: the table's ST-VLM is the tiny random ViLT (32
    # wide, 2 layers) for CPU time, deliverable 11 names the small preset, and ``backbone`` tried
    # small only on two pairs where ST-VLM keeps its fitted start (so it could not move them).
    # los-loop 10% is where the VLM path learns most (0.23 over its start on validation) and
    # where a step of the small preset costs least in all (about 14 s an epoch here). Rule,
    # fixed before running, as ``regularise``'s: los-loop 10% first (``backbone-size-80``, seeds
    # 0 and 1, :func:`meets_rule` against "tiny ViLT"); small ViLT, if no worse there, runs the
    # other target pairs (``backbone-size``, seeds 0 and 1), then seeds 2 to 4 if it meets the
    # rule on all five. Meeting it on five seeds makes it the benchmark's candidate backbone,
    # but the table's ST-VLM rows change only when all nine pairs are re-run with it (hours on
    # this CPU: a GPU item); until then the result is reported, not adopted. It did not meet
    # it: los-loop 10% 3.0032 to 3.0049 (seed 0 2.9888 to 3.0193, seed 1 3.0176 to 2.9904; run
    # on an Intel Xeon, where "tiny ViLT" is within 0.0005 a seed of the table's AMD runs), so
    # the other pairs did not run and the table keeps the tiny preset.
    **at_table_budgets("backbone-size", BACKBONE_SIZE),
    # Does ST-VLM's one win survive a better-tuned runner-up? On sz-taxi full ST-VLM beats the
    # GRU by -0.018 [-0.022, -0.014], and the GRU's size and learning rate were never searched
    # (its 64 hidden units, one layer and lr 1e-3 are the shared defaults). Offered on that pair
    # alone (a per-pair choice, more generous to the baseline than ST-VLM's one setting for all
    # pairs), at its table settings (``--epochs 80``, level augmentation from
    # ``BASELINE_TRAIN``): 128 hidden units, two layers, lr 3e-4. Rule, fixed before running
    # (seeds 0 and 1, the GRU's sweeps' seeds): the candidate with the lowest mean validation
    # target over both seeds, if lower than "as in the table"'s, becomes the GRU's on sz-taxi
    # full (``BASELINE_TRAIN``), its five table seeds are re-run with it, and the pair's verdict
    # is read again. Graph WaveNet (-0.066, 35 min a run here) and STID (-0.082) are not probed.
    # Two layers had the lowest mean (2.9317 -> 2.9302; 128 hidden units 2.9316, lr 3e-4
    # 2.9330), so the GRU has two layers on sz-taxi full (``BASELINE_TRAIN``).
    # The same offer where the GRU is level with ST-VLM (los-loop 10%, -0.052 [-0.144, +0.035])
    # and its 160 epochs (``--epochs 160``): two layers and 128 units (lr 3e-4, the worst on sz-
    # taxi full, left out for CPU time). The reference is the table's own runs of seeds 0 and 1
    # (validation 3.1392, 3.1442; the Intel re-run of ``cross-machine-gru.json`` reproduced them
    # within 0.0002 with every best epoch), so only the candidates run. Rule, fixed before
    # running: the candidate with the lowest mean over seeds 0 and 1, if below 3.1417, becomes the
    # GRU's on los-loop 10% (``BASELINE_TRAIN``), its five table seeds are re-run with it, and
    # the pair's verdict is read again. Two layers had the lowest mean (3.1417 -> 3.1280: 3.1358,
    # 3.1202; 128 units 3.1311), so the GRU has two layers on los-loop 10% (``BASELINE_TRAIN``);
    # its five seeds re-run with them (975615e): test 3.860 -> 3.839, ST-VLM level (-0.031).
    "gru-los-loop-10": ((("los-loop", "10%"),), "gru", (
        ("2 layers", {}, {"layers": 2}),
        ("hidden 128", {}, {"hidden": 128}),
    )),
    "gru-sz-taxi-full": ((("sz-taxi", "full"),), "gru", (
        ("as in the table", {}, {}),
        ("hidden 128", {}, {"hidden": 128}),
        ("2 layers", {}, {"layers": 2}),
        ("lr 3e-4", {"lr": 3e-4}, {}),
    )),
    # The epoch cap, in rounds (``epoch_cap.ROUNDS``): the longer cap (the cosine schedule
    # stretched over it) where the table's best epoch was its last, at the shorter cap, in at
    # least two of five seeds: 80 against 40 (``cap-<model>``), then 160 against 80
    # (``cap160-<model>``), then 320 against 160 (``cap320-<model>``). The reference is the
    # table's own shorter-cap runs (same code, same seeds: their validation metrics reproduce
    # exactly), so only the longer budget runs. Rule, fixed before running
    # (:func:`epoch_cap.cap_choice`): per (model, pair), the longer cap replaces the shorter in
    # the table when its mean validation target metric over the five seeds is lower.
    **{rnd.sweep(model): (pairs, model, ((f"epochs {rnd.long}", {"epochs": rnd.long}, {}),))
       for rnd in ROUNDS.values() for model, pairs in rnd.capped.items()},
    "warmup": (FOUR, "st-vlm", WARMUPS),
    # The warm-up again, at today's settings and under the written rule: ``warmup`` chose 30% on
    # masked MAE before the rules were written down, and :func:`meets_rule` applied to its file
    # takes 15% and not 30% (sz-taxi 10%: 30% worse than 5% by 0.0025, 15% the lowest). Rule,
    # fixed before running, as ``regularise``'s (:func:`meets_rule` against "warm-up 30%", the
    # benchmark's): los-loop 10% first (``warmup-now-80``, seeds 0 and 1); if 15% is no worse
    # there it runs the other target pairs (``warmup-now``, seeds 0 and 1), then seeds 2 to 4 if
    # it meets the rule on all five pairs, and becomes ST-VLM's warm-up (``STVLM_TRAIN_SETTINGS``)
    # if it meets it on five seeds, every ST-VLM row, both studies and the ablation then re-run
    # with it. Otherwise 30% stays. Both candidates run (the reference on the same machine).
    # 15% was worse on los-loop 10% at 80 epochs (3.0032 to 3.0366: seed 0 2.9888 to 3.0444,
    # seed 1 3.0176 to 3.0288; the reference within 0.0005 of the table's AMD runs), so the other
    # pairs did not run and ST-VLM keeps its 30% warm-up.
    **at_table_budgets("warmup-now", WARMUP_NOW),
    "warmup-stid": (FOUR, "stid", WARMUPS),
    "warmup-gru": (FOUR, "gru", WARMUPS),
    # The ridge baseline's alpha per pair: ``RidgeConfig``'s 3,000 was chosen once for every
    # dataset (the lowest mean relative validation MAE at 10%), while a practitioner would tune
    # it per dataset, and ridge is level with ST-VLM or close behind it on four target pairs.
    # Rule, fixed before running: ridge is deterministic, so one run (seed 0) per candidate and
    # pair; on each pair the alpha with the lowest validation target metric (``target_metric``)
    # becomes ridge's alpha there (``BASELINE_TRAIN``) if it is lower than 3,000's at all (a tie
    # keeps 3,000), and ridge's rows on those pairs are re-run with it. ST-VLM's highway start
    # (``head.highway_alpha``) is not changed by this sweep. Run at 68a55ae on an Intel Xeon:
    # 3,000 stays on four pairs (nycbike-drop at ST-LLM's budget, sz-taxi 10%, nycbike1 10% and
    # full); 1,000 on los-loop 10% (3.2339 to 3.2246) and sz-taxi full (2.9541 to 2.9537),
    # 10,000 on los-loop full (3.2998 to 3.2938), nycbike-drop 10% (1.8843 to 1.8812) and full
    # (1.8769 to 1.8742): moves of 0.01% to 0.29%, so the shared default was close everywhere.
    "ridge-alpha": (ALL_PAIRS, "ridge", (("alpha 3,000", {}, {}),) + tuple(
        (f"alpha {a:,}", {}, {"alpha": float(a)}) for a in (30, 300, 1000, 10000, 30000))),
    # Early stopping and the kept start judged on the mean of both MAEs (``monitor`` "mae_both"),
    # the quantity ST-VLM's loss (``loss_mask`` "both") and these sweeps' rule target, against the
    # masked MAE. Only the count pairs: elsewhere the two MAEs are equal and so are the runs. Rule,
    # fixed before running (:func:`meets_rule` against "monitor mae", seeds 0 and 1, then 2 to 4 if
    # it meets): meeting it on five seeds makes "mae_both" ST-VLM's monitor (``STVLM_TRAIN_SETTINGS``),
    # and its count-pair rows, the nycbike-drop ablation and the few-shot study then re-run. Met on
    # seeds 0 and 1, then on five (better on four pairs, nycbike1 10% the same start in every seed:
    # 1.8936 -> 1.8901 at ST-LLM's budget, 1.8729 -> 1.8718 at 10%, 1.8796 -> 1.8706 full,
    # nycbike1 full 3.5976 -> 3.5951), so ST-VLM monitors "mae_both" since then.
    "monitor": (COUNT_PAIRS, "st-vlm", (
        ("monitor mae", {"monitor": "mae"}, {}),
        ("monitor mean of both MAEs", {"monitor": "mae_both"}, {}),
    )),
    # Smaller batches at today's settings: ``batch`` (seeds 0 and 1, the linear head, patience
    # from the start) found 32 and 64 windows worse than 16 on los-loop 10% (3.138 / 3.152
    # against 3.105) and nycbike-drop 10% (2.040 / 2.047 against 2.029), a trend towards smaller
    # batches it did not follow; 8 windows (twice the optimizer steps of an epoch, under the
    # same lr and schedule) was never run. Rule, fixed before running, as ``regularise``'s
    # (:func:`meets_rule` against "batch 16"): los-loop 10% first at its table budget
    # (``batch-now-80``, seeds 0 and 1); if 8 is no worse there it runs the other target pairs
    # (``batch-now``, seeds 0 and 1), then seeds 2 to 4 if it meets the rule on all five pairs,
    # and becomes ST-VLM's batch size (``STVLM_TRAIN_SETTINGS``; the baselines keep 16 until
    # offered 8 where they decide a verdict) if it meets it on five seeds, every ST-VLM row, both
    # studies, the ablation and the smoke example then re-run with it. Both candidates run.
    # It did not meet it: los-loop 10% 3.0032 -> 2.9755 (seed 0 2.9888 -> 2.9610, seed 1 3.0176
    # -> 2.9899; the reference reproduces the earlier sweeps' to the digit), then nycbike-drop
    # 10% 1.8716 -> 1.8641 and ST-LLM's budget 1.8899 -> 1.8898 lower, nycbike1 10% its start
    # either way, but sz-taxi 10% higher (2.9214 -> 2.9227: seed 0 2.9228 -> 2.9219, seed 1
    # 2.9200 -> 2.9235), so seeds 2 to 4 did not run and the batch stays 16. Run at 1f70252 on
    # an Intel Xeon, the two seeds side by side.
    **at_table_budgets("batch-now", BATCH_NOW),
    # ``patience-cap``: early stopping after 10 epochs without a better validation target against
    # none within the cap. ST-VLM's schedule is planned over the cap, so at the table's caps its
    # runs stop with the learning rate still high: on nycbike-drop 10% (cap 160, warm-up to 48)
    # at epochs 73 to 91, where the cosine is at about 80% of its peak. A run with more patience
    # follows the same trajectory and keeps its best epoch among more, so its validation target
    # cannot be higher seed by seed: the sweep measures by how much. Rule, fixed before running
    # (``--epochs table``: each pair at its table cap; both candidates; seeds 0 and 1, then 2 to
    # 4 if met): :func:`meets_rule` against "patience 10", and a mean validation target lower by
    # 0.002 or more on one target pair at least (adoption re-runs every ST-VLM row, both studies,
    # the ablation and the smoke example, each to its cap); then it becomes ST-VLM's
    # (``STVLM_TRAIN_SETTINGS``), and the baselines keep 10 until offered it where they decide a verdict.
    # It did not meet it: seeds 0 and 1 lowered los-loop 10% by 0.0023 (3.0032 -> 3.0009), so
    # seeds 2 to 4 ran, and over five seeds the gains were los-loop 10% 3.0019 -> 3.0004,
    # nycbike-drop 10% 1.8633 -> 1.8625, sz-taxi 10% 2.9202 -> 2.9201, none elsewhere (ST-LLM's
    # budget and nycbike1 10% kept the same epoch): patience stays 10. The reference reproduces
    # the table's runs to the digit. Run at bd652c9 on an Intel Xeon, seeds side by side.
    "patience-cap": (TARGET_PAIRS, "st-vlm", PATIENCE_CAP),
}
