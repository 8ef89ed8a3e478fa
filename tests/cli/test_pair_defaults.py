"""The accuracy benchmark's per-pair choices as the defaults of ``stvlm train`` and ``stvlm
evaluate`` (``stvlm.configs.pair_choices``, ``harness.cli.pair_defaults``)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.cli.commands.train import experiment_config
from harness.cli.main import build_parser, main
from harness.cli.pair_defaults import pair_defaults, set_keys
from stvlm.configs import DataConfig, FewShotConfig
from stvlm.configs.pair_choices import PairChoice, benchmark_setting, pair_choice


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


def test_pair_choice_and_its_overrides() -> None:
    setting, choice = pair_choice(DataConfig(dataset="nycbike-drop", few_shot=FewShotConfig(ratio=0.1)))
    assert (setting, choice.stvlm_epochs, choice.lookback_days) == ("10%", 160, None)
    assert choice.overrides(stvlm=True) == {"train.epochs": 160}
    assert choice.overrides(stvlm=False) == {}
    _, choice = pair_choice(DataConfig(dataset="nycbike1", few_shot=FewShotConfig(ratio=0.1)))
    assert choice.overrides(stvlm=True) == choice.overrides(stvlm=False) == {"data.lookback_days": [1, 7, 14]}
    assert pair_choice(DataConfig(dataset="sz-taxi", few_shot=FewShotConfig(ratio=0.1))) is None  # the defaults
    assert pair_choice(DataConfig(dataset="my-data")) is None
    assert PairChoice(lookback_days=(1,), stvlm_epochs=5).overrides(stvlm=True) == {
        "data.lookback_days": [1], "train.epochs": 5}


def test_pair_defaults_leave_what_the_user_set_and_say_what_they_apply(capsys) -> None:
    data = DataConfig(dataset="nycbike1", few_shot=FewShotConfig(ratio=0.1))
    assert pair_defaults(data, stvlm=True, user_keys=()) == {"data.lookback_days": [1, 7, 14]}
    assert capsys.readouterr().out == (
        "nycbike1 10%: data.lookback_days=[1,7,14], the accuracy benchmark's choice for this pair on "
        "validation (lookback sweep (ridge): 6.087 -> 4.983); --set changes it\n")
    assert pair_defaults(data, stvlm=True, user_keys={"data.lookback_days"}) == {}
    assert capsys.readouterr().out == ""
    assert pair_defaults(DataConfig(dataset="nycbike-drop"), stvlm=True, user_keys=()) == {}
    assert set_keys(["train.epochs=3", " data.lookback_days = [1]", "x"]) == {"train.epochs", "data.lookback_days", "x"}


def _train_cfg(*argv: str):
    return experiment_config(build_parser().parse_args(["train", *argv]))


def test_stvlm_train_gets_the_pairs_epoch_cap_unless_set(capsys, tmp_path: Path) -> None:
    assert _train_cfg("--dataset", "nycbike-drop", "--few-shot", "0.1").train.epochs == 160
    assert "nycbike-drop 10%: train.epochs=160" in capsys.readouterr().out
    assert _train_cfg("--dataset", "los-loop", "--few-shot", "0.1").train.epochs == 80
    assert _train_cfg("--dataset", "los-loop", "--few-shot", "0.1", "--set", "train.epochs=3").train.epochs == 3
    assert "los-loop 10%: train.epochs=80" in capsys.readouterr().out  # once: the first call only
    # the pair is the one the whole command line names, --set included
    cfg = _train_cfg("--dataset", "nycbike1", "--set", "data.few_shot.ratio=0.1")
    assert (cfg.data.lookback_days, cfg.train.epochs) == ((1, 7, 14), 40)
    assert _train_cfg("--dataset", "sz-taxi", "--few-shot", "0.1").train.epochs == 40  # no choice there
    capsys.readouterr()
    # a config file decides every setting itself
    config = tmp_path / "run.json"
    config.write_text(json.dumps({"data": {"dataset": "nycbike-drop", "few_shot": {"ratio": 0.1}}}))
    assert _train_cfg("--config", str(config)).train.epochs == 40
    assert capsys.readouterr().out == ""


def test_stvlm_evaluate_gives_a_baseline_the_pairs_lookback(capsys, data_root: Path, tmp_path: Path) -> None:
    """nycbike1 at 10%: one, seven and fourteen days unless ``--set`` says otherwise."""
    lags = {}
    for name, extra in (("chosen", []), ("set", ["--set", "data.lookback_days=[1,7]"])):
        out = tmp_path / f"{name}.json"
        assert main(["evaluate", "--dataset", "nycbike1", "--model", "seasonal-mean", "--few-shot", "0.1",
                     *extra, "--data-root", str(data_root), "--json", str(out)]) == 0
        lags[name] = json.loads(out.read_text())["split"]["lookback_lags"]
        printed = capsys.readouterr().out
        assert ("nycbike1 10%: data.lookback_days=[1,7,14]" in printed) == (name == "chosen")
    assert lags == {"chosen": [24, 168, 336], "set": [24, 168]}
