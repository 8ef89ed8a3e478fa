"""The report's figures, one registered function each (see :mod:`harness.report.figures`).

Bands and error bars are one standard deviation over seeds of the chosen configuration
(``errorbar="sd"``); with one seed there is no band. Each function's first docstring line is the
figure's caption.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import polars as pl
import seaborn as sns
from matplotlib.ticker import MaxNLocator

from harness.report.config import ReportConfig
from harness.report.figures import (
    FIGURES, SkipFigure, metric_label, step_minutes, train_loss_label,
)
from harness.report.tables import ReportData
from harness.results.columns import score_column
from harness.study.trial_config import BASELINE_KIND, STVLM_KIND
from stvlm.data.protocols import higher_is_better


KIND_MARKERS = {STVLM_KIND: "X", BASELINE_KIND: "o"}
#: Markers of the baselines, one per model in name order (colours: :func:`_baseline_styles`).
BASELINE_MARKERS = ("s", "^", "D", "v", "P", "<", ">", "h", "*", "p")
#: A y-axis spans at least this share of its data's level, so seed-level noise is not blown up
#: to fill the figure (an autoscaled range of 0.002 on errors near 2 makes noise look like effects).
MIN_RELATIVE_SPAN = 0.10


def calm_ylim(ax, min_span: float = MIN_RELATIVE_SPAN) -> None:
    """Widen ``ax``'s y-range around its centre to at least ``min_span`` x the centre's size."""
    lo, hi = ax.get_ylim()
    centre = (lo + hi) / 2
    need = abs(centre) * min_span
    if hi - lo < need:
        ax.set_ylim(centre - need / 2, centre + need / 2)


def _baseline_styles(models: list[str]) -> dict[str, tuple[tuple, str]]:
    """``model -> (colour, marker)``: distinct per baseline, the same in every figure."""
    colours = sns.color_palette("dark", max(len(models), 1))
    names = sorted(models)
    return {m: (colours[i % len(colours)], BASELINE_MARKERS[i % len(BASELINE_MARKERS)])
            for i, m in enumerate(names)}


def _datasets(frame: pl.DataFrame) -> list[str]:
    return frame["dataset"].unique(maintain_order=True).to_list()


def _best_within(data: ReportData, by: list[str]) -> pl.DataFrame:
    """Completed trials of the best configuration (lowest mean val metric) per group ``by``."""
    val = data.summary.filter((pl.col("split") == "val") & (pl.col("metric") == data.metric)
                              & pl.col("horizon").is_null())
    sign = -1.0 if higher_is_better(data.metric) else 1.0
    chosen = val.sort(pl.col("mean") * sign, "config_id").group_by(by, maintain_order=True).first()
    ids = chosen["config_id"] if chosen.height else data.best["config_id"]
    return data.trials.filter(pl.col("config_id").is_in(ids.implode()) & (pl.col("status") == "completed"))


def _best_trials(data: ReportData) -> pl.DataFrame:
    ids = data.best["config_id"].implode()
    return data.trials.filter(pl.col("config_id").is_in(ids) & (pl.col("status") == "completed"))


def _axes(ncols: int, cfg: ReportConfig):
    fig, axes = plt.subplots(1, ncols, figsize=(cfg.figure_width * ncols, cfg.figure_height), squeeze=False)
    return fig, list(axes[0])


def _palette(data: ReportData) -> dict[str, tuple]:
    """One colour per label, the same in every figure (ST-VLM arms first, then baselines)."""
    labels = data.status.sort("kind", "label", descending=[True, False])["label"].to_list()
    colours = sns.color_palette("colorblind" if len(labels) <= 10 else "husl", len(labels))
    return dict(zip(labels, colours))


def _legend(ax, title: str | None = "arm", keep: bool = True) -> None:
    """Legend outside the axes on the right, so it never hides data (``keep=False``: none)."""
    if not keep:
        if ax.get_legend() is not None:
            ax.get_legend().remove()
    elif ax.get_legend_handles_labels()[0]:
        ax.legend(title=title, fontsize="small", loc="upper left", bbox_to_anchor=(1.01, 1.0))


@FIGURES.register("error_vs_fewshot")
def error_vs_fewshot(data: ReportData, cfg: ReportConfig):
    """Test error against the few-shot ratio, per image encoding (band: 1 sd over seeds; with a
    single ratio: per arm)."""
    col = score_column("test", data.metric)
    ours = _best_within(data, ["study", "arm", "image_encoding"]).filter(pl.col("kind") == STVLM_KIND)
    if ours.height == 0 or col not in ours.columns:
        raise SkipFigure(f"no completed ST-VLM trial has {col}")
    ours = ours.with_columns((pl.col("few_shot_ratio") * 100).alias("pct"))
    base = _best_trials(data).filter(pl.col("kind") == BASELINE_KIND).with_columns(
        (pl.col("few_shot_ratio") * 100).alias("pct"))
    ours = ours.with_columns(pl.format("ST-VLM ({})", "image_encoding").alias("model_name"))
    styles = _baseline_styles(base["model"].unique().to_list())
    fig, (ax,) = _axes(1, cfg)
    style = "study" if ours["study"].n_unique() > 1 else None
    if ours["pct"].n_unique() > 1:
        sns.lineplot(ours.to_pandas(), x="pct", y=col, hue="model_name", style=style,
                     errorbar="sd", marker="X", linewidth=2, ax=ax)
        for (model,), g in base.group_by("model", maintain_order=True):
            means = g.group_by("pct").agg(pl.col(col).mean()).sort("pct")
            colour, marker = styles[model]
            ax.plot(means["pct"], means[col], linestyle="--", marker=marker, color=colour, label=model)
        ax.set_xlabel("few-shot ratio (% of training windows)")
    else:  # one ratio (an ablation): one point per arm, never arms pooled by their encoding
        arms = ours.sort("arm").to_pandas()
        sns.pointplot(arms, x="arm", y=col, hue=style, errorbar="sd", linestyle="none",
                      capsize=0.1, ax=ax)
        for (model,), g in base.group_by("model", maintain_order=True):
            colour, _ = styles[model]
            ax.axhline(g[col].mean(), linestyle="--", color=colour, label=model)
        ax.tick_params(axis="x", labelrotation=60)
        for label in ax.get_xticklabels():
            label.set_horizontalalignment("right")
        ax.set_xlabel(f"ST-VLM arm (single few-shot ratio: {ours['pct'][0]:g}% of training windows)")
    ax.set_ylabel(metric_label(data.metric, _datasets(ours)))
    calm_ylim(ax)
    _legend(ax, "model")
    return fig


@FIGURES.register("fusion_lora_heatmap")
def fusion_lora_heatmap(data: ReportData, cfg: ReportConfig):
    """Mean test error of the best configuration per fusion depth and LoRA rank, per data split."""
    panel = ["study", "few_shot_label"]  # never average over different training data
    ours = _best_within(data, [*panel, "fusion_depth", "lora_rank"]).filter(pl.col("kind") == STVLM_KIND)
    col = score_column("test", data.metric)
    if ours.height == 0:
        raise SkipFigure("no completed ST-VLM trials")
    ours = ours.with_columns(pl.col("lora_rank").cast(pl.String).fill_null("no LoRA").alias("rank"),
                             pl.col("fusion_depth").cast(pl.String))
    panels = [key for key, g in ours.group_by(panel, maintain_order=True)
              if g["fusion_depth"].n_unique() * g["rank"].n_unique() > 1]
    if not panels:
        depths, ranks = ours["fusion_depth"].unique().sort().to_list(), ours["rank"].unique().sort().to_list()
        raise SkipFigure(f"fusion depth ({', '.join(depths)}) and LoRA rank ({', '.join(ranks)}) "
                         "each take a single value per study and split: a 1x1 heat map says nothing")
    fig, axes = _axes(len(panels), cfg)
    for ax, (study, split) in zip(axes, panels):
        cells = (ours.filter((pl.col("study") == study) & (pl.col("few_shot_label") == split))
                 .group_by("fusion_depth", "rank").agg(pl.col(col).mean()))
        ranks = sorted(cells["rank"].unique(), key=lambda r: (not r.isdigit(), int(r) if r.isdigit() else 0, r))
        # [depths x ranks, depth + rank + value] -> [depths, depth + one column per rank]
        grid = cells.pivot(on="rank", index="fusion_depth", values=col).sort("fusion_depth")
        frame = grid.select("fusion_depth", *ranks).to_pandas().set_index("fusion_depth")
        sns.heatmap(frame, annot=True, fmt=".3g", cmap="viridis_r", ax=ax,
                    cbar_kws={"label": metric_label(data.metric, _datasets(ours))})
        ax.set_xlabel("LoRA rank (adapter rank r)")
        ax.set_ylabel("fusion depth (VLM layer index)")
        ax.set_title(f"{study}, few-shot {split}" if len(data.studies) > 1 else f"few-shot {split}")
    return fig


@FIGURES.register("horizon_curves")
def horizon_curves(data: ReportData, cfg: ReportConfig):
    """Test error per forecast horizon, best configuration per arm (band: 1 sd over seeds)."""
    best = _best_trials(data)
    cols = [c for c in best.columns if c.startswith(score_column("test", f"{data.metric}_h"))]
    if not cols:
        raise SkipFigure(f"no per-horizon columns test_{data.metric}_h<k> in the trials")
    # [trials, label + kind + dataset + horizon columns] -> [trials x horizons, ... + variable + value]
    long = (best.select("label", "kind", "dataset", *cols).unpivot(index=["label", "kind", "dataset"], on=cols)
            .drop_nulls("value").drop_nans("value")
            .with_columns(pl.col("variable").str.extract(r"_h(\d+)$").cast(pl.Int64).alias("step")))
    if long.height == 0:
        raise SkipFigure(f"no completed trial has a per-horizon test_{data.metric}_h<k> value")
    minutes = step_minutes(_datasets(best))
    x, xlabel = ("step", "horizon (steps ahead)")
    if minutes:
        long = long.with_columns((pl.col("step") * minutes).alias("minutes"))
        x, xlabel = "minutes", "horizon (minutes ahead)"
    fig, (ax,) = _axes(1, cfg)
    palette = _palette(data)
    present = set(long["label"])
    sns.lineplot(long.to_pandas(), x=x, y="value", hue="label", style="kind", errorbar="sd", marker="o",
                 palette=palette, hue_order=[lab for lab in palette if lab in present],
                 style_order=[k for k in KIND_MARKERS if k in set(long["kind"])], ax=ax)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(metric_label(data.metric, _datasets(best)))
    calm_ylim(ax)
    _legend(ax)
    return fig


@FIGURES.register("learning_curves")
def learning_curves(data: ReportData, cfg: ReportConfig):
    """Training loss and validation error per epoch, best configuration per arm (1 sd band)."""
    curves = data.curves
    if curves.height == 0 or "config_id" not in curves.columns:
        raise SkipFigure("the studies wrote no per-epoch curves (curves.parquet absent or empty)")
    curves = curves.filter(pl.col("config_id").is_in(data.best["config_id"].implode()))
    if curves.height == 0:
        raise SkipFigure("no per-epoch curves for the best configurations")
    val = score_column("val", data.metric)
    shown = data.trials.filter(pl.col("config_id").is_in(curves["config_id"].unique().implode()))
    datasets = _datasets(data.trials)
    panels = [("train_loss", train_loss_label(shown, datasets))]
    if val in curves.columns and curves[val].drop_nulls().len():
        panels.append((val, metric_label(data.metric, datasets, "validation")))
    fig, axes = _axes(len(panels), cfg)
    for ax, (col, label) in zip(axes, panels):
        sns.lineplot(curves.select("label", "epoch", col).drop_nulls().to_pandas(), x="epoch", y=col,
                     hue="label", errorbar="sd", marker="o", palette=_palette(data), ax=ax)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel("epoch (passes over the training windows)")
        ax.set_ylabel(label)
        calm_ylim(ax)
        _legend(ax, keep=ax is axes[-1])
    return fig


@FIGURES.register("param_importance")
def param_importance(data: ReportData, cfg: ReportConfig):
    """Importance of the sampled nuisance parameters for the validation error, per arm."""
    imp = data.importance
    if imp.height == 0:
        raise SkipFigure("no sampled parameter varied across two or more completed trials of an arm")
    # ``arm`` is the label of the arm (rows) or the name of the Optuna study (storage)
    arms = imp["arm"].unique(maintain_order=True).to_list()
    known = _palette(data)
    spare = iter(sns.color_palette("husl", len(arms)))
    palette = {a: known[a] if a in known else next(spare) for a in arms}
    fig, (ax,) = _axes(1, cfg)
    sns.barplot(imp.to_pandas(), x="importance", y="param", hue="arm", palette=palette, ax=ax)
    ax.set_xlabel(f"importance for val {data.metric.upper()} (share, sums to 1 per arm)")
    ax.set_ylabel("sampled parameter")
    _legend(ax)
    return fig


@FIGURES.register("pareto")
def pareto(data: ReportData, cfg: ReportConfig):
    """Test error against trainable parameters and training time, one point per configuration."""
    col = score_column("test", data.metric)
    done = data.trials.filter(pl.col("status") == "completed")
    per = done.group_by("config_id", "label", "kind", maintain_order=True).agg(
        pl.col(col).mean(), pl.col("trainable_parameters").cast(pl.Float64).mean(),
        pl.col("train_seconds").cast(pl.Float64).mean()).drop_nulls(col)
    if per.height < 2:
        raise SkipFigure("a Pareto view needs at least two completed configurations")
    fig, axes = _axes(2, cfg)
    sign = -1.0 if higher_is_better(data.metric) else 1.0
    for ax, (x, xlabel) in zip(axes, [("trainable_parameters", "trainable parameters (count)"),
                                      ("train_seconds", "training time (seconds)")]):
        pts = per.drop_nulls(x).sort(x, pl.col(col) * sign)
        if pts.height == 0:
            ax.text(0.5, 0.5, f"no trial recorded {x}", ha="center", va="center", transform=ax.transAxes)
            ax.set_xlabel(xlabel)
            ax.set_ylabel(metric_label(data.metric, _datasets(done)))
            continue
        sns.scatterplot(pts.to_pandas(), x=x, y=col, hue="label", style="kind", palette=_palette(data),
                        markers=KIND_MARKERS, style_order=list(KIND_MARKERS), ax=ax, s=50)
        front, best = [], None
        for row in pts.iter_rows(named=True):  # non-dominated: better error than every cheaper point
            if best is None or row[col] * sign < best:
                best = row[col] * sign
                front.append((row[x], row[col]))
        ax.step([p[0] for p in front], [p[1] for p in front], where="post", color="0.3", linewidth=1)
        ax.scatter([p[0] for p in front], [p[1] for p in front], s=160, facecolors="none",
                   edgecolors="0.2", linewidths=1.2, label="Pareto front")
        positive = pts[x].min() > 0
        ax.set_xscale("log" if positive else "symlog", **({} if positive else {"linthresh": 1.0}))
        ax.set_xlabel(f"{xlabel}, {'log' if positive else 'symlog'} scale")
        ax.set_ylabel(metric_label(data.metric, _datasets(done)))
        calm_ylim(ax)
        _legend(ax, keep=ax is axes[-1])
    return fig
