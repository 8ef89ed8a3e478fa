"""Strict configs: round trip, stable hash, and one-line errors naming field, value and allowed."""

from __future__ import annotations

from typing import Literal

import pytest

from stvlm.configs import (
    Config,
    DataConfig,
    ExperimentConfig,
    FewShotConfig,
    STVLMConfig,
    TrainConfig,
    canonical_hash,
    config_class,
    field,
)
from stvlm.errors import ConfigError


@config_class
class Inner(Config):
    width: int = field(4, ge=1, help="a size")
    kind: Literal["a", "b"] = "a"


@config_class
class Outer(Config):
    inner: Inner = field(default_factory=Inner)
    rate: float = field(0.5, gt=0.0, le=1.0)
    sizes: tuple[int, ...] = field((1, 2), ge=0)
    label: str | None = None


def test_round_trip_and_defaults() -> None:
    cfg = Outer.from_dict({"inner": {"width": 8}, "rate": 1, "sizes": [3, 4]})
    assert cfg == Outer(inner=Inner(width=8), rate=1.0, sizes=(3, 4))
    assert isinstance(cfg.rate, float) and cfg.sizes == (3, 4)
    assert cfg.to_dict() == {"inner": {"width": 8, "kind": "a"}, "rate": 1.0, "sizes": [3, 4], "label": None}
    assert Outer.from_dict(cfg.to_dict()) == cfg


def test_hash_is_stable_and_discriminating() -> None:
    # A fixed literal: the hash must not change between processes or releases of Python.
    assert Outer().config_hash() == Outer.from_dict({}).config_hash()
    assert len(Outer().config_hash()) == 12
    assert Outer().config_hash() != Outer(rate=0.25).config_hash()
    # sha256 of {"budget":null,"method":"first","ratio":1.0,"seed":0,"windows":null}, computed
    # independently
    assert FewShotConfig().config_hash() == "ee073a43829a"


def test_same_experiment_same_hash_under_two_data_roots() -> None:
    """Where the data lives (and how its files are checked) is not the experiment's identity."""

    laptop = ExperimentConfig(data=DataConfig(dataset="los-loop", data_root="/home/me/data"))
    cluster = ExperimentConfig(data=DataConfig(dataset="los-loop", data_root="/mnt/nfs/data", verify="size"))
    assert laptop != cluster and laptop.config_hash() == cluster.config_hash()
    assert "data_root" not in laptop.identity_dict()["data"]
    assert laptop.to_dict()["data"]["data_root"] == "/home/me/data"  # still recorded
    other = ExperimentConfig(data=DataConfig(dataset="sz-taxi", data_root="/home/me/data"))
    assert other.config_hash() != laptop.config_hash()


@config_class
class Before(Config):
    rate: float = 0.5


@config_class
class After(Config):
    rate: float = 0.5
    extra: tuple[int, ...] | None = field(None, identity="unless_default")


def test_an_option_added_unless_default_keeps_earlier_hashes() -> None:
    """A field marked identity="unless_default" is left out of the hash only at its default."""
    assert After().config_hash() == Before().config_hash()
    assert After(rate=0.25).config_hash() == Before(rate=0.25).config_hash()
    assert "extra" not in After().identity_dict() and After().to_dict()["extra"] is None
    assert After(extra=(1,)).identity_dict() == {"rate": 0.5, "extra": [1]}
    assert After(extra=()).config_hash() not in {After().config_hash(), After(extra=(1,)).config_hash()}
    # DataConfig.lookback_days came that way: the hash of a config that does not set it is the
    # one it had before the field existed (computed on commit ff9e060).
    assert DataConfig(dataset="los-loop").config_hash() == "9abde1d377c0"
    # (with the linear head that was STVLMConfig's default then: the MLP head came later)
    linear_head = STVLMConfig().with_values({"head.hidden": 0})
    assert ExperimentConfig(model=linear_head).config_hash() == "609426a736a0"
    assert ExperimentConfig().config_hash() != "609426a736a0"
    assert DataConfig(lookback_days=(1, 7)).config_hash() != DataConfig().config_hash()


