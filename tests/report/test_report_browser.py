"""report.html in a real headless browser (Debian's chromium): the page renders with its figures.

Skipped, with the reason, when no chromium is installed (.ci/run installs it best-effort).
"""

from __future__ import annotations

import io
import shutil
import subprocess
from pathlib import Path

import matplotlib.image
import pytest
from tests.load import patient

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def _screenshot(html: Path, png: Path, profile: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         f"--user-data-dir={profile}", f"--screenshot={png}", "--window-size=1280,2000",
         "--hide-scrollbars", html.resolve().as_uri()],
        capture_output=True, text=True, timeout=patient(120),
    )


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (apt-get install chromium)")
def test_report_html_renders_in_chromium(demo_built: tuple[Path, Path], tmp_path: Path) -> None:
    png = tmp_path / "shot.png"
    done = _screenshot(demo_built[1] / "report.html", png, tmp_path / "profile")
    assert done.returncode == 0 and png.is_file(), done.stderr[-2000:]
    pixels = matplotlib.image.imread(io.BytesIO(png.read_bytes()))[..., :3]  # [2000, 1280, 3]
    assert pixels.shape[:2] == (2000, 1280)
    assert pixels.std() > 0.05  # not a blank page
    ink_rows = (pixels < 0.8).any(axis=(1, 2)).mean()
    assert ink_rows > 0.3, f"text/tables on only {ink_rows:.0%} of the rows"
    # The figures are the only coloured content (the page itself is black on white): at least one
    # embedded image is on screen when a good share of pixels is saturated colour.
    colourful = (pixels.max(axis=-1) - pixels.min(axis=-1)) > 0.25  # [2000, 1280]
    assert colourful.mean() > 0.01, f"no figure visible: {colourful.mean():.2%} coloured pixels"
    rows = colourful.any(axis=1).nonzero()[0]
    assert rows.max() - rows.min() > 200  # a region the height of a figure, not a stray line


PROBE = """<script>window.addEventListener('load', () => {
  let right = 0;
  document.querySelectorAll('table').forEach(t => { right = Math.max(right, t.getBoundingClientRect().right); });
  document.body.setAttribute('data-probe', JSON.stringify({page: document.documentElement.clientWidth,
    tables: document.querySelectorAll('table').length, right: right,
    scroll: document.documentElement.scrollWidth}));
});</script>"""
REPORTS = sorted((Path(__file__).resolve().parents[2] / "results").glob("*/report/report.html"))


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (apt-get install chromium)")
@pytest.mark.parametrize("report", REPORTS, ids=[p.parents[1].name for p in REPORTS])
def test_no_table_is_wider_than_the_page(report: Path, tmp_path: Path) -> None:
    """Every committed report, laid out by chromium at a laptop's width: each table ends inside
    the page and the page never scrolls sideways (a measuring script is added to a copy only;
    the report itself has no scripts)."""
    import html as html_lib
    import json
    import re

    probe = tmp_path / "probe.html"
    probe.write_text(report.read_text().replace("</body>", PROBE + "</body>"))
    done = subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         f"--user-data-dir={tmp_path / 'profile'}", "--window-size=1280,2000",
         "--virtual-time-budget=5000", "--dump-dom", probe.as_uri()],
        capture_output=True, text=True, timeout=patient(120),
    )
    found = re.search(r'data-probe="([^"]*)"', done.stdout)
    assert found, done.stderr[-2000:]
    layout = json.loads(html_lib.unescape(found.group(1)))
    assert layout["tables"] > 3
    assert layout["right"] <= layout["page"] and layout["scroll"] <= layout["page"], layout
