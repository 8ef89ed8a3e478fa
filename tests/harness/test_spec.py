"""Study specs: the shipped configs validate, every bad value fails with one line before Ray."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from harness.study.arms import arm_values, build_arms, experiment_for
from harness.study.preflight import check_metric, preflight
from harness.study.spec import NuisanceParam, StudySpec, load_spec
from stvlm.errors import ConfigError

CONFIGS = Path(__file__).resolve().parents[2] / "studies" / "configs"


def spec(**overrides: Any) -> StudySpec:
    base: dict[str, Any] = {
        "name": "t",
        "dataset": "nycbike-drop",
        "preset": "tiny",
        "fixed": {"model.image.encoding": "spectral_grid"},
        "scientific": {"axes": {"few_shot_ratio": [0.1, 1.0]}},
    }
    base.update(overrides)
    return StudySpec.from_dict(base)


def one_line_error(fn: Any) -> str:
    with pytest.raises(ConfigError) as info:
        fn()
    message = str(info.value)
    assert "\n" not in message
    return message


def test_shipped_configs_validate(data_root: Path) -> None:
    labels = {}
    for name in ("fewshot", "ablation", "hpo"):
        s = load_spec(CONFIGS / f"{name}.toml")
        labels[name] = [a.label for a in build_arms(s, str(data_root))]
        assert [a.label for a in build_arms(s.smoke(), str(data_root))] == labels[name][:2]
    assert labels["fewshot"] == [f"few_shot_ratio={r}" for r in ("0.05", "0.1", "0.2", "0.4", "1")]
    # every ratio trains on its own windows: above 0.485 all would mean the 316 with their lookback
    from stvlm.data.pipeline import prepare

    arms = build_arms(load_spec(CONFIGS / "fewshot.toml"), str(data_root))
    assert [prepare(a.experiment.data).num_windows("train") for a in arms] == [33, 66, 131, 261, 316]
    assert labels["hpo"] == ["default"]
    # one axis at a time around the centre; the centre arm (fusion_depth=1) is kept once
    assert len(labels["ablation"]) == 5 + 5 + 3 + 4 + 3
    assert "finetune=lora" not in labels["ablation"] and "fusion_depth=1" in labels["ablation"]


def test_smoke_cuts_the_study() -> None:
    s = spec(seeds=[3, 4], num_samples=5, fixed={"train.epochs": 30, "model.backbone.pretrained": "x"},
             scientific={"axes": {"few_shot_ratio": [0.1, 0.2, 0.5], "lora_rank": [4, 8]}},
             baselines={"models": ["last-value", "ridge", "stid"]}, resources={"cpus_per_trial": 4, "num_workers": 2})
    smoke = s.smoke()
    assert smoke.name == "t-smoke" and smoke.preset == "tiny" and smoke.seeds == (3,) and smoke.num_samples == 1
    assert smoke.fixed == {"train.epochs": 2, "train.max_batches_per_epoch": 2, "train.batch_size": 8}
    assert smoke.scientific.axes == {"few_shot_ratio": (0.1, 0.2)}
    assert smoke.baselines.models == ("last-value", "ridge")
    assert (smoke.resources.cpus_per_trial, smoke.resources.num_workers) == (1.0, 1)


def test_designs() -> None:
    axes = {"fusion_depth": [0, "late"], "lora_rank": [4, 8]}
    assert arm_values(spec(scientific={"axes": axes})) == [
        {"fusion_depth": 0, "lora_rank": 4}, {"fusion_depth": 0, "lora_rank": 8},
        {"fusion_depth": "late", "lora_rank": 4}, {"fusion_depth": "late", "lora_rank": 8},
    ]
    assert arm_values(spec(scientific={"design": "one_at_a_time", "axes": axes})) == [
        {"fusion_depth": 0}, {"fusion_depth": "late"}, {"lora_rank": 4}, {"lora_rank": 8},
    ]
    arms = [{"modality": "no_text"}, {"modality": "no_text"}, {"backbone": "clip"}]
    assert arm_values(spec(scientific={"design": "arms", "arms": arms})) == arms[1:]
    assert arm_values(spec(scientific={})) == [{}]


def test_arm_experiment_applies_preset_fixed_axis_seed_and_params(data_root: Path) -> None:
    s = spec(fixed={"model.image.encoding": "spectral_grid", "train.epochs": 7})
    cfg = experiment_for(s, {"lora_rank": 16}, seed=3, params={"train.lr": 0.01}, data_root=str(data_root))
    assert (cfg.name, cfg.data.dataset, cfg.data.data_root) == ("t", "nycbike-drop", str(data_root))
    assert (cfg.train.epochs, cfg.train.seed, cfg.data.few_shot.seed, cfg.train.lr) == (7, 3, 3, 0.01)
    assert (cfg.model.finetune.strategy, cfg.model.finetune.lora_rank) == ("lora", 16)
    assert cfg.model.backbone.preset == "tiny" and cfg.train.max_batches_per_epoch == 4


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"scientific": {"axes": {"depth": [1]}}}, "scientific: unknown axis 'depth'; known: fusion_depth, image_encoding, lora_rank"),
        ({"scientific": {"axes": {"lora_rank": [0]}}}, "lora_rank = 0: model.finetune.lora_rank = 0 is out of range; allowed: >= 1"),
        ({"scientific": {"axes": {"few_shot_ratio": [0]}}}, "few_shot_ratio = 0: data.few_shot.ratio = 0 is out of range; allowed: > 0 and <= 1"),
        ({"scientific": {"axes": {"few_shot_ratio": [1.5]}}}, "few_shot_ratio = 1.5: data.few_shot.ratio = 1.5 is out of range; allowed: > 0 and <= 1"),
        ({"scientific": {"axes": {"fusion_depth": [-1]}}}, "fusion_depth = -1: model.fusion.depth = -1 is out of range"),
        ({"scientific": {"axes": {"fusion_depth": ["early"]}}}, "model.fusion.depth = 'early' is not allowed"),
        ({"scientific": {"axes": {"image_encoding": ["pixels"]}}}, "axis image_encoding = 'pixels': model.image.encoding = 'pixels' is unknown; allowed: auto, grid_heatmap"),
        ({"scientific": {"axes": {"backbone": ["bert"]}}}, "axis backbone = 'bert': model.backbone.name = 'bert' is unknown; allowed: vilt"),
        ({"scientific": {"axes": {"modality": ["no_audio"]}}}, "axis modality = 'no_audio': unknown modality 'no_audio'; known: all, no_image, no_text, no_series"),
        ({"scientific": {"axes": {"finetune": ["prefix"]}}}, "finetune = 'prefix': model.finetune.strategy = 'prefix' is not allowed; expected one of 'frozen'"),
        ({"fixed": {"train.epochz": 3}}, "fixed: unknown key train.epochz = 3; allowed in train: epochs, batch_size"),
        ({"nuisance": {"model.head.dropout": {"distribution": "uniform", "low": 0.0, "high": 1.5}}},
         "with model.head.dropout = 1.5: model.head.dropout = 1.5 is out of range; allowed: >= 0 and < 1"),
        ({"nuisance": {"train.lrr": {"distribution": "loguniform", "low": 1e-4, "high": 1e-2}}}, "nuisance train.lrr: unknown key train.lrr"),
        ({"baselines": {"models": ["prophet"]}}, "unknown model 'prophet'; known: historical-average"),
        ({"baselines": {"models": ["ridge"], "options": {"stid": {}}}}, "baselines.options: stid is not in baselines.models"),
        ({"baselines": {"models": ["stid"], "train": {"warmupp": 0.1}}},
         "baselines.train: unknown key warmupp in TrainConfig; allowed: epochs"),
        ({"baselines": {"models": ["stid"], "train": {"warmup": 1.5}}}, "baselines.train: warmup = 1.5 is out of range"),
        ({"baselines": {"models": ["ridge", "gru", "stid"]}, "fixed": {"train.device": "cuda"}},
         "train.device = 'cuda' reaches the trained baselines (gru, stid), whose trials hold CPUs only "
         "(resources.baseline_cpus: Ray hides the GPUs from them); set baselines.train = { device = 'auto' } "
         "(they train on the CPU) or leave train.device at 'auto'"),
        ({"dataset": "mnist"}, "data.dataset: unknown dataset 'mnist'"),
        ({"scientific": {"axes": {"few_shot_ratio": [0.1, 0.1000001]}}},
         "two arms print as 'few_shot_ratio=0.1' but are different experiments (axis values "
         "{'few_shot_ratio': 0.1} and {'few_shot_ratio': 0.1000001}); give values that differ when printed"),
    ],
)
def test_bad_arms_fail_with_one_line(data_root: Path, overrides: dict, expected: str) -> None:
    assert expected in one_line_error(lambda: build_arms(spec(**overrides), str(data_root)))


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"name": "my study"}, "name = 'my study' is not allowed; use letters, digits"),
        ({"metric": "test_mae"}, "metric = 'test_mae' is not allowed; studies select on validation metrics"),
        ({"metric": "val_loss"}, "metric = 'val_loss' is not allowed; expected val_<metric> with <metric> one of mae, "
                                 "rmse, mape, wape, mae_all, rmse_all, wape_all, bias, accuracy, r2, var, mae_both"),
        ({"metric": "val_bias_h3"}, "metric = 'val_bias_h3' is not allowed: the bias is signed (mean prediction "
                                    "minus mean truth), so neither its smallest nor its largest value is best; "
                                    "rank on an error such as val_mae"),
        ({"metric": "val_mae_both", "mode": "max"}, "mode = 'max' is not allowed with metric = 'val_mae_both': its "
                                                    "best value is its smallest; set mode = 'min'"),
        ({"metric": "val_r2_h4"}, "mode = 'min' is not allowed with metric = 'val_r2_h4': its best value "
                                  "is its largest; set mode = 'max'"),
        ({"metric": "val_rmse_h3", "mode": "max"}, "mode = 'max' is not allowed with metric = "
                                                   "'val_rmse_h3': its best value is its smallest; set mode = 'min'"),
        ({"seeds": []}, "seeds = () is not allowed; give at least one seed"),
        ({"seeds": [1, 1]}, "seeds = (1, 1) is not allowed; seeds must be distinct"),
        ({"num_samples": 0}, "num_samples = 0 is out of range; allowed: >= 1"),
        ({"scheduler": {"grace_period": 1}}, "scheduler.grace_period = 1 is out of range; allowed: >= 2"),
        ({"resources": {"num_workers": 0}}, "resources.num_workers = 0 is out of range; allowed: >= 1"),
        ({"scientific": {"design": "arms"}}, "scientific.arms = () is not allowed; design 'arms' needs at least one arm"),
        ({"colour": "red"}, "unknown key colour in StudySpec; allowed: name, description"),
        ({"preset": "huge"}, "preset = 'huge' is not allowed; expected one of 'tiny', 'default', 'benchmark', 'stvlm'"),
        # keys the study sets itself, and settings that would be accepted and then ignored
        ({"fixed": {"train.seed": 3}}, '[fixed] "train.seed" is not allowed: the study sets train.seed from seeds'),
        ({"fixed": {"data.dataset": "los-loop"}},
         '[fixed] "data.dataset" is not allowed: the study sets data.dataset from dataset'),
        # each trial's torch threads follow its CPUs: a fixed count would oversubscribe them
        ({"fixed": {"train.num_threads": 4}},
         '[fixed] "train.num_threads" is not allowed: the study sets train.num_threads from resources'),
        # a baseline seed would give every seed's baseline trials one seed (no seed spread)
        ({"baselines": {"models": ["gru"], "train": {"seed": 3}}},
         "[baselines] train.seed is not allowed: the study sets train.seed from seeds"),
        # half-quoted: TOML reads "model.image".encoding as the table "model.image" = {encoding}
        ({"fixed": {"model.image": {"encoding": "fft"}}},
         '[fixed]: model.image = {\'encoding\': \'fft\'} would set the whole model.image table; '
         'TOML reads an unquoted dotted key as a table: quote the whole path, e.g. "model.image.encoding"'),
        ({"nuisance": {"data.few_shot.ratio": {"distribution": "uniform", "low": 0.1, "high": 0.2}}},
         '[nuisance] "data.few_shot.ratio" is not allowed: the baselines run once per arm and seed without'),
        ({"nuisance": {"train.lr": {"distribution": "loguniform", "low": 1e-4, "high": 1e-2, "step": 1e-3}}},
         "nuisance.train.lr.step = 0.001 is not allowed with distribution 'loguniform'"),
        ({"nuisance": {"train.batch_size": {"distribution": "int", "low": 8, "high": 32, "step": 2.5}}},
         "nuisance.train.batch_size.step = 2.5 is not allowed; distribution 'int' needs an integer step"),
        ({"nuisance": {"train.lr": {"distribution": "choice", "values": [1e-3], "low": 1e-4}}},
         "nuisance.train.lr.low = 0.0001 is not allowed with distribution 'choice'; list the values"),
        ({"scientific": {"design": "arms", "arms": [{"fusion_depth": 0}], "axes": {"few_shot_ratio": [0.1]}}},
         "scientific.axes = {'few_shot_ratio': (0.1,)} is not allowed with design 'arms'"),
    ],
)
def test_bad_specs_fail_with_one_line(overrides: dict, expected: str) -> None:
    assert expected in one_line_error(lambda: spec(**overrides))


def test_a_higher_is_better_metric_with_mode_max_is_a_valid_spec() -> None:
    assert spec(metric="val_accuracy_h4", mode="max").mode == "max"
    assert spec(metric="val_mae_both_h3").metric == "val_mae_both_h3"  # a registered mean


def test_a_metric_the_protocol_does_not_report_fails_before_any_trial(data_root: Path) -> None:
    """The spec allows every registered metric; which ones the trials report depends on the
    protocol, known once the data is read (the study's preflight, before Ray starts)."""
    checks = preflight(build_arms(spec(), str(data_root)), build_models=False)
    for metric in ("val_mae", "val_mae_both", "val_mae_both_h3", "val_wape_all_h12"):
        check_metric(metric, checks)
    assert one_line_error(lambda: check_metric("val_accuracy", checks)) == (
        "metric = 'val_accuracy' is not reported under protocol 'standard'; allowed: val_mae, val_rmse, "
        "val_mape, val_wape, val_mae_all, val_rmse_all, val_wape_all, val_mae_both (and "
        "val_<metric>_h<k> for k in 3, 6, 12)")
    assert "'val_mae_h4' is not reported" in one_line_error(lambda: check_metric("val_mae_h4", checks))


@pytest.mark.parametrize(
    ("param", "expected"),
    [
        ({"distribution": "uniform", "low": 1.0}, "low = 1.0 is not allowed; distribution 'uniform' needs low and high"),
        ({"distribution": "uniform", "low": 2.0, "high": 1.0}, "high = 1.0 is not allowed; it must be greater than low = 2.0"),
        ({"distribution": "loguniform", "low": 0.0, "high": 1.0}, "low = 0.0 is out of range; distribution 'loguniform' needs low > 0"),
        ({"distribution": "int", "low": 1.5, "high": 4.0}, "low = 1.5 is not allowed; distribution 'int' needs integer bounds"),
        ({"distribution": "choice"}, "values = None is not allowed; distribution 'choice' needs a non-empty list"),
        ({"distribution": "normal", "low": 0, "high": 1}, "distribution = 'normal' is not allowed; expected one of 'uniform'"),
    ],
)
def test_nuisance_checks(param: dict, expected: str) -> None:
    assert expected in one_line_error(lambda: NuisanceParam.from_dict(param))


def test_nuisance_bounds() -> None:
    assert NuisanceParam(distribution="int", low=2, high=8).bounds() == (2, 8)
    assert NuisanceParam(distribution="choice", values=[16, 32]).bounds() == (16, 32)
    assert NuisanceParam(distribution="loguniform", low=1e-4, high=1e-2).bounds() == (1e-4, 1e-2)


def test_load_spec_errors_name_the_file(tmp_path: Path) -> None:
    assert one_line_error(lambda: load_spec(tmp_path / "none.toml")) == f"study config {tmp_path / 'none.toml'} does not exist"
    bad = tmp_path / "bad.toml"
    bad.write_text("name = \n")
    assert one_line_error(lambda: load_spec(bad)).startswith(f"{bad}: not valid TOML: ")
    wrong = tmp_path / "wrong.toml"
    wrong.write_text('name = "x"\ndataset = "los-loop"\nnum_samples = "many"\n')
    assert one_line_error(lambda: load_spec(wrong)) == f"{wrong}: num_samples = 'many' is not allowed; expected an integer"


def test_unquoted_dotted_keys_are_refused_before_they_replace_a_table(tmp_path: Path) -> None:
    """TOML reads ``train.epochs = 30`` as ``train = {epochs = 30}``: as a fixed setting it would
    give ST-VLM every other training setting's class default, as a ``when`` never match."""
    unquoted = tmp_path / "unquoted.toml"
    unquoted.write_text('name = "u"\ndataset = "nycbike-drop"\npreset = "stvlm"\n[fixed]\ntrain.epochs = 30\n')
    assert one_line_error(lambda: load_spec(unquoted)) == (
        f"{unquoted}: [fixed]: train = {{'epochs': 30}} would set the whole train table; TOML reads an unquoted "
        'dotted key as a table: quote the whole path, e.g. "train.epochs" = ...')
    when = {"distribution": "uniform", "low": 4, "high": 8, "when": {"model": {"finetune": {"strategy": "lora"}}}}
    assert "when: model = {'finetune': {'strategy': 'lora'}} would set the whole model table" in one_line_error(
        lambda: spec(nuisance={"model.finetune.lora_alpha": when}))
    quoted = {**when, "when": {"model.finetune.strategy": "lora"}}
    assert spec(nuisance={"model.finetune.lora_alpha": quoted}).nuisance["model.finetune.lora_alpha"].when == {
        "model.finetune.strategy": "lora"}
    # a table under a quoted path would also replace the preset's whole table (and escape the
    # smoke test's cut of model.backbone.* settings): each setting is a whole path
    assert "model.backbone = {'name': 'vilt', 'preset': 'tiny'} would set the whole model.backbone table" in (
        one_line_error(lambda: spec(fixed={"model.backbone": {"name": "vilt", "preset": "tiny"}})))


@pytest.mark.parametrize(("axes", "key", "path"), [
    ({"lora_rank": [4, 32]}, "model.finetune.lora_rank", "model.finetune.lora_rank"),
    ({"lora_rank": [4, 32]}, "model.finetune", "model.finetune.strategy"),  # a table above the path
    ({"modality": ["all", "no_text"]}, "model.use_text", "model.use_text"),
])
def test_a_searched_setting_may_not_override_an_axis(axes: dict, key: str, path: str) -> None:
    choice = {"distribution": "choice", "values": [8]}
    axis = next(iter(axes))
    assert one_line_error(lambda: spec(scientific={"axes": axes}, nuisance={key: choice})) == (
        f'[nuisance."{key}"] is not allowed: the axis {axis} sets {path} in its arms, and a sampled value '
        "would replace the arm's; drop one of the two")
    arms = {"design": "arms", "arms": [{axis: axes[axis][0]}]}
    assert f"the axis {axis} sets {path}" in one_line_error(lambda: spec(scientific=arms, nuisance={key: choice}))
    assert spec(scientific={"axes": {"fusion_depth": [0, 1]}}, nuisance={key: choice}).nuisance  # another axis


def test_a_key_both_fixed_and_searched_names_both_places() -> None:
    lr = {"distribution": "loguniform", "low": 1e-4, "high": 1e-2}
    message = one_line_error(lambda: spec(fixed={"train.lr": 0.001}, nuisance={"train.lr": lr}))
    assert message == ('train.lr is both fixed ([fixed] "train.lr" = 0.001) and searched '
                       '([nuisance."train.lr"]); keep one of the two')


def test_smoke_settings_leave_the_search_and_the_sampler_is_a_field() -> None:
    batch = {"distribution": "choice", "values": [16, 32]}
    lr = {"distribution": "loguniform", "low": 1e-4, "high": 1e-2}
    s = spec(nuisance={"train.batch_size": batch, "train.lr": lr})
    smoke = s.smoke()
    assert smoke.fixed["train.batch_size"] == 8 and list(smoke.nuisance) == ["train.lr"]
    assert s.sampler == "tpe" and s.startup_trials == 10
    assert spec(sampler="grid", nuisance={"train.batch_size": batch}).sampler == "grid"
    drop = {"distribution": "choice", "values": [0.0, 0.1, 0.2]}
    grid = spec(sampler="grid", num_samples=6, nuisance={"train.batch_size": batch, "train.weight_decay": drop})
    assert grid.smoke().sampler == "random" and grid.smoke().num_samples == 1  # one combination per arm
    assert one_line_error(lambda: spec(sampler="grid", nuisance={"train.lr": lr})) == (
        "sampler = 'grid' needs 'choice' nuisance distributions only; train.lr is 'loguniform' "
        "(use tpe, random or qmc for ranges)")
    assert "sampler = 'sobol' is not allowed" in one_line_error(lambda: spec(sampler="sobol"))


def test_a_nuisance_setting_no_arm_takes_is_still_checked(data_root: Path) -> None:
    """A mistyped ``when`` value (``LoRA``) would never be searched, and the setting's own path
    never checked: both are checked as if the setting applied."""
    lr = {"distribution": "uniform", "low": 1e-4, "high": 1e-2, "when": {"model.finetune.strategy": "LoRA"}}
    axes = {"axes": {"finetune": ["frozen", "lora"]}}
    message = one_line_error(lambda: build_arms(spec(nuisance={"train.lr": lr}, scientific=axes), str(data_root)))
    assert message.startswith("nuisance.\"train.lr\" (when = {'model.finetune.strategy': 'LoRA'}): ")
    assert message.endswith("model.finetune.strategy = 'LoRA' is not allowed; expected one of 'frozen', 'layernorm', 'pfa', 'lora', 'full'")
    ok = {**lr, "when": {"model.finetune.strategy": "lora"}}
    frozen = {"axes": {"finetune": ["frozen"]}}  # no arm of this plan takes the setting
    assert "unknown key train.lrr = 0.0001" in one_line_error(
        lambda: build_arms(spec(nuisance={"train.lrr": ok}, scientific=frozen), str(data_root)))
    assert build_arms(spec(nuisance={"train.lr": ok}, scientific=frozen), str(data_root))
    assert build_arms(spec(nuisance={"train.lr": ok}, scientific=axes), str(data_root))
    typo = {**lr, "when": {"model.finetune.strateg": "lora"}}  # a when path the experiment lacks
    assert one_line_error(lambda: build_arms(spec(nuisance={"train.lr": typo}, scientific=axes), str(data_root))) == (
        "nuisance.\"train.lr\".when: unknown key model.finetune.strateg = 'lora'; allowed in model.finetune: "
        "strategy, lora_rank, lora_alpha, lora_dropout, lora_targets, trainable_layers, train_layernorm")


def test_a_grid_search_runs_each_combination_once(data_root: Path) -> None:
    batch = {"distribution": "choice", "values": [16, 32]}
    decay = {"distribution": "choice", "values": [0.0, 0.1, 0.2]}
    alpha = {"distribution": "choice", "values": [4, 8], "when": {"model.finetune.strategy": "lora"}}
    nuisance = {"train.batch_size": batch, "train.weight_decay": decay, "model.finetune.lora_alpha": alpha}
    axes = {"axes": {"finetune": ["frozen"]}}
    assert build_arms(spec(sampler="grid", num_samples=6, nuisance=nuisance, scientific=axes), str(data_root))
    message = one_line_error(lambda: build_arms(spec(sampler="grid", num_samples=2, nuisance=nuisance,
                                                     scientific=axes), str(data_root)))
    assert message == ("num_samples = 2 is not allowed with sampler = 'grid': arm finetune=frozen has 6 "
                       "combinations of its nuisance choices (train.batch_size 2 x train.weight_decay 3); "
                       "set num_samples = 6 (each combination once per arm and seed)")
    lora = {"axes": {"finetune": ["lora"]}}  # the conditional choice applies: 12
    assert "arm finetune=lora has 12 combinations" in one_line_error(
        lambda: build_arms(spec(sampler="grid", num_samples=6, nuisance=nuisance, scientific=lora), str(data_root)))
    smoke = spec(sampler="grid", num_samples=6, nuisance=nuisance, scientific=axes).smoke()
    assert build_arms(smoke, str(data_root))  # the smoke cut samples one combination


def test_baselines_train_their_own_settings(data_root: Path) -> None:
    """``baselines.train`` replaces the study's training settings in baseline trials only."""
    from harness.study.plan import StudyPlan

    study = spec(fixed={"model.image.encoding": "spectral_grid", "train.warmup": 0.3, "train.start_candidate": True},
                 baselines={"models": ["stid"], "train": {"warmup": 0.05, "start_candidate": False}})
    plan = StudyPlan(study, build_arms(study, str(data_root)), str(data_root))
    trains = {(e.kind, e.arm): plan.config(e)["experiment"]["train"] for e in plan.entries}
    stvlm = [t for (kind, _), t in trains.items() if kind == "stvlm"]
    assert len(stvlm) == 2 and all((t["warmup"], t["start_candidate"]) == (0.3, True) for t in stvlm)
    baseline = [t for (kind, _), t in trains.items() if kind == "baseline"]
    assert len(baseline) == 2 and all((t["warmup"], t["start_candidate"]) == (0.05, False) for t in baseline)
    assert {k: v for k, v in baseline[0].items() if k not in ("warmup", "start_candidate")} == {
        k: v for k, v in stvlm[0].items() if k not in ("warmup", "start_candidate")}


def test_preset_names_are_the_spec_fields_choices() -> None:
    from typing import get_args, get_type_hints

    from harness.study.presets import PRESETS

    assert get_args(get_type_hints(StudySpec)["preset"]) == tuple(PRESETS)
    assert all(preset.smoke in PRESETS for preset in PRESETS.values())


@pytest.mark.parametrize("preset", ["tiny", "default", "benchmark", "stvlm"])
def test_each_preset_gives_the_arms_and_the_baselines_their_experiment(
        preset: str, data_root: Path) -> None:
    """``tiny`` and ``default`` train ST-VLM and the baselines alike; ``benchmark`` gives
    ST-VLM ExperimentConfig.default() and the baselines TrainConfig's defaults, as the accuracy
    benchmark does; ``stvlm`` the field defaults with ST-VLM's training settings."""
    from harness.study.arms import baseline_train
    from stvlm.configs import ExperimentConfig
    from stvlm.configs.train import STVLM_TRAIN_SETTINGS, TrainConfig

    expected = {"tiny": (ExperimentConfig.tiny(), ExperimentConfig.tiny().train),
                "default": (ExperimentConfig(), TrainConfig()),
                "benchmark": (ExperimentConfig.default(), TrainConfig()),
                "stvlm": (ExperimentConfig(train=TrainConfig(**STVLM_TRAIN_SETTINGS)), TrainConfig())}[preset]
    study = spec(preset=preset, baselines={"models": ["stid"]})
    arm = build_arms(study, str(data_root))[0]
    assert arm.experiment.model == expected[0].model.with_values({"image.encoding": "spectral_grid"})
    assert arm.experiment.train == expected[0].train
    assert baseline_train(study, arm.experiment).train == expected[1]


@pytest.mark.parametrize(("preset", "smoke_preset"), [
    ("tiny", "tiny"), ("default", "tiny"), ("benchmark", "benchmark"), ("stvlm", "benchmark")])
def test_smoke_trains_the_way_the_study_does(preset: str, smoke_preset: str, data_root: Path) -> None:
    """A study that trains ST-VLM with its own settings smoke-tests with them (tiny model)."""
    from harness.study.arms import baseline_train
    from stvlm.configs import STVLMConfig
    from stvlm.configs.train import STVLM_TRAIN_SETTINGS, TrainConfig

    # the baselines' own budget is cut too; their other settings stay
    smoke = spec(preset=preset, baselines={"models": ["stid"], "train": {
        "epochs": 300, "batch_size": 4, "max_batches_per_epoch": 1000, "warmup": 0.2}}).smoke()
    assert smoke.preset == smoke_preset and smoke.baselines.train == {"warmup": 0.2}
    arm = build_arms(smoke, str(data_root))[0]
    cut = baseline_train(smoke, arm.experiment).train
    assert (cut.epochs, cut.max_batches_per_epoch, cut.batch_size, cut.warmup) == (2, 2, 8, 0.2)
    assert arm.experiment.model == STVLMConfig.tiny().with_values({"image.encoding": "spectral_grid"})
    train = arm.experiment.train
    assert (train.epochs, train.max_batches_per_epoch, train.batch_size) == (2, 2, 8)
    stvlm_trained = smoke_preset == "benchmark"
    for key, value in STVLM_TRAIN_SETTINGS.items():
        assert getattr(train, key) == (value if stvlm_trained else getattr(TrainConfig(), key)), key
        if key != "warmup":
            assert getattr(cut, key) == getattr(TrainConfig(), key), key


@pytest.mark.parametrize("name", ["fewshot-cpu", "ablation-cpu"])
def test_cpu_specs_run_stvlm_and_baseline_training_settings(name: str, data_root: Path) -> None:
    """The committed CPU studies take ST-VLM's training from the ``benchmark`` preset: its arms
    train with STVLM_TRAIN_SETTINGS at the benchmark's 40 epochs / patience 10, its baselines
    with TrainConfig's defaults, so a changed default reaches the studies."""
    from harness.study.arms import baseline_train
    from stvlm.configs.train import STVLM_TRAIN_SETTINGS, TrainConfig

    s = load_spec(CONFIGS / f"{name}.toml")
    assert s.preset == "benchmark"
    arm = build_arms(s, str(data_root))[0]
    stvlm_train = arm.experiment.train
    base_train = baseline_train(s, arm.experiment).train
    for key, value in STVLM_TRAIN_SETTINGS.items():
        assert getattr(stvlm_train, key) == value, key
        assert getattr(base_train, key) == getattr(TrainConfig(), key), key
    assert (stvlm_train.epochs, stvlm_train.patience) == (base_train.epochs, base_train.patience) == (40, 10)


@pytest.mark.parametrize(("name", "study"), [
    ("fewshot-cpu", "fewshot-nycbike-drop-cpu"), ("ablation-cpu", "ablation-los-loop-cpu")])
def test_cpu_specs_plan_the_committed_trials(name: str, study: str, data_root: Path) -> None:
    """Every trial the committed CPU study ran (results/<study>/trials.parquet) is one the spec
    plans today, with the same experiment (config hash), and nothing else: the committed results
    are what the TOML runs, whatever the TOML leaves to its preset."""
    import polars as pl

    from harness.results.store import config_columns
    from harness.study.plan import StudyPlan

    s = load_spec(CONFIGS / f"{name}.toml")
    plan = StudyPlan(s, build_arms(s, str(data_root)), str(data_root))
    planned = sorted(
        (e.kind, e.model, e.arm, e.seed, config_columns(plan.config(e))["config_hash"])
        for e in plan.entries)
    trials = pl.read_parquet(Path(__file__).resolve().parents[2] / "results" / study / "trials.parquet")
    committed = sorted(trials.select("kind", "model", "arm", "seed", "config_hash").iter_rows())
    assert planned == committed


def test_arms_that_select_the_same_windows_are_named(data_root: Path, caplog) -> None:
    """fewshot-cpu.toml as committed: its 0.5 arms select the same 316 windows as 1.0 (only 316 of
    nycbike-drop's 652 training windows have their two-week lookback)."""
    import logging

    from harness.study.preflight import same_windows
    from stvlm.data.pipeline import prepare

    arms = build_arms(load_spec(CONFIGS / "fewshot-cpu.toml"), str(data_root))
    forecasts = {a.experiment.data.config_hash(): prepare(a.experiment.data) for a in arms}
    with caplog.at_level(logging.WARNING, logger="harness.study.preflight"):
        pairs = same_windows(arms, forecasts)
    assert pairs == [(f"few_shot_ratio=0.5,image_encoding={e}", f"few_shot_ratio=1,image_encoding={e}", 316)
                     for e in ("spectral_grid", "node_time")]
    assert "train on the same 316 windows" in caplog.text
    shipped = build_arms(load_spec(CONFIGS / "fewshot.toml"), str(data_root))
    assert same_windows(shipped, {a.experiment.data.config_hash(): prepare(a.experiment.data) for a in shipped}) == []


def test_preflight_names_the_arm_whose_model_cannot_be_built(data_root: Path) -> None:
    """A model the backbone cannot hold fails before Ray starts, with the arm's label."""
    s = spec(fixed={"model.image.encoding": "spectral_grid", "model.text.max_length": 400})
    assert one_line_error(lambda: preflight(build_arms(s, str(data_root)))) == (
        "arm few_shot_ratio=0.1: text.max_length = 400 is larger than the vilt backbone's 64 text "
        "positions; allowed: 4..64")


def test_every_setting_the_study_itself_writes_is_refused_in_fixed(data_root: Path) -> None:
    """STUDY_PATHS (what [fixed] and [nuisance] may not set) lists every setting the planner writes
    into an arm's experiment beyond the preset, the fixed settings, the axes and the params:
    one that it missed would be silently overwritten."""
    from harness.study.arms import base_tree
    from harness.study.presets import PRESETS
    from harness.study.spec import STUDY_PATHS

    def leaves(tree: dict, prefix: str = "") -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in tree.items():
            path = f"{prefix}{key}"
            out.update(leaves(value, f"{path}.") if isinstance(value, dict) else {path: value})
        return out

    s = spec(name="other", fixed={}, scientific={"axes": {"lora_rank": [8]}})
    preset = leaves(PRESETS[s.preset].build(s.dataset).to_dict())
    written = leaves(experiment_for(s, {}, seed=5, data_root=str(data_root)).to_dict())
    changed = {p for p in written if written[p] != preset.get(p)}
    assert changed == {"name", "train.seed", "data.few_shot.seed", "data.data_root"}
    assert changed | {"data.dataset", "data.protocol"} <= set(STUDY_PATHS)
    assert set(leaves(base_tree(s)).keys()) == set(preset)  # the base tree sets no new setting
