"""Report tables on hand-made studies: numbers equal an independent Polars computation, failed and
pruned trials are counted and never averaged in, deltas against baselines/anchors, cross-study."""

from __future__ import annotations

import re

from pathlib import Path

import polars as pl
import pytest
from report_checks import check_report_tables
from report_synthetic import fast_config, write_study

from harness.report import build_report
from harness.report.aggregate import best_configs, canonical_params, prepare, seed_summary, status_table
from harness.report.load import load_study


@pytest.fixture
def demo_study(demo_built: tuple[Path, Path]) -> Path:
    return demo_built[0]


@pytest.fixture
def demo_report(demo_built: tuple[Path, Path]) -> Path:
    return demo_built[1]


def test_every_number_equals_the_parquet(demo_study: Path, demo_report: Path) -> None:
    counts = check_report_tables([demo_study], demo_report)
    # 2 arms x 4 configs + 4 baseline configs = 12 configurations x 2 splits x 4 metrics x 4 (overall + 3 h)
    assert counts["summary_rows"] == 12 * 2 * 4 * 4
    assert counts["trials"] == 36


def test_failed_and_pruned_are_counted_not_averaged(demo_study: Path, demo_report: Path) -> None:
    status = pl.read_csv(demo_report / "tables" / "status.csv")
    row = status.filter((pl.col("arm") == "few_shot_ratio=0.1") & (pl.col("kind") == "stvlm")).row(0, named=True)
    assert (row["completed"], row["pruned"], row["failed"], row["total"]) == (10, 1, 1, 12)
    problems = pl.read_csv(demo_report / "tables" / "problem_trials.csv")
    assert problems.select("status", "error").rows() == [("failed", "RuntimeError: out of memory"), ("pruned", None)]
    # The pruned trial has validation metrics in trials.parquet, but they are not averaged in.
    trials = pl.read_parquet(demo_study / "trials.parquet")
    pruned = trials.filter(pl.col("status") == "pruned").row(0, named=True)
    assert pruned["val_mae"] is not None and pruned["test_mae"] is None
    summary = pl.read_csv(demo_report / "tables" / "seed_summary.csv")
    same = summary.filter((pl.col("params") == canonical_params(pruned["params_json"]))
                          & (pl.col("arm") == pruned["arm"]) & (pl.col("metric") == "mae")
                          & pl.col("horizon").is_null())
    assert same.select("split", "n").sort("split").rows() == [("test", 2), ("val", 2)]
    completed = trials.filter((pl.col("params_json") == pruned["params_json"]) & (pl.col("arm") == pruned["arm"])
                              & (pl.col("status") == "completed"))
    assert same.filter(pl.col("split") == "val")["mean"][0] == pytest.approx(completed["val_mae"].mean(), rel=1e-12)
    text = (demo_report / "report.md").read_text()
    assert "| fewshot-demo | few_shot_ratio=0.1 | few_shot_ratio=0.1 | stvlm | stvlm | 10 | 1 | 1 | 12 |" in text
    assert "36 in all, 34 completed, 1 pruned, 1 failed" in text


def test_best_configuration_and_status_in_memory(demo_study: Path) -> None:
    trials = prepare([load_study(demo_study)])
    assert status_table(trials)["total"].sum() == 36
    best = best_configs(seed_summary(trials), "mae")
    assert best["label"].to_list() == [
        "few_shot_ratio=0.1", "few_shot_ratio=0.5", "ridge @ few_shot_ratio=0.1", "ridge @ few_shot_ratio=0.5",
        "seasonal-naive @ few_shot_ratio=0.1", "seasonal-naive @ few_shot_ratio=0.5"]
    # configuration 0 (grid_heatmap, depth 0, rank 4) has the lowest base error in both arms
    assert best.filter(pl.col("kind") == "stvlm")["image_encoding"].to_list() == ["grid_heatmap"] * 2
    assert best.filter(pl.col("kind") == "stvlm")["lora_rank"].to_list() == [4, 4]


def test_baseline_deltas_match_splits_and_noise(demo_report: Path) -> None:
    deltas = pl.read_csv(demo_report / "tables" / "baseline_deltas.csv")
    # 2 ST-VLM arms x 2 baselines on the same split x 4 metrics x (overall + 3 horizons)
    assert deltas.height == 2 * 2 * 4 * 4
    assert all(a.split(" @ ")[1] == lab for a, lab in zip(deltas["against"], deltas["label"]))
    naive = deltas.filter(pl.col("against").str.starts_with("seasonal-naive") & pl.col("horizon").is_null())
    assert set(naive["reference_n"]) == {3}
    assert set(naive["larger_than_noise"]) == {"yes"}  # the synthetic ST-VLM is 0.15+ below it
    assert (naive["delta"] < 0).all()


