"""Real Tune studies on a simulated 2-node cluster (``ray.cluster_utils.Cluster``, shut down at the end).

One cluster start-up serves these scenarios: a few-shot study (2 arms x 1 seed, tiny ViLT, plus
a baseline on the same splits) whose trials land on both nodes and one of whose trial processes
is killed mid-run and retried from its checkpoint; a 2-worker DDP TorchTrainer trial on CPU; an
empty 2-worker TorchTrainer run (the benchmark's measure of Ray Train's own cost); a request
that can never fit, refused before any trial starts; a worker node removed mid-study.
"""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

from harness.runtime.progress import quiet_ray
from harness.runtime.runner import StudyOptions, run_study
from stvlm.errors import ConfigError
from tests.harness.helpers import TrialKiller, tiny_study
from tests.load import patient

# Studies wait on trial events; this is a safety net for a hung test only (a loaded 2-core
# machine ran these 3-5x slower than idle).
pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(3600)]


def _forget_address(address: str) -> None:
    """Cluster() records its address in /tmp/ray/ray_current_cluster, where any `ray.init()` on
    the machine would join it; this test connects by address, so drop the record if it is ours."""
    record = Path("/tmp/ray/ray_current_cluster")
    if record.is_file() and record.read_text().strip() == address:
        record.unlink()


@pytest.fixture(scope="module")
def cluster():
    import ray
    from ray.cluster_utils import Cluster

    from harness.runtime.cluster import loopback_only

    quiet_ray()
    loopback_only()  # every node's servers on 127.0.0.1
    two_nodes = Cluster(
        initialize_head=True,
        head_node_args={"num_cpus": 1, "resources": {"study_driver": 2}, "include_dashboard": True,
                        "dashboard_host": "127.0.0.1"},
    )
    _forget_address(two_nodes.address)
    try:
        two_nodes.add_node(num_cpus=1)
        two_nodes.wait_for_nodes(timeout=patient(60))
        ray.init(address=two_nodes.address, log_to_driver=False)
        assert {n["NodeManagerAddress"] for n in ray.nodes()} == {"127.0.0.1"}
        yield two_nodes
    finally:
        ray.shutdown()
        two_nodes.shutdown()


def test_fewshot_study_on_two_nodes_survives_a_killed_trial(cluster, data_root: Path, tmp_path: Path) -> None:
    spec = tiny_study("two-nodes")
    options = StudyOptions(storage=str(tmp_path / "ray"), results_dir=str(tmp_path / "results"),
                           data_root=str(data_root), max_report_frequency=60, verbose=0)
    killer = TrialKiller(tmp_path / "ray" / "two-nodes")
    killer.start()
    outcome = run_study(spec, options)
    killer.stop.set()
    trials = pl.read_parquet(tmp_path / "results" / "two-nodes" / "trials.parquet").sort("kind", "arm")
    assert trials.select("kind", "arm", "model", "status", "few_shot_ratio").rows() == [
        ("baseline", "few_shot_ratio=0.05", "last-value", "completed", 0.05),
        ("baseline", "few_shot_ratio=0.1", "last-value", "completed", 0.1),
        ("stvlm", "few_shot_ratio=0.05", "stvlm", "completed", 0.05),
        ("stvlm", "few_shot_ratio=0.1", "stvlm", "completed", 0.1),
    ]
    assert outcome.counts == {"completed": 4} and not outcome.resumed
    assert (outcome.planned, outcome.complete) == (4, True)
    assert trials["node_id"].n_unique() == 2  # trials ran on both nodes
    stvlm = trials.filter(pl.col("kind") == "stvlm")
    assert stvlm["epochs_run"].to_list() == [3, 3] and stvlm["test_mae"].null_count() == 0
    assert stvlm["train_windows"].to_list() == [33, 66]
    assert all(json.loads(p)["train.lr"] > 0 for p in stvlm["params_json"])
    # the killed trial was retried from its checkpoint and still finished with its row and full curve
    assert killer.killed is not None
    killed = trials.filter(pl.col("trial_id") == killer.killed).row(0, named=True)
    assert (killed["num_failures"], killed["status"]) == (1, "completed")
    assert killed["resumed_from_epoch"] >= 1
    curves = pl.read_parquet(tmp_path / "results" / "two-nodes" / "curves.parquet")
    assert curves.filter(pl.col("trial_id") == killer.killed)["epoch"].to_list() == [1, 2, 3]
    record = json.loads((tmp_path / "results" / "two-nodes" / "study.json").read_text())
    assert record["finished_at"] is not None and record["runs"][0]["trials"] == {"completed": 4}


def test_ddp_trial_with_two_train_workers(cluster, data_root: Path, tmp_path: Path) -> None:
    spec = tiny_study(
        "ddp", scientific={}, baselines={}, nuisance={}, resources={"cpus_per_trial": 1, "num_workers": 2},
        scheduler={"name": "fifo"}, fixed={"train.epochs": 2, "train.max_batches_per_epoch": 2,
                                           "train.batch_size": 8, "data.few_shot.ratio": 0.1},
    )
    outcome = run_study(spec, StudyOptions(storage=str(tmp_path / "ray"), results_dir=str(tmp_path / "results"),
                                           data_root=str(data_root), verbose=0))
    row = pl.read_parquet(outcome.results / "trials.parquet").row(0, named=True)
    assert (row["status"], row["num_workers"], row["epochs_run"]) == ("completed", 2, 2)
    # each of the 2 workers trains on its half of the 66 windows: 2 batches of 8 per epoch each
    assert row["windows_seen"] == 2 * 2 * 2 * 8 and row["train_windows"] == 66
    # rank 0's time outside its epochs; the rest of the trial's wall time is Ray Train's
    assert row["setup_seconds"] > 0 and row["eval_seconds"] > 0
    assert row["setup_seconds"] + row["train_seconds"] + row["eval_seconds"] < row["wall_seconds"]
    assert (tmp_path / "ray" / "ddp-train" / row["trial_id"]).is_dir()  # the Train run, named by trial id


