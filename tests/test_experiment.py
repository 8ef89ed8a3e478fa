"""One ST-VLM experiment end to end on real data: determinism, outputs, checkpoint round trip."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

import numpy as np

from harness.cli.main import main
from stvlm.configs import ExperimentConfig
from stvlm.experiment import load_checkpoint, run_experiment
from stvlm.engine import Engine
from stvlm.errors import ConfigError, DataError


@pytest.fixture(scope="module")
def toy_root(tmp_path_factory) -> Path:
    """A small bring-your-own dataset (real files, loaded like any dataset): 200 h, 6 sensors."""
    root = tmp_path_factory.mktemp("data")
    folder = root / "toy-city"
    folder.mkdir()
    rng = np.random.default_rng(0)
    t = np.arange(200)[:, None]
    values = 50 + 20 * np.sin(2 * np.pi * t / 24) + rng.normal(0, 2, (200, 6))
    np.save(folder / "values.npy", values[..., None].astype(np.float32))
    np.save(folder / "coords.npy", rng.uniform(0, 1, (6, 2)))
    (folder / "dataset.toml").write_text(
        'name = "toy-city"\ninterval_minutes = 60\nchannels = ["speed"]\nunits = ["km/h"]\n'
        'description = "Speeds of six sensors in a toy city."\nstart = 2024-01-01T00:00:00\n'
    )
    return root


def tiny_cfg(data_root: Path, dataset: str = "toy-city", **train) -> ExperimentConfig:
    cfg = ExperimentConfig.tiny(dataset)
    return cfg.replace(
        data=cfg.data.replace(data_root=str(data_root), few_shot=cfg.data.few_shot.replace(ratio=0.5)),
        train=cfg.train.replace(epochs=2, batch_size=8, max_batches_per_epoch=2, device="cpu", **train),
    )


def test_same_seed_same_metrics_on_cpu(toy_root: Path) -> None:
    a = run_experiment(tiny_cfg(toy_root, seed=3))
    b = run_experiment(tiny_cfg(toy_root, seed=3))
    assert a.test == b.test and a.val == b.val
    c = run_experiment(tiny_cfg(toy_root, seed=4))
    assert c.test != a.test


def test_outputs_and_checkpoint_round_trip(toy_root: Path, tmp_path: Path) -> None:
    cfg = tiny_cfg(toy_root)
    result = run_experiment(cfg, out_dir=tmp_path / "run")
    assert sorted(p.name for p in (tmp_path / "run").iterdir()) == ["checkpoint", "config.json", "metrics.json"]
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["test"] == pytest.approx(result.test)
    # 177 windows, 106 for training (6:2:2), half of them kept (contiguous)
    assert metrics["train_windows"] == 53 and metrics["split"]["few_shot"] == "first-50%"
    assert 0 < metrics["trainable_parameters"] < metrics["total_parameters"]
    loaded_cfg, forecast, model = load_checkpoint(tmp_path / "run" / "checkpoint")
    assert loaded_cfg == cfg
    again = Engine(model, forecast, loaded_cfg.train).evaluate("test")
    assert again == pytest.approx(result.test, rel=1e-6)


@pytest.mark.slow
def test_cli_train_then_evaluate_checkpoint(capsys, data_root: Path, tmp_path: Path) -> None:
    out = tmp_path / "cli-run"
    code = main([
        "train", "--data-root", str(data_root), "--out", str(out), "--dataset", "nycbike-drop",
        "--few-shot", "0.1", "--set", "train.epochs=1", "--set", "train.max_batches_per_epoch=2",
        "--set", "model.fusion.depth=0",
    ])
    assert code == 0
    printed = capsys.readouterr().out
    assert "fusion depth 0" in printed and "few-shot first-10%" in printed
    saved = json.loads((out / "config.json").read_text())
    assert saved["train"]["batch_size"] == 16 and saved["train"]["schedule"] == "cosine"
    summary = json.loads((out / "summary.json").read_text())
    assert f"best epoch {summary['best_epoch']} of 1" in printed
    assert ("(the untrained start: no epoch beat it on validation)" in printed) == (summary["best_epoch"] == 0)
    code = main(["evaluate", "--checkpoint", str(out / "checkpoint"), "--json", str(tmp_path / "e.json")])
    assert code == 0
    record = json.loads((tmp_path / "e.json").read_text())
    assert record["metrics"]["test"]["mae"] == pytest.approx(summary["test"]["mae"], rel=1e-6)
    capsys.readouterr()
    code = main(["predict", "--checkpoint", str(out / "checkpoint"), "--out", str(tmp_path / "p.npz")])
    assert code == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[-1].startswith(f"wrote {tmp_path / 'p.npz'} (prediction [window, step, node, channel]")
    saved = np.load(tmp_path / "p.npz")
    cfg, forecast, _ = load_checkpoint(out / "checkpoint")
    pred, true = saved["prediction"], forecast.targets("test")
    assert pred.shape == true.shape == (forecast.num_windows("test"), 12, 250, 1)
    assert np.array_equal(saved["window_start"], forecast.splits.part("test"))
    assert np.array_equal(saved["target_start"], saved["window_start"] + 12)
    scored = true > 0  # the masked metric of the standard protocol
    assert np.abs(pred - true)[scored].mean() == pytest.approx(summary["test"]["mae"], rel=1e-4)


def test_checkpoint_of_other_data_is_refused(toy_root: Path, tmp_path: Path) -> None:
    cfg = tiny_cfg(toy_root)
    run_experiment(cfg, out_dir=tmp_path / "run")
    # The same dataset folder, its values changed since training (here: another unit).
    changed = tmp_path / "data"
    shutil.copytree(toy_root / "toy-city", changed / "toy-city")
    values = np.load(changed / "toy-city" / "values.npy")
    np.save(changed / "toy-city" / "values.npy", values * 1.609)
    with pytest.raises(DataError, match=r"toy-city now differs from the data the checkpoint .* was "
                       r"trained on \(6 nodes, scaler mean \[81\.9182\]; trained on 6 nodes, mean \[50\.9125\]\)"):
        load_checkpoint(tmp_path / "run" / "checkpoint", data_root=str(changed))


def test_cli_train_rejects_bad_settings_before_work(capsys, data_root: Path, tmp_path: Path) -> None:
    cases = [
        (["--set", "model.finetune.lora_rank=0"], "model.finetune.lora_rank = 0 is out of range; allowed: >= 1"),
        (["--set", "model.fusion.depth=9"], "fusion.depth = 9 is larger than the backbone's 2 layers"),
        (["--set", "model.image.encoding=grid_heatmap"], "image.encoding = 'grid_heatmap' needs node coordinates"),
        (["--set", "model.backbone.name=bert"], "backbone.name = 'bert' is unknown; allowed: vilt, clip"),
        (["--set", "model.image.size=30"], "image"),
        (["--config", str(tmp_path / "missing.toml")], "does not exist"),
    ]
    for extra, expected in cases:
        code = main(["train", "--data-root", str(data_root), "--out", str(tmp_path / "x"), *extra])
        err = capsys.readouterr().err.strip().splitlines()
        assert code == 2, extra
        assert len(err) == 1 and expected in err[0], (extra, err)
    assert not (tmp_path / "x").exists()


def test_default_experiment_trains_with_the_accuracy_benchmarks_stvlm_budget() -> None:
    """``stvlm train`` without a config gets the settings the benchmark chose on validation."""
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    from fewshot_setup import STVLM_MODEL, STVLM_TRAIN

    from stvlm.configs import TrainConfig
    from stvlm.configs.train import STVLM_WARMUP

    default = ExperimentConfig.default()
    assert default.model == STVLM_MODEL
    # the benchmark alone pins fp32 (its rows must not depend on the device); `stvlm train` keeps
    # bf16 autocast on a GPU for speed
    assert default.train == TrainConfig(**{**STVLM_TRAIN, "amp": True}, epochs=40)
    assert STVLM_TRAIN["amp"] is False
    assert default.train.warmup == STVLM_WARMUP == 0.3 and TrainConfig().warmup == 0.05
    assert default.train.start_candidate and not TrainConfig().start_candidate
    assert default.train.loss_mask == "both" and TrainConfig().loss_mask == "observed"


def test_the_results_page_states_every_one_of_stvlms_own_training_settings() -> None:
    """The page's training paragraph names each setting of ``STVLM_TRAIN_SETTINGS``: leaving any
    one out of the recorded settings changes the text (a new setting must be described there)."""
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    from fewshot_pages import _stvlm_training
    from fewshot_setup import STVLM_TRAIN

    from stvlm.configs.train import STVLM_TRAIN_SETTINGS

    full = _stvlm_training({"stvlm_train": STVLM_TRAIN})
    text = _stvlm_training({"stvlm_train": {**STVLM_TRAIN, "augment_scale": 1.0}})  # augmentation off
    assert "30% of the planned steps" in text and "kept unless an epoch beats it" in text
    assert "`loss_mask = both`" in text and "`patience_after_warmup`" in text and "augment_scale" not in text
    assert full.startswith(text) and "`augment_scale` 1.5: each training window times one factor in [1/1.5, 1.5]" in full
    assert _stvlm_training({"stvlm_train": {**STVLM_TRAIN, "augment_scale": 2.0}}).count("[1/2, 2]") == 1
    for key in STVLM_TRAIN_SETTINGS:
        assert _stvlm_training({"stvlm_train": {k: v for k, v in STVLM_TRAIN.items() if k != key}}) != full, key
    assert _stvlm_training({"stvlm_train": {**STVLM_TRAIN, "loss_mask": "observed"}}).count("loss_mask") == 0
    assert _stvlm_training({}) == ""


def test_the_results_page_names_only_what_the_table_still_lacks() -> None:
    """The "Not yet run" caveat lists ST-VLM's missing seeds and the datasets without a full
    row, and is left out when the table has both."""
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    from fewshot_pages import _not_yet_run

    def result(seeds: list[int], splits: list[str]) -> dict:
        return {"rows": [{"model": "st-vlm", "seeds": seeds}, {"model": "ridge", "seeds": [0]}],
                "splits": {k: {} for k in splits}}

    assert _not_yet_run(result([0, 1, 2, 3, 4], ["a|10%", "a|full"])) == []
    assert _not_yet_run(result([0, 1, 2], ["a|10%", "a|full", "b|10%"])) == [
        "- Not yet run: 5 seeds (3 for some pairs here) and the `full` setting on b."]
    assert _not_yet_run(result([0, 1, 2, 3, 4], ["b|10%", "a|10%"])) == [
        "- Not yet run: the `full` setting on a, b."]


def test_the_verdicts_headline_counts_the_target_pairs_and_all_pairs() -> None:
    """A pair counts as met only when every baseline but the reference lines is beaten on both
    metrics; the target's count leaves out the ``full`` settings."""
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    from fewshot_verdict import headline, not_beaten

    def interval(dataset: str, setting: str, baseline: str, metric: str, better: bool) -> dict:
        return {"dataset": dataset, "setting": setting, "baseline": baseline, "metric": metric,
                "st_vlm_better": better}

    intervals = [
        interval("a", "10%", "gru", "mae", True), interval("a", "10%", "gru", "mae_all", True),
        interval("a", "10%", "historical-average-all", "mae", False),  # a reference line: not counted
        interval("b", "10%", "gru", "mae", True), interval("b", "10%", "gru", "mae_all", False),
        interval("b", "st-llm-10%", "ridge", "mae", False),
        interval("a", "full", "gru", "mae", True), interval("a", "full", "gru", "mae_all", True),
    ]
    pairs = dict.fromkeys((i["dataset"], i["setting"]) for i in intervals)
    assert headline({p: not_beaten(intervals, *p) for p in pairs}) == (
        "ST-VLM beats every baseline (the reference line historical-average-all aside), the paired "
        "interval excluding zero on both metrics, on 1 of the 3 few-shot pairs that the target counts "
        "(every setting but `full`) and on 2 of 4 pairs in all.")


