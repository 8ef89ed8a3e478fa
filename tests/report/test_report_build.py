"""build_report, ``stvlm report`` and ``studies/report.py``: files, self-contained HTML, atomic
writes, provenance, determinism and the command-line error path."""

from __future__ import annotations

import base64
import re
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest
from report_checks import assert_not_blank
from report_synthetic import fast_config, write_study

import harness.cli.commands.report  # noqa: F401  (registers "report" if the package has not yet)
from harness.cli.main import main
from harness.report import ReportConfig, ResultsError, build_report
from tests.load import patient

REPO = Path(__file__).resolve().parents[2]
TABLES = {"status", "problem_trials", "seed_summary", "best_configs", "baseline_deltas", "anchor_deltas",
          "cross_study", "param_importance", "main_results"}


def test_report_folder_layout(demo_built: tuple[Path, Path]) -> None:
    out = demo_built[1]
    assert sorted(p.name for p in out.iterdir()) == ["figures", "report.html", "report.md", "tables"]
    assert {p.stem for p in (out / "tables").glob("*.csv")} == TABLES
    pngs = {p.stem for p in (out / "figures").glob("*.png")}
    assert pngs == {p.stem for p in (out / "figures").glob("*.svg")} and len(pngs) == 6
    md = (out / "report.md").read_text()
    for heading in ("## Main results", "## Best configuration per arm", "## Figures",
                    "## Against baselines on the same splits", "## Against published numbers",
                    "## Provenance", "## Appendix", "### Trials",
                    "### Per-horizon test error (best configurations)", "### Parameter importance",
                    "### Sampled parameters of the best configurations"):
        assert f"\n{heading}\n" in md, heading
    assert md.index("## Main results") < md.index("## Provenance") < md.index("## Appendix")
    assert "(n=" not in md  # the seed count has a column of its own
    main = pl.read_csv(out / "tables" / "main_results.csv")
    for _, block in main.group_by("dataset", "few_shot"):
        assert int(block["mae_best"].sum()) == 1  # one bold cell per block and metric
        best_baseline = block.filter(pl.col("kind") != "stvlm")["mae_mean"].min()
        for row in block.filter(pl.col("kind") == "stvlm").iter_rows(named=True):
            verdict = row["mae_vs_baseline"]  # the direction of the † / ‡ marks
            assert verdict in ("better", "worse", "level", None)
            assert verdict != "better" or row["mae_mean"] < best_baseline
            assert verdict != "worse" or row["mae_mean"] > best_baseline
    tex = (out / "tables" / "main_results.tex").read_text()
    assert tex.startswith("\\begin{tabular}") and "\\toprule" in tex and "\\bottomrule" in tex
    assert tex.count("\\textbf{") == sum(int(main[c].sum()) for c in main.columns if c.endswith("_best"))
    horizons = pl.read_parquet(out / "tables" / "horizons.parquet")
    assert horizons.height and set(horizons["horizon"]) >= {3} and horizons["mean"].null_count() == 0
    assert "Welch's t interval" in md and "n/a (1 seed)" in md
    assert not list(out.parent.glob(f".{out.name}.*"))  # no temporary folder left behind


def test_html_tables_render_bold_and_wrap_at_commas(demo_built: tuple[Path, Path]) -> None:
    """The tables' Markdown bold becomes <b> in the HTML (never a literal **), and long arm
    labels get a line-break opportunity after each comma."""
    html = (demo_built[1] / "report.html").read_text()
    tables = "".join(re.findall(r"<table>.*?</table>", html, flags=re.S))
    assert "**" not in tables and "<b>" in tables
    assert ",<wbr>" in tables


def test_html_is_self_contained(demo_built: tuple[Path, Path]) -> None:
    html = (demo_built[1] / "report.html").read_text()
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:|//|file:)""", html)
    assert "<link" not in html and "<script" not in html and "@import" not in html
    images = re.findall(r'src="data:image/png;base64,([^"]+)"', html)
    assert len(images) == 6
    for data in images:
        assert_not_blank(base64.b64decode(data))
    assert "<table>" in html and "Study fewshot-demo" in html


def test_svg_embedding_inlines_the_figures(tmp_path: Path) -> None:
    folder = write_study(tmp_path / "r", ratios=(0.1,), seeds=(0, 1))
    out = build_report([folder], tmp_path / "out", config=fast_config(embed="svg"))
    html = (out / "report.html").read_text()
    drawn = len(list((out / "figures").glob("*.svg")))
    assert drawn == 6 and html.count("<svg") == drawn
    assert "<img" not in html and "<?xml" not in html  # (the heat map's colour bar is an SVG <image>)


def test_provenance_section(demo_built: tuple[Path, Path]) -> None:
    md = (demo_built[1] / "report.md").read_text()
    assert "```bash\npython studies/fewshot.py --config studies/configs/demo.toml\n```" in md
    assert "- git commit: abc123" in md and "- device: cpu" in md
    assert "few-shot selection: first: the first share of the chronological training windows, contiguous" in md
    assert "| polars |" in md and '"metric": "mae"' in md
    assert "- report command: stvlm report demo" in md