def test_canonical_hash_is_the_one_hash() -> None:

    # sha256 of '{"a":1,"b":[2,"x"]}' (sorted keys, no spaces), computed independently
    assert canonical_hash({"b": [2, "x"], "a": 1}) == "454597f51f0e"
    assert canonical_hash({"b": [2, "x"], "a": 1}, length=10) == "454597f51f"
    assert Outer().config_hash() == canonical_hash(Outer().to_dict())


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"nope": 1}, "unknown key nope in Outer; allowed: inner, rate, sizes, label"),
        ({"inner": {"depth": 1}}, "unknown key inner.depth in Inner; allowed: width, kind"),
        ({"rate": 0}, "rate = 0 is out of range; allowed: > 0 and <= 1"),
        ({"rate": "high"}, "rate = 'high' is not allowed; expected a number"),
        ({"inner": {"width": 0}}, "inner.width = 0 is out of range; allowed: >= 1"),
        ({"inner": {"width": 2.5}}, "inner.width = 2.5 is not allowed; expected an integer"),
        ({"inner": {"width": True}}, "inner.width = True is not allowed; expected an integer"),
        ({"inner": {"kind": "c"}}, "inner.kind = 'c' is not allowed; expected one of 'a', 'b'"),
        ({"sizes": [1, -1]}, "sizes = [1, -1] is out of range; allowed: >= 0"),
        ({"rate": float("nan")}, "rate = nan is not a finite number; allowed: > 0 and <= 1"),
        ({"inner": 3}, "inner = 3 is not allowed; expected a table of Inner settings"),
        # an integer past int64 would overflow where it is first used, deep inside a run
        ({"inner": {"width": 2**63}}, "inner.width = 9223372036854775808 is out of range; allowed: >= 1 "
                                      "and at most 9223372036854775807 in size"),
        ({"rate": 10**400}, "rate = 100000000000000000...000000000000000000 (401 digits) is not a finite "
                            "number; allowed: > 0 and <= 1"),
    ],
)
def test_errors_name_field_value_and_allowed(data: dict, message: str) -> None:
    with pytest.raises(ConfigError) as err:
        Outer.from_dict(data)
    assert str(err.value) == message
    assert "\n" not in str(err.value)


def test_frozen_and_replace() -> None:
    cfg = Outer()
    with pytest.raises(AttributeError):
        cfg.rate = 0.1  # type: ignore[misc]
    assert cfg.replace(rate=0.1).rate == 0.1
    with pytest.raises(ConfigError, match="unknown key bogus"):
        cfg.replace(bogus=1)
    with pytest.raises(ConfigError, match="rate = 2"):
        cfg.replace(rate=2.0)


def test_overrides() -> None:
    cfg = Outer().with_overrides(["inner.width=16", "label=run-1", "sizes=[5]"])
    assert (cfg.inner.width, cfg.label, cfg.sizes) == (16, "run-1", (5,))
    with pytest.raises(ConfigError, match="not of the form key=value"):
        Outer().with_overrides(["inner.width"])
    with pytest.raises(ConfigError, match=r"^override: unknown key inner.nope = 1; allowed in inner: width, kind$"):
        Outer().with_overrides(["inner.nope=1"])
    with pytest.raises(ConfigError, match=r"^override: rate.x = 1: rate is a value, not a table of settings$"):
        Outer().with_overrides(["rate.x=1"])
    with pytest.raises(ConfigError, match=r"^override: unknown key nope.x = 'a'; allowed in Outer: inner, rate, sizes, label$"):
        Outer().with_overrides(["nope.x=a"])


def test_with_values_sets_dotted_paths_to_python_values() -> None:
    cfg = Outer().with_values({"inner.width": 16, "sizes": (5,), "label": None})
    assert (cfg.inner.width, cfg.sizes, cfg.label) == (16, (5,), None)
    assert Outer().with_values({}) == Outer()
    with pytest.raises(ConfigError, match=r"inner.width = 0 is out of range|inner.width"):
        Outer().with_values({"inner.width": 0})
    with pytest.raises(ConfigError, match=r"^setting: unknown key missing.x = 1; allowed in Outer: inner, rate, sizes, label$"):
        Outer().with_values({"missing.x": 1})
    with pytest.raises(ConfigError, match=r"^setting: inner.width.x = 1: inner.width is a value, not a table of settings$"):
        Outer().with_values({"inner.width.x": 1})


