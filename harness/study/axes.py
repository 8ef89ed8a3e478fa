"""Scientific axes of a study: named knobs that map one value onto an ``ExperimentConfig``.

An axis turns a value from a study spec into settings of the experiment's nested dict (dotted
paths of :class:`stvlm.experiment.ExperimentConfig`) and names the value in arm labels. The
registry :data:`AXES` holds the first-class axes:

| axis | values | sets |
|---|---|---|
| ``fusion_depth`` | int >= 0, ``"late"``, ``"all"`` | ``model.fusion.depth`` |
| ``image_encoding`` | a registered image encoder name or ``auto`` | ``model.image.encoding`` |
| ``lora_rank`` | int >= 1 | ``model.finetune.lora_rank`` (and ``strategy = "lora"``) |
| ``few_shot_ratio`` | float in (0, 1] | ``data.few_shot.ratio`` |
| ``finetune`` | frozen, layernorm, pfa, lora, full | ``model.finetune.strategy`` |
| ``backbone`` | a registered backbone name | ``model.backbone.name`` |
| ``modality`` | all, no_image, no_text, no_series | ``model.use_image/use_text/use_series`` |

Values are range-checked when the arm's ``ExperimentConfig`` is built
(:func:`harness.study.arms.build_arm`), and names (encoders, backbones) against the library's
registries, so a bad value fails before Ray starts.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from stvlm.errors import ConfigError
from stvlm.names import check_name
from stvlm.registry import Registry

Nested = dict[str, Any]

#: Which modalities each ``modality`` axis value keeps (use_image, use_text, use_series).
MODALITIES: Registry[tuple[bool, bool, bool]] = Registry("modality")
MODALITIES.add("all", (True, True, True))
MODALITIES.add("no_image", (False, True, True))
MODALITIES.add("no_text", (True, False, True))
MODALITIES.add("no_series", (True, True, False))


def set_path(tree: Nested, path: str, value: Any) -> None:
    """Set ``tree[a][b][c] = value`` for ``path = "a.b.c"``, creating missing tables.

    Raises:
        ConfigError: a prefix of ``path`` holds a value that is not a table.
    """
    parts = path.split(".")
    node = tree
    for i, part in enumerate(parts[:-1]):
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            prefix = ".".join(parts[: i + 1])
            raise ConfigError(f"{path} = {value!r} is not allowed; {prefix} is not a table")
        node = child
    node[parts[-1]] = value


def get_path(tree: Mapping[str, Any], path: str) -> Any:
    """``tree[a][b][c]`` for ``path = "a.b.c"`` (KeyError when absent)."""
    node: Any = tree
    for part in path.split("."):
        node = node[part]
    return node


@dataclass(frozen=True)
class Axis:
    """One scientific axis.

    Args:
        name: the axis name used in specs and arm labels.
        apply: ``apply(tree, value)`` writes the value into the experiment's nested dict.
        check: ``check(value)`` raises :class:`ConfigError` for a value no config could hold
            (e.g. an unknown registry name); range checks happen when the config is built.
        help: what the axis sets, for messages.
        column: type of its ``trials.parquet`` column: ``"str"``, ``"int"`` or ``"float"``.
        read: ``read(experiment)`` is the column's value for a built ``ExperimentConfig``
            (``None`` where the axis does not apply, e.g. a LoRA rank without LoRA).
        data: the axis belongs to the data selection (its column sits with the data columns
            and baselines share it) rather than to the model.
        paths: the dotted experiment paths ``apply`` writes (a study refuses to search them:
            a sampled value would override the arm's).
    """

    name: str
    apply: Callable[[Nested, Any], None]
    check: Callable[[Any], None]
    help: str
    column: str
    read: Callable[[Any], Any]
    data: bool = False
    paths: tuple[str, ...] = ()


AXES: Registry[Axis] = Registry("axis")


def _no_check(value: Any) -> None:
    """Values checked by the config's own field types and bounds."""


def _registered(kind: str, path: str) -> Callable[[Any], None]:
    """A check that looks ``value`` up in the library registry of ``path`` (:mod:`stvlm.names`)."""

    def check(value: Any) -> None:
        if not isinstance(value, str):
            raise ConfigError(f"{kind} = {value!r} is not allowed; expected a name")
        check_name(path, value)

    return check


def _setter(path: str) -> Callable[[Nested, Any], None]:
    return lambda tree, value: set_path(tree, path, value)


def _lora_rank(tree: Nested, value: Any) -> None:
    set_path(tree, "model.finetune.strategy", "lora")
    set_path(tree, "model.finetune.lora_rank", value)


def _modality(tree: Nested, value: Any) -> None:
    use_image, use_text, use_series = MODALITIES.get(value)
    set_path(tree, "model.use_image", use_image)
    set_path(tree, "model.use_text", use_text)
    set_path(tree, "model.use_series", use_series)


def _modality_check(value: Any) -> None:
    if not isinstance(value, str):
        raise ConfigError(
            f"modality = {value!r} is not allowed; expected one of {', '.join(MODALITIES)}"
        )
    MODALITIES.get(value)


def _lora_rank_of(exp: Any) -> int | None:
    ft = exp.model.finetune
    return ft.lora_rank if ft.strategy == "lora" else None


for _axis in (
    Axis("fusion_depth", _setter("model.fusion.depth"), _no_check, "model.fusion.depth",
         "str", lambda e: str(e.model.fusion.depth), paths=("model.fusion.depth",)),
    Axis("image_encoding", _setter("model.image.encoding"),
         _registered("image_encoding", "model.image.encoding"), "model.image.encoding",
         "str", lambda e: e.model.image.encoding, paths=("model.image.encoding",)),
    Axis("lora_rank", _lora_rank, _no_check, "model.finetune.lora_rank (strategy lora)",
         "int", _lora_rank_of, paths=("model.finetune.strategy", "model.finetune.lora_rank")),
    Axis("few_shot_ratio", _setter("data.few_shot.ratio"), _no_check, "data.few_shot.ratio",
         "float", lambda e: e.data.few_shot.ratio, data=True, paths=("data.few_shot.ratio",)),
    Axis("finetune", _setter("model.finetune.strategy"), _no_check, "model.finetune.strategy",
         "str", lambda e: e.model.finetune.strategy, paths=("model.finetune.strategy",)),
    Axis("backbone", _setter("model.backbone.name"), _registered("backbone", "model.backbone.name"),
         "model.backbone.name", "str", lambda e: e.model.backbone.name, paths=("model.backbone.name",)),
    Axis("modality", _modality, _modality_check, "model.use_image/use_text/use_series",
         "str", lambda e: modality_name(e.model.use_image, e.model.use_text, e.model.use_series),
         paths=("model.use_image", "model.use_text", "model.use_series")),
):
    AXES.add(_axis.name, _axis)


def model_axes() -> list[Axis]:
    """The axes that describe the model (one ``trials.parquet`` column each, null for baselines)."""
    return [AXES.get(n) for n in AXES.names() if not AXES.get(n).data]


def modality_name(use_image: bool, use_text: bool, use_series: bool) -> str:
    """The ``modality`` value of a flag combination (``"image+series"`` for unnamed ones)."""
    flags = (use_image, use_text, use_series)
    for name in MODALITIES:
        if MODALITIES.get(name) == flags:
            return name
    kept = [m for m, on in zip(("image", "text", "series"), flags) if on]
    return "+".join(kept)


def format_value(value: Any) -> str:
    """A value as it appears in arm labels (``0.1``, ``late``, ``4``)."""
    return f"{value:g}" if isinstance(value, float) else str(value)


def arm_label(values: Mapping[str, Any]) -> str:
    """``{"fusion_depth": 0, "lora_rank": 4}`` -> ``"fusion_depth=0,lora_rank=4"``."""
    if not values:
        return "default"
    return ",".join(f"{name}={format_value(v)}" for name, v in values.items())


def data_label(label: str) -> str:
    """The data-axis part of an arm label: ``"few_shot_ratio=0.1,image_encoding=fft"`` ->
    ``"few_shot_ratio=0.1"`` (what a baseline in that arm shares with it); a label without a
    data axis is returned whole."""
    parts = [p for p in label.split(",") if p.partition("=")[0] in AXES and AXES.get(p.partition("=")[0]).data]
    return ",".join(parts) if parts else label
