"""Published numbers get a delta only under a matching protocol and few-shot selection."""

from __future__ import annotations

import polars as pl
import pytest

from harness.report.deltas import _same_selection, anchor_gap
from harness.report.load import ResultsError, load_anchors

HEAD = "dataset,protocol,model,metric,value,source,few_shot_ratio,notes,protocol_match,few_shot_label\n"


def test_only_matching_rows_count(tmp_path):
    path = tmp_path / "a.csv"
    path.write_text(HEAD + "nycbike-drop,standard,ST-LLM,mae,1.93,paper,0.1,n,yes,first-st-llm-10%\n"
                    "nycbike-drop,standard,ST-LLM,mae,1.89,paper,1.0,n,no,\n")
    rows = list(load_anchors(path).iter_rows(named=True))
    mine = {"few_shot_ratio": 0.1, "few_shot_label": "first-st-llm-10%"}
    assert [_same_selection(r, mine) for r in rows] == [True, False]
    other = {"few_shot_ratio": 0.1, "few_shot_label": "first-10%"}  # same ratio, another budget
    assert [_same_selection(r, other) for r in rows] == [False, False]
    # Legacy files without the column match on the ratio.
    assert _same_selection({"few_shot_ratio": 0.1}, other)


def test_bad_protocol_match_value(tmp_path):
    path = tmp_path / "a.csv"
    path.write_text(HEAD + "x,standard,m,mae,1,s,0.1,n,maybe,\n")
    with pytest.raises(ResultsError, match="protocol_match has value 'maybe'; allowed: yes, no"):
        load_anchors(path)


def test_the_committed_anchors_mark_the_st_llm_budget_rows(tmp_path):
    from pathlib import Path

    frame = load_anchors(Path(__file__).resolve().parents[2] / "results" / "anchors" / "published.csv")
    yes = frame.filter(frame["protocol_match"] == "yes")
    assert set(yes["dataset"]) == {"nycbike-drop"} and set(yes["few_shot_label"]) == {"first-st-llm-10%"}
    st_llm = yes.filter((yes["model"] == "ST-LLM") & (yes["metric"] == "mae"))
    assert st_llm["value"].to_list() == [1.93]


def test_an_empty_comparison_says_why(tmp_path):
    """With an anchors file and no delta, the report says whether the file lacks the dataset or
    holds it only at other few-shot counts; no sentence when one anchor is comparable."""
    path = tmp_path / "a.csv"
    path.write_text(HEAD + "nycbike-drop,standard,ST-LLM,mae,1.93,paper,0.1,n,yes,first-st-llm-10%\n"
                    "nycbike-drop,standard,ST-LLM,mae,1.89,paper,1.0,n,no,\n")
    anchors = load_anchors(path)

    def arms(*rows: tuple[str, str, float]) -> pl.DataFrame:
        return pl.DataFrame([{"kind": "stvlm", "dataset": d, "protocol": "standard", "few_shot_ratio": r,
                              "few_shot_label": label} for d, label, r in rows]
                            + [{"kind": "baseline", "dataset": "nycbike-drop", "protocol": "standard",
                                "few_shot_ratio": 0.1, "few_shot_label": "first-st-llm-10%"}])

    assert anchor_gap(anchors, arms(("nycbike-drop", "first-5%", 0.05), ("nycbike-drop", "first-10%", 0.1),
                                    ("los-loop", "first-10%", 0.1))) == (
        "The anchors file has 2 rows for nycbike-drop (standard); 1 was scored on our protocol's test "
        "windows and metric (their models' inputs may differ: see the file's notes), at "
        "few-shot counts first-st-llm-10%; these arms ran at first-5%, first-10%, so none is comparable. "
        "The anchors file has no row for los-loop under protocol standard.")
    assert anchor_gap(anchors, arms(("nycbike-drop", "first-st-llm-10%", 0.1))) == ""
    legacy = anchors.drop("protocol_match", "few_shot_label")
    assert anchor_gap(legacy, arms(("nycbike-drop", "first-5%", 0.05))) == (
        "The anchors file's 2 rows for nycbike-drop (standard) are at few-shot ratios 0.1, 1; these arms "
        "ran at 0.05.")
