"""Markdown and HTML rendering of report blocks, exact output on tiny inputs."""

from __future__ import annotations

import json
import math

import polars as pl
import pytest

from harness.report import html, markdown
from harness.report.document import Bullets, Code, Figure, Heading, Para, Table, fmt, mean_std, rounded_params, table
from harness.report.figures import FigureResult
from harness.report.provenance import kept_epoch_line, reproduce_command, search_line

SKIPPED = FigureResult("heat", "A heat map", None, None, "one value per axis")
DRAWN = FigureResult("curve", "A <curve>", b"\x89PNG", '<?xml version="1.0"?>\n<svg><text>x</text></svg>')


def test_number_formatting() -> None:
    assert [fmt(None), fmt(math.nan), fmt(1.23456), fmt(3), fmt("a")] == ["-", "-", "1.2346", "3", "a"]
    assert fmt(2.0, 1) == "2.0"
    assert mean_std(1.0, 0.25, 3) == "1.0000 ± 0.2500"
    assert mean_std(1.0, None, 1) == "1.0000"
    assert rounded_params('{"train.batch_size":16,"train.lr":0.0012345678901234}') == (
        "train.batch_size=16, train.lr=0.00123")
    assert rounded_params("{}") == "-"
    assert mean_std(None, None, 0) == "-"
    t = table(pl.DataFrame({"a": [1.5, None], "b": ["x", "y"]}), digits=2, note="n")
    assert t == Table(("a", "b"), (("1.50", "x"), ("-", "y")), "n")


def test_markdown_blocks() -> None:
    blocks = [Heading(2, "Title"), Para("text"), Bullets(("one", "two")), Code("x = 1\n", "python"),
              Table(("a|b", "c"), (("1", "2"),), "note"), Table(("a",), ()), Figure(SKIPPED), Figure(DRAWN)]
    assert markdown.render(blocks, "figs") == (
        "## Title\n\ntext\n\n- one\n- two\n\n```python\nx = 1\n```\n\n"
        "| a\\|b | c |\n|---|---|\n| 1 | 2 |\n\nnote\n\n_(no rows)_\n\n"
        "**Figure `heat` not drawn:** one value per axis.\n\n"
        "![A <curve>](figs/curve.png)\n\n*A <curve>* ([SVG](figs/curve.svg))\n")


def test_html_blocks_escape_and_embed() -> None:
    assert html.render_block(Para("a < b & c")) == "<p>a &lt; b &amp; c</p>"
    assert html.render_block(Table(("h",), (("<x>",),))) == (
        "<table><thead><tr><th>h</th></tr></thead><tbody><tr><td>&lt;x&gt;</td></tr></tbody></table>")
    assert html.render_block(Figure(DRAWN), "png") == (
        '<figure id="fig-curve"><img alt="A &lt;curve&gt;" src="data:image/png;base64,iVBORw==">'
        "<figcaption>A &lt;curve&gt;</figcaption></figure>")
    assert html.render_block(Figure(DRAWN), "svg") == (
        '<figure id="fig-curve"><svg><text>x</text></svg><figcaption>A &lt;curve&gt;</figcaption></figure>')
    assert "not drawn:</b> one value per axis." in html.render_block(Figure(SKIPPED))
    page = html.render([Heading(1, "R & D")], "R & D")
    assert page.startswith("<!DOCTYPE html>") and "<title>R &amp; D</title>" in page and "<h1>R &amp; D</h1>" in page


def test_unknown_block_type() -> None:
    with pytest.raises(TypeError, match="unknown block str"):
        markdown.render_block("x")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="unknown block int"):
        html.render_block(3)  # type: ignore[arg-type]


def test_reproduce_command() -> None:
    assert reproduce_command("fewshot.py --smoke-test") == "python studies/fewshot.py --smoke-test"
    assert reproduce_command("ablation.py") == "python studies/ablation.py"
    assert reproduce_command("python studies/hpo.py -v") == "python studies/hpo.py -v"


