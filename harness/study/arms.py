"""From a :class:`~harness.study.spec.StudySpec` to the arms of a study and their experiment configs.

An arm is one combination of scientific axis values. Its experiment is built as

    preset (:data:`~harness.study.presets.PRESETS`) <- dataset/protocol <- fixed settings
        <- the arm's axis values <- seed <- the trial's sampled nuisance settings

and validated by constructing the frozen :class:`stvlm.experiment.ExperimentConfig` (types,
ranges, cross-field rules) plus the registries that configs only name (dataset, protocol, image
encoder, backbone, baselines). :func:`build_arms` does this for every arm and for the bounds of
every nuisance setting, so a study with a bad value fails with one line before Ray starts.
"""

from __future__ import annotations

import itertools
import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from harness.study.axes import AXES, arm_label, get_path, set_path
from harness.study.presets import PRESETS
from harness.study.spec import NuisanceParam, StudySpec
from stvlm.errors import ConfigError
from stvlm.configs import ExperimentConfig, set_known_path
from stvlm.checks import check_experiment

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Arm:
    """One scientific arm: its label, axis values and base experiment (seed 0, no nuisance)."""

    label: str
    values: dict[str, Any]
    experiment: ExperimentConfig


def arm_values(spec: StudySpec) -> list[dict[str, Any]]:
    """The axis-value dicts of the arms, in spec order, duplicates removed.

    Raises:
        ConfigError: an axis name is not registered (the message lists the known axes).
    """
    sci = spec.scientific
    for values in [sci.axes, *sci.arms]:
        for axis in values:
            if axis not in AXES:
                raise ConfigError(
                    f"scientific: unknown axis {axis!r}; known: {', '.join(AXES.names())}"
                )
    if sci.design == "arms":
        combos = [dict(a) for a in sci.arms]
    elif sci.design == "one_at_a_time":
        combos = [{axis: v} for axis, values in sci.axes.items() for v in values]
    else:
        names = list(sci.axes)
        combos = [dict(zip(names, vs)) for vs in itertools.product(*sci.axes.values())]
    unique: list[dict[str, Any]] = []
    for combo in combos or [{}]:
        if combo not in unique:
            unique.append(combo)
    return unique


def base_tree(spec: StudySpec, data_root: str | None = None) -> dict[str, Any]:
    """The nested dict of the study's experiment before arm, seed and nuisance settings."""
    tree = PRESETS[spec.preset].build(spec.dataset).to_dict()
    tree["name"] = spec.name
    set_path(tree, "data.dataset", spec.dataset)
    set_path(tree, "data.protocol", spec.protocol)
    if data_root is not None:
        set_path(tree, "data.data_root", data_root)
    for path, value in spec.fixed.items():
        set_known_path(tree, path, value, source="fixed", root="the experiment")
    return tree


def experiment_for(
    spec: StudySpec,
    values: Mapping[str, Any],
    *,
    seed: int,
    params: Mapping[str, Any] | None = None,
    data_root: str | None = None,
) -> ExperimentConfig:
    """The validated experiment of one arm, seed and set of nuisance values.

    Raises:
        ConfigError: one line naming the axis or setting, the value and what is allowed.
    """
    tree = base_tree(spec, data_root)
    for axis, value in values.items():
        entry = AXES.get(axis)
        try:
            entry.check(value)
            entry.apply(tree, value)
        except ConfigError as err:
            raise ConfigError(f"axis {axis} = {value!r}: {err}") from None
    set_path(tree, "train.seed", seed)
    set_path(tree, "data.few_shot.seed", seed)
    for path, value in (params or {}).items():
        set_known_path(tree, path, value, source=f"nuisance {path}", root="the experiment")
    try:
        cfg = ExperimentConfig.from_dict(tree)
    except ConfigError as err:
        what = ", ".join(f"{a} = {v!r}" for a, v in values.items()) or "the fixed settings"
        extra = f" with {', '.join(f'{k} = {v!r}' for k, v in params.items())}" if params else ""
        raise ConfigError(f"{what}{extra}: {err}") from None
    check_experiment(cfg)
    return cfg


def applies(param: NuisanceParam, experiment: ExperimentConfig) -> bool:
    """Whether a nuisance setting is sampled for this arm (its ``when`` conditions hold)."""
    if not param.when:
        return True
    tree = experiment.to_dict()
    for path, wanted in param.when.items():
        try:
            if get_path(tree, path) != wanted:
                return False
        except (KeyError, TypeError):
            raise ConfigError(f"nuisance when: unknown key {path}") from None
    return True


def _check_when_paths(spec: StudySpec, data_root: str | None) -> None:
    """Refuse a ``when`` path the experiment does not have, naming the nuisance setting and the
    keys allowed where the path goes wrong (before any arm reads it)."""
    tree = base_tree(spec, data_root)  # its structure is all that is read: one build serves every path
    for path, param in spec.nuisance.items():
        for when_path, value in (param.when or {}).items():
            set_known_path(tree, when_path, value, source=f'nuisance."{path}".when', root="the experiment")


