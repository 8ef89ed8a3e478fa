"""The report of a REAL smoke study (``python studies/fewshot.py --smoke-test``): every number in
its tables equals an independent computation from the study's Parquet files.

``smoke_study`` is the session fixture of tests/conftest.py: the ``results/<study>/`` folder the
smoke test wrote.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl
from report_checks import assert_not_blank, check_report_tables

from harness.report import build_report
from harness.report.config import ReportConfig

REPO = Path(__file__).resolve().parents[2]


def test_real_smoke_study_report(smoke_study: Path, tmp_path: Path) -> None:
    out = build_report([smoke_study], tmp_path / "report", REPO / "results" / "anchors" / "published.csv")
    counts = check_report_tables([smoke_study], out)
    trials = pl.read_parquet(smoke_study / "trials.parquet")
    assert counts["trials"] == trials.height > 0
    assert counts["summary_rows"] > 0
    status = pl.read_csv(out / "tables" / "status.csv")
    assert status["total"].sum() == trials.height
    md = (out / "report.md").read_text()
    assert "## Provenance" in md and f"Study {trials['study'][0]}" in md
    assert "python studies/fewshot.py" in md  # the reproduction command
    # what the checkpoints were kept by: ST-VLM's own monitor (the smoke study trains no baseline)
    assert ("- best epoch: the one with the lowest validation mae_both (ST-VLM); mae_both is the mean of "
            "mae and mae_all") in md
    drawn = sorted((out / "figures").glob("*.png"))
    assert drawn, "the smoke study drew no figure at all"
    for png in drawn:
        assert_not_blank(png.read_bytes())
    line = next((x for x in md.splitlines() if x.startswith("Not drawn (")), "")
    skipped = sum(f"{name} (" in line for name in ("error_vs_fewshot", "fusion_lora_heatmap", "horizon_curves",
                                                   "learning_curves", "param_importance", "pareto"))
    assert len(drawn) + skipped == 6  # every figure is drawn or explained in one line


def test_real_smoke_study_reports_the_mean_of_both_maes(smoke_study: Path, tmp_path: Path) -> None:
    """Every trial, ST-VLM and baseline, reports val_/test_mae_both (the mean of the masked and
    the all-entries MAE, what ST-VLM's early stopping reads) into the files, and a report can
    rank and plot on it."""
    trials = pl.read_parquet(smoke_study / "trials.parquet").filter(pl.col("status") == "completed")
    assert trials.height > 0 and set(trials["kind"]) == {"stvlm", "baseline"}
    for split in ("val", "test"):
        for h in ("", "_h3", "_h12"):
            both, mae, mae_all = (trials[f"{split}_{m}{h}"].to_list() for m in ("mae_both", "mae", "mae_all"))
            assert both == [(a + b) / 2 for a, b in zip(mae, mae_all)]
    curves = pl.read_parquet(smoke_study / "curves.parquet")
    assert curves.height > 0 and curves["val_mae_both"].to_list() == [
        (a + b) / 2 for a, b in zip(curves["val_mae"], curves["val_mae_all"])]
    out = build_report([smoke_study], tmp_path / "report", config=ReportConfig(metric="mae_both"))
    assert "Ranking metric: mae_both on validation" in (out / "report.md").read_text()
