"""cross_machine.py: a table's re-run seeds against the committed ones, and the verdict both ways."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))

from cross_machine import compare  # noqa: E402
from fewshot_verdict import not_beaten, standing  # noqa: E402


def _run(seed: int, mae: float, epoch: int | None, **extra) -> dict:
    return {"dataset": "d", "setting": "10%", "model": "st-vlm", "seed": seed, "git_commit": "c0",
            "test": {"mae": mae, "mae_all": mae - 1}, "val": {"mae": mae - 0.5}, "best_epoch": epoch, **extra}


def _interval(baseline: str, metric: str, better: bool) -> dict:
    return {"dataset": "d", "setting": "10%", "baseline": baseline, "metric": metric, "st_vlm_better": better}


def _table(runs: list[dict], gru_beaten: bool, machine: str = "2-core CPU (old), no GPU") -> dict:
    intervals = [_interval("ridge", m, True) for m in ("mae", "mae_all")]
    intervals += [_interval("gru", "mae", True), _interval("gru", "mae_all", gru_beaten)]
    intervals += [_interval("historical-average-all", "mae", False)]  # a reference line: not counted
    baseline = {**_run(0, 9.0, 0), "model": "gru"}
    return {"runs": [baseline, *runs], "intervals": intervals, "meta": {"machine": machine},
            "command": "fewshot_accuracy.py --only st-vlm"}


def test_not_beaten_leaves_reference_lines_out() -> None:
    table = _table([], gru_beaten=False)
    assert not_beaten(table["intervals"], "d", "10%") == ["gru"]
    assert not_beaten(_table([], gru_beaten=True)["intervals"], "d", "10%") == []
    assert not_beaten(table["intervals"], "other", "10%") == []


def test_standing_says_how_each_baseline_that_is_not_beaten_stands() -> None:
    """Per metric where ST-VLM's interval does not exclude zero: level (it spans zero), better
    (the baseline: the interval lies above zero) or the same forecast (float rounding); metrics
    where ST-VLM wins are not named, and reference lines are left out."""
    def iv(baseline: str, metric: str, low: float, high: float) -> dict:
        return {**_interval(baseline, metric, high < 0), "diff": (low + high) / 2, "low": low, "high": high}

    intervals = [
        iv("ridge", "mae", -0.01, 0.02), iv("ridge", "mae_all", -0.01, 0.02),  # level on both
        iv("gru", "mae", -0.04, -0.02), iv("gru", "mae_all", 0.005, 0.02),  # better on all entries
        iv("gwnet", "mae", 0.01, 0.3), iv("gwnet", "mae_all", -0.1, 0.2),  # better masked, level all
        iv("seasonal-mean", "mae", 3e-8, 5e-8), iv("seasonal-mean", "mae_all", -3e-9, 7e-9),
        iv("stid", "mae", -0.5, -0.1), iv("stid", "mae_all", -0.3, -0.2),  # beaten: not named
        iv("historical-average-all", "mae", 0.1, 0.2),  # a reference line
    ]
    assert standing(intervals, "d", "10%") == [
        "gru (better on all entries: +0.013 [+0.005, +0.020])",
        "gwnet (better on the masked metric: +0.155 [+0.010, +0.300], level on all entries: +0.050 [-0.100, +0.200])",
        "ridge (level on both metrics: +0.005 [-0.010, +0.020])", "seasonal-mean (the same forecast on both metrics)"]
    intervals[1] = iv("ridge", "mae_all", -0.03, 0.01)  # level on both, each its own interval
    assert standing(intervals, "d", "10%")[2] == (
        "ridge (level on both metrics: masked +0.005 [-0.010, +0.020], all entries -0.010 [-0.030, +0.010])")
    assert standing(intervals, "other", "10%") == []


def test_compare_reports_the_changed_seeds_and_both_verdicts() -> None:
    committed = _table([_run(0, 3.0, 20), _run(1, 3.5, 10)], gru_beaten=True)
    rerun = _table([_run(0, 3.25, 17, git_commit="c1", device="cpu (X, x86_64, AVX512)"), _run(1, 3.5, 10)],
                   gru_beaten=False, machine="2-core CPU (X, x86_64, AVX512), no GPU")
    (pair,) = compare(committed, rerun, "st-vlm")
    assert [f["seed"] for f in pair["seeds"]] == [0]  # seed 1's record is the committed one
    assert pair["seeds"][0] == {
        "seed": 0,
        "committed": {"test_mae": 3.0, "test_mae_all": 2.0, "val_mae": 2.5, "best_epoch": 20, "git_commit": "c0",
                      "device": "not recorded (the file's machine line: 2-core CPU (old), no GPU)"},
        "rerun": {"test_mae": 3.25, "test_mae_all": 2.25, "val_mae": 2.75, "best_epoch": 17, "git_commit": "c1",
                  "device": "cpu (X, x86_64, AVX512)"},
    }
    assert pair["means"] == {"committed": {"test_mae": 3.0, "test_mae_all": 2.0, "val_mae": 2.5},
                             "rerun": {"test_mae": 3.25, "test_mae_all": 2.25, "val_mae": 2.75}}
    assert pair["max_abs_test_mae_diff"] == 0.25
    assert pair["same_best_epoch"] == 0
    assert pair["not_beaten"] == {"committed": [], "rerun": ["gru"]}
    assert pair["verdict_same"] is False
    assert pair["command"] == "fewshot_accuracy.py --only st-vlm"
    assert compare(committed, committed, "st-vlm") == []  # nothing re-run
    untrained = _table([_run(0, 3.0, None)], gru_beaten=True)  # a closed-form baseline: no epochs
    (pair,) = compare(untrained, _table([_run(0, 3.0, None, git_commit="c1")], gru_beaten=True), "st-vlm")
    assert (pair["same_best_epoch"], pair["max_abs_test_mae_diff"], pair["verdict_same"]) == (None, 0.0, True)
    assert compare(committed, rerun, "gru") == []  # the other model's runs are the committed ones


def test_compare_refuses_a_seed_the_table_does_not_have() -> None:
    committed = _table([_run(0, 3.0, 20)], gru_beaten=True)
    rerun = _table([_run(0, 3.0, 20), _run(4, 3.1, 9)], gru_beaten=True)
    with pytest.raises(ValueError, match=r"no st-vlm run of \('d', '10%', 4\)"):
        compare(committed, rerun, "st-vlm")


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(REPO / "benchmarks" / "cross_machine.py"), *args],
                          capture_output=True, text=True, cwd=REPO)


def test_cli_writes_the_comparison_and_refuses_bad_folders(tmp_path: Path) -> None:
    table = tmp_path / "table.json"
    table.write_text(json.dumps(_table([_run(0, 3.0, 20)], gru_beaten=True)))
    rerun = tmp_path / "rerun"
    rerun.mkdir()
    (rerun / "fewshot_accuracy.json").write_text(json.dumps(_table([_run(0, 3.0, 12)], gru_beaten=True)))
    out = tmp_path / "out.json"
    done = _cli("--rerun", str(rerun), "--table", str(table), "--out", str(out))
    assert done.returncode == 0, done.stderr
    written = json.loads(out.read_text())
    assert written["model"] == "st-vlm"
    assert [(p["dataset"], p["setting"], p["folder"], p["verdict_same"]) for p in written["pairs"]] == [
        ("d", "10%", str(rerun), True)]
    assert "d 10%: test MAE 3.000 committed, 3.000 re-run (max seed diff 0, same best epoch 0 of 1)" in done.stderr

    table.write_text(json.dumps(_table([_run(0, 3.0, None)], gru_beaten=True)))  # untrained: no epochs
    (rerun / "fewshot_accuracy.json").write_text(json.dumps(_table([_run(0, 3.0 + 2e-14, None)], gru_beaten=True)))
    done = _cli("--rerun", str(rerun), "--table", str(table), "--out", str(out))
    assert done.returncode == 0, done.stderr
    assert "d 10%: test MAE 3.000 committed, 3.000 re-run (max seed diff 2e-14, no epochs)" in done.stderr

    same = tmp_path / "same"
    same.mkdir()
    (same / "fewshot_accuracy.json").write_text(table.read_text())
    done = _cli("--rerun", str(same), "--table", str(table), "--out", str(out))
    assert done.returncode == 2
    assert "no run of st-vlm differs from the committed table" in done.stderr
    done = _cli("--rerun", str(tmp_path / "absent"), "--table", str(table))
    assert done.returncode == 2
    assert "no such file" in done.stderr and str(tmp_path / "absent") in done.stderr
