"""TensorBoard: every trial of the README's smoke study writes event files (Ray Tune's TBX logger)
beside its checkpoints, with the validation metric the study optimises."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl


def test_every_trial_writes_tensorboard_events(smoke_study: Path) -> None:
    record = json.loads((smoke_study / "study.json").read_text())
    experiment = Path(record["experiment_path"])
    trials = pl.read_parquet(smoke_study / "trials.parquet")
    events = {p.parent.name.split("_", 1)[1]: p for p in experiment.glob("*_*/events.out.tfevents.*")}
    assert set(events) == set(trials["trial_id"]), (sorted(events), trials["trial_id"].to_list())
    stvlm = trials.filter(pl.col("kind") == "stvlm")["trial_id"].to_list()
    for trial_id in stvlm:
        data = events[trial_id].read_bytes()
        assert b"val_mae" in data and b"lr" in data  # the optimised scalar and the schedule
