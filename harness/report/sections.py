"""The report's sections as blocks, in reading order (rendered by markdown.py and html.py)."""

from __future__ import annotations

import polars as pl

from harness.report.config import ReportConfig
from harness.report import paper
from harness.report.document import Block, Figure, Heading, Para, Table, fmt, mean_std, rounded_params, table
from harness.report.figures import FigureResult
from harness.report.load import metric_columns
from harness.report.provenance import report_provenance, study_provenance, study_spec_blocks
from harness.report.tables import ReportData
from harness.study.trial_config import STVLM_KIND


def noise_statement(level: float) -> str:
    """The sentence that states how "larger than the seed noise" is decided."""
    pct = f"{100 * level:g}%"
    return (
        f"Seed noise: a difference is called larger than the seed noise when its {pct} interval "
        "excludes zero. Against baselines: Welch's t interval for the difference of the two "
        "per-seed means (Welch-Satterthwaite degrees of freedom; a deterministic baseline with "
        "zero spread adds no variance). Against published numbers (no spread known): the "
        "one-sample t interval of our per-seed values minus the number. With a single seed on a "
        "side there is no noise estimate and the verdict is \"n/a (1 seed)\"."
    )


def _metrics(data: ReportData) -> list[str]:
    """Test metrics in the protocol's order (column order of trials.parquet: mae, rmse, mape ...)."""
    present = set(data.summary.filter(pl.col("split") == "test")["metric"])
    ordered = [m for _, m, h in metric_columns(data.trials, "test") if h is None]
    return [m for m in ordered if m in present]


def _cells(data: ReportData, split: str, horizon: int | None, digits: int) -> dict[tuple[str, str], str]:
    rows = data.summary.filter((pl.col("split") == split) & (
        pl.col("horizon").is_null() if horizon is None else pl.col("horizon") == horizon))
    return {(r["config_id"], r["metric"]): mean_std(r["mean"], r["std"], r["n"], digits)
            for r in rows.iter_rows(named=True)}


def best_table(data: ReportData, digits: int) -> Table:
    """One row per study and label: the chosen configuration, its val/test metrics over seeds."""
    metrics, test = _metrics(data), _cells(data, "test", None, digits)
    val = _cells(data, "val", None, digits)
    header = ("study", "arm / baseline", "few-shot", "config", "seeds", f"val {data.metric}",
              *(f"test {m}" for m in metrics))
    rows = tuple(
        (b["study"], b["label"], b["few_shot_label"], b["config_id"], str(b["n"] or "-"),
         val.get((b["config_id"], data.metric), "-"),
         *(test.get((b["config_id"], m), "-") for m in metrics))
        for b in data.best.iter_rows(named=True))
    return Table(header, rows, f"Selected by {data.metric} on validation; mean ± std over seeds.")


def params_table(data: ReportData) -> Table:
    """The sampled nuisance parameters of each best configuration, rounded to 3 significant digits."""
    rows = tuple((b["study"], b["label"], b["config_id"], rounded_params(b["params"]))
                 for b in data.best.iter_rows(named=True))
    return Table(("study", "arm / baseline", "config", "sampled parameters"), rows,
                 "Full precision in tables/best_configs.csv.")


def horizon_table(data: ReportData, digits: int) -> Table:
    """Test metrics of the best configurations: overall and at each reported horizon step."""
    best = data.summary.join(data.best.select("config_id"), on="config_id", how="semi")
    horizons = sorted(h for h in best.filter(pl.col("split") == "test")["horizon"].unique() if h is not None)
    cells = {h: _cells(data, "test", h, digits) for h in [None, *horizons]}
    rows = []
    for b in data.best.iter_rows(named=True):
        for m in _metrics(data):
            key = (b["config_id"], m)
            if key in cells[None]:
                rows.append((b["label"], m, *(cells[h].get(key, "-") for h in [None, *horizons])))
    return Table(("arm / baseline", "metric", "overall", *(f"step {h}" for h in horizons)), tuple(rows))


