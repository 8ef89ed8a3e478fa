"""A trial's Tune dict becomes one typed TrialConfig, parsed strictly, once."""

from __future__ import annotations

import pickle

import pytest

from harness.study.trial_config import TrialConfig
from stvlm.configs import ExperimentConfig
from stvlm.errors import ConfigError


def tune_dict(**extra) -> dict:
    exp = ExperimentConfig.tiny("los-loop").with_overrides(["train.seed=3"])
    return {"kind": "stvlm", "arm": "lora_rank=8", "seed": 3, "group": "g1", "model": "stvlm",
            "params": {"train.lr": 0.01, "train.weight_decay": None}, "experiment": exp.to_dict(), **extra}


def test_from_tune_parses_the_experiment_once_into_typed_fields() -> None:
    trial = TrialConfig.from_tune(tune_dict())
    assert (trial.kind, trial.arm, trial.seed, trial.group, trial.model) == ("stvlm", "lora_rank=8", 3, "g1", "stvlm")
    assert trial.experiment == ExperimentConfig.tiny("los-loop").with_overrides(["train.seed=3"])
    assert trial.params == {"train.lr": 0.01, "train.weight_decay": None} and trial.options == {}
    assert trial.plan_index is None  # a trial dict from before plan positions were recorded
    assert TrialConfig.from_tune(tune_dict(plan_index=7)).plan_index == 7
    # what a Train worker receives: the parsed object, pickled
    assert pickle.loads(pickle.dumps(trial.experiment)) == trial.experiment


def test_baseline_options_and_a_bad_experiment() -> None:
    base = TrialConfig.from_tune(tune_dict(kind="baseline", model="ridge", options={"alpha": 2.0}))
    assert (base.kind, base.model, base.options) == ("baseline", "ridge", {"alpha": 2.0})
    bad = tune_dict()
    bad["experiment"]["train"]["epochs"] = 0
    with pytest.raises(ConfigError, match="train.epochs"):
        TrialConfig.from_tune(bad)


def test_a_trial_reads_its_data_where_the_launch_says() -> None:
    """A resumed study's searcher plans with its first launch's root; the launch's own wins, and
    the experiment stays the same experiment."""
    planned = TrialConfig.from_tune(tune_dict(experiment=ExperimentConfig.tiny("los-loop").with_overrides(
        ["train.seed=3", 'data.data_root="/old/data"']).to_dict()))
    moved = planned.with_data_root("/new/data")
    assert (planned.experiment.data.data_root, moved.experiment.data.data_root) == ("/old/data", "/new/data")
    assert moved.experiment.config_hash() == planned.experiment.config_hash()
    assert moved.with_data_root(None).experiment.data.data_root is None  # $STVLM_DATA
    assert (moved.arm, moved.seed, moved.params) == (planned.arm, planned.seed, planned.params)


def test_every_trial_kind_runs_and_no_other_is_accepted() -> None:
    from harness.runtime.trial import TRIAL_KINDS
    from harness.study.plan import PlannedTrial
    from harness.study.trial_config import BASELINE_KIND, STVLM_KIND, TRIAL_KIND_NAMES

    assert TRIAL_KIND_NAMES == ("stvlm", "baseline") == (STVLM_KIND, BASELINE_KIND)
    assert sorted(TRIAL_KINDS.names()) == sorted(TRIAL_KIND_NAMES)
    with pytest.raises(ValueError, match="trial kind 'Baseline' is not one of stvlm, baseline"):
        TrialConfig.from_tune(tune_dict(kind="Baseline"))
    with pytest.raises(ValueError, match="trial kind 'arm' is not one of stvlm, baseline"):
        PlannedTrial(kind="arm", arm="a", seed=0, group="a|seed=0", model="stvlm", source_arm="a")