def test_a_test_win_that_validation_would_not_have_picked_is_said_in_the_verdict() -> None:
    """Baselines below ST-VLM on validation are named beside a test win (reference lines, whose
    validation score is in-sample, aside); none, no sentence."""
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    from fewshot_verdict import validation_dissent

    def row(model: str, val: float, dataset: str = "a") -> dict:
        return {"dataset": dataset, "setting": "full", "model": model, "val_mae": val}

    result = {"rows": [row("st-vlm", 2.9787), row("staeformer", 2.9187), row("gru", 3.2874),
                       row("historical-average-all", 0.1079), row("ridge", 2.5, dataset="b")]}
    assert validation_dissent(result, "a", "full") == (
        " On validation (masked MAE) staeformer 2.919 is below ST-VLM's 2.979: a choice made on "
        "validation would not pick ST-VLM here.")
    result["rows"].append(row("gwnet", 2.95))
    assert validation_dissent(result, "a", "full").startswith(
        " On validation (masked MAE) staeformer 2.919, gwnet 2.950 are below ST-VLM's 2.979")
    assert validation_dissent(result, "b", "full") == ""  # no ST-VLM row there
    assert validation_dissent({"rows": [row("st-vlm", 2.0), row("gru", 2.5)]}, "a", "full") == ""


