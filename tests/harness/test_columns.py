"""The one place that builds and reads score column names (harness.results.columns)."""

import pytest

from harness.results.columns import (
    EPOCH_VAL, SPLITS, ScoreColumn, curve_scores, is_score_column, parse_score_column, result_key,
    score_column, split_of,
)
from harness.results.store import metric_columns
from stvlm.data.protocols import horizon_key


def test_score_column_builds_each_split():
    assert SPLITS == ("val", "test")
    assert score_column("val", "mae") == "val_mae"
    assert score_column("test", horizon_key("mae_all", 3)) == "test_mae_all_h3"
    assert score_column(EPOCH_VAL, "rmse") == "epoch_val_rmse"


def test_score_column_refuses_an_unknown_split():
    with pytest.raises(ValueError, match=r"split 'train' is not one of \('val', 'test', 'epoch_val'\)"):
        score_column("train", "mae")


@pytest.mark.parametrize("column, parsed", [
    ("test_mae", ScoreColumn("test", "mae", None)),
    ("val_rmse", ScoreColumn("val", "rmse", None)),
    ("test_mae_h3", ScoreColumn("test", "mae", 3)),
    ("test_mae_all_h12", ScoreColumn("test", "mae_all", 12)),
    ("val_mae_both", ScoreColumn("val", "mae_both", None)),
    ("epoch_val_mae", None),
    ("epoch", None),
    ("val_", None),
    ("test_MAE", None),
])
def test_parse_score_column(column, parsed):
    assert parse_score_column(column) == parsed


def test_parse_inverts_build_for_every_reported_column():
    columns = metric_columns("test", ["mae", "mae_all"], [3, 12])
    assert columns == ["test_mae", "test_mae_h3", "test_mae_h12",
                       "test_mae_all", "test_mae_all_h3", "test_mae_all_h12"]
    assert [parse_score_column(c) for c in columns] == [
        ScoreColumn("test", "mae", None), ScoreColumn("test", "mae", 3), ScoreColumn("test", "mae", 12),
        ScoreColumn("test", "mae_all", None), ScoreColumn("test", "mae_all", 3),
        ScoreColumn("test", "mae_all", 12)]


def test_split_and_key_of_a_column():
    assert [split_of(c) for c in ("val_mae", "test_mae_h3", "epoch_val_mae", "mae")] == ["val", "test", None, None]
    assert [is_score_column(c) for c in ("val_mae", "test_x", "epoch_val_mae", "seed")] == [True, True, False, False]
    assert [result_key(c) for c in ("val_mae_h3", "test_mae", "mae", "epoch_val_mae")] == [
        "mae_h3", "mae", "mae", "epoch_val_mae"]


def test_curve_scores_keep_the_epochs_own_values_only():
    report = {"epoch": 3, "val_mae": 0.9, "epoch_val_mae": 1.0, "epoch_val_mae_h3": 1.5, "train_loss": 2.0}
    assert curve_scores(report) == {"val_mae": 1.0, "val_mae_h3": 1.5}