def test_random_window_few_shot_is_labelled(tmp_path: Path) -> None:
    folder = write_study(tmp_path / "r", ratios=(0.1,), seeds=(0, 1))
    path = folder / "trials.parquet"
    pl.read_parquet(path).with_columns(
        pl.lit("random").alias("few_shot_method"),
        pl.format("random-10% (seed {})", "seed").alias("few_shot_label")).write_parquet(path)
    md = (build_report([folder], tmp_path / "out", config=fast_config()) / "report.md").read_text()
    assert "random: a seeded RANDOM subset of the training windows (random-window few-shot" in md
    assert "random-10% (seed 0)" in md


def test_default_out_dir_and_determinism(tmp_path: Path) -> None:
    folder = write_study(tmp_path / "results", ratios=(0.1,), seeds=(0, 1))
    out = build_report([folder], config=fast_config())
    assert out == (folder / "report").resolve()
    first = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file() and p.suffix != ".png"}
    (out / "stale.txt").write_text("left from an older report")
    again = build_report([folder], config=fast_config())
    assert not (again / "stale.txt").exists()  # the folder is replaced as a whole
    second = {p.relative_to(again): p.read_bytes() for p in again.rglob("*") if p.is_file() and p.suffix != ".png"}
    assert first == second  # Markdown, HTML, SVG and CSV are byte-identical: stable to diff


def test_failed_write_keeps_the_old_report(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = write_study(tmp_path / "r", ratios=(0.1,), seeds=(0, 1))
    out = build_report([folder], tmp_path / "out", config=fast_config())
    before = (out / "report.md").read_text()

    def broken(*_a, **_k):
        raise RuntimeError("disk full")

    monkeypatch.setattr("harness.report.markdown.render", broken)
    with pytest.raises(RuntimeError, match="disk full"):
        build_report([folder], tmp_path / "out", config=fast_config())
    assert (out / "report.md").read_text() == before
    assert sorted(p.name for p in (tmp_path).iterdir()) == ["out", "r"]


def test_bad_inputs_raise_one_line(tmp_path: Path, demo_built: tuple[Path, Path]) -> None:
    with pytest.raises(ResultsError, match="no results folder given"):
        build_report([])
    (tmp_path / "file").write_text("x")
    with pytest.raises(ResultsError, match="--out exists and is not a folder"):
        build_report([demo_built[0]], tmp_path / "file")
    with pytest.raises(ResultsError, match="metric = 'nse' has no test_nse column in .*; allowed: mae, mape, rmse, wape"):
        build_report([demo_built[0]], tmp_path / "o", config=ReportConfig(metric="nse"))
    with pytest.raises(ResultsError, match="anchors file does not exist"):
        build_report([demo_built[0]], tmp_path / "o", tmp_path / "missing.csv")


def test_stvlm_report_command(demo_built: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "cli"
    anchors = REPO / "results" / "anchors" / "published.csv"
    assert main(["report", str(demo_built[0]), "--out", str(out), "--anchors", str(anchors)]) == 0
    assert capsys.readouterr().out == f"wrote {out.resolve() / 'report.md'}\nwrote {out.resolve() / 'report.html'}\n"
    md = (out / "report.md").read_text()
    assert f"- report command: stvlm report {demo_built[0]} --out {out} --anchors {anchors}" in md
    # Table IV's 10% matches only the st-llm-10% budget (261 windows), not this study's first-10%
    # (66 windows): no delta against a published number under another protocol.
    assert "ST-LLM (published)" not in md
    assert main(["report", str(tmp_path / "missing")]) == 2
    err = capsys.readouterr().err
    assert err == f"stvlm: error: {tmp_path / 'missing'}: results folder does not exist\n"
    assert main(["report", str(demo_built[0]), "--level", "2"]) == 2
    assert capsys.readouterr().err == "stvlm: error: level = 2.0 is out of range; allowed: > 0.5 and < 1\n"


def test_studies_report_script(demo_built: tuple[Path, Path], tmp_path: Path) -> None:
    out = tmp_path / "script"
    done = subprocess.run([sys.executable, "studies/report.py", str(demo_built[0]), "--out", str(out)],
                          cwd=REPO, capture_output=True, text=True, timeout=patient(120))
    assert done.returncode == 0, done.stderr
    assert (out / "report.html").is_file() and done.stdout.startswith("wrote ")
    assert "- report command: python studies/report.py" in (out / "report.md").read_text()
    bad = subprocess.run([sys.executable, "studies/report.py", str(tmp_path / "none")],
                         cwd=REPO, capture_output=True, text=True, timeout=patient(120))
    assert bad.returncode == 2
    assert bad.stderr == f"report: error: {tmp_path / 'none'}: results folder does not exist\n"