def test_project_configs_validate() -> None:
    with pytest.raises(ConfigError, match=r"^few_shot.ratio = 0 is out of range; allowed: > 0 and <= 1$"):
        DataConfig.from_dict({"few_shot": {"ratio": 0}})
    with pytest.raises(ConfigError, match=r"^few_shot.ratio = 1.5 is out of range"):
        DataConfig.from_dict({"few_shot": {"ratio": 1.5}})
    with pytest.raises(ConfigError, match=r"^lookback_days = \(7, 1\) must be strictly increasing \(each day once\)$"):
        DataConfig.from_dict({"lookback_days": [7, 1]})
    with pytest.raises(ConfigError, match=r"^lookback_days = \(1, 1\) must be strictly increasing"):
        DataConfig(lookback_days=(1, 1))
    with pytest.raises(ConfigError, match=r"^lookback_days = \[0, 7\] is out of range; allowed: >= 1$"):
        DataConfig.from_dict({"lookback_days": [0, 7]})
    assert DataConfig.from_dict({"lookback_days": []}).lookback_days == ()
    with pytest.raises(ConfigError, match=r"^finetune.lora_rank = 0 is out of range; allowed: >= 1$"):
        STVLMConfig.from_dict({"finetune": {"lora_rank": 0}})
    with pytest.raises(ConfigError, match=r"^fusion.depth = -1 is out of range"):
        STVLMConfig.from_dict({"fusion": {"depth": -1}})
    assert STVLMConfig.from_dict({"fusion": {"depth": "late"}}).fusion.depth == "late"
    assert STVLMConfig.from_dict(STVLMConfig.tiny().to_dict()) == STVLMConfig.tiny()
    with pytest.raises(ConfigError, match="epochs = 0"):
        TrainConfig(epochs=0)


def test_few_shot_labels() -> None:
    assert FewShotConfig(ratio=0.1).label == "first-10%"
    assert FewShotConfig(ratio=0.05, method="random", seed=3).label == "random-5% (seed 3)"


def test_unknown_nested_key_names_its_full_path() -> None:

    with pytest.raises(ConfigError, match=r"^override: unknown key model\.fusion\.dpeth = 2; allowed in model\.fusion: depth"):
        ExperimentConfig().with_overrides(["model.fusion.dpeth=2"])


def test_without_stvlm_settings_resets_only_stvlm_own_keys() -> None:
    """The baselines' training beside ST-VLM: every key of STVLM_TRAIN_SETTINGS back at
    TrainConfig's default, the shared budget, batch and learning rate kept."""
    from stvlm.configs.train import STVLM_TRAIN_SETTINGS, TrainConfig, without_stvlm_settings

    stvlm = TrainConfig(epochs=7, batch_size=4, lr=0.01, patience=3, **STVLM_TRAIN_SETTINGS)
    assert without_stvlm_settings(stvlm) == TrainConfig(epochs=7, batch_size=4, lr=0.01, patience=3)
    assert without_stvlm_settings(TrainConfig()) == TrainConfig()


@config_class
class Needs(Config):
    kind: Literal["a", "b"] = field(help="required")
    size: int = 1


def test_a_missing_required_key_names_it_and_what_is_allowed() -> None:
    with pytest.raises(ConfigError) as err:
        Needs.from_dict({"size": 2}, path="nuisance.x")
    assert str(err.value) == "nuisance.x.kind is required; expected one of 'a', 'b'"


@pytest.mark.parametrize(("cfg", "message"), [
    (lambda: TrainConfig(seed=2**32), "seed = 4294967296 is out of range; allowed: >= 0 and <= 4294967295"),
    (lambda: FewShotConfig(seed=2**32), "seed = 4294967296 is out of range; allowed: >= 0 and <= 4294967295"),
    (lambda: FewShotConfig(ratio=0.1, windows=100),
     "ratio = 0.1 cannot be set together with windows (which overrides it); give one of them"),
    (lambda: FewShotConfig(ratio=0.1, budget="st-llm-10%"),
     "ratio = 0.1 cannot be set together with budget (which overrides it); give one of them"),
    (lambda: ExperimentConfig(name="a/b"), "name = 'a/b' is not allowed; it names an output folder"),
    (lambda: ExperimentConfig(name=".."), "name = '..' is not allowed; it names an output folder"),
    (lambda: ExperimentConfig(name=" "), "name = ' ' is not allowed; it names an output folder"),
    (lambda: ExperimentConfig(name="x\ny"), "name = 'x\\ny' is not allowed; it names an output folder"),
])
def test_values_that_would_fail_late_or_silently_are_refused(cfg, message: str) -> None:
    """A seed numpy cannot take, a ratio a budget overrides (one selection under two hashes), an
    experiment name that leaves the runs folder."""
    with pytest.raises(ConfigError) as err:
        cfg()
    assert str(err.value).startswith(message)


def test_names_with_spaces_and_dots_stay_allowed() -> None:
    assert ExperimentConfig(name="fewshot-accuracy st-vlm v1.2").name == "fewshot-accuracy st-vlm v1.2"
    assert FewShotConfig(windows=100).label == "first-100w" and TrainConfig(seed=2**32 - 1).seed == 2**32 - 1
