"""The main results table in the shape papers use: model x (dataset, few-shot), MAE / RMSE / WAPE.

One block of rows per split (dataset, protocol, few-shot ratio and method: the rows of a block
saw the same windows), one row per compared model (its best configuration, selected on
validation). Cells are mean ± std over seeds; the best mean of each block and metric is bold;
an ST-VLM cell carries a dagger (†) where it beats the best baseline of the block by more than
the seed noise, a double dagger (‡) where it loses to it by more (Welch's interval of the
difference excludes zero, see :mod:`harness.report.stats`).
Written as ``tables/main_results.csv`` (numbers) and ``tables/main_results.tex`` (booktabs).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import polars as pl

from harness.report.aggregate import SPLIT_KEYS, seed_values
from harness.report.document import Table
from harness.report.stats import welch_interval
from harness.results.columns import score_column
from harness.study.trial_config import STVLM_KIND
from stvlm.data.protocols import higher_is_better

if TYPE_CHECKING:
    from harness.report.tables import ReportData  # tables builds its main table with paper

#: The literature's metrics as the protocol defines them (``standard``: where true > 0), and MAE
#: over every observed entry (on counts a zero is an observation the masked metrics skip).
PAPER_METRICS = ("mae", "rmse", "wape", "mae_all")
DAGGER = "†"  # better than the best baseline beyond seed noise
DDAGGER = "‡"  # worse than it beyond seed noise
MARKS = {"better": (DAGGER, r"$^\dagger$"), "worse": (DDAGGER, r"$^\ddagger$")}
HEADS = {"mae": "MAE", "rmse": "RMSE", "wape": "WAPE (%)", "mape": "MAPE (%)", "mae_all": "MAE (all)"}


def _model(row: dict, stvlm_arms: int) -> str:
    if row["kind"] != STVLM_KIND:
        return str(row["model"])
    return "ST-VLM" if stvlm_arms == 1 else f"ST-VLM ({row['arm']})"


def _few_shot(trials: pl.DataFrame, block: pl.DataFrame, label: str) -> str:
    """The block's few-shot label with the training windows its trials had (``first-50% (316
    windows)``): a ratio names a share of the training part, and where fewer windows have their
    lookback two ratios can select the same windows, which the label alone would hide."""
    if "train_windows" not in trials.columns:
        return label
    mine = trials.filter(pl.col("config_id").is_in(block["config_id"].to_list()))
    counts = sorted({int(n) for n in mine["train_windows"].drop_nulls()})
    if not counts:
        return label
    return f"{label} ({'/'.join(str(n) for n in counts)} windows)"


def main_frame(data: ReportData, level: float | None = None) -> pl.DataFrame:
    """One row per (block, model): ``dataset`` (with its protocol when the report holds several),
    ``few_shot`` (the label and the training windows), ``model``, ``kind``, ``block`` (its
    number), ``seeds`` and, per metric, ``<m>_mean``, ``<m>_std``, ``<m>_best`` and ``<m>_vs_baseline`` (ST-VLM rows:
    ``better`` or ``worse`` than the block's best baseline beyond the seed noise, ``level`` within
    it; null for baselines and where one side has a single seed)."""
    level = data.level if level is None else level
    metrics = [m for m in PAPER_METRICS if score_column("test", m) in data.trials.columns]
    test = data.summary.filter((pl.col("split") == "test") & pl.col("horizon").is_null())
    cells = {(r["config_id"], r["metric"]): r for r in test.iter_rows(named=True)}
    rows = []
    several = data.best["protocol"].n_unique() > 1  # then the dataset cell names its protocol
    studies = data.best["study"].n_unique() > 1  # then the model cell names its study
    for number, (_, block) in enumerate(data.best.group_by(*SPLIT_KEYS, maintain_order=True)):
        arms = int((block["kind"] == STVLM_KIND).sum())
        few_shot = _few_shot(data.trials, block, block["few_shot_label"][0])  # one split per block
        for b in block.iter_rows(named=True):
            dataset = f"{b['dataset']} ({b['protocol']})" if several else b["dataset"]
            model = f"{b['study']}: {_model(b, arms)}" if studies else _model(b, arms)
            row = {"dataset": dataset, "few_shot": few_shot, "model": model,
                   "kind": b["kind"], "config_id": b["config_id"], "block": number, "seeds": 0}
            for m in metrics:
                c = cells.get((b["config_id"], m))
                row[f"{m}_mean"] = c["mean"] if c else None
                row[f"{m}_std"] = c["std"] if c else None
                row["seeds"] = max(row["seeds"], c["n"] if c else 0)
            rows.append(row)
    frame = pl.DataFrame(rows, infer_schema_length=None)
    if not frame.height:
        return frame
    for m in metrics:
        frame = _flags(frame, data, m, level)
    return frame


def _flags(frame: pl.DataFrame, data: ReportData, m: str, level: float) -> pl.DataFrame:
    """``<m>_best`` per block and ``<m>_vs_baseline`` of ST-VLM rows against the best baseline."""
    sign = -1.0 if higher_is_better(m) else 1.0
    best, beyond = [], []
    for row in frame.iter_rows(named=True):
        block = frame.filter(pl.col("block") == row["block"])  # the rows that saw the same windows
        means = [v * sign for v in block[f"{m}_mean"].drop_nulls()]
        mean = row[f"{m}_mean"]
        best.append(mean is not None and bool(means) and math.isclose(mean * sign, min(means)))
        flag = None
        baselines = block.filter((pl.col("kind") != STVLM_KIND) & pl.col(f"{m}_mean").is_not_null())
        if row["kind"] == STVLM_KIND and mean is not None and baselines.height:
            ref = baselines.sort(pl.col(f"{m}_mean") * sign).row(0, named=True)
            iv = welch_interval(seed_values(data.trials, row["config_id"], score_column("test", m)),
                                seed_values(data.trials, ref["config_id"], score_column("test", m)), level)
            if iv.verdict == "yes":
                flag = "better" if mean * sign < ref[f"{m}_mean"] * sign else "worse"
            elif iv.verdict == "no":
                flag = "level"  # else no noise estimate (one seed on a side): no verdict
        beyond.append(flag)
    return frame.with_columns(pl.Series(f"{m}_best", best, dtype=pl.Boolean),
                              pl.Series(f"{m}_vs_baseline", beyond, dtype=pl.String))


def _metrics(frame: pl.DataFrame) -> list[str]:
    return [m for m in PAPER_METRICS if f"{m}_mean" in frame.columns]


def _cell(row: dict, m: str, digits: int, bold: tuple[str, str], latex: bool = False) -> str:
    mean, std = row[f"{m}_mean"], row[f"{m}_std"]
    if mean is None:
        return "-"
    text = f"{mean:.{digits}f}"
    if std is not None and not math.isnan(std):
        text += f" ± {std:.{digits}f}"
    if row[f"{m}_best"]:
        text = f"{bold[0]}{text}{bold[1]}"
    mark = MARKS.get(row[f"{m}_vs_baseline"])
    return text + ((mark[1] if latex else f" {mark[0]}") if mark else "")


def main_table(frame: pl.DataFrame, digits: int, level: float) -> Table:
    """The report's main table (Markdown/HTML); bold best, † / ‡ better / worse beyond seed noise."""
    metrics = _metrics(frame)
    rows = tuple(
        (r["dataset"], r["few_shot"], r["model"], str(r["seeds"]),
         *(_cell(r, m, digits, ("**", "**")) for m in metrics))
        for r in frame.iter_rows(named=True))
    note = (f"Test metrics, mean ± std over seeds (seeds column); MAE, RMSE and WAPE as the "
            "protocol scores them (standard: where the true value is > 0, the literature's "
            "convention), MAE (all) over every observed entry; best mean per block in bold; "
            f"{DAGGER} / {DDAGGER}: ST-VLM is better / worse than the best baseline of its block "
            f"by more than the seed noise ({100 * level:g}% Welch interval of the difference "
            "excludes zero); no mark: level within the noise. Also in tables/main_results.csv "
            "and tables/main_results.tex.")
    return Table(("dataset", "few-shot", "model", "seeds", *(HEADS[m] for m in metrics)), rows, note)