def test_benchmark_pairs_are_kept_in_dataset_then_setting_order() -> None:
    """Whatever order pairs were run in, the result lists them by dataset, then setting as in
    ``SETTINGS`` (10%, st-llm-10%, full); within a pair the run order stays."""
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    from fewshot_setup import in_pair_order

    order = [("sz-taxi", "full"), ("b", "full"), ("b", "10%"), ("a", "st-llm-10%"), ("b", "st-llm-10%")]
    runs = [{"dataset": d, "setting": s, "seed": seed} for d, s in order for seed in (1, 0)]
    result = in_pair_order({"runs": runs, "intervals": [dict(r) for r in runs],
                            "splits": {f"{d}|{s}": {} for d, s in order}})
    expected = [("a", "st-llm-10%"), ("b", "10%"), ("b", "st-llm-10%"), ("b", "full"), ("sz-taxi", "full")]
    assert [(r["dataset"], r["setting"], r["seed"]) for r in result["runs"]] == [
        (d, s, seed) for d, s in expected for seed in (1, 0)]
    assert result["intervals"] == result["runs"]
    assert list(result["splits"]) == [f"{d}|{s}" for d, s in expected]


def test_the_sweep_adoption_rule_on_tiny_rows() -> None:
    """``meets_rule``: seed means of the mean of masked and all-entries validation MAE, over the
    seeds both candidates ran; no worse on any pair and better on at least one."""
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    from validation_runs import meets_rule, target_metric

    def row(pair: str, cand: str, seed: int, masked: float, every: float) -> dict:
        return {"dataset": pair, "setting": "10%", "candidate": cand, "seed": seed,
                "val_mae": masked, "val_mae_all": every}

    assert target_metric(row("a", "x", 0, 2.0, 1.5)) == 1.75
    rows = [row("a", "ref", 0, 2.0, 1.0), row("a", "ref", 1, 3.0, 2.0), row("a", "new", 0, 2.0, 0.5),
            row("a", "new", 1, 3.0, 2.5), row("b", "ref", 0, 4.0, 4.0), row("b", "new", 0, 4.0, 4.0),
            row("b", "new", 1, 1.0, 1.0)]  # seed 1 of b ran only the candidate: not compared
    verdict = meets_rule(rows, "ref", "new")
    assert verdict == {"pairs": {"a 10%": (2.0, 2.0), "b 10%": (4.0, 4.0)}, "better": 0, "meets": False}
    rows[2]["val_mae_all"] = 0.4  # a: 2.0 -> 1.975
    assert meets_rule(rows, "ref", "new") == {"pairs": {"a 10%": (2.0, 1.975), "b 10%": (4.0, 4.0)},
                                              "better": 1, "meets": True}
    rows[5]["val_mae"] = 4.2  # b: worse by 0.1
    assert meets_rule(rows, "ref", "new")["meets"] is False
    import pytest

    with pytest.raises(ValueError, match="no pair ran both 'ref' and 'other'"):
        meets_rule(rows, "ref", "other")


