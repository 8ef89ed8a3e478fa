"""Checks shared by the report tests (a helper module, not a test file).

``check_report_tables`` recomputes the report's tables straight from the Parquet files, without
harness.report code: it reads ``tables/*.csv`` of a report and asserts that every number in them
equals a mean/std/count computed here with plain Polars and Python from ``trials.parquet``. Used
on hand-made studies and on a real smoke study. ``assert_not_blank`` checks a PNG has content.
"""

from __future__ import annotations

import io
import json
import math
import re
import statistics
from collections import defaultdict
from pathlib import Path

import matplotlib.image
import polars as pl
import pytest

KEYS = ("study", "arm", "kind", "model", "dataset", "protocol", "few_shot_ratio", "few_shot_method",
        "few_shot_label", "fusion_depth", "image_encoding", "lora_rank", "finetune", "backbone", "modality")
COLUMN = re.compile(r"^(val|test)_([a-z][a-z0-9]*?)(?:_h(\d+))?$")


def assert_not_blank(png: bytes) -> None:
    """The image has content: pixel variance and a real share of non-white pixels."""
    pixels = matplotlib.image.imread(io.BytesIO(png))[..., :3]  # [H, W, 3] floats in [0, 1]
    assert pixels.shape[0] > 100 and pixels.shape[1] > 100
    assert pixels.std() > 0.05
    ink = (pixels < 0.9).any(axis=-1).mean()
    assert ink > 0.02, f"only {ink:.3%} of the pixels are not white"


def _norm(v: object) -> str | None:
    if v is None or v == "":
        return None
    try:
        return repr(float(v))  # "0" (str), 0 (int) and 0.0 all become '0.0'
    except (TypeError, ValueError):
        return str(v)


def _params(text: str | None) -> str:
    p = json.loads(text) if text else {}
    p.pop("seed", None)
    return json.dumps(p, sort_keys=True)


def config_key(row: dict, params: str) -> tuple:
    return tuple(_norm(row[k]) for k in KEYS) + (params,)


def completed_groups(study_dirs: list[Path]) -> dict[tuple, list[dict]]:
    """Completed trials grouped by configuration (all keys + canonical params, seed excluded)."""
    groups: dict[tuple, list[dict]] = defaultdict(list)
    for d in study_dirs:
        for row in pl.read_parquet(d / "trials.parquet").iter_rows(named=True):
            if row["status"] == "completed":
                groups[config_key(row, _params(row["params_json"]))].append(row)
    return groups


def values(rows: list[dict], column: str) -> list[float]:
    out = [row.get(column) for row in rows]
    return [float(v) for v in out if v is not None and not math.isnan(float(v))]


def _column(split: str, metric: str, horizon: object) -> str:
    return f"{split}_{metric}" + ("" if horizon is None or horizon == "" else f"_h{int(horizon)}")


def _csv(report: Path, name: str) -> pl.DataFrame:
    return pl.read_csv(report / "tables" / f"{name}.csv", infer_schema_length=None)


def check_report_tables(study_dirs: list[Path], report: Path) -> dict[str, int]:
    """Assert every number of the report's CSV tables against the Parquet files; return counts."""
    trials = pl.concat([pl.read_parquet(d / "trials.parquet") for d in study_dirs], how="diagonal_relaxed")
    groups = completed_groups(study_dirs)

    # 1. status counts: every trial counted once, under its own status.
    status = _csv(report, "status")
    for row in status.iter_rows(named=True):
        mine = trials.filter((pl.col("study") == row["study"]) & (pl.col("arm") == row["arm"])
                             & (pl.col("kind") == row["kind"]) & (pl.col("model") == row["model"]))
        for s in ("completed", "pruned", "failed"):
            assert row[s] == (mine["status"] == s).sum(), (row, s)
        assert row["total"] == mine.height
    assert status["total"].sum() == trials.height

    # 2. mean / std / n of every metric of every configuration.
    summary = _csv(report, "seed_summary")
    checked = 0
    per_column: dict[str, int] = defaultdict(int)
    for row in summary.iter_rows(named=True):
        vals = values(groups[config_key(row, _params(row["params"]))], _column(row["split"], row["metric"], row["horizon"]))
        assert row["n"] == len(vals) > 0, row
        assert row["mean"] == pytest.approx(statistics.fmean(vals), rel=1e-12, abs=1e-12)
        if len(vals) > 1:
            assert row["std"] == pytest.approx(statistics.stdev(vals), rel=1e-9, abs=1e-12)
        else:
            assert row["std"] is None
        per_column[_column(row["split"], row["metric"], row["horizon"])] += row["n"]
        checked += 1
    for col in trials.columns:  # nothing silently dropped: every completed value is in some row
        if COLUMN.match(col):
            done = trials.filter(pl.col("status") == "completed")[col].cast(pl.Float64)
            assert per_column[col] == done.drop_nans().drop_nulls().len(), col

    # 3. best configuration: the lowest mean validation metric of its (study, arm, kind, model).
    best = _csv(report, "best_configs")
    for row in best.iter_rows(named=True):
        if row["selected_by"].startswith("no "):  # no validation metric at all: nothing to rank
            continue
        metric = row["selected_by"].rsplit("val_", 1)[1]
        same = [statistics.fmean(values(rows, f"val_{metric}")) for key, rows in groups.items()
                if key[:4] == tuple(_norm(row[k]) for k in KEYS[:4]) and values(rows, f"val_{metric}")]
        pick = max if row["selected_by"].startswith("highest") else min
        assert row["val_mean"] == pytest.approx(pick(same), rel=1e-12)

    # 4. deltas: our mean, the reference mean and their difference.
    for name in ("baseline_deltas", "anchor_deltas"):
        deltas = _csv(report, name)
        by_id = {r["config_id"]: r for r in best.iter_rows(named=True)}
        for row in deltas.iter_rows(named=True):
            b = by_id[row["config_id"]]
            vals = values(groups[config_key(b, _params(b["params"]))], _column("test", row["metric"], row["horizon"]))
            assert (row["n"], row["mean"]) == (len(vals), pytest.approx(statistics.fmean(vals), rel=1e-12))
            assert row["delta"] == pytest.approx(row["mean"] - row["reference"], rel=1e-12, abs=1e-12)
            verdict = row["larger_than_noise"]
            if verdict != "n/a (1 seed)":
                assert verdict == ("yes" if row["ci_low"] > 0 or row["ci_high"] < 0 else "no")
                assert row["ci_low"] <= row["delta"] <= row["ci_high"]
        checked += deltas.height
    return {"summary_rows": summary.height, "checked": checked, "trials": trials.height}
