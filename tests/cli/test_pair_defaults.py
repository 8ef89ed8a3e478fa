"""The accuracy benchmark's per-pair choices as the defaults of ``stvlm train`` and ``stvlm
evaluate`` (``stvlm.configs.pair_choices``, ``harness.cli.pair_defaults``)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.cli.commands.train import experiment_config
from harness.cli.main import build_parser, main
from harness.cli.pair_defaults import pair_defaults, record, set_keys
from stvlm.configs import DataConfig, ExperimentConfig, FewShotConfig
from stvlm.errors import ConfigError
from stvlm.configs.pair_choices import benchmark_setting, pair_choices


@pytest.mark.parametrize(("data", "setting"), [
    (DataConfig(dataset="nycbike-drop", few_shot=FewShotConfig(ratio=0.1)), "10%"),
    (DataConfig(dataset="nycbike-drop"), "full"),
    (DataConfig(dataset="nycbike-drop", few_shot=FewShotConfig(budget="st-llm-10%")), "st-llm-10%"),
    (DataConfig(dataset="nycbike-drop", few_shot=FewShotConfig(ratio=0.2)), None),
    (DataConfig(dataset="nycbike-drop", few_shot=FewShotConfig(windows=66)), None),
    (DataConfig(dataset="nycbike-drop", few_shot=FewShotConfig(ratio=0.1, method="random")), None),
    (DataConfig(dataset="los-loop", protocol="tgcn", few_shot=FewShotConfig(ratio=0.1)), None),
])
def test_benchmark_setting_names_only_the_tables_own_selections(data: DataConfig, setting: str | None) -> None:
    assert benchmark_setting(data) == setting


def _data(dataset: str, ratio: float = 1.0) -> DataConfig:
    return DataConfig(dataset=dataset, few_shot=FewShotConfig(ratio=ratio))


def _pair(choices) -> tuple:
    return choices.setting, choices.values, choices.evidence


def test_pair_choices_of_each_kind() -> None:
    assert _pair(pair_choices("st-vlm", _data("nycbike-drop", 0.1))) == (
        "10%", {"train.epochs": 160}, ("epoch-cap-own160.json",))
    assert _pair(pair_choices("stid", _data("nycbike1", 0.1))) == (
        "10%", {"data.lookback_days": [1, 7, 14], "train.epochs": 160},
        ("validation-lookback.json", "epoch-cap-near160.json"))
    gru = pair_choices("gru", _data("sz-taxi"))
    assert _pair(gru) == (
        "full", {"data.lookback_days": [1, 7, 14], "train.epochs": 80, "train.augment_scale": 1.5, "model.layers": 2},
        ("validation-lookback.json", "epoch-cap-near80-sz.json", "validation-augment-gru-sz-taxi-full.json",
         "validation-gru-sz-taxi-full.json"))
    # less what a user set, with the evidence of what is left only
    assert _pair(gru.without({"data.lookback_days", "train.epochs"})) == (
        "full", {"train.augment_scale": 1.5, "model.layers": 2},
        ("validation-augment-gru-sz-taxi-full.json", "validation-gru-sz-taxi-full.json"))
    assert _pair(gru.without({"data.lookback_days", "train.augment_scale", "model.layers"})) == (
        "full", {"train.epochs": 80}, ("epoch-cap-near80-sz.json",))
    assert _pair(pair_choices("ridge", _data("nycbike-drop", 0.1))) == (
        "10%", {"model.alpha": 10000.0}, ("validation-ridge-alpha.json",))
    # the defaults everywhere else
    assert pair_choices("st-vlm", _data("sz-taxi", 0.1)) is None
    assert pair_choices("seasonal-naive", _data("nycbike-drop", 0.1)) is None
    assert pair_choices("st-vlm", _data("my-data")) is None
    assert pair_choices("gru", DataConfig(dataset="los-loop", protocol="tgcn", few_shot=FewShotConfig(ratio=0.1))) is None


def test_pair_defaults_leave_what_the_user_set_and_say_what_they_apply(capsys) -> None:
    applied = pair_defaults("seasonal-mean", _data("nycbike1", 0.1), user_keys=())
    assert _pair(applied) == ("10%", {"data.lookback_days": [1, 7, 14]}, ("validation-lookback.json",))
    assert capsys.readouterr().out == (
        "seasonal-mean on nycbike1 10%: data.lookback_days=[1,7,14], the accuracy benchmark's choices there "
        "on validation (results/fewshot_accuracy/: validation-lookback.json); --set changes them\n")
    assert record(applied) == {"pair_choices": {
        "setting": "10%", "values": {"data.lookback_days": [1, 7, 14]}, "evidence": ["validation-lookback.json"]}}
    assert pair_defaults("seasonal-mean", _data("nycbike1", 0.1), user_keys={"data.lookback_days"}) is None
    assert capsys.readouterr().out == "" and record(None) == {}
    assert _pair(pair_defaults("gru", _data("los-loop", 0.1), user_keys={"train.epochs"})) == (
        "10%", {"model.layers": 2}, ("validation-gru-los-loop-10.json",))
    assert capsys.readouterr().out.startswith("gru on los-loop 10%: model.layers=2, ")
    assert pair_defaults("st-vlm", _data("nycbike-drop"), user_keys=()) is None
    assert set_keys(["train.epochs=3", " data.lookback_days = [1]", "x"]) == {"train.epochs", "data.lookback_days", "x"}
    # a table set whole holds every path below it: the user's lookback days stand
    assert pair_defaults("seasonal-mean", _data("nycbike1", 0.1), user_keys={"data"}) is None
    assert _pair(pair_defaults("gru", _data("los-loop", 0.1), user_keys={"model"})) == (
        "10%", {"train.epochs": 160}, ("epoch-cap-near160.json",))  # model.layers=2 is the user's now


def _train_cfg(*argv: str):
    return experiment_config(build_parser().parse_args(["train", *argv]))[0]


def test_stvlm_train_gets_the_pairs_choices_unless_set(capsys, tmp_path: Path) -> None:
    assert _train_cfg("--dataset", "nycbike-drop", "--few-shot", "0.1").train.epochs == 160
    assert "st-vlm on nycbike-drop 10%: train.epochs=160" in capsys.readouterr().out
    assert _train_cfg("--dataset", "los-loop", "--few-shot", "0.1").train.epochs == 80
    assert _train_cfg("--dataset", "los-loop", "--few-shot", "0.1", "--set", "train.epochs=3").train.epochs == 3
    assert capsys.readouterr().out.count("train.epochs=80") == 1  # the first call only
    # the pair is the one the whole command line names, --set included
    cfg = _train_cfg("--dataset", "nycbike1", "--set", "data.few_shot.ratio=0.1")
    assert (cfg.data.lookback_days, cfg.train.epochs) == ((1, 7, 14), 40)
    assert _train_cfg("--dataset", "sz-taxi", "--few-shot", "0.1").train.epochs == 40  # no choice there
    capsys.readouterr()
    # a config file is laid over what `stvlm train` runs: the keys it leaves out get the
    # defaults and the pair's choices, the keys it sets are its own
    config = tmp_path / "run.json"
    config.write_text(json.dumps({"data": {"dataset": "nycbike-drop", "few_shot": {"ratio": 0.1}}}))
    cfg = _train_cfg("--config", str(config))
    assert cfg == _train_cfg("--dataset", "nycbike-drop", "--few-shot", "0.1") and cfg.train.epochs == 160
    assert capsys.readouterr().out.count("st-vlm on nycbike-drop 10%: train.epochs=160") == 2
    config.write_text(json.dumps({"data": {"dataset": "nycbike-drop", "few_shot": {"ratio": 0.1}},
                                  "train": {"epochs": 7}}))
    cfg = _train_cfg("--config", str(config))
    assert (cfg.train.epochs, cfg.train.warmup, cfg.model.series.dim) == (7, 0.3, 16)  # default()'s, not the classes'
    assert capsys.readouterr().out == ""
    # a run's whole config.json runs that run again, whatever the defaults say
    whole = ExperimentConfig.default("los-loop").with_overrides(["data.few_shot.ratio=0.1", "train.epochs=5"])
    config.write_text(json.dumps(whole.to_dict()))
    assert _train_cfg("--config", str(config)) == whole and capsys.readouterr().out == ""


def test_train_takes_the_few_shot_method_as_evaluate_does(capsys) -> None:
    cfg = _train_cfg("--dataset", "nycbike-drop", "--few-shot", "0.1", "--few-shot-method", "random")
    assert (cfg.data.few_shot.method, cfg.data.few_shot.seed, cfg.train.epochs) == ("random", 0, 40)  # not the table's pair
    assert capsys.readouterr().out == ""
    with pytest.raises(ConfigError, match="data.few_shot.method"):
        _train_cfg("--dataset", "nycbike-drop", "--few-shot-method", "last")


def test_a_config_file_is_laid_over_the_base_table_by_table() -> None:
    from harness.study.config_files import layered

    base = ExperimentConfig.default()
    merged, paths = layered(base, {"name": "x", "data": {"few_shot": {"ratio": 0.1}}, "model": {"backbone": {}}})
    assert paths == {"name", "data.few_shot.ratio", "model.backbone"}  # an empty table holds its whole table
    assert ExperimentConfig.from_dict(merged) == base.with_values({"name": "x", "data.few_shot.ratio": 0.1})
    _, paths = layered(base, {"data": {"lookback_days": [1], "nope": 1}})
    assert paths == {"data.lookback_days", "data.nope"}  # from_dict names the unknown key
    with pytest.raises(ConfigError, match="unknown key data.nope in DataConfig"):
        ExperimentConfig.from_dict(layered(base, {"data": {"nope": 1}})[0])


def test_stvlm_evaluate_gives_a_baseline_the_pairs_choices(capsys, data_root: Path, tmp_path: Path) -> None:
    """seasonal-mean on nycbike1 at 10%: one, seven and fourteen days unless ``--set`` says
    otherwise; ridge on nycbike-drop 10%: its alpha there, and the table's figure."""
    lags = {}
    for name, extra in (("chosen", []), ("set", ["--set", "data.lookback_days=[1,7]"])):
        out = tmp_path / f"{name}.json"
        assert main(["evaluate", "--dataset", "nycbike1", "--model", "seasonal-mean", "--few-shot", "0.1",
                     *extra, "--data-root", str(data_root), "--json", str(out)]) == 0
        lags[name] = json.loads(out.read_text())["split"]["lookback_lags"]
        printed = capsys.readouterr().out
        assert ("seasonal-mean on nycbike1 10%: data.lookback_days=[1,7,14]" in printed) == (name == "chosen")
    assert lags == {"chosen": [24, 168, 336], "set": [24, 168]}
    out = tmp_path / "ridge.json"
    assert main(["evaluate", "--dataset", "nycbike-drop", "--model", "ridge", "--few-shot", "0.1",
                 "--data-root", str(data_root), "--json", str(out)]) == 0
    assert "ridge on nycbike-drop 10%: model.alpha=10000.0" in capsys.readouterr().out
    saved = json.loads(out.read_text())
    assert saved["options"] == {"alpha": 10000.0}
    assert saved["pair_choices"] == {"setting": "10%", "values": {"model.alpha": 10000.0},
                                     "evidence": ["validation-ridge-alpha.json"]}
    assert (round(saved["metrics"]["test"]["mae"], 3), round(saved["metrics"]["test"]["mae_all"], 3)) == (2.034, 1.701)
