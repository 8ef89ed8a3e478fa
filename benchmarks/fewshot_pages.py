"""The pages of the few-shot accuracy benchmark: ``README.md`` (the verdict of
``fewshot_verdict.py`` first, then every model's row, the paired intervals, the protocol, the
caveats and the commands) and ``ABLATION.md`` (the modality ablation), rendered from the result
JSON that ``fewshot_accuracy.py`` writes, so a page can be rebuilt without re-running a model."""

from __future__ import annotations

from typing import Any

from epoch_cap import ROUNDS, near_cap
from fewshot_merge import run_epochs, split_option
from fewshot_provenance import code_note, machine_line
from fewshot_selection import SELECTION
from fewshot_setup import (
    BASELINE_TRAIN, LOOKBACK_DAYS, STVLM_MODEL, TRAIN, UNTRAINED, VARIANTS, baseline_options,
    neural, ran_with, recorded_train, train_settings, variant_config,
)
from fewshot_defects import gwnet_batchnorm, void_mape
from fewshot_verdict import METRIC_NAMES, SAME_FORECAST, interval_text, verdict_lines
from stvlm.configs import TrainConfig


def _cell(row: dict[str, Any], m: str) -> str:
    return f"{row[m]:.3f} ± {row[m + '_std']:.3f}" if len(row["seeds"]) > 1 else f"{row[m]:.3f}"


def table_lines(rows: list[dict[str, Any]], default_epochs: int | None = None) -> list[str]:
    """The table of ``rows``; a row whose ``epoch_cap`` is not ``default_epochs`` says its cap."""
    head = ("| dataset | setting | model | seeds | MAE | RMSE | WAPE % | MAE all | RMSE all | bias | "
            "val MAE | best / run epochs | params | s |")
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for r in rows:
        cells = [_cell(r, m) for m in ("mae", "rmse", "wape", "mae_all", "rmse_all", "bias")]
        epochs = f"{r['best_epoch']} / {r['epochs_run']}" if r["epochs_run"] else "—"
        if r["epochs_run"] and default_epochs is not None and r.get("epoch_cap", default_epochs) != default_epochs:
            epochs += f" (cap {r['epoch_cap']})"
        lines.append(f"| {r['dataset']} | {r['setting']} | {r['model']} | {len(r['seeds'])} | "
                     + " | ".join(cells) + f" | {r['val_mae']:.3f} | {epochs} | {r['parameters']:,} | "
                     f"{r['seconds']:.0f} |")
    return lines


INTERVAL_HEADS = ("baseline", "MAE(ST-VLM) − MAE(baseline)", "ST-VLM")  # README.md
ABLATION_HEADS = ("variant dropped", "MAE(full) − MAE(variant)", "full model")  # ABLATION.md


def interval_lines(intervals: list[dict[str, Any]], heads: tuple[str, str, str] = INTERVAL_HEADS) -> list[str]:
    """One row per (dataset, setting, compared model): both paired intervals and the verdict."""
    lines = [f"| dataset | setting | {heads[0]} | {heads[1]}, true > 0 [95% CI] | "
             f"same, every observed entry [95% CI] | {heads[2]} better on both? |", "|---|---|---|---|---|---|"]
    for key in dict.fromkeys((i["dataset"], i["setting"], i["baseline"]) for i in intervals):
        pair = {i["metric"]: i for i in intervals if (i["dataset"], i["setting"], i["baseline"]) == key}
        cells = [interval_text(pair[m]) for m in METRIC_NAMES]
        both = all(pair[m]["st_vlm_better"] for m in METRIC_NAMES)
        lines.append(f"| {key[0]} | {key[1]} | {key[2]} | {cells[0]} | {cells[1]} | {'yes' if both else 'no'} |")
    return lines


def _blocks(result: dict[str, Any], key: str) -> int | str:
    """Bootstrap blocks of one ``dataset|setting`` pair (from its intervals)."""
    dataset, setting = key.split("|")
    found = [i["blocks"] for i in result["intervals"] if (i["dataset"], i["setting"]) == (dataset, setting)]
    return min(found) if found else "?"


