"""Config files read strictly: a key given twice is an error in every format (TOML refuses it
itself; JSON and YAML would keep the last value without a word), and the study scripts' counts
are whole numbers >= 1."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from harness.cli.entry import positive_int
from harness.study.config_files import load_mapping
from stvlm.errors import ConfigError

TWICE = {
    "c.json": '{"train": {"epochs": 200, "lr": 0.001, "epochs": 2}}',
    "c.yaml": "train:\n  epochs: 200\n  lr: 0.001\n  epochs: 2\n",
}


@pytest.mark.parametrize("name", sorted(TWICE))
def test_a_key_given_twice_is_refused(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    path.write_text(TWICE[name])
    with pytest.raises(ConfigError) as err:
        load_mapping(path)
    kind = "JSON" if name.endswith("json") else "YAML"
    assert str(err.value) == (f"config file {path} is not valid {kind}: key 'epochs' is given twice "
                              "(200, then 2); give it once")


def test_yaml_merge_keys_may_be_overridden(tmp_path: Path) -> None:
    """A key a merge (``<<: *base``) brings is overridden by the mapping's own, as YAML defines."""
    path = tmp_path / "m.yaml"
    path.write_text("base: &b {epochs: 200, lr: 0.001}\ntrain:\n  <<: *b\n  epochs: 2\n")
    assert load_mapping(path) == {"base": {"epochs": 200, "lr": 0.001}, "train": {"epochs": 2, "lr": 0.001}}
    path.write_text('{"train": {"epochs": 2, "lr": 0.001}}')
    path.rename(tmp_path / "m.json")
    assert load_mapping(tmp_path / "m.json") == {"train": {"epochs": 2, "lr": 0.001}}


@pytest.mark.parametrize(("text", "message"), [
    ("0", "0 is not allowed; give a whole number >= 1"),
    ("-2", "-2 is not allowed; give a whole number >= 1"),
    ("two", "'two' is not a whole number"),
])
def test_counts_are_whole_numbers_of_at_least_one(text: str, message: str) -> None:
    """``--num-cpus 0`` meant "all CPUs" without a word."""
    with pytest.raises(argparse.ArgumentTypeError) as err:
        positive_int(text)
    assert str(err.value) == message
    assert positive_int("3") == 3