def test_rule_check_applies_the_rule_to_a_sweep_file_and_refuses_what_it_cannot(tmp_path, monkeypatch, capsys,
                                                                                caplog) -> None:
    """``validation_runs --sweep S --rule REF CAND``: trains nothing, logs each pair's two means and
    the verdict; a label outside the sweep, a missing file or labels with no shared pair stop
    with status 2 and say why."""
    import json
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    import validation_runs

    def row(cand: str, seed: int, mae: float) -> dict:
        return {"dataset": "sz-taxi", "setting": "full", "candidate": cand, "seed": seed,
                "val_mae": mae, "val_mae_all": mae}

    path = tmp_path / "sweep.json"

    def run(*rule: str) -> int:
        monkeypatch.setattr(sys, "argv", ["validation_runs.py", "--sweep", "gru-sz-taxi-full", "--out", str(path),
                                          "--rule", *rule])
        caplog.clear()
        with caplog.at_level("WARNING"):
            return validation_runs.main()

    for rule, message in [(("as in the table", "3 layers"), "'3 layers' not a candidate of --sweep "
                           "gru-sz-taxi-full (its candidates: 'as in the table', 'hidden 128', '2 layers', 'lr 3e-4')"),
                          (("as in the table", "2 layers"), f"--rule: no such file: {path}")]:
        with pytest.raises(SystemExit) as exit_:
            run(*rule)
        assert exit_.value.code == 2 and message in capsys.readouterr().err
    path.write_text(json.dumps({"rows": [row("as in the table", 0, 3.0), row("as in the table", 1, 2.0),
                                         row("2 layers", 0, 2.5), row("2 layers", 1, 2.0), row("lr 3e-4", 0, 3.5)]}))
    assert run("as in the table", "2 layers") == 0
    assert [r.getMessage() for r in caplog.records] == [
        "sz-taxi full: 'as in the table' 2.5000, '2 layers' 2.2500 (mean validation target over the seeds both ran)",
        "'2 layers' meets the rule against 'as in the table' (no worse on any pair, better on one at least): "
        "better on 1 of 1"]
    assert run("as in the table", "lr 3e-4") == 0  # seed 0 only: 3.0 against 3.5
    assert caplog.records[-1].getMessage().startswith("'lr 3e-4' does not meet the rule")
    with pytest.raises(SystemExit) as exit_:
        run("as in the table", "hidden 128")
    assert exit_.value.code == 2 and "no pair ran both 'as in the table' and 'hidden 128'" in capsys.readouterr().err