def _per_split(result: dict[str, Any], field: str) -> str:
    """The models a run option (``skipped`` or ``one_seed``) named, per (dataset, setting) when
    the runs differed (:func:`fewshot_merge.split_option`); ``""`` when none."""
    by_value: dict[tuple[str, ...], list[str]] = {}
    for key, split in result["splits"].items():
        by_value.setdefault(tuple(split_option(result, split, field)), []).append(key.replace("|", " "))
    named = {v: keys for v, keys in by_value.items() if v}
    if not named:
        return ""
    if len(by_value) == 1:
        return ", ".join(next(iter(named)))
    return "; ".join(f"{', '.join(v)} ({', '.join(keys)})" for v, keys in named.items())


def _fewer_seeds(result: dict[str, Any]) -> str:
    """The seeded baselines that ran fewer seeds than ST-VLM on a pair, from the rows:
    ``"model (pair, pair: k seeds); ..."``, ``""`` when none."""
    stvlm = {(r["dataset"], r["setting"]): len(r["seeds"]) for r in result["rows"] if r["model"] == "st-vlm"}
    by: dict[tuple[str, int], list[str]] = {}
    for r in result["rows"]:
        pair, seeds = (r["dataset"], r["setting"]), len(r["seeds"])
        if r["model"] not in VARIANTS and seeds < stvlm.get(pair, 0) and neural(r["model"]):
            by.setdefault((r["model"], seeds), []).append(" ".join(pair))
    return "; ".join(f"{model} ({', '.join(pairs)}: {k} seed{'s' if k > 1 else ''})"
                     for (model, k), pairs in by.items())


SPLIT_HEADS = ("dataset", "setting", "training windows", "from step", "lookback lags (steps)",
               "val / test windows", "bootstrap blocks", "code")


