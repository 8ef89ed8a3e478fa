"""One ST-VLM experiment end to end on real data: determinism, outputs, checkpoint round trip."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

import numpy as np
import torch

from harness.cli.main import main
from stvlm.configs import ExperimentConfig
from stvlm.experiment import load_checkpoint, run_experiment
from stvlm.engine import Engine
from stvlm.errors import DataError
from stvlm.metrics import evaluate_forecast


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
    # the scores, and the mean of the masked and all-entries MAE that ST-VLM's monitor reads,
    # overall and at each reported horizon
    for split, scores in (("val", result.val), ("test", result.test)):
        both = {f"mae_both{h}": (scores[f"mae{h}"] + scores[f"mae_all{h}"]) / 2 for h in ("", "_h3", "_h6", "_h12")}
        assert metrics[split] == {**scores, **both}
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
    # the pair's one choice, 160 epochs, is what --set gave otherwise: nothing of it applied
    assert "pair_choices" not in summary and "accuracy benchmark's choices" not in printed
    # what the kept epoch was chosen by: ST-VLM's monitor, the mean of the masked and all-entries MAE
    both = (summary["val"]["mae"] + summary["val"]["mae_all"]) / 2
    assert f"best epoch {summary['best_epoch']} of 1 by validation mae_both {both:.4f}" in printed
    assert ("(the untrained start: no epoch beat it on validation)" in printed) == (summary["best_epoch"] == 0)
    code = main(["evaluate", "--checkpoint", str(out / "checkpoint"), "--json", str(tmp_path / "e.json")])
    assert code == 0
    record = json.loads((tmp_path / "e.json").read_text())
    assert record["metrics"]["test"]["mae"] == pytest.approx(summary["test"]["mae"], rel=1e-6)
    assert record["metrics"]["val"]["mae_both"] == pytest.approx(summary["val"]["mae_both"], rel=1e-6)
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
    # the standard protocol's MAE: masked where true > 0, the mean over the 12 steps
    assert evaluate_forecast(pred, true, forecast.protocol)["mae"] == pytest.approx(summary["test"]["mae"], rel=1e-5)
    # the validation part: its windows, and the score the run kept for its best epoch
    assert main(["predict", "--checkpoint", str(out / "checkpoint"), "--part", "val", "--out",
                 str(tmp_path / "v.npz")]) == 0
    val = np.load(tmp_path / "v.npz")
    assert np.array_equal(val["window_start"], forecast.splits.part("val"))
    scores = evaluate_forecast(val["prediction"], forecast.targets("val"), forecast.protocol)
    assert scores["mae"] == pytest.approx(summary["val"]["mae"], rel=1e-5)  # mean over the 12 steps


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


def test_the_model_is_built_at_the_runs_thread_count(toy_root: Path, monkeypatch) -> None:
    """``train.num_threads`` holds from the build on (the ridge start's solve, the prompts), not
    only from the engine's first step."""
    import torch

    from stvlm import models

    seen = []
    build = models.build_model

    def spy(model_cfg, forecast):
        seen.append(torch.get_num_threads())
        return build(model_cfg, forecast)

    monkeypatch.setattr(models, "build_model", spy)
    threads = torch.get_num_threads()
    try:
        for n in (2, 1):
            run_experiment(tiny_cfg(toy_root, num_threads=n))
    finally:
        torch.set_num_threads(threads)
    assert seen == [2, 1]


def test_a_checkpoint_finds_its_data_and_refuses_damage_in_one_line(toy_root: Path, tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """Its stored data root where that is a folder here, else $STVLM_DATA (a relative path, or
    another machine's); an unreadable record or missing weights are a DataError, not a traceback."""
    run_experiment(tiny_cfg(toy_root), out_dir=tmp_path / "run")
    moved = tmp_path / "moved"
    shutil.copytree(tmp_path / "run" / "checkpoint", moved)
    meta = json.loads((moved / "experiment.json").read_text())
    meta["data"]["data_root"] = "../nowhere"  # as a relative --data-root was once stored
    (moved / "experiment.json").write_text(json.dumps(meta))
    monkeypatch.setenv("STVLM_DATA", str(toy_root))
    cfg, forecast, _ = load_checkpoint(moved)
    assert cfg.data.data_root == str(toy_root) and forecast.data.info.name == "toy-city"
    if not torch.cuda.is_available():  # trained on a GPU, scored on this CPU-only machine
        meta["train"]["device"] = "cuda"
        (moved / "experiment.json").write_text(json.dumps(meta))
        cfg, forecast, model = load_checkpoint(moved)
        assert cfg.train.device == "cpu" and Engine(model, forecast, cfg.train).evaluate("test")
        meta["train"]["device"] = "cpu"
    (moved / "experiment.json").write_text("{")
    with pytest.raises(DataError, match=r"experiment\.json: not a readable experiment record"):
        load_checkpoint(moved)
    (moved / "experiment.json").write_text(json.dumps(meta))
    for weights in moved.glob("*.safetensors"):
        weights.unlink()
    with pytest.raises(DataError, match=r"the checkpoint's model files are missing or damaged"):
        load_checkpoint(moved)