def test_merging_per_seed_sweep_files_in_the_order_of_one_run(tmp_path, monkeypatch, capsys) -> None:
    """``validation_runs --merge``: rows of per-seed files come out in the order a single run of
    every seed writes them (pair, candidate, seed), with each file's commit and command kept; a
    row of another sweep or a repeated seed is a one-line error that names the file."""
    import json
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    import validation_runs

    def row(dataset: str, setting: str, cand: str, seed: int) -> dict:
        return {"dataset": dataset, "setting": setting, "candidate": cand, "seed": seed}

    one = {"git_commit": "aaa", "device": "cpu", "command": "run 1", "versions": {"torch": "x"},
           "rows": [row("nycbike-drop", "10%", "MLP head 64", 1), row("los-loop", "10%", "MLP head 32", 1),
                    row("los-loop", "10%", "MLP head 64", 1)]}
    zero = {"git_commit": "bbb", "device": "cpu", "command": "run 0", "note": "n",
            "rows": [row("los-loop", "10%", "MLP head 32", 0), row("nycbike-drop", "10%", "MLP head 64", 0),
                     row("los-loop", "10%", "MLP head 64", 0)]}
    merged = validation_runs.merge_runs("head-width", [("one.json", one), ("zero.json", zero)])
    assert [(r["dataset"], r["candidate"], r["seed"]) for r in merged["rows"]] == [
        ("los-loop", "MLP head 64", 0), ("los-loop", "MLP head 64", 1), ("los-loop", "MLP head 32", 0),
        ("los-loop", "MLP head 32", 1), ("nycbike-drop", "MLP head 64", 0), ("nycbike-drop", "MLP head 64", 1)]
    assert (merged["git_commit"], merged["versions"], merged["command"]) == (
        "aaa", {"torch": "x"}, "python benchmarks/validation_runs.py --sweep head-width --seeds 0 1")
    assert merged["merged_from"] == [
        {"file": "one.json", "git_commit": "aaa", "device": "cpu", "command": "run 1", "seeds": [1]},
        {"file": "zero.json", "git_commit": "bbb", "device": "cpu", "command": "run 0", "seeds": [0], "note": "n"}]
    with pytest.raises(ValueError, match="zero.json: los-loop 10% 'MLP head 64' seed 1 is already in an earlier file"):
        validation_runs.merge_runs("head-width", [("one.json", one), ("zero.json", {**zero, "rows": one["rows"][2:]})])
    with pytest.raises(ValueError, match="one.json: row nycbike-drop 10% 'MLP head 64' is not in sweep 'ema'"):
        validation_runs.merge_runs("ema", [("one.json", one)])
    long = [("one.json", {**one, "command": "python benchmarks/validation_runs.py --epochs 80 --seeds 1"}),
            ("zero.json", {**zero, "rows": [{**r, "epochs": 80} for r in zero["rows"]]})]
    assert validation_runs.merge_runs("head-width", long)["command"] == (
        "python benchmarks/validation_runs.py --sweep head-width --epochs 80 --seeds 0 1")
    with pytest.raises(ValueError, match="zero.json: ran 40 epochs, the first file 80"):
        validation_runs.merge_runs("head-width", [long[0], ("zero.json", zero)])
    with pytest.raises(ValueError, match=r"zero.json: rows ran with different epoch caps \[40, 80\]"):
        validation_runs.merge_runs("head-width", [("zero.json", {**zero, "rows": [
            {**zero["rows"][0], "epochs": 40}, {**zero["rows"][1], "epochs": 80}]})])

    for name, run in (("one.json", one), ("zero.json", zero)):
        (tmp_path / name).write_text(json.dumps(run))
    out = tmp_path / "merged.json"
    argv = ["validation_runs.py", "--sweep", "head-width", "--out", str(out), "--merge",
            str(tmp_path / "one.json"), str(tmp_path / "zero.json")]
    monkeypatch.setattr(sys, "argv", argv)
    assert validation_runs.main() == 0
    written = json.loads(out.read_text())
    assert written["rows"] == merged["rows"] and written["merge_command"].endswith("zero.json")
    monkeypatch.setattr(sys, "argv", argv[:-1] + [str(tmp_path / "absent.json")])
    with pytest.raises(SystemExit) as exit_:
        validation_runs.main()
    assert exit_.value.code == 2 and "--merge: no such file:" in capsys.readouterr().err
    (tmp_path / "other.json").write_text("{}")
    monkeypatch.setattr(sys, "argv", argv[:-1] + [str(tmp_path / "other.json")])
    with pytest.raises(SystemExit) as exit_:
        validation_runs.main()
    assert exit_.value.code == 2 and "has no 'rows' field: not a validation_runs output" in capsys.readouterr().err
    assert json.loads(out.read_text()) == written  # nothing already written is lost