def _check_when(spec: StudySpec, arms: list[Arm], data_root: str | None) -> None:
    """Check a nuisance setting whose ``when`` holds for no arm (the design or the smoke cut
    leaves its arms out) as if it applied: its path and bounds on the first arm, and each ``when``
    value as a value of its field. Else a mistyped value (``"LoRA"`` for ``"lora"``) or path would
    go unnoticed, the setting never searched."""
    for path, param in spec.nuisance.items():
        if not arms or not param.when or any(applies(param, arm.experiment) for arm in arms):
            continue
        try:
            for params in [*({path: bound} for bound in param.bounds()), dict(param.when)]:
                experiment_for(spec, arms[0].values, seed=spec.seeds[0], params=params, data_root=data_root)
        except ConfigError as err:
            raise ConfigError(f"nuisance.\"{path}\" (when = {param.when!r}): {err}") from None
        log.info("nuisance %s applies to no arm of this plan (when = %r)", path, param.when)


def baseline_train(spec: StudySpec, experiment: ExperimentConfig) -> ExperimentConfig:
    """The experiment a baseline trial runs: ``experiment`` with its training settings as the
    preset derives them for baselines (``benchmark`` and ``stvlm``: ST-VLM's own settings back
    at ``TrainConfig``'s defaults), then ``baselines.train`` over them (the study's fixed
    ``train.*`` keys may be ST-VLM's own).

    Raises:
        ConfigError: an unknown ``TrainConfig`` key or an out-of-range value, named; or
            ``device = 'cuda'`` with a trained baseline (baseline trials are placed on CPUs).
    """
    from stvlm.baselines import trains  # the model stack: imported when the arms are built

    train = PRESETS[spec.preset].baseline_train(experiment.train)
    try:
        train = train.replace(**spec.baselines.train)
    except ConfigError as err:
        raise ConfigError(f"baselines.train: {err}") from None
    neural = [m for m in spec.baselines.models if trains(m)]
    if train.device == "cuda" and neural:  # their trials would find no GPU and fail
        raise ConfigError(
            f"train.device = 'cuda' reaches the trained baselines ({', '.join(neural)}), whose "
            "trials hold CPUs only (resources.baseline_cpus: Ray hides the GPUs from them); set "
            "baselines.train = { device = 'auto' } (they train on the CPU) or leave train.device at 'auto'"
        )
    return experiment.replace(train=train)


def _check_grid(spec: StudySpec, label: str, experiment: ExperimentConfig) -> None:
    """``sampler = "grid"`` runs every combination of an arm's nuisance choices once per seed: refuse
    a ``num_samples`` that would run part of the grid, or repeat it."""
    if spec.sampler != "grid":
        return
    sizes = {path: len(p.values or ()) for path, p in spec.nuisance.items() if applies(p, experiment)}
    if not sizes:
        return
    combinations = math.prod(sizes.values())
    if spec.num_samples != combinations:
        counted = " x ".join(f"{path} {n}" for path, n in sizes.items())
        raise ConfigError(
            f"num_samples = {spec.num_samples} is not allowed with sampler = 'grid': arm {label} has "
            f"{combinations} combinations of its nuisance choices ({counted}); set num_samples = "
            f"{combinations} (each combination once per arm and seed)"
        )


def build_arms(spec: StudySpec, data_root: str | None = None) -> list[Arm]:
    """Every arm of the study, validated with every seed and every nuisance bound.

    Arms whose experiments are identical (the centre of a one-at-a-time design appears once per
    axis) are kept once, under the first label.

    Raises:
        ConfigError: the first invalid axis, value, fixed or nuisance setting, or baseline.
    """
    from stvlm.baselines import build_baseline

    _check_when_paths(spec, data_root)
    arms: list[Arm] = []
    seen: dict[str, str] = {}
    for values in arm_values(spec):
        experiment = experiment_for(spec, values, seed=spec.seeds[0], data_root=data_root)
        label = arm_label(values)
        key = experiment.config_hash()
        if key in seen:  # one-at-a-time designs repeat the centre arm
            log.info("arm %s is the same experiment as arm %s; kept once", label, seen[key])
            continue
        first = next((a for a in arms if a.label == label), None)
        if first is not None:  # two experiments under one label: the plan would keep one
            raise ConfigError(f"two arms print as {label!r} but are different experiments (axis values "
                              f"{first.values!r} and {dict(values)!r}); give values that differ when printed")
        seen[key] = label
        for seed in spec.seeds[1:]:
            experiment_for(spec, values, seed=seed, data_root=data_root)
        for path, param in spec.nuisance.items():
            if applies(param, experiment):
                for bound in param.bounds():
                    experiment_for(
                        spec, values, seed=spec.seeds[0], params={path: bound}, data_root=data_root
                    )
        _check_grid(spec, label, experiment)
        arms.append(Arm(label=label, values=dict(values), experiment=experiment))
    _check_when(spec, arms, data_root)
    for name in spec.baselines.models:
        build_baseline(name, spec.baselines.options.get(name))
    if arms and spec.baselines.models:
        baseline_train(spec, arms[0].experiment)  # unknown keys, bad values, a GPU: fail here
    unknown = sorted(set(spec.baselines.options) - set(spec.baselines.models))
    if unknown:
        models = list(spec.baselines.models)
        raise ConfigError(f"baselines.options: {unknown[0]} is not in baselines.models {models}")
    return arms