def split_lines(result: dict[str, Any]) -> list[str]:
    """The Splits table: per (dataset, setting) its windows, lags, bootstrap blocks and the
    commits its runs came from (:func:`code_note`)."""
    lines = ["| " + " | ".join(SPLIT_HEADS) + " |", "|" + "---|" * len(SPLIT_HEADS)]
    for k, s in result["splits"].items():
        models = [r["model"] for r in result["rows"] if f"{r['dataset']}|{r['setting']}" == k]
        runs = [r for r in result["runs"] if f"{r['dataset']}|{r['setting']}" == k]
        code = code_note(s, models, runs) or "—"
        cells = (s["dataset"], k.split("|")[1], str(s["windows"]["train"]), str(s["parts"]["train"]["steps"][0]),
                 ", ".join(map(str, s["lookback_lags"])), f"{s['windows']['val']} / {s['windows']['test']}",
                 f"{s.get('bootstrap_block', '1 day')} ({_blocks(result, k)} blocks)", code)
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def readme(result: dict[str, Any]) -> str:
    meta = result["meta"]
    commits = sorted({s["git_commit"] for s in result["splits"].values() if s.get("git_commit")})
    code = ", ".join(commits) if commits else (result.get("git_commit") or "?")
    return "\n".join([
        "# Few-shot accuracy: ST-VLM vs every baseline, paired block-bootstrap intervals", "",
        "## Verdict", "", *verdict_lines(result), "",
        "## Result (test windows)", "", *table_lines(result["rows"], meta["epochs"]), "",
        "## ST-VLM against each baseline", "",
        "Paired difference of pooled test MAE (negative: ST-VLM better), 95% percentile interval of a "
        "bootstrap that resamples blocks of test windows (2000 resamples): 24-hour blocks by the first "
        "target step, counted from the series' first step (not from midnight: the partial nycbike "
        "series start at 07:00 and 23:00), or one window span (24 steps) where the test windows cover fewer than 14 days (the block rule and count are "
        "in Splits); seeded models enter with their per-window errors averaged over seeds. Per-window "
        "error sums are in `errors-<dataset>-<setting>.npz`, so the intervals can be recomputed.", "",
        *interval_lines(result["intervals"]), "",
        "## Protocol", "",
        f"{machine_line(result)} Code: commit {code} (per (dataset, setting) in Splits).", "",
        "Protocol `standard` with periodic lookback (same time of day 1 and 7 days before each input "
        "and target step, where the series has it; "
        + "".join(f"{d} {st}: days {', '.join(map(str, days))}; " for (d, st), days in LOOKBACK_DAYS.items())
        + "those chosen on validation with the ridge baseline, for every model of the pair: "
        "`LOOKBACK_DAYS` in `stvlm/configs/pair_choices.py`, `validation-lookback.json`; each pair's lags, "
        "in steps, are in Splits). `MAE`/`RMSE`/`WAPE`: the literature's metrics, "
        "masked where true > 0, mean over the 12 horizons; `MAE all`/`RMSE all`: every observed entry; "
        "`bias`: mean prediction − mean truth on every observed entry. Seeded models: mean ± sample "
        "std over seeds; deterministic baselines run once.", "",
        f"Budget of ST-VLM and every neural baseline: at most {meta['epochs']} epochs"
        + (" (another cap where its row says so: Caveats)" if _other_caps(result) else "") + ", "
        + ", ".join(f"{k} {v}" for k, v in meta.get("train", TRAIN).items())
        + "; AdamW, 5% linear warm-up then cosine; early stopping on validation MAE; the loss "
        "skips only missing entries. `best / run epochs` shows whether the best epoch was the last."
        + _stvlm_training(meta), "",
        "ST-VLM: `STVLMConfig.tiny()` (ViLT, 32 wide, 2 layers, RANDOM weights: no pretrained "
        "weights can be downloaded here), one series token per node with its lookback "
        f"(node vector: {STVLM_MODEL.series.node_embedding}, calendar part: "
        f"{STVLM_MODEL.series.time_encoding}), fusion at layer 1, LoRA r4, residual "
        + (f"MLP head ({STVLM_MODEL.head.hidden} hidden, chosen on validation: `validation-capacity.json`)"
           if STVLM_MODEL.head.hidden else "linear head")
        + " on the seasonal prior with a "
        "linear highway that starts at its ridge fit to the training windows where that lowers the "
        "validation MAE of the starting forecast, else at zero (`head.highway_init = auto`).", "",
        "Splits, one row per (dataset, setting); the code column names the commit of the pair's "
        "runs and of every run taken over or merged in:", "", *split_lines(result), "",
        "## Caveats", "",
        "- `historical-average-all` is a reference line: it averages every step before the first test "
        "target (validation included), more data than the few-shot budget; its validation score is "
        "in-sample.",
        *([f"- Not run in this table: {_per_split(result, 'skipped')} (CPU cost, measured on this machine "
           "with one thread: STAEformer at its paper sizes takes about 12 s per training step of 16 "
           "nycbike-drop windows, about 3.5 min per epoch at 261 windows)."] if _per_split(result, "skipped") else []),
        *([f"- Run with fewer seeds than ST-VLM (CPU cost; more seeds enter with `--merge`): "
           f"{_fewer_seeds(result)}. An interval "
           "against them averages ST-VLM over its seeds but holds fewer draws of the baseline, whose seed "
           "noise it sees less of: a narrow win over them is weaker than the interval says."]
          if _fewer_seeds(result) else []),
        *(["- Runs marked reused in Splits were run at the commit named there and taken over with "
           "`--reuse-baselines` (baselines), `--reuse` (ST-VLM too, only when its config and "
           "training settings are unchanged) or `--only` (every model but the ones named, kept whole "
           "as committed; ST-VLM's runs keep the config hash they ran with), which check that the "
           "test windows (per-window entry counts, bootstrap blocks) "
           "are the same and run only the seeds not yet run (each run records its commit in the "
           "JSON); between those commits and the newest the baseline, data-window and engine code "
           "changed only in imports, type hints, a log line and refactors, the evaluation "
           "chunking of data-parallel ranks and how the metrics select the scored entries "
           "(bit-identical values), a run's own lookback days (`DataConfig.lookback_days`: a pair "
           "that sets them was run whole, and reuse now also checks the lookback lags and the "
           "windows of every part), except STID's dropout (f5c26d7: the same rate, other random "
           "masks), after which every STID run was made again with `--only stid` (reviewed with "
           "`git diff <commit> -- stvlm/baselines stvlm/data stvlm/engine.py stvlm/metrics.py`)."]
          if any(s.get("reused") for s in result["splits"].values()) else []),
        "- Random weights: this measures the ST-VLM architecture trained from scratch on few-shot data.",
        SELECTION,
        *_epoch_caveats(result),
        *_cap_lines(result),
        *(["- Rows from commit 508057b ran with `head.highway_init = ridge` (the default then); the "
           "default since 63f4136 is `auto`, whose validation check picks the ridge start on "
           "nycbike-drop (starting-forecast validation MAE 2.033 against the prior's 2.255 at 261 "
           "windows, 2.056 against 2.255 at 66), so those rows are what the current default gives."]
          if any((s.get("git_commit") or "").startswith("508057b") for s in result["splits"].values())
          else []),
        *([f"- ST-VLM rows of {', '.join(observed)} ran with `head.highway_targets = observed` (the "
           "default before 2731dd8); it differs from today's `all` only on a dataset with missing "
           "zeros, and of the four only sz-taxi has them (its rows ran with `all`)."]
          if (observed := _observed_target_pairs(result)) else []),
        *_other_training(result),
        *_baseline_training(result),
        *_not_yet_run(result),
        *void_mape(result),
        *gwnet_batchnorm(result),
        "- ST-LLM's published 10% CHBike drop-off number (MAE 1.93, pretrained GPT-2, 300 epochs, one "
        "seed, selection of the 10% not stated) uses the same test windows and metric as the "
        "`st-llm-10%` rows; no other published number here has a matching protocol.", "",
        "## Commands", "",
        "To re-run one row, in a copy of this folder (the table's own files stay as they are): "
        "`cp -r results/fewshot_accuracy /tmp/check && python benchmarks/fewshot_accuracy.py "
        "--out-dir /tmp/check --only <model> --datasets <dataset> --settings <setting> --seeds 0 1 2 3 4` "
        "(each model trains at its cap on the pair, the one its row shows, and with the pair's other "
        "choices: `stvlm/configs/pair_choices.py`), then `python benchmarks/cross_machine.py --model <model> "
        "--rerun /tmp/check --out /tmp/check/cross-machine.json` to set it beside the committed runs, "
        "seed by seed, with the verdict both ways.", "",
        "The history: each run added its (dataset, setting) pairs to `fewshot_accuracy.json`, in this "
        "order:", "",
        *[f"    {c}" for c in meta["commands"]], "",
    ])


