"""Where a config field's type lists the allowed names (a ``Literal``, checked when the config is
parsed) and a registry holds what each name does, the two lists are the same: a name added to
one alone is refused at parse time, or fails inside a trial."""

from __future__ import annotations

import dataclasses
import typing

import pytest

from harness.runtime.schedulers import SCHEDULERS
from harness.runtime.search import DISTRIBUTIONS, SAMPLERS
from harness.study.spec import NuisanceParam, SchedulerConfig, StudySpec
from stvlm.configs.model import FinetuneConfig
from stvlm.models.finetune import FINETUNE_STRATEGIES


def literal_names(cls: type, name: str) -> list[str]:
    hint = typing.get_type_hints(cls)[name]
    assert typing.get_origin(hint) is typing.Literal, (cls, name)
    assert name in {f.name for f in dataclasses.fields(cls)}
    return list(typing.get_args(hint))


@pytest.mark.parametrize(("cls", "field", "registry"), [
    (FinetuneConfig, "strategy", FINETUNE_STRATEGIES),
    (StudySpec, "sampler", SAMPLERS),
    (NuisanceParam, "distribution", DISTRIBUTIONS),
    (SchedulerConfig, "name", SCHEDULERS),
])
def test_a_literal_field_and_its_registry_name_the_same_choices(cls, field, registry) -> None:
    assert sorted(literal_names(cls, field)) == sorted(registry.names())
