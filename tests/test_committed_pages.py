"""The committed result pages are what the committed result JSON renders to with today's code:
a change to the page code (or a merge run from an older clone) must re-render them."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "results" / "fewshot_accuracy"
sys.path.insert(0, str(REPO / "benchmarks"))

from fewshot_pages import ablation_page, readme  # noqa: E402
from fewshot_verdict import verdict_lines  # noqa: E402

RENDER = ("PYTHONPATH=. python -c \"import json, sys; sys.path.insert(0, 'benchmarks'); "
          "from fewshot_pages import {fn}; open('{page}', 'w').write({fn}(json.load(open('{data}'))))\"")


@pytest.mark.parametrize(("page", "data", "render"), [
    ("README.md", "fewshot_accuracy.json", readme),
    ("ABLATION.md", "modality_ablation.json", ablation_page),
])
def test_the_committed_page_is_its_json_rendered(page: str, data: str, render) -> None:
    expected = render(json.loads((RESULTS / data).read_text()))
    command = RENDER.format(fn=render.__name__, page=f"results/fewshot_accuracy/{page}",
                            data=f"results/fewshot_accuracy/{data}")
    assert (RESULTS / page).read_text() == expected, f"{page} is stale; re-render it: {command}"


def test_the_project_readme_quotes_the_pages_verdict() -> None:
    """The project README says the accuracy result in the page's own computed sentence, so a
    re-run table that moves the verdict cannot leave the README telling the old one."""
    headline = verdict_lines(json.loads((RESULTS / "fewshot_accuracy.json").read_text()))[0]
    readme_text = " ".join((REPO / "README.md").read_text().split())
    assert headline in readme_text, f"README.md's accuracy section must quote the page's verdict: {headline}"
