"""The few-shot accuracy page's text (``benchmarks/fewshot_pages.py``, ``fewshot_verdict.py``,
``fewshot_selection.py``) on tiny inputs: what each section says and how."""

from __future__ import annotations

from pathlib import Path


def test_the_results_page_states_every_one_of_stvlms_own_training_settings() -> None:
    """The page's training paragraph names each setting of ``STVLM_TRAIN_SETTINGS``: leaving any
    one out of the recorded settings changes the text (a new setting must be described there)."""
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    from fewshot_pages import _stvlm_training
    from fewshot_setup import STVLM_TRAIN

    from stvlm.configs.train import STVLM_TRAIN_SETTINGS

    full = _stvlm_training({"stvlm_train": STVLM_TRAIN})
    text = _stvlm_training({"stvlm_train": {**STVLM_TRAIN, "augment_scale": 1.0}})  # augmentation off
    assert "30% of the planned steps" in text and "kept unless an epoch beats it" in text
    assert "`loss_mask = both`" in text and "`patience_after_warmup`" in text and "augment_scale" not in text
    assert full.startswith(text) and "`augment_scale` 1.5: each training window times one factor in [1/1.5, 1.5]" in full
    assert _stvlm_training({"stvlm_train": {**STVLM_TRAIN, "augment_scale": 2.0}}).count("[1/2, 2]") == 1
    for key in STVLM_TRAIN_SETTINGS:
        assert _stvlm_training({"stvlm_train": {k: v for k, v in STVLM_TRAIN.items() if k != key}}) != full, key
    assert _stvlm_training({"stvlm_train": {**STVLM_TRAIN, "loss_mask": "observed"}}).count("loss_mask") == 0
    assert "(`monitor = mae_both`, chosen on validation: `validation-monitor.json`)" in full
    assert "monitor" not in _stvlm_training({"stvlm_train": {**STVLM_TRAIN, "monitor": "mae"}})
    assert _stvlm_training({}) == ""


def test_the_results_page_names_only_what_the_table_still_lacks() -> None:
    """The "Not yet run" caveat lists ST-VLM's missing seeds and the datasets without a full
    row, and is left out when the table has both."""
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    from fewshot_pages import _not_yet_run

    def result(seeds: list[int], splits: list[str]) -> dict:
        return {"rows": [{"model": "st-vlm", "seeds": seeds}, {"model": "ridge", "seeds": [0]}],
                "splits": {k: {} for k in splits}}

    assert _not_yet_run(result([0, 1, 2, 3, 4], ["a|10%", "a|full"])) == []
    assert _not_yet_run(result([0, 1, 2], ["a|10%", "a|full", "b|10%"])) == [
        "- Not yet run: 5 seeds (3 for some pairs here) and the `full` setting on b."]
    assert _not_yet_run(result([0, 1, 2, 3, 4], ["b|10%", "a|10%"])) == [
        "- Not yet run: the `full` setting on a, b."]


def test_the_void_mape_caveat_names_each_pair_and_its_runs() -> None:
    """Runs that scored MAPE with a zero's residue as a truth (above 1e6 %) are named per pair
    with their count; a table without them gets no line."""
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    from fewshot_defects import void_mape

    def run(dataset: str, setting: str, mape: float) -> dict:
        return {"dataset": dataset, "setting": setting, "test": {"mae": 1.0, "mape": mape}}

    assert void_mape({"runs": [run("a", "10%", 198.6), run("a", "full", 1e6)]}) == []
    line = void_mape({"runs": [run("sz", "10%", 9e14), run("a", "10%", 50.0), run("sz", "10%", 1.1e6),
                                run("sz", "full", 8e14)]})
    assert len(line) == 1 and "The runs of sz 10% (2), sz full (1) scored it before 2135b01" in line[0]


def test_the_verdicts_headline_counts_the_target_pairs_and_all_pairs() -> None:
    """A pair counts as met only when every baseline but the reference lines is beaten on both
    metrics; the target's count leaves out the ``full`` settings."""
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    from fewshot_verdict import headline, not_beaten

    def interval(dataset: str, setting: str, baseline: str, metric: str, better: bool) -> dict:
        return {"dataset": dataset, "setting": setting, "baseline": baseline, "metric": metric,
                "st_vlm_better": better}

    intervals = [
        interval("a", "10%", "gru", "mae", True), interval("a", "10%", "gru", "mae_all", True),
        interval("a", "10%", "historical-average-all", "mae", False),  # a reference line: not counted
        interval("b", "10%", "gru", "mae", True), interval("b", "10%", "gru", "mae_all", False),
        interval("b", "st-llm-10%", "ridge", "mae", False),
        interval("a", "full", "gru", "mae", True), interval("a", "full", "gru", "mae_all", True),
    ]
    pairs = dict.fromkeys((i["dataset"], i["setting"]) for i in intervals)
    assert headline({p: not_beaten(intervals, *p) for p in pairs}) == (
        "ST-VLM beats every baseline (the reference line historical-average-all aside), the paired "
        "interval excluding zero on both metrics, on 1 of the 3 few-shot pairs that the target counts "
        "(every setting but `full`) and on 2 of 4 pairs in all.")


