"""Every registered figure draws something with labelled axes, or is skipped with a reason."""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import polars as pl
import pytest
from report_checks import assert_not_blank
from report_synthetic import CONFIGS, fast_config, write_study

from harness.report.config import ReportConfig
from harness.report.figures import (
    FIGURES, SkipFigure, figure_bytes, metric_label, step_minutes, style, train_loss_label,
)
from harness.report.render import render_all
from harness.report.load import load_study
from harness.report.tables import ReportData, compute

EXPECTED_LABELS = {
    "error_vs_fewshot": ["few-shot ratio (% of training windows)", "test MAE (trips/30min)"],
    "fusion_lora_heatmap": ["LoRA rank (adapter rank r)", "fusion depth (VLM layer index)", "test MAE (trips/30min)"],
    "horizon_curves": ["horizon (minutes ahead)", "test MAE (trips/30min)"],
    "learning_curves": ["epoch (passes over the training windows)", "train loss (trips/30min)",
                        "validation MAE (trips/30min)"],
    "param_importance": ["importance for val MAE (share, sums to 1 per arm)", "sampled parameter"],
    "pareto": ["trainable parameters (count), log scale", "training time (seconds), log scale",
               "test MAE (trips/30min)"],
}


def _data(folder: Path, **cfg) -> ReportData:
    return compute([load_study(folder)], None, ReportConfig(**cfg))


def _labels(fig) -> list[str]:
    out = []
    for ax in fig.axes:
        out += [ax.get_xlabel(), ax.get_ylabel()]
    return [t for t in out if t]


def test_registry_holds_the_six_figures() -> None:
    import harness.report.plots  # noqa: F401

    assert FIGURES.names() == list(EXPECTED_LABELS)


@pytest.mark.parametrize("name", list(EXPECTED_LABELS))
def test_each_figure_has_content_and_labelled_axes(demo_built: tuple[Path, Path], name: str) -> None:
    import harness.report.plots  # noqa: F401

    style()
    cfg = ReportConfig()
    fig = FIGURES.get(name)(_data(demo_built[0]), cfg)
    labels = _labels(fig)
    for expected in EXPECTED_LABELS[name]:
        assert expected in labels
    png, svg = figure_bytes(fig, cfg.dpi)
    plt.close(fig)
    assert_not_blank(png)
    for expected in EXPECTED_LABELS[name]:  # text stays text in the SVG (svg.fonttype none)
        assert f">{expected.replace('&', '&amp;')}<" in svg, expected
    written = demo_built[1] / "figures" / f"{name}.png"
    assert_not_blank(written.read_bytes())
    assert (demo_built[1] / "figures" / f"{name}.svg").read_text().startswith("<?xml")


def test_single_valued_axes_are_skipped_or_redrawn(tmp_path: Path) -> None:
    folder = write_study(tmp_path / "r", ratios=(0.1,), configs=CONFIGS[:1], baselines=False, curves=False)
    results = {r.name: r for r in render_all(_data(folder), ReportConfig())}
    assert results["fusion_lora_heatmap"].skipped == (
        "fusion depth (0) and LoRA rank (4) each take a single value per study and split: "
        "a 1x1 heat map says nothing")
    assert results["learning_curves"].skipped == "the studies wrote no per-epoch curves (curves.parquet absent or empty)"
    assert results["param_importance"].skipped == "no sampled parameter varied across two or more completed trials of an arm"
    assert results["pareto"].skipped == "a Pareto view needs at least two completed configurations"
    # One few-shot ratio: the figure compares the arms at that ratio instead of a lone point.
    one = results["error_vs_fewshot"]
    assert one.skipped is None and "ST-VLM arm (single few-shot ratio: 10% of training windows)" in one.svg
    assert_not_blank(one.png)
    for r in results.values():
        assert (r.png is None) == (r.svg is None) == (r.skipped is not None)


def test_missing_horizons_and_baseline_only_studies_skip(tmp_path: Path) -> None:
    folder = write_study(tmp_path / "r")
    path = folder / "trials.parquet"
    pl.read_parquet(path).select(pl.exclude("^test_.*_h\\d+$")).write_parquet(path)
    with pytest.raises(SkipFigure, match=r"no per-horizon columns test_mae_h<k> in the trials"):
        FIGURES.get("horizon_curves")(_data(folder), ReportConfig())
    pl.read_parquet(path).filter(pl.col("kind") == "baseline").write_parquet(path)
    data = _data(folder)
    with pytest.raises(SkipFigure, match="no completed ST-VLM trial has test_mae"):
        FIGURES.get("error_vs_fewshot")(data, ReportConfig())
    with pytest.raises(SkipFigure, match="no completed ST-VLM trials"):
        FIGURES.get("fusion_lora_heatmap")(data, ReportConfig())