def test_an_empty_train_run_measures_ray_trains_own_cost(cluster, tmp_path: Path, monkeypatch) -> None:
    from harness.runtime.train_driver import empty_train_seconds

    monkeypatch.delenv("RAY_TRAIN_HEALTH_CHECK_INTERVAL_S", raising=False)  # restored afterwards
    seconds = empty_train_seconds(2, str(tmp_path / "empty"), 0.25)
    assert seconds > 0
    assert [p.name[:6] for p in (tmp_path / "empty").iterdir()] == ["empty-"]  # one run, named


def test_a_request_that_can_never_fit_fails_before_any_trial(cluster, data_root: Path, tmp_path: Path) -> None:
    spec = tiny_study("too-big", resources={"cpus_per_trial": 2})
    with pytest.raises(ConfigError) as info:
        run_study(spec, StudyOptions(storage=str(tmp_path / "ray"), results_dir=str(tmp_path / "results"),
                                     data_root=str(data_root)))
    assert str(info.value).startswith(
        "resources: a trial asks for {CPU: 2} on one node but the cluster has {CPU: 2, study_driver: 2} over 2 node(s)")
    assert not (tmp_path / "ray" / "too-big").exists()


def test_a_worker_node_removed_mid_study_loses_no_row(cluster, data_root: Path, tmp_path: Path) -> None:
    """A worker node dies while an ST-VLM trial runs on it: the trial is rescheduled on the node
    that is left (from its checkpoint) and every row of the study is present. A fresh worker
    node is added back afterwards for whatever runs next."""
    import threading
    import time


    (worker,) = list(cluster.worker_nodes)
    experiment = tmp_path / "ray" / "lost-node"
    removed: dict[str, str] = {}

    def remove_when_a_trial_reports_from_it() -> None:
        start = time.monotonic()
        while time.monotonic() - start < patient(300) and not removed:
            for result in experiment.glob("stvlm_*/result.json"):
                try:
                    first = json.loads(result.read_text().splitlines()[0])
                except (IndexError, json.JSONDecodeError):  # being written
                    continue
                if first.get("node_id") == worker.node_id:
                    removed["trial_id"] = result.parent.name.split("_", 1)[1]
                    cluster.remove_node(worker)  # every process of that node, at once
                    return
            time.sleep(0.2)

    remover = threading.Thread(target=remove_when_a_trial_reports_from_it, daemon=True)
    remover.start()
    try:
        spec = tiny_study("lost-node", baselines={}, scheduler={"name": "fifo"}, max_failures=2)
        outcome = run_study(spec, StudyOptions(storage=str(tmp_path / "ray"), results_dir=str(tmp_path / "results"),
                                               data_root=str(data_root), max_report_frequency=60, verbose=0))
        remover.join(timeout=1)
        trials = pl.read_parquet(outcome.results / "trials.parquet")
        assert removed, "no ST-VLM trial ran on the worker node"
        assert trials.height == 2 and set(trials["status"]) == {"completed"}
        lost = trials.filter(pl.col("trial_id") == removed["trial_id"]).row(0, named=True)
        assert lost["num_failures"] >= 1 and lost["node_id"] != worker.node_id  # finished elsewhere
        assert lost["epochs_run"] == 3
    finally:
        if not cluster.worker_nodes:
            cluster.add_node(num_cpus=1)
            cluster.wait_for_nodes(timeout=patient(60))


def test_a_fresh_start_keeps_the_earlier_runs_files(cluster, data_root: Path, tmp_path: Path) -> None:
    """Without its Tune experiment a study cannot resume and starts afresh: the earlier run's
    tables, record and Optuna file move together into previous/<time>/ (they had been renamed
    .prev, overwriting the .prev of any run before, and study.json and optuna.db were reused)."""
    import shutil

    spec = tiny_study("afresh", scientific={"axes": {"few_shot_ratio": [0.1]}}, baselines={"models": []})
    options = StudyOptions(storage=str(tmp_path / "ray"), results_dir=str(tmp_path / "results"),
                           data_root=str(data_root), max_report_frequency=60, verbose=0)
    results = tmp_path / "results" / "afresh"
    run_study(spec, options)
    names = ("trials.parquet", "curves.parquet", "study.json", "optuna.db")
    first = {name: (results / name).read_bytes() for name in names}
    shutil.rmtree(tmp_path / "ray" / "afresh")  # the Tune experiment: nothing left to resume
    outcome = run_study(spec, options)
    assert not outcome.resumed and outcome.complete
    (kept,) = (results / "previous").iterdir()
    assert {name: (kept / name).read_bytes() for name in first} == first
    assert json.loads((results / "study.json").read_text())["runs"][0]["resumed"] is False
    assert pl.read_parquet(results / "trials.parquet").height == 1
