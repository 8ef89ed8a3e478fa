"""What each run of the accuracy table trained with: ``--reuse`` keeps only runs made with the
settings the benchmark gives them now, and the results page names runs whose settings differ
from what it states or from the shared budget."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np


def test_reused_stvlm_runs_must_match_the_training_settings(tmp_path: Path) -> None:
    """``--reuse`` keeps committed ST-VLM runs only when each was trained with today's settings;
    baselines' runs are kept either way (on the same test windows)."""
    import argparse
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    from fewshot_accuracy import earlier_runs
    from fewshot_setup import STVLM_MODEL, STVLM_TRAIN, TRAIN

    counts, blocks = {"mae": np.array([3, 4]), "mae_all": np.array([5, 6])}, np.array([0, 1])
    np.savez(tmp_path / "errors-toy-10pct.npz", blocks=blocks, **{f"count|{m}": c for m, c in counts.items()},
             **{f"{model}|{m}": np.array([1.0, 2.0]) for model in ("st-vlm", "ridge") for m in counts})

    def committed(stvlm_train: dict | None) -> dict:
        run = {"dataset": "toy", "setting": "10%", "seed": 0, "git_commit": "abc"}
        runs = [{**run, "model": "ridge"}, {**run, "model": "st-vlm", **({"train": stvlm_train} if stvlm_train else {})}]
        return {"runs": runs, "splits": {"toy|10%": facts}, "meta": {"stvlm_model": STVLM_MODEL.to_dict()}}

    facts = {"lookback_lags": [12, 84], "parts": {"train": {"windows": 2, "first_start": 84}}}
    args = argparse.Namespace(out_dir=str(tmp_path))
    before_amp = {k: v for k, v in STVLM_TRAIN.items() if k != "amp"}  # recorded before amp was: CPU, fp32
    for stvlm_train, kept in ((STVLM_TRAIN, ["ridge", "st-vlm"]), ({**TRAIN, "warmup": 0.05}, ["ridge"]),
                              (None, ["ridge"]), (before_amp, ["ridge", "st-vlm"]),
                              ({**STVLM_TRAIN, "amp": True}, ["ridge"])):
        (tmp_path / "fewshot_accuracy.json").write_text(json.dumps(committed(stvlm_train)))
        assert sorted(earlier_runs(args, "toy", "10%", counts, blocks, facts)) == kept, stvlm_train
    # --only keeps other models' runs whole, whatever ST-VLM config they ran with
    assert sorted(earlier_runs(args, "toy", "10%", counts, blocks, facts, check_config=False)) == ["ridge", "st-vlm"]
    # ... but nothing made with other lookback lags or training windows, under either flag
    for other in ({**facts, "lookback_lags": [12, 84, 168]},
                  {**facts, "parts": {"train": {"windows": 2, "first_start": 168}}}):
        assert earlier_runs(args, "toy", "10%", counts, blocks, other) == {}
        assert earlier_runs(args, "toy", "10%", counts, blocks, other, check_config=False) == {}


def test_reused_baseline_runs_must_match_their_own_settings_on_the_pair(tmp_path: Path) -> None:
    """A baseline with its own training on a pair (``BASELINE_TRAIN``: the GRU on sz-taxi full
    trains level-augmented, with two layers) reuses only runs recorded with those settings and
    options there; a run recorded
    before runs recorded theirs trained with the shared ``TRAIN``, so it is not reused there but
    is on a pair without own settings, and ``--only`` keeps every run whole."""
    import argparse
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    from fewshot_accuracy import earlier_runs
    from fewshot_setup import BASELINE_TRAIN, TRAIN, train_settings

    assert train_settings("gru", ("sz-taxi", "full")) == {**TRAIN, "augment_scale": 1.5}
    assert train_settings("gru", ("sz-taxi", "10%")) == train_settings("gru") == TRAIN
    assert train_settings("stid", ("sz-taxi", "full")) == TRAIN and ("gru", "sz-taxi", "full") in BASELINE_TRAIN
    counts, blocks = {"mae": np.array([3, 4]), "mae_all": np.array([5, 6])}, np.array([0, 1])
    facts = {"lookback_lags": [96, 672, 1344], "parts": {"train": {"windows": 2, "first_start": 1344}}}
    args = argparse.Namespace(out_dir=str(tmp_path))
    for setting, slug in (("full", "full"), ("10%", "10pct")):
        np.savez(tmp_path / f"errors-sz-taxi-{slug}.npz", blocks=blocks, **{f"count|{m}": c for m, c in counts.items()},
                 **{f"gru|{m}": np.array([1.0, 2.0]) for m in counts})
    for setting, train, kept in (("full", {**TRAIN, "augment_scale": 1.5}, ["gru"]), ("full", TRAIN, []),
                                 ("full", None, []), ("10%", None, ["gru"]), ("10%", TRAIN, ["gru"]),
                                 ("10%", {**TRAIN, "augment_scale": 1.5}, [])):
        run = {"dataset": "sz-taxi", "setting": setting, "seed": 0, "git_commit": "abc", "model": "gru",
               **({"train": train} if train else {}), **({"options": {"layers": 2}} if setting == "full" else {})}
        (tmp_path / "fewshot_accuracy.json").write_text(json.dumps(
            {"runs": [run], "splits": {f"sz-taxi|{setting}": facts}, "meta": {"stvlm_model": {}}}))
        assert sorted(earlier_runs(args, "sz-taxi", setting, counts, blocks, facts)) == kept, (setting, train)
        assert sorted(earlier_runs(args, "sz-taxi", setting, counts, blocks, facts, check_config=False)) == ["gru"]