def test_skipped_figures_are_explained_in_the_report(tmp_path: Path) -> None:
    from harness.report import build_report

    folder = write_study(tmp_path / "r", ratios=(0.1,), configs=CONFIGS[:1], curves=False)
    out = build_report([folder], tmp_path / "out", config=fast_config())
    md = (out / "report.md").read_text()
    line = next(x for x in md.splitlines() if x.startswith("Not drawn (they do not apply to these studies): "))
    assert "fusion_lora_heatmap (fusion depth (0) and LoRA rank (4)" in line
    assert "learning_curves (the studies wrote no per-epoch curves" in line
    assert "not drawn:**" not in md  # no notice per figure
    assert not (out / "figures" / "fusion_lora_heatmap.png").exists()
    assert (out / "figures" / "pareto.png").exists()  # ST-VLM + 2 baselines = 3 configurations


def test_metric_labels_carry_units() -> None:
    assert metric_label("mae", ["nycbike-drop"]) == "test MAE (trips/30min)"
    assert metric_label("rmse", ["los-loop", "metr-la"]) == "test RMSE (mph)"
    assert metric_label("mae", ["los-loop", "sz-taxi"]) == "test MAE (original units)"
    assert metric_label("mape", ["x"], "val") == "val MAPE (%)"
    assert metric_label("r2", ["sz-taxi"]) == "test R2 (unitless)"
    assert metric_label("wape_all", ["nycbike-drop"]) == "test WAPE_ALL (%)"  # a percentage on either scope
    assert metric_label("mae_all", ["nycbike-drop"]) == "test MAE_ALL (trips/30min)"
    assert metric_label("mae", ["not-a-dataset"]) == "test MAE (original units)"
    assert step_minutes(["los-loop", "metr-la"]) == 5
    assert step_minutes(["nycbike-drop", "los-loop"]) is None
    assert step_minutes(["not-a-dataset"]) is None


def test_train_loss_label_names_each_loss_the_trials_trained_on() -> None:
    def trials(*train: dict) -> pl.DataFrame:
        return pl.DataFrame({"config_json": [json.dumps({"train": t, "data": {}}) for t in train]})

    baseline = {"loss": "mae", "loss_mask": "observed", "lr": 0.001}
    stvlm = {"loss": "mae", "loss_mask": "both"}
    assert train_loss_label(trials(baseline, baseline), ["nycbike-drop"]) == (
        "train loss (trips/30min)\nMAE: observed entries")
    assert train_loss_label(trials(stvlm, baseline, {"loss": "huber", "loss_mask": "protocol"}),
                            ["los-loop"]) == (
        "train loss (mph)\nHUBER: metric's mask | MAE: mean of observed and masked | MAE: "
        "observed entries")
    # a trial that does not say (an older study) leaves the setting out rather than guess it
    assert train_loss_label(trials(baseline, {"lr": 0.01}), ["los-loop"]) == "train loss (mph)"
    assert train_loss_label(pl.DataFrame({"x": [1]}), ["nope"]) == "train loss (original units)"


def test_higher_is_better_metric_ranks_by_maximum(tmp_path: Path) -> None:
    folder = write_study(tmp_path / "r", ratios=(0.1,), problems=False)
    path = folder / "trials.parquet"
    frame = pl.read_parquet(path)
    frame.with_columns((10 - pl.col("val_mae")).alias("val_accuracy"), (10 - pl.col("test_mae")).alias("test_accuracy")).write_parquet(path)
    data = _data(folder, metric="accuracy")
    stvlm = data.best.filter(pl.col("kind") == "stvlm").row(0, named=True)
    assert stvlm["selected_by"] == "highest mean val_accuracy"
    assert stvlm["image_encoding"] == "grid_heatmap" and stvlm["lora_rank"] == 4  # lowest MAE = highest accuracy
    assert np.isclose(stvlm["val_mean"], data.summary.filter(
        (pl.col("split") == "val") & (pl.col("metric") == "accuracy") & pl.col("horizon").is_null()
        & (pl.col("kind") == "stvlm"))["mean"].max())


def test_has_data_guard() -> None:
    from harness.report.figures import has_data

    fig, ax = plt.subplots()
    ax.set_xlabel("x (units)")
    assert not has_data(fig)
    ax.plot([1, 2], [3, 4])
    assert has_data(fig)
    plt.close(fig)


def test_calm_y_axis_and_distinct_baseline_styles() -> None:
    import matplotlib.pyplot as plt

    from harness.report.plots import _baseline_styles, calm_ylim

    fig, ax = plt.subplots()
    ax.set_ylim(1.999, 2.001)  # an autoscaled range of 0.002 around 2
    calm_ylim(ax)
    assert ax.get_ylim() == pytest.approx((1.9, 2.1))  # at least 10% of the level
    ax.set_ylim(1.0, 3.0)
    calm_ylim(ax)
    assert ax.get_ylim() == (1.0, 3.0)  # wide enough already: untouched
    plt.close(fig)
    styles = _baseline_styles(["stid", "ridge", "seasonal-naive", "gwnet"])
    assert len({s[1] for s in styles.values()}) == 4 and len({s[0] for s in styles.values()}) == 4
    assert styles == _baseline_styles(["gwnet", "seasonal-naive", "ridge", "stid"])  # order-free
