"""`stvlm data` and `stvlm evaluate` on the real datasets of the data root."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from harness.cli.main import main
from stvlm.baselines import BASELINES
from stvlm.configs import DataConfig, FewShotConfig, TrainConfig
from stvlm.data.datasets import dataset_names, dataset_status
from stvlm.data.pipeline import prepare
from stvlm.evaluation import evaluate_baseline

PRESENT = ["los-loop", "sz-taxi", "nycbike1", "nycbike-drop"]


def test_data_list_marks_what_is_present(capsys, data_root: Path) -> None:
    assert main(["data", "list", "--data-root", str(data_root)]) == 0
    out = capsys.readouterr().out
    # columns: name, nodes, "<k> min", files, title
    status = {line.split()[0]: line.split()[4] for line in out.splitlines()[1:11]}
    assert status == {
        "los-loop": "present", "sz-taxi": "present", "nycbike1": "present", "nycbike-drop": "present",
        "pems03": "missing", "pems04": "partial", "pems07": "missing", "pems08": "partial",
        "metr-la": "partial", "pems-bay": "partial",
    }
    assert f"data root: {data_root}" in out


def test_data_info_json(capsys, data_root: Path) -> None:
    assert main(["data", "info", "sz-taxi", "--json", "--data-root", str(data_root)]) == 0
    info = json.loads(capsys.readouterr().out)
    assert (info["nodes"], info["steps"], info["interval_minutes"]) == (156, 2976, 15)
    assert info["missing_value"] == 0.0 and info["side_information"] == ["poi", "weather"]
    assert info["status"] == "present" and info["adjacency"] is True and info["coordinates"] is None


def test_seasonal_naive_week_anchor_on_nycbike_drop(capsys, data_root: Path, tmp_path: Path) -> None:
    """Sanity anchor from the raw files: one-week seasonal naive on the published test windows."""
    out_json = tmp_path / "sn.json"
    assert main(["evaluate", "--dataset", "nycbike-drop", "--model", "seasonal-naive",
                 "--data-root", str(data_root), "--json", str(out_json)]) == 0
    table = capsys.readouterr().out
    assert "869 test windows" in table
    record = json.loads(out_json.read_text())
    mae = record["metrics"]["test"]["mae"]
    assert mae == pytest.approx(2.5318, abs=1e-4)  # "about 2.5"
    test = record["metrics"]["test"]  # with the mean of the masked and all-entries MAE (mae_both)
    assert test["mae_both"] == (mae + test["mae_all"]) / 2 and test["mae_both_h12"] == (test["mae_h12"] + test["mae_all_h12"]) / 2
    assert record["split"]["windows"]["test"] == 869
    assert record["few_shot"]["label"] == "first-100%"
    assert record["provenance"]["versions"]["torch"].startswith("2.")


def test_evaluate_with_the_pairs_own_lookback_days(capsys, data_root: Path, tmp_path: Path) -> None:
    """A baseline gets the lookback the accuracy benchmark chose for the pair, as ST-VLM's runs
    there did: on nycbike1 at 10%, one, seven and fourteen days (``--set data.lookback_days``
    changes it: tests/cli/test_pair_defaults.py)."""
    out_json = tmp_path / "sm.json"
    assert main(["evaluate", "--dataset", "nycbike1", "--model", "seasonal-mean", "--few-shot", "0.1",
                 "--data-root", str(data_root), "--json", str(out_json)]) == 0
    record = json.loads(out_json.read_text())
    assert record["split"]["lookback_lags"] == [24, 168, 336]
    assert record["split"]["parts"]["train"]["first_start"] == 336  # where two weeks are available
    assert record["split"]["windows"]["train"] == 44
    assert record["metrics"]["test"]["mae"] == pytest.approx(5.5847, abs=1e-4)  # fewshot_accuracy's
    capsys.readouterr()


def test_tgcn_protocol_reports_pooled_horizons(capsys, data_root: Path, tmp_path: Path) -> None:
    out_json = tmp_path / "tgcn.json"
    assert main(["evaluate", "--dataset", "sz-taxi", "--model", "last-value", "--protocol", "tgcn",
                 "--data-root", str(data_root), "--json", str(out_json)]) == 0
    out = capsys.readouterr().out
    assert "accuracy" in out and "step 4 (60 min)" in out and "step 1 (15 min)" in out
    test = json.loads(out_json.read_text())["metrics"]["test"]
    # every entry, the zeros (no taxi) included, as T-GCN scores: 4.2681 without them
    assert test["mae"] == test["mae_all"] == pytest.approx(3.4153, abs=1e-4)


@pytest.mark.slow
@pytest.mark.parametrize("dataset", PRESENT)
def test_every_baseline_runs_on_every_present_dataset(data_root: Path, dataset: str) -> None:
    assert dataset_status(dataset, data_root) == "present"
    forecast = prepare(DataConfig(dataset=dataset, data_root=str(data_root),
                                  few_shot=FewShotConfig(ratio=0.1)))
    train = TrainConfig(epochs=1, batch_size=16, max_batches_per_epoch=3, device="cpu")
    # The two largest models run at small sizes on one real dataset (sz-taxi: adjacency, two
    # lookback lags): even small, a pass over every validation and test window costs 40-50 s on
    # nycbike-drop; tests/baselines covers their shapes and exact pieces on tiny data.
    small = {"gwnet": {"skip_channels": 16, "end_channels": 16, "blocks": 2},
             "staeformer": {"adaptive_embedding_dim": 8, "feed_forward_dim": 16,
                            "temporal_layers": 1, "spatial_layers": 1}}
    for name in BASELINES.names():
        if name in small and dataset != "sz-taxi":  # one real dataset is enough for these two
            continue
        result = evaluate_baseline(forecast, name, small.get(name, {}), train)
        assert math.isfinite(result.test["mae"]), (dataset, name)
        assert result.test["mae"] > 0


def test_present_datasets_are_the_expected_ones(data_root: Path) -> None:
    assert [n for n in dataset_names(data_root) if dataset_status(n, data_root) == "present"] == PRESENT


def test_evaluate_says_the_selection_that_ran(capsys, data_root: Path, tmp_path: Path) -> None:
    """--set data.* applies after the flags: the line and the record name what ran (they named
    the flags' default, first-100%, while ST-LLM's 261-window budget ran)."""
    out_json = tmp_path / "r.json"
    assert main(["evaluate", "--dataset", "nycbike-drop", "--model", "ridge", "--set",
                 "data.few_shot.budget=st-llm-10%", "--data-root", str(data_root), "--json", str(out_json)]) == 0
    out = capsys.readouterr().out
    assert "ridge on nycbike-drop (standard protocol, few-shot first-st-llm-10%, 261 training windows" in out
    record = json.loads(out_json.read_text())
    assert record["few_shot"]["label"] == record["split"]["few_shot"] == "first-st-llm-10%"
    assert out.rstrip().endswith(f"wrote {out_json}")