def test_baseline_options_on_a_pair_are_recorded_reused_and_named_on_the_page(tmp_path: Path, monkeypatch) -> None:
    """A baseline's own config options on a pair (``BASELINE_TRAIN``'s ``options``): reused runs
    must have recorded the same options (a run without a record ran with the defaults), and the
    page names them beside the training settings, or as what a stale row lacks."""
    import argparse
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    import fewshot_setup
    from fewshot_accuracy import earlier_runs
    from fewshot_pages import _baseline_training
    from fewshot_setup import TRAIN, baseline_options

    from stvlm.configs.pair_choices import PairTraining

    assert baseline_options("gru", ("nycbike1", "10%")) == {} and baseline_options("gru") == {}
    own = PairTraining({}, ("validation-x.json",), {"hidden": 128})
    monkeypatch.setitem(fewshot_setup.BASELINE_TRAIN, ("gru", "nycbike1", "10%"), own)
    assert baseline_options("gru", ("nycbike1", "10%")) == {"hidden": 128}
    counts, blocks = {"mae": np.array([3, 4]), "mae_all": np.array([5, 6])}, np.array([0, 1])
    facts = {"lookback_lags": [288, 2016], "parts": {"train": {"windows": 2, "first_start": 2016}}}
    args = argparse.Namespace(out_dir=str(tmp_path))
    np.savez(tmp_path / "errors-nycbike1-10pct.npz", blocks=blocks, **{f"count|{m}": c for m, c in counts.items()},
             **{f"gru|{m}": np.array([1.0, 2.0]) for m in counts})
    for options, kept in (({"hidden": 128}, ["gru"]), (None, []), ({"hidden": 32}, [])):
        run = {"dataset": "nycbike1", "setting": "10%", "seed": 0, "git_commit": "abc", "model": "gru",
               "train": TRAIN, **({"options": options} if options else {})}
        (tmp_path / "fewshot_accuracy.json").write_text(json.dumps(
            {"runs": [run], "splits": {"nycbike1|10%": facts}, "meta": {"stvlm_model": {}}}))
        assert sorted(earlier_runs(args, "nycbike1", "10%", counts, blocks, facts)) == kept, options
        assert sorted(earlier_runs(args, "nycbike1", "10%", counts, blocks, facts, check_config=False)) == ["gru"]
    run = {"model": "gru", "dataset": "nycbike1", "setting": "10%", "train": TRAIN}
    page = _baseline_training({"runs": [{**run, "options": {"hidden": 128}}]})
    assert page == ["- Baselines trained with their own settings on a pair (the rest of the shared budget above "
                    "unchanged), each offered by a rule written before it ran and chosen on validation only "
                    "(`BASELINE_TRAIN` in `stvlm/configs/pair_choices.py`): gru on nycbike1 10%: `hidden` 128 "
                    "(`validation-x.json`)."]
    assert _baseline_training({"runs": [run]}) == [
        "- Baseline rows that did not train with the settings this benchmark now gives them on their pair "
        "(they predate them; `fewshot_accuracy.py --only <model>` on the pair brings them in line): gru on "
        "nycbike1 10% (now: `hidden` 128, `validation-x.json`)."]


