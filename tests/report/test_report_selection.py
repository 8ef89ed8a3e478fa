"""What a report compares and averages: a search run within each seed, random few-shot seeds,
named budgets, several protocols, blank anchor cells, signed metrics and pruned curves."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
from report_synthetic import fast_config, study_frames, write_study

from harness.report.aggregate import PER_SEED, best_configs, prepare, seed_summary
from harness.report.load import ResultsError, load_anchors, load_study
from harness.report.tables import compute

HEAD_ANCHORS = "dataset,protocol,model,metric,value,source,few_shot_ratio,notes,protocol_match,few_shot_label\n"


def _rewrite(folder: Path, **columns: pl.Expr) -> None:
    path = folder / "trials.parquet"
    pl.read_parquet(path).with_columns(**columns).write_parquet(path)


def test_a_search_within_each_seed_is_averaged_over_the_seeds_winners(tmp_path: Path) -> None:
    """Each (arm, seed) group of a study samples its own nuisance settings, so a configuration
    never recurs in another seed: the report takes each seed's best trial on validation and
    averages those over seeds, instead of showing the single luckiest trial with one seed."""
    folder = write_study(tmp_path / "r", ratios=(0.1,), seeds=(0, 1, 2), problems=False, baselines=False)
    # the four configurations of every seed get that seed's own learning rates
    _rewrite(folder, params_json=pl.concat_str([pl.lit('{"train.lr": 0.00'), pl.col("seed").cast(pl.String),
                                                pl.col("trial_id").str.slice(-4, 1), pl.lit("}")]))
    trials = prepare([load_study(folder)], "mae")
    best = best_configs(seed_summary(trials), "mae")
    assert best.height == 1 and best["n"][0] == 3 and best["params"][0] == PER_SEED.format("val_mae")
    assert best["selected_by"][0] == "lowest val_mae in each seed (the search of each seed), mean over seeds"
    raw = pl.read_parquet(folder / "trials.parquet")
    winners = raw.sort("val_mae", "trial_id").group_by("seed").first()
    mine = trials.filter(pl.col("config_id") == best["config_id"][0])
    assert sorted(mine["trial_id"]) == sorted(winners["trial_id"])
    summary = seed_summary(trials).filter((pl.col("config_id") == best["config_id"][0]) & (pl.col("split") == "test")
                                          & (pl.col("metric") == "mae") & pl.col("horizon").is_null())
    assert summary["mean"][0] == pytest.approx(winners["test_mae"].mean(), rel=1e-12)
    assert best["val_mean"][0] == pytest.approx(winners["val_mae"].mean(), rel=1e-12)


def test_configurations_shared_by_seeds_are_ranked_by_their_mean(tmp_path: Path) -> None:
    """A grid (the same four configurations in every seed) keeps the mean-over-seeds ranking."""
    folder = write_study(tmp_path / "r", ratios=(0.1,), seeds=(0, 1), problems=False, baselines=False)
    trials = prepare([load_study(folder)], "mae")
    assert PER_SEED.format("val_mae") not in set(trials["params"])
    best = best_configs(seed_summary(trials), "mae")
    assert best["n"][0] == 2 and best["selected_by"][0] == "lowest mean val_mae"


def test_random_few_shot_seeds_are_one_configuration(tmp_path: Path) -> None:
    folder = write_study(tmp_path / "r", ratios=(0.1,), seeds=(0, 1), problems=False)
    _rewrite(folder, few_shot_method=pl.lit("random"), few_shot_label=pl.format("random-10% (seed {})", "seed"))
    trials = prepare([load_study(folder)], "mae")
    assert set(trials["few_shot_label"]) == {"random-10%"}
    assert set(best_configs(seed_summary(trials), "mae")["n"]) == {2}  # not one "configuration" per seed


def test_a_budget_study_is_not_compared_with_a_full_one(tmp_path: Path) -> None:
    """A named budget leaves few_shot_ratio at 1.0: the split is told by the label as well."""
    full = write_study(tmp_path / "r", "full", ratios=(1.0,), seeds=(0, 1), problems=False)
    budget = write_study(tmp_path / "r", "budget", ratios=(1.0,), seeds=(0, 1), problems=False)
    _rewrite(budget, few_shot_label=pl.lit("first-st-llm-10%"))
    data = compute([load_study(full), load_study(budget)], None, fast_config())
    for row in data.baseline.iter_rows(named=True):
        assert row["source"] == f"study {row['study']}", row  # each arm against its own study's baselines
    assert data.baseline.height


def test_flags_compare_within_one_protocol(tmp_path: Path) -> None:
    """Two studies on one dataset under two protocols: bold and daggers per protocol block, and
    the dataset cell says which protocol."""
    standard = write_study(tmp_path / "r", "std", ratios=(0.1,), seeds=(0, 1, 2), problems=False)
    tgcn = write_study(tmp_path / "r", "tg", ratios=(0.1,), seeds=(0, 1, 2), problems=False)
    test_cols = [c for c in pl.read_parquet(tgcn / "trials.parquet").columns if c.startswith(("test_", "val_"))]
    _rewrite(tgcn, protocol=pl.lit("tgcn"), **{c: pl.col(c) / 10 for c in test_cols})  # far lower errors
    main = compute([load_study(standard), load_study(tgcn)], None, fast_config()).main
    assert set(main["dataset"]) == {"nycbike-drop (standard)", "nycbike-drop (tgcn)"}
    assert set(main["model"]) == {f"{s}: {m}" for s in ("std", "tg") for m in ("ST-VLM", "ridge", "seasonal-naive")}
    for _, block in main.group_by("block"):
        assert block["dataset"].n_unique() == 1 and int(block["mae_best"].sum()) == 1
    std = main.filter(pl.col("dataset") == "nycbike-drop (standard)")
    assert std.filter(pl.col("kind") == "stvlm")["mae_vs_baseline"][0] == "better"  # its own ridge, not tgcn's


def test_a_blank_protocol_match_cell_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "a.csv"
    path.write_text(HEAD_ANCHORS + "nycbike-drop,standard,ST-LLM,mae,2.5,paper,0.1,unknown protocol,,\n")
    with pytest.raises(ResultsError, match="column protocol_match has value a blank cell; allowed: yes, no"):
        load_anchors(path)


def test_delta_percent_has_the_deltas_sign_below_zero(tmp_path: Path) -> None:
    from harness.report.deltas import _row
    from harness.report.stats import Interval

    iv = Interval(diff=0.1174, low=float("nan"), high=float("nan"), df=float("nan"), verdict="n/a (1 seed)")
    row = _row({"study": "s", "label": "a", "config_id": "c"}, "seasonal-naive-day", "study s", "bias", None,
               [0.0561], -0.0614, 1, iv)
    assert row["delta_pct"] == pytest.approx(100 * 0.1174 / 0.0614)


def test_learning_curves_leave_out_pruned_trials(tmp_path: Path) -> None:
    trials, curves = study_frames("demo", ratios=(0.1,), seeds=(0, 1, 2))
    folder = write_study(tmp_path / "r", "demo", ratios=(0.1,), seeds=(0, 1, 2))
    data = compute([load_study(folder)], None, fast_config())
    pruned = set(trials.filter(pl.col("status") != "completed")["trial_id"])
    assert pruned and set(curves["trial_id"]) & pruned  # the study wrote curves for them
    assert not set(data.curves["trial_id"]) & pruned


def test_a_report_does_not_rank_on_the_signed_bias(tmp_path: Path) -> None:
    folder = write_study(tmp_path / "r", ratios=(0.1,), seeds=(0, 1), problems=False)
    _rewrite(folder, test_bias=pl.col("test_mae") - 2.5, val_bias=pl.col("val_mae") - 2.5)
    with pytest.raises(ResultsError, match=r"^metric = 'bias' is signed \(mean prediction minus mean truth\): no "
                                           r"value of it is best; allowed: mae, mape, rmse, wape$"):
        compute([load_study(folder)], None, fast_config(metric="bias"))
