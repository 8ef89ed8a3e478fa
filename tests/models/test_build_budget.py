"""``stvlm.models.build_budget``: a saved model's configs may not build far more than its weights
file stores (exact counts on tiny modules; the attack itself in ``test_pretrained.py``)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file
from torch import nn

from stvlm.errors import DataError
from stvlm.models.build_budget import SPARE, SLACK, bounded_build, stored_values


def test_stored_values_counts_every_tensor_from_the_header(tmp_path: Path):
    file = tmp_path / "w.safetensors"
    save_file({"a": torch.zeros(2, 3), "b": torch.zeros(4, dtype=torch.bfloat16)}, str(file))
    assert stored_values(file) == 10


def test_stored_values_refuses_a_missing_or_foreign_file(tmp_path: Path):
    with pytest.raises(DataError, match=r"nowhere.safetensors is missing or not a safetensors file"):
        stored_values(tmp_path / "nowhere.safetensors")
    (tmp_path / "junk.safetensors").write_bytes(b"\xff" * 64)
    with pytest.raises(DataError, match=r"junk.safetensors is missing or not a safetensors file \("):
        stored_values(tmp_path / "junk.safetensors")


def test_the_bound_is_slack_times_stored_plus_spare_and_counts_parameters_and_buffers():
    stored = 10
    limit = SLACK * stored + SPARE
    with bounded_build(stored, what="here"):
        nn.Linear(limit, 1, bias=False)  # exactly at the bound: built
    with pytest.raises(DataError) as err, bounded_build(stored, what="here"):
        nn.Linear(limit, 1)  # its bias is one value past the bound
    assert str(err.value) == (
        f"here: the configs describe a larger model than the weights file holds (Linear.bias [1] "
        f"brings the model to {limit + 1:,} values; the file stores 10, at most {limit:,} are "
        "built); the files do not belong together"
    )
    with pytest.raises(DataError, match=r"BatchNorm1d.running_mean \[4\]"), bounded_build(0, what="x"):
        nn.Linear(SPARE - 8, 1, bias=False)  # 8 values left: weight 4, bias 4, then a buffer
        nn.BatchNorm1d(4)


def test_the_count_stops_when_the_block_ends_even_after_a_refusal():
    with pytest.raises(DataError), bounded_build(0, what="x"):
        nn.Linear(SPARE + 1, 1)
    nn.Linear(SPARE + 1, 1)  # no hook left behind
    with bounded_build(0, what="x"):
        pass
    nn.Linear(SPARE + 1, 1)