def test_every_validation_sweep_candidate_builds_valid_configs() -> None:
    """Each candidate of ``validation_sweeps.SWEEPS`` names real settings: its training changes make
    a ``TrainConfig`` with the sweep model's settings, its model changes apply to the benchmark's
    ST-VLM config (dotted paths) or build the sweep's baseline (its options), and its data
    changes to a ``DataConfig``; labels are unique within a sweep and pairs are the benchmark's.
    A misspelt key fails here, not after an hour."""
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    from fewshot_setup import SETTINGS, STVLM_MODEL, train_settings
    from validation_sweeps import SWEEPS, Candidate

    from stvlm.baselines import build_baseline
    from stvlm.configs import DataConfig, TrainConfig
    from stvlm.configs.model import STVLMConfig

    assert {"capacity", "batch"} <= set(SWEEPS)
    for name, (pairs, model, candidates) in SWEEPS.items():
        assert pairs and all(setting in SETTINGS for _, setting in pairs), name
        labels = [Candidate(*c).label for c in candidates]
        assert len(set(labels)) == len(labels), name
        for cand in (Candidate(*c) for c in candidates):
            TrainConfig(**{**train_settings(model), **cand.train})
            if model == "st-vlm":
                assert isinstance(STVLM_MODEL.with_values(cand.model), STVLMConfig)
            else:  # a baseline's options, validated by its config
                assert build_baseline(model, cand.model).name == model
            DataConfig(dataset="los-loop").with_values(cand.data)
    changed = STVLM_MODEL.with_values(dict(SWEEPS["capacity"][2][3][2]))
    assert (changed.finetune.strategy, changed.finetune.trainable_layers) == ("pfa", 2)
    with pytest.raises(ConfigError, match="unknown key head.hiden"):
        STVLM_MODEL.with_values({"head.hiden": 64})
    assert dict(SWEEPS["gru-sz-taxi-full"][2][1][2]) == {"hidden": 128}
    assert build_baseline("gru", {"hidden": 128, "layers": 2}).cfg.hidden == 128
    with pytest.raises(ConfigError, match="hiden"):
        build_baseline("gru", {"hiden": 128})


