"""Reading results folders and the anchors file: the good path and every bad-input error."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import polars as pl
import pytest

from harness.report.load import (
    ANCHOR_COLUMNS, FORMAT_VERSION, ResultsError, load_anchors, load_studies, load_study, metric_columns,
)
from stvlm.errors import STVLMError

REPO = Path(__file__).resolve().parents[2]
ANCHORS = REPO / "results" / "anchors" / "published.csv"


def _one_line(err: pytest.ExceptionInfo) -> str:
    text = str(err.value)
    assert "\n" not in text and isinstance(err.value, STVLMError)
    return text


def test_load_study_reads_all_three_files(demo_study: Path) -> None:
    study = load_study(demo_study)
    assert study.name == "fewshot-demo"
    assert study.trials.height == 36  # 2 arms x (4 configs + 2 baselines) x 3 seeds
    assert study.curves.height == 2 * 4 * 3 * 3 - 3 - 1  # 3 epochs; failed: 0, pruned: 2
    assert study.spec["spec"]["metric"] == "mae"
    assert study.storage is None


def test_metric_columns_parse_split_metric_and_horizon() -> None:
    frame = pl.DataFrame({c: [1.0] for c in ("test_mae", "test_mae_h12", "val_r2", "test_r2_h3", "seed")})
    assert metric_columns(frame, "test") == [("test_mae", "mae", None), ("test_mae_h12", "mae", 12),
                                             ("test_r2_h3", "r2", 3)]
    assert metric_columns(frame, "val") == [("val_r2", "r2", None)]


def test_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(ResultsError) as err:
        load_study(tmp_path / "nope")
    assert _one_line(err) == f"{tmp_path / 'nope'}: results folder does not exist"


def test_empty_folder(tmp_path: Path) -> None:
    with pytest.raises(ResultsError) as err:
        load_study(tmp_path)
    assert _one_line(err) == f"{tmp_path}: results folder is empty; expected trials.parquet and study.json"


def test_folder_without_trials(demo_study: Path) -> None:
    (demo_study / "trials.parquet").unlink()
    with pytest.raises(ResultsError, match="has no trials.parquet \\(found: curves.parquet, study.json\\)"):
        load_study(demo_study)


def test_missing_and_bad_study_json(demo_study: Path) -> None:
    spec = demo_study / "study.json"
    spec.write_text("{not json")
    with pytest.raises(ResultsError, match="study.json: not valid JSON"):
        load_study(demo_study)
    spec.write_text("[1, 2]")
    with pytest.raises(ResultsError, match="study.json: expected a JSON object, got list"):
        load_study(demo_study)
    spec.unlink()
    with pytest.raises(ResultsError) as err:
        load_study(demo_study)
    assert "study.json is missing" in _one_line(err)


def test_unreadable_parquet(demo_study: Path) -> None:
    (demo_study / "trials.parquet").write_bytes(b"this is not parquet")
    with pytest.raises(ResultsError) as err:
        load_study(demo_study)
    assert _one_line(err).startswith(f"{demo_study / 'trials.parquet'}: not a readable Parquet file (")


def test_missing_required_columns(demo_study: Path) -> None:
    path = demo_study / "trials.parquet"
    pl.read_parquet(path).drop("seed", "arm").write_parquet(path)
    with pytest.raises(ResultsError) as err:
        load_study(demo_study)
    assert _one_line(err) == (f"{path}: missing required columns arm, seed (written by an incompatible "
                              "version? see docs/results-format.md)")


def test_missing_curve_columns(demo_study: Path) -> None:
    path = demo_study / "curves.parquet"
    pl.read_parquet(path).drop("train_loss").write_parquet(path)
    with pytest.raises(ResultsError, match="curves.parquet: missing required columns train_loss"):
        load_study(demo_study)


@pytest.mark.parametrize("where", ["parquet", "column", "study.json"])
def test_format_version_mismatch(demo_study: Path, where: str) -> None:
    path = demo_study / "trials.parquet"
    frame = pl.read_parquet(path)
    if where == "parquet":
        frame.write_parquet(path, metadata={"format_version": "99"})
    elif where == "column":
        frame.with_columns(pl.lit(99).alias("format_version")).write_parquet(path)
    else:
        spec = json.loads((demo_study / "study.json").read_text())
        (demo_study / "study.json").write_text(json.dumps({**spec, "format_version": 99}))
    with pytest.raises(ResultsError) as err:
        load_study(demo_study)
    named = "study.json" if where == "study.json" else "trials.parquet"
    assert _one_line(err).startswith(f"{demo_study / named}: ")
    assert _one_line(err).endswith(
        f"results format_version 99 is not supported; this report reads format_version {FORMAT_VERSION} "
        "(re-run the study or use a matching stvlm version)")


def test_matching_format_version_is_accepted(demo_study: Path) -> None:
    path = demo_study / "trials.parquet"
    pl.read_parquet(path).write_parquet(path, metadata={"format_version": str(FORMAT_VERSION)})
    assert load_study(demo_study).trials.height == 36


def test_no_rows_no_metrics_bad_status(demo_study: Path) -> None:
    path = demo_study / "trials.parquet"
    frame = pl.read_parquet(path)
    frame.head(0).write_parquet(path)
    with pytest.raises(ResultsError, match="trials.parquet: has no trial rows"):
        load_study(demo_study)
    frame.select(pl.exclude("^test_.*$")).write_parquet(path)
    with pytest.raises(ResultsError, match=r"has no test_<metric> columns \(e.g. test_mae\)"):
        load_study(demo_study)
    frame.with_columns(pl.lit("done").alias("status")).write_parquet(path)
    with pytest.raises(ResultsError, match="column status has value 'done'; allowed: completed, pruned, failed"):
        load_study(demo_study)


def test_params_json_must_be_an_object(demo_study: Path) -> None:
    path = demo_study / "trials.parquet"
    pl.read_parquet(path).with_columns(pl.lit("[1]").alias("params_json")).write_parquet(path)
    with pytest.raises(ResultsError) as err:
        load_study(demo_study)
    assert _one_line(err) == f"{path}: column params_json has value '[1]'; expected a JSON object"


def test_load_studies_needs_one_and_rejects_duplicates(demo_study: Path, tmp_path: Path) -> None:
    with pytest.raises(ResultsError, match="no results folder given"):
        load_studies([])
    copy = tmp_path / "copy"
    shutil.copytree(demo_study, copy)
    with pytest.raises(ResultsError, match=f"study 'fewshot-demo' was already read from {demo_study}"):
        load_studies([demo_study, copy])


def test_published_anchors_file_is_valid() -> None:
    anchors = load_anchors(ANCHORS)
    assert anchors.columns == [*ANCHOR_COLUMNS, "notes", "protocol_match", "few_shot_label"]
    st_llm_bike_drop = anchors.filter((pl.col("dataset") == "nycbike-drop") & (pl.col("model") == "ST-LLM"))
    values = {(r["metric"], r["few_shot_ratio"]): r["value"] for r in st_llm_bike_drop.iter_rows(named=True)}
    assert values == {("mae", 1.0): 1.89, ("rmse", 1.0): 2.81, ("mape", 1.0): 49.50, ("wape", 1.0): 38.27,
                      ("mae", 0.1): 1.93, ("rmse", 0.1): 2.88, ("mape", 0.1): 52.75}
    assert set(anchors["protocol"]) == {"standard"}


def test_anchor_errors(tmp_path: Path) -> None:
    with pytest.raises(ResultsError, match="anchors file does not exist"):
        load_anchors(tmp_path / "none.csv")
    bad = tmp_path / "a.csv"
    bad.write_text("dataset,protocol,model,metric,value\nx,standard,m,mae,1\n")
    with pytest.raises(ResultsError) as err:
        load_anchors(bad)
    assert _one_line(err) == (f"{bad}: anchors file is missing columns source, few_shot_ratio; required: "
                              + ", ".join(ANCHOR_COLUMNS))
    bad.write_text("dataset,protocol,model,metric,value,source,few_shot_ratio\nx,standard,m,mae,n/a,s,1.0\n")
    with pytest.raises(ResultsError, match="column value has value 'n/a'; expected a number"):
        load_anchors(bad)
    bad.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(ResultsError, match="anchors file is missing columns dataset, protocol"):
        load_anchors(bad)
    bad.write_bytes(b"")
    with pytest.raises(ResultsError) as err:
        load_anchors(bad)
    assert _one_line(err).startswith(f"{bad}: not a readable CSV file (")


def test_a_reader_error_is_named_by_its_first_line_or_its_type() -> None:
    from harness.report.load import _first_line

    assert _first_line(OSError("  bad magic\nmore detail\n")) == "bad magic"
    assert _first_line(ValueError()) == "ValueError"  # an empty message still names something