def test_a_test_win_that_validation_would_not_have_picked_is_said_in_the_verdict() -> None:
    """Baselines below ST-VLM on validation are named beside a test win (reference lines, whose
    validation score is in-sample, aside); none, no sentence."""
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    from fewshot_verdict import validation_dissent

    def row(model: str, val: float, dataset: str = "a") -> dict:
        return {"dataset": dataset, "setting": "full", "model": model, "val_mae": val}

    result = {"rows": [row("st-vlm", 2.9787), row("staeformer", 2.9187), row("gru", 3.2874),
                       row("historical-average-all", 0.1079), row("ridge", 2.5, dataset="b")]}
    assert validation_dissent(result, "a", "full") == (
        " On validation (masked MAE) staeformer 2.919 is below ST-VLM's 2.979: a choice made on "
        "validation would not pick ST-VLM here.")
    result["rows"].append(row("gwnet", 2.95))
    assert validation_dissent(result, "a", "full").startswith(
        " On validation (masked MAE) staeformer 2.919, gwnet 2.950 are below ST-VLM's 2.979")
    assert validation_dissent(result, "b", "full") == ""  # no ST-VLM row there
    assert validation_dissent({"rows": [row("st-vlm", 2.0), row("gru", 2.5)]}, "a", "full") == ""


def test_the_results_pages_splits_are_a_table_with_one_row_per_pair() -> None:
    """Each (dataset, setting) gets one row: windows, first training step, lags, bootstrap blocks
    (the fewest of the pair's intervals) and the commits its runs came from; a pair without a
    recorded commit says so with a dash."""
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    from fewshot_pages import split_lines

    def split(dataset: str, commit: str | None, **extra) -> dict:
        return {"dataset": dataset, "windows": {"train": 66, "val": 218, "test": 869},
                "parts": {"train": {"steps": [336, 500]}}, "lookback_lags": [48, 336],
                "git_commit": commit, **extra}

    result = {
        "splits": {"a|10%": split("a", "7ead12bcfb25", reused={"ridge": "508057b0000"}),
                   "b|full": split("b", None, bootstrap_block="24 steps (only 2 test days)")},
        "rows": [{"dataset": "a", "setting": "10%", "model": m} for m in ("st-vlm", "ridge")],
        "runs": [],
        "intervals": [{"dataset": "a", "setting": "10%", "blocks": 19},
                      {"dataset": "a", "setting": "10%", "blocks": 18}],
    }
    assert split_lines(result) == [
        "| dataset | setting | training windows | from step | lookback lags (steps) | val / test windows "
        "| bootstrap blocks | code |",
        "|---|---|---|---|---|---|---|---|",
        "| a | 10% | 66 | 336 | 48, 336 | 218 / 869 | 1 day (18 blocks) | code 7ead12b; every baseline "
        "reused from 508057b |",
        "| b | full | 66 | 336 | 48, 336 | 218 / 869 | 24 steps (only 2 test days) (? blocks) | — |",
    ]


def test_the_selection_caveat_is_one_bullet_with_a_sentence_per_sub_bullet() -> None:
    """The page's Selection caveat: its heading bullet, then each part as an indented sub-bullet
    that is whole sentences (a capital first, a full stop last), so no part is cut mid-way."""
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    from fewshot_selection import SELECTION, SELECTION_HEAD, SELECTION_PARTS

    lines = SELECTION.split("\n")
    assert lines[0] == SELECTION_HEAD and SELECTION_HEAD.startswith("- Selection: ")
    assert lines[1:] == [f"  - {part}" for part in SELECTION_PARTS]
    assert all(part[0].isupper() and part.endswith(".") and "\n" not in part for part in SELECTION_PARTS)


def test_the_batchnorm_caveat_names_the_verdicts_a_gwnet_rerun_could_move() -> None:
    """Graph WaveNet runs made before cadac71 are named per pair; the verdicts listed are a pair
    met only while ST-VLM beats it, or one where it is the only baseline not beaten."""
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    from fewshot_defects import gwnet_batchnorm

    def interval(pair: tuple[str, str], baseline: str, metric: str, diff: float, high: float) -> dict:
        return {"dataset": pair[0], "setting": pair[1], "baseline": baseline, "metric": metric, "diff": diff,
                "low": diff - 0.02, "high": high, "st_vlm_better": high < 0}

    met, only, other = ("a", "full"), ("b", "10%"), ("c", "10%")
    runs = [{"model": "gwnet", "dataset": d, "setting": s, "git_commit": "97c13ba793b2aa"} for d, s in (met, only, other)]
    intervals = [interval(met, "gwnet", "mae", -0.066, -0.041), interval(met, "ridge", "mae", -0.1, -0.05),
                 interval(only, "gwnet", "mae_all", 0.013, 0.024), interval(only, "ridge", "mae", -0.2, -0.1),
                 interval(other, "gwnet", "mae", -0.3, -0.2), interval(other, "gru", "mae", 0.1, 0.2)]
    (line,) = gwnet_batchnorm({"runs": runs, "intervals": intervals})
    assert line.startswith("- Graph WaveNet's 3 runs, on 3 pairs (a full, b 10%, c 10%), were made before cadac71")
    (one,) = gwnet_batchnorm({"runs": runs[:1], "intervals": intervals})
    assert one.startswith("- Graph WaveNet's 1 run, on 1 pair (a full), were made")
    assert line.endswith("The verdicts they could move: a full (masked -0.066 [-0.086, -0.041]); "
                         "b 10% (all entries +0.013 [-0.007, +0.024]).")
    rerun = [dict(r, git_commit="cadac71aaaaa") for r in runs]
    assert gwnet_batchnorm({"runs": rerun, "intervals": intervals}) == []