def test_every_baseline_own_training_is_a_valid_setting_with_its_evidence_committed() -> None:
    """Each ``BASELINE_TRAIN`` entry names a baseline (a neural one where it changes training
    settings; ridge may change only its options), a pair of the benchmark, settings that make a
    ``TrainConfig``, options its config takes, and validation files that are committed and,
    together, ran those settings and options on that pair."""
    import sys

    root = Path(__file__).resolve().parents[1]
    sys.path.insert(0, str(root / "benchmarks"))
    from fewshot_setup import BASELINE_TRAIN, SETTINGS, baseline_options, neural, train_settings

    from stvlm.baselines import build_baseline
    from stvlm.configs import TrainConfig

    assert BASELINE_TRAIN
    for (model, dataset, setting), own in BASELINE_TRAIN.items():
        assert (neural(model) or not own.changes) and setting in SETTINGS, (model, dataset, setting)
        TrainConfig(**train_settings(model, (dataset, setting)))
        build_baseline(model, baseline_options(model, (dataset, setting)))
        rows = [r for e in own.evidence
                for r in json.loads((root / "results" / "fewshot_accuracy" / e).read_text())["rows"]
                if (r["model"], r["dataset"], r["setting"]) == (model, dataset, setting)]
        assert any(own.changes.items() <= r["train"].items() for r in rows), own
        assert not own.options or any(own.options.items() <= r["model_changes"].items() for r in rows), own


def test_the_results_page_names_baselines_trained_with_their_own_settings() -> None:
    """Baseline runs that trained with other settings than the shared ``TRAIN`` (a run without a
    record trained with it) get one caveat naming model, pair, the settings and the validation
    file of ``BASELINE_TRAIN`` that chose them; rows not trained with what the benchmark now
    gives their pair get another; none when every run used the shared budget and should."""
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    from fewshot_pages import _baseline_training
    from fewshot_setup import TRAIN

    runs = [{"model": "gru", "dataset": "sz-taxi", "setting": "full", "train": {**TRAIN, "augment_scale": 1.5},
             "options": {"layers": 2}},
            {"model": "gru", "dataset": "sz-taxi", "setting": "10%", "train": TRAIN},
            {"model": "stid", "dataset": "los-loop", "setting": "10%", "train": {**TRAIN, "lr": 0.01}},
            {"model": "ridge", "dataset": "sz-taxi", "setting": "10%"},  # keeps its defaults there
            {"model": "st-vlm", "dataset": "sz-taxi", "setting": "full", "train": {"augment_scale": 1.5}}]
    stale = ("- Baseline rows that did not train with the settings this benchmark now gives them on "
             "their pair (they predate them; `fewshot_accuracy.py --only <model>` on the pair brings "
             "them in line): ")
    assert _baseline_training({"runs": runs}) == [
        "- Baselines trained with their own settings on a pair (the rest of the shared budget above "
        "unchanged), each offered by a rule written before it ran and chosen on validation only "
        "(`BASELINE_TRAIN` in `stvlm/configs/pair_choices.py`): gru on sz-taxi full: `augment_scale` 1.5, "
        "`layers` 2 (`validation-augment-gru-sz-taxi-full.json`, `validation-gru-sz-taxi-full.json`); "
        "stid on los-loop 10%: `lr` 0.01 (not this benchmark's setting now).",
        stale + "stid on los-loop 10% (now: the shared budget)."]
    assert _baseline_training({"runs": runs[1:2] + runs[3:]}) == []
    # a row from before its pair's own settings (Graph WaveNet on sz-taxi full trains augmented)
    old = {"model": "gwnet", "dataset": "sz-taxi", "setting": "full"}
    assert _baseline_training({"runs": [old]}) == [
        stale + "gwnet on sz-taxi full (now: `augment_scale` 1.5, `validation-augment-gwnet-sz-taxi-full.json`)."]


def test_the_results_page_names_st_vlm_runs_trained_with_other_settings_than_it_states() -> None:
    """A pair whose ST-VLM runs recorded other training settings than ``meta.stvlm_train`` (one
    re-run after a default changed, say) gets a caveat naming the settings; a setting a run did
    not record counts at ``TrainConfig``'s default, and matching runs get none."""
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    from fewshot_pages import _other_training

    own = {"warmup": 0.3, "amp": False, "augment_scale": 1.5}
    runs = [{"model": "st-vlm", "dataset": "a", "setting": "10%", "train": {"warmup": 0.3, "augment_scale": 1.5}},
            {"model": "st-vlm", "dataset": "b", "setting": "full", "train": {"warmup": 0.3}},
            {"model": "st-vlm", "dataset": "c", "setting": "10%", "train": {"warmup": 0.05, "augment_scale": 1.5}},
            {"model": "gru", "dataset": "d", "setting": "10%", "train": {"warmup": 0.05}},
            {"model": "st-vlm", "dataset": "e", "setting": "10%"}]
    assert _other_training({"meta": {"stvlm_train": own}, "runs": runs}) == [
        "- ST-VLM's runs of these pairs ran with other training settings than stated above: "
        "b full: `augment_scale` 1.0 (stated: 1.5); c 10%: `warmup` 0.05 (stated: 0.3)."]
    assert _other_training({"meta": {"stvlm_train": own}, "runs": runs[:1] + runs[3:]}) == []