def _stvlm_training(meta: dict[str, Any]) -> str:
    """The sentences on ST-VLM's own training settings (``meta.stvlm_train``): its warm-up share,
    whether its fitted start competes as epoch 0, its patience, loss, early-stopping monitor and
    level augmentation."""
    own = meta.get("stvlm_train", {})
    text = ""
    if own.get("warmup") is not None:
        text += (f" ST-VLM's warm-up is its own, {own['warmup']:.0%} of the planned steps, chosen on "
                 "validation (`validation-warmup.json`; STID, probed the same way in "
                 "`validation-warmup-stid.json`, keeps 5%; the GRU and Graph WaveNet were not probed, "
                 "for CPU time).")
    if own.get("start_candidate"):
        text += (" ST-VLM's untrained start (seasonal prior + ridge highway, head at zero) is scored on "
                 "validation before training and kept unless an epoch beats it (best epoch 0); the "
                 "baselines start from random weights and are not.")
    if own.get("patience_after_warmup"):
        text += (" ST-VLM's patience counts only epochs that end with its warm-up done "
                 "(`patience_after_warmup`, chosen on validation: `validation-patience-mlp.json`), so "
                 "no run ends while its learning rate is still rising.")
    if own.get("loss_mask") == "both":
        text += (" ST-VLM's loss is the mean of that loss and the masked one (`loss_mask = both`), "
                 "chosen on validation by the mean of the two MAEs (`validation-both-masks.json`); it "
                 "is the same loss where no observed zero is masked (los-loop, sz-taxi).")
    if own.get("monitor") == "mae_both":
        text += (" ST-VLM's early stopping and kept checkpoint read the mean of the two validation "
                 "MAEs (`monitor = mae_both`, chosen on validation: `validation-monitor.json`); the "
                 "baselines read the masked MAE, and on speed data the two are equal.")
    if own.get("augment_scale", 1.0) > 1.0:
        text += (f" ST-VLM trains on windows rescaled to random levels (`augment_scale` "
                 f"{own['augment_scale']:g}: each training window times one factor in "
                 f"[1/{own['augment_scale']:g}, {own['augment_scale']:g}]), chosen on validation "
                 "(`validation-augment-scale.json`, `-80.json`); the baselines were offered it by "
                 "rules written before they ran (Caveats: Selection).")
    return text