def delta_table(frame: pl.DataFrame, digits: int, level: float, note: str) -> Table:
    """The overall (not per-horizon) rows of a delta frame (:data:`~harness.report.deltas.DELTA_SCHEMA`)."""
    overall = frame.filter(pl.col("horizon").is_null())
    pct = f"{100 * level:g}% CI"
    rows = tuple(
        (r["label"], r["against"], r["metric"], fmt(r["mean"], digits), fmt(r["reference"], digits),
         f"{r['n']} / {r['reference_n'] or '-'}", fmt(r["delta"], digits), fmt(r["delta_pct"], 1),
         "-" if r["ci_low"] != r["ci_low"] else f"[{fmt(r['ci_low'], digits)}, {fmt(r['ci_high'], digits)}]",
         r["larger_than_noise"], r["source"])
        for r in overall.iter_rows(named=True))
    return Table(("ours", "against", "metric", "ours mean", "reference", "seeds (ours / ref)",
                  "delta", "delta %", pct, "larger than seed noise", "source"), rows, note)


def results_blocks(data: ReportData, cfg: ReportConfig, figures: list[FigureResult]) -> list[Block]:
    """Main table, best configurations, figures, deltas, cross-study (the long tables are in
    :func:`appendix_blocks`)."""
    d = cfg.markdown_digits
    blocks: list[Block] = [
        Heading(2, "Main results"), paper.main_table(data.main, d, data.level),
        Heading(2, "Best configuration per arm"), best_table(data, d),
        Heading(2, "Figures"), *(Figure(f) for f in figures if not f.skipped),
    ]
    skipped = [f for f in figures if f.skipped]
    if skipped:
        blocks.append(Para("Not drawn (they do not apply to these studies): " + "; ".join(
            f"{f.name} ({f.skipped})" for f in skipped) + "."))
    blocks += [Heading(2, "Against baselines on the same splits"),
               delta_table(data.baseline, d, data.level,
                           "delta = ours - baseline (same dataset, protocol, few-shot ratio and method); "
                           "per-horizon rows are in tables/baseline_deltas.csv.")]
    anchor_note = ("delta = ours - published. Published few-shot numbers come from unspecified "
                   "window sampling and may use other splits; see the anchors file's notes. "
                   "Baselines' rows are in tables/anchor_deltas.csv.")
    if data.anchors_path is None:
        anchor_note = "No anchors file given (--anchors): nothing to compare with."
    elif data.anchor_gap:
        anchor_note = data.anchor_gap + " " + anchor_note
    anchors = data.anchor.filter(pl.col("config_id").is_in(
        data.best.filter(pl.col("kind") == STVLM_KIND)["config_id"].implode()))
    blocks += [Heading(2, "Against published numbers"), delta_table(anchors, d, data.level, anchor_note)]
    if data.cross.height:
        blocks += [Heading(2, "Cross-study comparison"),
                   Para(f"Mean test {data.metric} over seeds of each study's best configuration, "
                        "per split and arm."),
                   table(data.cross, d)]
    return blocks


def appendix_blocks(data: ReportData, cfg: ReportConfig) -> list[Block]:
    """The long tables: trial counts, incomplete trials, per-horizon errors, sampled parameters,
    parameter importance, and each study's validated spec and arms."""
    d = cfg.markdown_digits
    blocks: list[Block] = [
        Heading(2, "Appendix"),
        Heading(3, "Trials"),
        table(data.status, d, "Failed and pruned trials are counted here and left out of every mean."),
    ]
    if data.problems.height:
        blocks += [Para("Trials that did not complete:"), table(data.problems, d)]
    blocks += [Heading(3, "Per-horizon test error (best configurations)"), horizon_table(data, d),
               Para("Every stored horizon: tables/horizons.parquet."),
               Heading(3, "Sampled parameters of the best configurations"), params_table(data)]
    if data.importance.height:
        blocks += [Heading(3, "Parameter importance"), table(data.importance, d)]
    for study in data.studies:
        blocks += study_spec_blocks(study)
    return blocks


def document(data: ReportData, figures: list[FigureResult], cfg: ReportConfig,
             command: str | None = None) -> list[Block]:
    """Every block of the report, in reading order."""
    names = ", ".join(s.name for s in data.studies)
    blocks: list[Block] = [
        Heading(1, f"Study report: {names}"),
        Para(f"Ranking metric: {data.metric} on validation; tables report test metrics as mean ± "
             "std over seeds of completed trials. Full-precision CSV files are in tables/."),
        Para(noise_statement(data.level)),
        *results_blocks(data, cfg, figures),
        Heading(2, "Provenance"),
    ]
    for study in data.studies:
        blocks += study_provenance(study, data.trials.filter(pl.col("study") == study.name))
    return blocks + report_provenance(command) + appendix_blocks(data, cfg)