@pytest.mark.parametrize("script", ["fewshot_accuracy", "validation_runs"])
def test_benchmarks_refuse_a_missing_data_root_before_any_run(script, tmp_path, monkeypatch, capsys) -> None:
    """No ``--data-root`` and no ``$STVLM_DATA``, or a root that is not a folder: argparse's
    one-line error and status 2 before any pair is prepared, and nothing written."""
    import importlib
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    module = importlib.import_module(script)
    out = ["--out-dir", str(tmp_path / "out")] if script == "fewshot_accuracy" else [
        "--sweep", "ema", "--out", str(tmp_path / "out" / "v.json")]
    monkeypatch.delenv("STVLM_DATA", raising=False)
    for extra, says in (([], "no data root given: pass --data-root or set STVLM_DATA"),
                        (["--data-root", str(tmp_path / "absent")], f"{tmp_path / 'absent'} is not a directory")):
        monkeypatch.setattr(sys, "argv", [f"{script}.py", *out, *extra])
        with pytest.raises(SystemExit) as exit_:
            module.main()
        err = capsys.readouterr().err
        assert exit_.value.code == 2 and says in err and "Traceback" not in err
        assert not (tmp_path / "out").exists()


def test_the_results_pages_splits_are_a_table_with_one_row_per_pair() -> None:
    """Each (dataset, setting) gets one row: windows, first training step, lags, bootstrap blocks
    (the fewest of the pair's intervals) and the commits its runs came from; a pair without a
    recorded commit says so with a dash."""
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    from fewshot_pages import split_lines

    def split(dataset: str, commit: str | None, **extra) -> dict:
        return {"dataset": dataset, "windows": {"train": 66, "val": 218, "test": 869},
                "parts": {"train": {"steps": [336, 500]}}, "lookback_lags": [48, 336],
                "git_commit": commit, **extra}

    result = {
        "splits": {"a|10%": split("a", "7ead12bcfb25", reused={"ridge": "508057b0000"}),
                   "b|full": split("b", None, bootstrap_block="24 steps (only 2 test days)")},
        "rows": [{"dataset": "a", "setting": "10%", "model": m} for m in ("st-vlm", "ridge")],
        "runs": [],
        "intervals": [{"dataset": "a", "setting": "10%", "blocks": 19},
                      {"dataset": "a", "setting": "10%", "blocks": 18}],
    }
    assert split_lines(result) == [
        "| dataset | setting | training windows | from step | lookback lags (steps) | val / test windows "
        "| bootstrap blocks | code |",
        "|---|---|---|---|---|---|---|---|",
        "| a | 10% | 66 | 336 | 48, 336 | 218 / 869 | 1 day (18 blocks) | code 7ead12b; every baseline "
        "reused from 508057b |",
        "| b | full | 66 | 336 | 48, 336 | 218 / 869 | 24 steps (only 2 test days) (? blocks) | — |",
    ]