def _observed_target_pairs(result: dict) -> list[str]:
    """The (dataset, setting) pairs whose ST-VLM runs fitted the highway's ridge start to the
    observations only (``head.highway_targets = observed``, the default until 2731dd8): the runs
    whose recorded ``model_hash`` is today's config with that setting."""
    observed = variant_config("st-vlm").with_values({"head.highway_targets": "observed"}).config_hash()
    pairs = {(r["dataset"], r["setting"]) for r in result["runs"]
             if r["model"] == "st-vlm" and r.get("model_hash") == observed}
    return [f"{d} {s}" for d, s in sorted(pairs)]


def _baseline_training(result: dict[str, Any]) -> list[str]:
    """Caveats naming each (baseline, dataset, setting) whose runs trained with other settings
    than the shared budget (:data:`TRAIN`; :func:`ran_with`) or other options than the
    baseline's defaults (a run's ``options``), with those settings and the validation files that
    chose them (:data:`BASELINE_TRAIN`), and each whose runs did not train with the settings and
    options the benchmark now gives it there (a row that predates them). Empty when every run
    used the shared budget and defaults and that is what the benchmark gives it."""
    defaults = {**TrainConfig().to_dict(), **TRAIN}

    def settings(train: dict[str, Any], options: dict[str, Any]) -> set[str]:
        return ({f"`{key}` {value}" for key, value in train.items() if value != defaults[key]}
                | {f"`{key}` {value}" for key, value in options.items()})

    differ: dict[tuple[str, str, str], set[str]] = {}
    stale: dict[tuple[str, str, str], set[str]] = {}
    for r in (r for r in result["runs"] if r["model"] not in VARIANTS):
        key, ran, options = (r["model"], r["dataset"], r["setting"]), ran_with(r), r.get("options", {})
        differ.setdefault(key, set()).update(settings(ran, options))
        pair = (r["dataset"], r["setting"])
        now = train_settings(r["model"], pair), baseline_options(r["model"], pair)
        if (ran, options) != now:
            stale[key] = settings(*now)

    def evidence(key: tuple[str, str, str]) -> str:
        own = BASELINE_TRAIN.get(key)
        return ", ".join(f"`{e}`" for e in own.evidence) if own else "not this benchmark's setting now"

    parts = [f"{m} on {d} {s}: {', '.join(sorted(keys))} ({evidence((m, d, s))})"
             for (m, d, s), keys in differ.items() if keys]
    late = [f"{m} on {d} {s} (now: " + (f"{', '.join(sorted(keys))}, {evidence((m, d, s))}" if keys
                                         else "the shared budget") + ")"
            for (m, d, s), keys in stale.items()]
    return (["- Baselines trained with their own settings on a pair (the rest of the shared budget "
             "above unchanged), each offered by a rule written before it ran and chosen on validation "
             "only (`BASELINE_TRAIN` in `stvlm/configs/pair_choices.py`): " + "; ".join(parts) + "."]
            if parts else []) + (
        ["- Baseline rows that did not train with the settings this benchmark now gives them on their "
         "pair (they predate them; `fewshot_accuracy.py --only <model>` on the pair brings them in "
         "line): " + "; ".join(late) + "."] if late else [])


def _other_training(result: dict[str, Any]) -> list[str]:
    """A caveat naming each (dataset, setting) whose ST-VLM runs recorded other training settings
    than the page states (``meta.stvlm_train``), with the settings that differ; a setting a run
    did not record ran at ``TrainConfig``'s default (``amp`` False: :func:`recorded_train`).
    Empty when every run matches."""
    own, defaults = result["meta"].get("stvlm_train") or {}, TrainConfig()
    differ: dict[str, set[str]] = {}
    for r in (r for r in result["runs"] if r["model"] == "st-vlm" and r.get("train") is not None):
        ran = recorded_train(r)
        for key in sorted(set(own) | set(ran)):
            mine, theirs = ran.get(key, getattr(defaults, key)), own.get(key, getattr(defaults, key))
            if mine != theirs:
                differ.setdefault(f"{r['dataset']} {r['setting']}", set()).add(f"`{key}` {mine} (stated: {theirs})")
    return (["- ST-VLM's runs of these pairs ran with other training settings than stated above: "
             + "; ".join(f"{pair}: {', '.join(sorted(keys))}" for pair, keys in differ.items()) + "."]
            if differ else [])


