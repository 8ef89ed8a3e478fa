"""The committed result pages are what the committed result JSON renders to with today's code:
a change to the page code (or a merge run from an older clone) must re-render them."""

from __future__ import annotations

import json
import re
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


def test_every_interval_the_project_readme_quotes_is_on_the_page() -> None:
    """The README's "Where it stands" quotes paired intervals by hand; a re-run that moved one
    left two stale (nycbike-drop 10% and nycbike1 full, Graph WaveNet) until this test."""
    readme_text = (REPO / "README.md").read_text()
    block = readme_text[readme_text.index("Where it stands"):readme_text.index("Why, as far as the validation")]
    page = (RESULTS / "README.md").read_text()
    quoted = re.findall(r"[+-]\d\.\d{3} \[[+-]\d\.\d{3}, [+-]\d\.\d{3}\]", " ".join(block.split()))
    assert len(quoted) >= 10 and [q for q in quoted if q not in page] == []


def test_every_capped_st_vlm_row_of_the_table_was_offered_a_longer_cap() -> None:
    """Where ST-VLM's committed row ran to its epoch cap (its best epoch the last in some seed, or
    :func:`epoch_cap.near_cap`'s two seeds near it), a round of the epoch-cap check offered that
    pair a longer cap on validation: a table whose own model may have stopped short is named on
    the page, and then checked, not left as it is."""
    from epoch_cap import ROUNDS, near_cap
    from fewshot_merge import run_epochs

    table = json.loads((RESULTS / "fewshot_accuracy.json").read_text())
    default = table["meta"]["epochs"]
    capped = {(r["dataset"], r["setting"], run_epochs(r, default)) for r in table["runs"]
              if r["model"] == "st-vlm" and r["best_epoch"] == r["epochs_run"] == run_epochs(r, default)}
    capped |= {(r["dataset"], r["setting"], r["cap"]) for r in near_cap(table, skip=()) if r["model"] == "st-vlm"}
    offered = {(*pair, rnd.short) for rnd in ROUNDS.values() for pair in rnd.capped.get("st-vlm", ())}
    assert capped - offered == set(), "ST-VLM rows at their cap that no round of benchmarks/epoch_cap.py offered more"
    assert capped == {("sz-taxi", "full", 40)}  # today's: offered 80 twice (own80, own80-sz), kept 40


def test_the_library_pair_choices_are_the_tables() -> None:
    """``stvlm train`` and ``stvlm evaluate`` give a model on a pair the choices of the committed
    table (``stvlm.configs.pair_choices``): every trained model's epoch cap is the one its runs
    there had, and the lookback lags of every pair's split are the chosen days (else the
    protocol's 1 and 7, those the series has). Baselines' own training and options are checked
    against their runs by tests/test_run_settings_records.py."""
    from fewshot_merge import pair_cap

    from stvlm.configs import DataConfig, FewShotConfig, TrainConfig
    from stvlm.configs.pair_choices import BENCHMARK_SETTINGS, EPOCH_CAPS, LOOKBACK_DAYS
    from stvlm.data.datasets import dataset_info

    table = json.loads((RESULTS / "fewshot_accuracy.json").read_text())
    trained = {(r["model"], r["dataset"], r["setting"]) for r in table["runs"] if r.get("epochs_run")}
    assert set(EPOCH_CAPS) <= trained, "an epoch cap for a model and pair the table did not train"
    for model, dataset, setting in sorted(trained):
        cap = EPOCH_CAPS.get((model, dataset, setting), (TrainConfig().epochs, ""))[0]
        assert pair_cap(table, model, dataset, setting) == cap, (model, dataset, setting)
    pairs = {(r["dataset"], r["setting"]) for r in table["runs"]}
    assert set(LOOKBACK_DAYS) <= pairs
    for dataset, setting in sorted(pairs):
        split = table["splits"][f"{dataset}|{setting}"]
        steps_per_day = 1440 // dataset_info(dataset).interval_minutes
        days = [lag / steps_per_day for lag in split["lookback_lags"]]
        if (dataset, setting) in LOOKBACK_DAYS:
            assert days == list(LOOKBACK_DAYS[(dataset, setting)]), (dataset, setting)
        else:
            assert days and set(days) <= {1, 7}, (dataset, setting)
        label = DataConfig(dataset=dataset, few_shot=FewShotConfig(**BENCHMARK_SETTINGS[setting])).few_shot.label
        assert split["few_shot"] == label, (dataset, setting)


def test_each_epoch_cap_names_the_round_file_that_chose_it() -> None:
    """The evidence ``stvlm train`` and ``stvlm evaluate`` print for a cap is the round whose
    committed choices set that model's cap on that pair to it."""
    from stvlm.configs.pair_choices import EPOCH_CAPS

    for (model, dataset, setting), (cap, file) in EPOCH_CAPS.items():
        choices = json.loads((RESULTS / file).read_text())["choices"]
        chosen = [c["epochs"] for c in choices if (c["model"], c["dataset"], c["setting"]) == (model, dataset, setting)]
        assert chosen == [cap], (model, dataset, setting, file)
