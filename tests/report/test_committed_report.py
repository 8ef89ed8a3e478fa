"""Every committed report is what the committed code makes of the committed Parquet files:
regenerated here, every table (CSV and LaTeX) must equal the committed one byte for byte."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.report import build_report

REPO = Path(__file__).resolve().parents[2]
#: Every committed study folder with a committed report.
STUDIES = sorted(p.parent for p in (REPO / "results").glob("*/report") if (p.parent / "trials.parquet").is_file())


def test_the_committed_studies_are_found() -> None:
    names = [p.name for p in STUDIES]
    assert "fewshot-nycbike-drop-smoke" in names, names


@pytest.mark.parametrize("study", STUDIES, ids=[p.name for p in STUDIES])
def test_committed_report_tables_are_regenerated_exactly(tmp_path: Path, study: Path) -> None:
    out = build_report([study], tmp_path / "report", REPO / "results" / "anchors" / "published.csv")
    committed = study / "report" / "tables"
    names = sorted(p.name for p in committed.iterdir())
    assert names == sorted(p.name for p in (out / "tables").iterdir())
    assert "main_results.tex" in names and "horizons.parquet" in names
    for name in names:
        if name.endswith(".parquet"):
            import polars as pl

            assert pl.read_parquet(committed / name).equals(pl.read_parquet(out / "tables" / name)), name
        else:
            assert (committed / name).read_bytes() == (out / "tables" / name).read_bytes(), name
    figures = sorted(p.name for p in (study / "report" / "figures").iterdir())
    assert figures == sorted(p.name for p in (out / "figures").iterdir())