def _not_yet_run(result: dict[str, Any]) -> list[str]:
    """The caveat naming what the table still lacks: 5 ST-VLM seeds where fewer ran and the
    datasets without a ``full`` row (the baselines not run are in the "Not run" caveat); no line
    when it lacks neither."""
    fewest = min(len(r["seeds"]) for r in result["rows"] if r["model"] == "st-vlm")
    datasets = {k.split("|")[0] for k in result["splits"]}
    no_full = sorted(datasets - {k.split("|")[0] for k in result["splits"] if k.endswith("|full")})
    missing = ([f"5 seeds ({fewest} for some pairs here)"] if fewest < 5 else []) + (
        [f"the `full` setting on {', '.join(no_full)}"] if no_full else [])
    return [f"- Not yet run: {' and '.join(missing)}."] if missing else []


def _rounds_offered(model: str, pair: tuple[str, str], cap: int) -> str:
    """The epoch-cap rounds (:data:`epoch_cap.ROUNDS`) that offered ``model`` on ``pair`` a longer
    cap than its ``cap``, with the file that records their choice on validation; ``""``: none."""
    offered = [rnd for rnd in ROUNDS.values() if pair in rnd.capped.get(model, ()) and rnd.short == cap]
    return (" (longer caps offered on validation: " + "; ".join(
        f"{rnd.long} epochs by round `{rnd.name}` (`{rnd.out_name}`)" for rnd in offered) + ")") if offered else ""


def _epoch_caveats(result: dict[str, Any]) -> list[str]:
    """Where ST-VLM's best epoch was the last one (under-trained), its untrained start (epoch 0,
    every seed) or one of the first two (the training after the ridge start of the highway
    changed little)."""
    runs = [r for r in result["runs"] if r["model"] == "st-vlm"]
    pairs = list(dict.fromkeys((r["dataset"], r["setting"]) for r in runs))
    cap = result["meta"]["epochs"]

    def seeds_of(d: str, s: str) -> list[dict[str, Any]]:
        return [r for r in runs if (r["dataset"], r["setting"]) == (d, s)]

    capped = [f"{d} {s}" + _rounds_offered("st-vlm", (d, s), run_epochs(seeds_of(d, s)[0], cap)) for d, s in pairs
              if any(r["best_epoch"] == r["epochs_run"] == run_epochs(r, cap) for r in seeds_of(d, s))]
    kept = [f"{d} {s}" for d, s in pairs if all(r["best_epoch"] == 0 for r in seeds_of(d, s))]
    early = [f"{d} {s}" for d, s in pairs if f"{d} {s}" not in kept
             and all(r["best_epoch"] <= 2 for r in seeds_of(d, s))]
    lines = []
    # Where the start's highway was reset to zero, the forecast is the prior alone: the
    # seasonal-mean baseline's, entry for entry (the paired difference and its interval within
    # float32 rounding of zero).
    prior_only = [f"{i['dataset']} {i['setting']}" for i in result["intervals"]
                  if i["baseline"] == "seasonal-mean" and i["metric"] == "mae"
                  and max(abs(i["diff"]), abs(i["low"]), abs(i["high"])) < SAME_FORECAST]
    if kept:
        lines.append(f"- ST-VLM kept its untrained start (no epoch beat it on validation) in every seed "
                     f"of: {', '.join(kept)}: there its forecast is the seasonal prior plus the "
                     "ridge-started highway, and the VLM path adds nothing the validation windows reward. "
                     "Why (`kept-start.json`, `python benchmarks/kept_start.py --seeds 0 1`: each of the "
                     "first ten epochs scored on the training and validation windows, and the weight-space "
                     "line from the start to the best trained epoch, WiSE-FT; no test window predicted; run "
                     "under the all-entries loss, before ST-VLM trained on the mean of both masks): on "
                     "nycbike-drop training lowers the all-entries MAE, that loss's own objective, on "
                     "validation too, and raises the masked MAE early stopping then read, and no epoch or mix "
                     "beats ridge's masked and the best neural baseline's all-entries validation MAE at "
                     "once (the mean of both losses then trained past the start at 10%, and early stopping "
                     "on the mean of both MAEs, `validation-monitor.json`, at ST-LLM's budget and on the "
                     "full part too); on sz-taxi 10% the few-shot block (days 7 to 9) lies before a level shift of "
                     "the series at day 10 (mean target 16.7 in the training windows, 10.1 in validation), "
                     "and training lowers the training MAE while validation rises; on nycbike1 10% (44 "
                     "windows) validation rises on both metrics from the first epoch. No mix along the line "
                     "beat the start by more than 0.0001 (sz-taxi, a = 0.1: 2.92446 against 2.92451).")
    if prior_only:
        lines.append(f"- In {', '.join(prior_only)} the ridge start of the highway lost to the prior alone on "
                     "validation and was set to zero (`head.highway_init = auto`), so ST-VLM's forecast is "
                     "the `seasonal-mean` baseline's, entry for entry (their paired MAE difference is below "
                     "1e-6, float rounding): nothing learned, whatever it beats.")
    if capped:
        lines.append(f"- ST-VLM's best epoch was the last of its cap (under-trained) in: {', '.join(capped)}.")
    if early:
        lines.append(f"- ST-VLM's best validation checkpoint was its start or the first or second epoch in: "
                     f"{', '.join(early)}: "
                     "there the forecast stays close to its start (the seasonal prior, plus the highway "
                     "where it was ridge-started) and training the VLM path changed little; the "
                     "`st-vlm untrained` row of ABLATION.md, where run, measures what training adds.")
    return lines


