"""The committed example report is what the committed code makes of the committed Parquet files:
regenerated here, every table (CSV and LaTeX) must equal the committed one byte for byte."""

from __future__ import annotations

from pathlib import Path

from harness.report import build_report

REPO = Path(__file__).resolve().parents[2]
STUDY = REPO / "results" / "fewshot-nycbike-drop-smoke"


def test_committed_report_tables_are_regenerated_exactly(tmp_path: Path) -> None:
    out = build_report([STUDY], tmp_path / "report", REPO / "results" / "anchors" / "published.csv")
    committed = STUDY / "report" / "tables"
    names = sorted(p.name for p in committed.iterdir())
    assert names == sorted(p.name for p in (out / "tables").iterdir())
    assert "main_results.tex" in names and "horizons.parquet" in names
    for name in names:
        if name.endswith(".parquet"):
            import polars as pl

            assert pl.read_parquet(committed / name).equals(pl.read_parquet(out / "tables" / name)), name
        else:
            assert (committed / name).read_bytes() == (out / "tables" / name).read_bytes(), name
    figures = sorted(p.name for p in (STUDY / "report" / "figures").iterdir())
    assert figures == sorted(p.name for p in (out / "figures").iterdir())