def test_the_selection_caveat_is_one_bullet_with_a_sentence_per_sub_bullet() -> None:
    """The page's Selection caveat: its heading bullet, then each part as an indented sub-bullet
    that is whole sentences (a capital first, a full stop last), so no part is cut mid-way."""
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    from fewshot_selection import SELECTION, SELECTION_HEAD, SELECTION_PARTS

    lines = SELECTION.split("\n")
    assert lines[0] == SELECTION_HEAD and SELECTION_HEAD.startswith("- Selection: ")
    assert lines[1:] == [f"  - {part}" for part in SELECTION_PARTS]
    assert all(part[0].isupper() and part.endswith(".") and "\n" not in part for part in SELECTION_PARTS)


def test_an_interrupted_sweep_resumes_from_its_rows_and_an_unfinished_file_is_refused(
        tmp_path, monkeypatch, capsys, data_root) -> None:
    """``validation_runs`` writes each row as it finishes (``complete`` false until the last): the
    same command at the same commit and device, run again, keeps those rows and trains only the
    rest, ending with the file an uninterrupted run writes; ``--rule`` and ``--merge`` refuse the
    unfinished file, and another commit starts over."""
    import json
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    import validation_runs

    monkeypatch.setitem(validation_runs.SWEEPS, "tiny-ridge", ((("los-loop", "10%"),), "ridge", (
        ("alpha 3,000", {}, {}), ("alpha 30", {}, {"alpha": 30.0}))))
    out = tmp_path / "sweep.json"
    argv = ["validation_runs.py", "--sweep", "tiny-ridge", "--data-root", str(data_root), "--out", str(out)]
    monkeypatch.setattr(sys, "argv", argv)
    clean = {"versions": {}, "git_commit": "abc", "device": "cpu (test)", "command": "x"}
    monkeypatch.setattr(validation_runs, "provenance", lambda: dict(clean))
    assert validation_runs.main() == 0
    whole = json.loads(out.read_text())
    assert "complete" not in whole and [r["candidate"] for r in whole["rows"]] == ["alpha 3,000", "alpha 30"]

    real, calls = validation_runs.validation_row, []

    def interrupted(*args, **kwargs):
        if calls:
            raise KeyboardInterrupt
        calls.append(kwargs["model_changes"])
        return real(*args, **kwargs)

    out.unlink()
    monkeypatch.setattr(validation_runs, "validation_row", interrupted)
    with pytest.raises(KeyboardInterrupt):
        validation_runs.main()
    partial = json.loads(out.read_text())
    assert partial["complete"] is False and partial["rows"] == whole["rows"][:1]
    for flag in (["--rule", "alpha 3,000", "alpha 30"], ["--merge", str(out)]):
        monkeypatch.setattr(sys, "argv", [*argv[:-1], str(tmp_path / "merged.json") if flag[0] == "--merge"
                                          else str(out), *flag])
        with pytest.raises(SystemExit) as exit_:
            validation_runs.main()
        assert exit_.value.code == 2 and f"{out} is an interrupted run (complete: false)" in capsys.readouterr().err

    calls.clear()
    monkeypatch.setattr(sys, "argv", argv)
    monkeypatch.setattr(validation_runs, "validation_row", lambda *a, **k: calls.append(k["model_changes"]) or real(*a, **k))
    assert validation_runs.main() == 0
    assert calls == [{"alpha": 30.0}]  # the first row was kept, not trained again
    assert json.loads(out.read_text()) == whole

    out.write_text(json.dumps(partial))  # an unfinished file of other code starts over
    monkeypatch.setattr(validation_runs, "provenance", lambda: {**clean, "git_commit": "def"})
    calls.clear()
    assert validation_runs.main() == 0
    assert calls == [{}, {"alpha": 30.0}]