def _other_caps(result: dict[str, Any]) -> list[str]:
    """``"model on dataset setting (cap)"`` for each row trained with another epoch cap than the
    table's (``meta.epochs``)."""
    default = result["meta"]["epochs"]
    return [f"{r['model']} on {r['dataset']} {r['setting']} ({r['epoch_cap']})" for r in result["rows"]
            if r["epochs_run"] and r.get("epoch_cap", default) != default]


def _cap_lines(result: dict[str, Any]) -> list[str]:
    """The rows trained with another epoch cap than the table's, the baselines whose best epoch
    was the last of their cap in some seed (under-trained there: a win over them may be the
    cap's), and those :func:`epoch_cap.near_cap` lists (near it in two seeds or more)."""
    default, other = result["meta"]["epochs"], _other_caps(result)
    at_cap = [f"{r['model']} {r['dataset']} {r['setting']} ({r['best_is_last']} of {len(r['seeds'])})"
              for r in result["rows"] if r["model"] not in VARIANTS and r["best_is_last"]]
    lines = []
    if other:
        files = ", ".join(f"`{r.out_name}` ({r.short} or {r.long})" for r in ROUNDS.values())
        lines.append(f"- Trained with another epoch cap than {default}: {', '.join(other)}. The rounds of the "
                     f"epoch-cap check, {files} (`python benchmarks/epoch_cap.py --round <name>`), record which caps "
                     "were checked on validation, where the best epoch was the last, and the rule, written down "
                     "before those runs, that chose them.")
    if at_cap:
        lines.append("- Baselines whose best epoch was the last of their cap (possibly under-trained) in some "
                     f"seeds: {', '.join(at_cap)}.")
    near = [f"{r['model']} {r['dataset']} {r['setting']} ({'/'.join(map(str, r['best_epochs']))} of {r['cap']})"
            for r in near_cap(result)]
    if near:
        lines.append("- Baselines where two seeds or more trained to their cap with the best epoch in its last 5% "
                     f"(`epoch_cap.near_cap`; a longer cap may still lower their error), best epochs per seed: "
                     f"{', '.join(near)}.")
    return lines


def ablation_page(result: dict[str, Any]) -> str:
    """ABLATION.md: the variants' table and each variant against the full model."""
    meta = result["meta"]
    lines = interval_lines(result["intervals"], ABLATION_HEADS)
    return "\n".join([
        "# Modality ablation: does each modality of ST-VLM help, on the same budget?", "",
        "Commands:", "", *[f"    {c}" for c in meta["commands"]], "",
        f"{machine_line(result)} Code: commit " + ", ".join(
            f"{s.get('git_commit') or result.get('git_commit') or '?'} ({k.replace('|', ' ')})"
            for k, s in result["splits"].items()) + ". Same protocol, "
        "budget and training as README.md; variants: " + "; ".join(
            f"`{k}` = " + (", ".join(f"{a}={b}" for a, b in v.items())
                           or ("the full model as built, not trained" if k in UNTRAINED else "the full model"))
            for k, v in VARIANTS.items() if k in {r["model"] for r in result["rows"]}) + ".", "",
        "## Test metrics", "", *table_lines(result["rows"]), "",
        "## Full model against each variant (paired block bootstrap, 95%; blocks as in README.md)", "",
        "Negative: the full model (all three modalities) is better than the variant.", "", *lines, "",
    ])