def test_search_line_says_which_sampler_ran_and_how_many_trials_were_start_up() -> None:
    lr = {"train.lr": {"distribution": "loguniform", "low": 1e-4, "high": 1e-2}}
    assert search_line({"num_samples": 8, "nuisance": lr, "sampler": "tpe", "startup_trials": 10}) == (
        "search: tpe sampler, 8 trial(s) per arm and seed; TPE samples its first 10 trials of a "
        "group at random, so 8 of 8 were random start-up trials (this search was random search)")
    assert search_line({"num_samples": 30, "nuisance": lr}) == (  # written before the field: TPE
        "search: tpe sampler, 30 trial(s) per arm and seed; TPE samples its first 10 trials of a "
        "group at random, so 10 of 30 were random start-up trials")
    assert search_line({"num_samples": 4, "nuisance": lr, "sampler": "qmc"}) == (
        "search: qmc sampler, 4 trial(s) per arm and seed")
    assert search_line({"num_samples": 1, "nuisance": {}}) == (
        "search: nothing searched (no nuisance settings); 1 trial(s) per arm and seed")


def test_kept_epoch_line_says_what_each_kind_of_trial_kept_its_checkpoint_by() -> None:
    def trials(*rows: tuple[str, int | None, dict]) -> pl.DataFrame:
        return pl.DataFrame({"kind": [k for k, _, _ in rows], "epochs_run": [e for _, e, _ in rows],
                             "config_json": [json.dumps(c) for _, _, c in rows]},
                            schema={"kind": pl.Utf8, "epochs_run": pl.Int64, "config_json": pl.Utf8})

    stvlm = ("stvlm", 12, {"train": {"monitor": "mae_both"}})
    older = ("baseline", 40, {"train": {"lr": 0.001}})  # written before train.monitor: its default
    untrained = ("baseline", None, {"train": {"monitor": "rmse"}})  # seasonal-naive: no epochs
    assert kept_epoch_line(trials(older, stvlm, untrained)) == (
        "best epoch: the one with the lowest validation mae_both (ST-VLM) or mae (trained baselines); "
        "mae_both is the mean of mae and mae_all")
    assert kept_epoch_line(trials(("stvlm", 3, {"train": {"monitor": "rmse_h3"}}), ("stvlm", 3, {"train": {}}))) == (
        "best epoch: the one with the lowest validation rmse_h3 / mae (ST-VLM)")
    assert kept_epoch_line(trials(untrained)) is None


def test_main_table_bold_best_dagger_and_booktabs() -> None:
    import polars as pl

    from harness.report.paper import main_table, to_latex

    frame = pl.DataFrame({
        "dataset": ["nyc_bike"] * 4, "few_shot": ["10%", "10%", "10%", "10%"],
        "model": ["ST-VLM (a)", "ST-VLM (b)", "ST-VLM (c)", "ridge"],
        "kind": ["stvlm", "stvlm", "stvlm", "baseline"], "config_id": ["a", "b", "c", "d"], "block": [0] * 4,
        "seeds": [3, 3, 3, 1], "mae_mean": [2.0, 2.6, 2.45, 2.5], "mae_std": [0.01, 0.01, 0.2, None],
        "mae_best": [True, False, False, False], "mae_vs_baseline": ["better", "worse", "level", None],
    })
    table = main_table(frame, 3, 0.95)
    assert table.header == ("dataset", "few-shot", "model", "seeds", "MAE")
    assert table.rows == (("nyc_bike", "10%", "ST-VLM (a)", "3", "**2.000 ± 0.010** †"),
                          ("nyc_bike", "10%", "ST-VLM (b)", "3", "2.600 ± 0.010 ‡"),
                          ("nyc_bike", "10%", "ST-VLM (c)", "3", "2.450 ± 0.200"),
                          ("nyc_bike", "10%", "ridge", "1", "2.500"))
    assert to_latex(frame, 3).splitlines()[:9] == [
        r"\begin{tabular}{lllc}", r"\toprule", r"Dataset & Few-shot & Model & MAE \\", r"\midrule",
        r"nyc\_bike & 10\% & ST-VLM (a) & \textbf{2.000$\pm$0.010}$^\dagger$ \\",
        r"nyc\_bike & 10\% & ST-VLM (b) & 2.600$\pm$0.010$^\ddagger$ \\",
        r"nyc\_bike & 10\% & ST-VLM (c) & 2.450$\pm$0.200 \\",
        r"nyc\_bike & 10\% & ridge & 2.500 \\", r"\bottomrule"]