def _tex(text: str) -> str:
    for a, b in (("\\", r"\textbackslash{}"), ("&", r"\&"), ("%", r"\%"), ("_", r"\_"), ("#", r"\#")):
        text = text.replace(a, b)
    return text


def to_latex(frame: pl.DataFrame, digits: int = 3, level: float = 0.95) -> str:
    """A booktabs ``tabular`` of the main table (``\\usepackage{booktabs}``), a rule between blocks."""
    metrics = _metrics(frame)
    lines = [r"\begin{tabular}{lll" + "c" * len(metrics) + "}", r"\toprule",
             " & ".join(["Dataset", "Few-shot", "Model", *(_tex(HEADS[m]) for m in metrics)]) + r" \\",
             r"\midrule"]
    previous = None
    for r in frame.iter_rows(named=True):
        block = r["block"]
        if previous is not None and block != previous:
            lines.append(r"\midrule")
        cells = [_cell(r, m, digits, (r"\textbf{", "}"), latex=True).replace(" ± ", r"$\pm$")
                 for m in metrics]
        lines.append(" & ".join([_tex(str(r["dataset"])), _tex(str(r["few_shot"])), _tex(r["model"]),
                                 *cells]) + r" \\")
        previous = block
    lines += [r"\bottomrule", r"\end{tabular}",
              f"% mean $\\pm$ std over seeds; bold: best per block; $^\\dagger$ / $^\\ddagger$: ST-VLM "
              f"better / worse than the best baseline beyond seed noise ({100 * level:g}% Welch "
              "interval excludes zero)"]
    return "\n".join(lines) + "\n"


def horizon_frame(data: ReportData) -> pl.DataFrame:
    """Every stored horizon of every best configuration's test metrics (long form, for Parquet)."""
    best = data.best.select("config_id", "label")
    test = data.summary.filter((pl.col("split") == "test") & pl.col("horizon").is_not_null())
    return test.join(best, on=["config_id", "label"], how="semi").select(
        "study", "label", "kind", "model", "dataset", "few_shot_label", "metric", "horizon",
        "mean", "std", "n").sort("study", "label", "metric", "horizon")