def test_anchor_deltas_match_dataset_protocol_ratio_metric(demo_report: Path) -> None:
    deltas = pl.read_csv(demo_report / "tables" / "anchor_deltas.csv")
    # the two 10% rows match the 3 labels of the 0.1 arm (ST-VLM + 2 baselines)
    assert deltas.height == 3 * 2
    assert set(deltas["against"]) == {"ST-LLM (published)"}
    assert set(deltas["reference"]) == {2.5, 3.0}
    assert set(deltas["label"]) == {"few_shot_ratio=0.1", "ridge @ few_shot_ratio=0.1",
                                    "seasonal-naive @ few_shot_ratio=0.1"}


def test_single_seed_says_na(tmp_path: Path) -> None:
    study = write_study(tmp_path / "results", seeds=(0,), problems=False)
    out = build_report([study], tmp_path / "out", config=fast_config())
    deltas = pl.read_csv(out / "tables" / "baseline_deltas.csv")
    assert deltas.height and set(deltas["larger_than_noise"]) == {"n/a (1 seed)"}
    assert "n/a (1 seed)" in (out / "report.md").read_text()
    check_report_tables([study], out)


def test_cross_study_side_by_side(tmp_path: Path) -> None:
    a = write_study(tmp_path / "results", "fewshot-a")
    b = write_study(tmp_path / "results", "fewshot-b", dataset="los-loop", ratios=(0.1,))
    out = build_report([a, b], tmp_path / "out", config=fast_config(metric="rmse"))
    check_report_tables([a, b], out)
    cross = pl.read_csv(out / "tables" / "cross_study.csv")
    assert cross.columns == ["dataset", "protocol", "few_shot_ratio", "few_shot_method", "few_shot_label",
                             "kind", "model", "arm",
                             "fewshot-a", "fewshot-b"]
    assert cross.height == 2 * 3 + 1 * 3  # (ST-VLM + 2 baselines) x (2 arms of a on nycbike-drop, 1 of b)
    best = pl.read_csv(out / "tables" / "best_configs.csv")
    summary = pl.read_csv(out / "tables" / "seed_summary.csv").filter(
        (pl.col("split") == "test") & (pl.col("metric") == "rmse") & pl.col("horizon").is_null())
    for row in cross.iter_rows(named=True):
        for study in ("fewshot-a", "fewshot-b"):
            ids = best.filter((pl.col("study") == study) & (pl.col("arm") == row["arm"]) & (pl.col("kind") == row["kind"])
                              & (pl.col("model") == row["model"]) & (pl.col("dataset") == row["dataset"]))["config_id"]
            if row[study] is None:
                assert ids.len() == 0
            else:
                assert row[study] == summary.filter(pl.col("config_id") == ids.item())["mean"].item()
    md = (out / "report.md").read_text()
    assert "## Cross-study comparison" in md and "fewshot-a/few_shot_ratio=0.1" in md


def test_study_where_every_trial_failed(tmp_path: Path) -> None:
    folder = write_study(tmp_path / "r", ratios=(0.1,), seeds=(0,), curves=False)
    path = folder / "trials.parquet"
    frame = pl.read_parquet(path)
    metrics = [c for c in frame.columns if c.startswith(("val_", "test_"))]
    frame.with_columns(pl.lit("failed").alias("status"), pl.lit("ValueError: boom").alias("error"),
                       *(pl.lit(None, dtype=pl.Float64).alias(c) for c in metrics)).write_parquet(path)
    out = build_report([folder], tmp_path / "out", config=fast_config())
    status = pl.read_csv(out / "tables" / "status.csv")
    assert status["failed"].sum() == status["total"].sum() == 6 and status["completed"].sum() == 0
    assert pl.read_csv(out / "tables" / "problem_trials.csv").height == 6
    md = (out / "report.md").read_text()
    assert md.count("Not drawn (they do not apply to these studies): ") == 1
    assert len(re.findall(r"\b(error_vs_fewshot|fusion_lora_heatmap|horizon_curves|learning_curves|param_importance|pareto) \(", md)) == 6
    assert "6 in all, 0 completed, 0 pruned, 6 failed" in md
    check_report_tables([folder], out)
