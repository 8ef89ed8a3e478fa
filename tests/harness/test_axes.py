"""Scientific axes: each registered axis writes exactly its config paths; labels and modalities."""

from __future__ import annotations

import pytest

from harness.study.axes import AXES, MODALITIES, arm_label, format_value, get_path, modality_name, set_path
from stvlm.errors import ConfigError, UnknownNameError

EXPECTED = {
    "fusion_depth": ("late", {"model": {"fusion": {"depth": "late"}}}),
    "image_encoding": ("fft", {"model": {"image": {"encoding": "fft"}}}),
    "lora_rank": (16, {"model": {"finetune": {"strategy": "lora", "lora_rank": 16}}}),
    "few_shot_ratio": (0.1, {"data": {"few_shot": {"ratio": 0.1}}}),
    "finetune": ("pfa", {"model": {"finetune": {"strategy": "pfa"}}}),
    "backbone": ("clip", {"model": {"backbone": {"name": "clip"}}}),
    "modality": ("no_text", {"model": {"use_image": True, "use_text": False, "use_series": True}}),
}


def test_every_axis_is_tested() -> None:
    assert sorted(AXES.names()) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_axis_writes_its_paths(name: str) -> None:
    value, tree = EXPECTED[name]
    axis = AXES.get(name)
    axis.check(value)
    out: dict = {}
    axis.apply(out, value)
    assert out == tree

    def leaves(node: dict, prefix: str = "") -> list[str]:
        return [p for k, v in node.items() for p in (leaves(v, f"{prefix}{k}.") if isinstance(v, dict) else [prefix + k])]

    assert sorted(axis.paths) == sorted(leaves(tree))  # what a study refuses to search


def test_modalities() -> None:
    assert {n: MODALITIES.get(n) for n in MODALITIES} == {
        "all": (True, True, True), "no_image": (False, True, True),
        "no_text": (True, False, True), "no_series": (True, True, False),
    }
    assert modality_name(True, False, True) == "no_text"
    assert modality_name(False, False, True) == "series"
    assert modality_name(True, False, False) == "image"


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("image_encoding", "pixels", "model.image.encoding = 'pixels' is unknown; allowed: auto, grid_heatmap, spectral_grid"),
        ("image_encoding", 3, "image_encoding = 3 is not allowed; expected a name"),
        ("backbone", "bert", "model.backbone.name = 'bert' is unknown; allowed: vilt"),
        ("modality", "no_audio", "unknown modality 'no_audio'; known: all, no_image, no_text, no_series"),
        ("modality", 1, "modality = 1 is not allowed; expected one of all, no_image, no_text, no_series"),
    ],
)
def test_name_checks(name: str, value: object, expected: str) -> None:
    with pytest.raises(ConfigError) as info:
        AXES.get(name).check(value)
    assert str(info.value).startswith(expected)


def test_auto_encoding_is_accepted() -> None:
    AXES.get("image_encoding").check("auto")


def test_paths_and_labels() -> None:
    tree: dict = {"train": {"lr": 1.0}}
    set_path(tree, "train.lr", 0.5)
    set_path(tree, "model.head.dropout", 0.1)
    assert tree == {"train": {"lr": 0.5}, "model": {"head": {"dropout": 0.1}}}
    assert get_path(tree, "model.head.dropout") == 0.1
    with pytest.raises(ConfigError, match=r"^train.lr.x = 1 is not allowed; train.lr is not a table$"):
        set_path(tree, "train.lr.x", 1)
    assert arm_label({"fusion_depth": 0, "few_shot_ratio": 0.05}) == "fusion_depth=0,few_shot_ratio=0.05"
    assert arm_label({}) == "default"
    assert (format_value(1.0), format_value("late"), format_value(8)) == ("1", "late", "8")
    with pytest.raises(UnknownNameError):
        AXES.get("depth")


def test_data_label_keeps_the_data_axes_of_an_arm() -> None:
    from harness.study.axes import data_label

    assert data_label("few_shot_ratio=0.1,image_encoding=node_time") == "few_shot_ratio=0.1"
    assert data_label("image_encoding=fft,few_shot_ratio=1") == "few_shot_ratio=1"
    assert data_label("fusion_depth=late") == "fusion_depth=late"  # no data axis: unchanged
    assert data_label("baseline") == "baseline"
