"""The study scripts against a loopback Ray head (``ray start --head ... --block``, a child process).

One head serves, with token authentication on (a token of its own, handed to the head and to
every client through ``RAY_AUTH_TOKEN_PATH``: whether Ray finds one in ``~/.ray`` depends on what
ran on the machine before): ``ray job submit --working-dir .`` of ``studies/fewshot.py`` (a client
without the token is refused), the same job with a relative ``--storage`` (refused in one line
before any trial), a study driver SIGKILLed mid-study and launched again, which resumes
without re-running finished trials, and one stopped with Ctrl-C (SIGINT), which says so, how to
resume, and exits 130. The test stops exactly what it started: it terminates the
``ray start --block`` child (which takes its Ray processes down); it never runs ``ray stop``.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import NamedTuple

import polars as pl
import pytest

from tests.harness.helpers import free_port
from tests.load import patient, wait_until

# The events decide (see helpers.wait_until); this is a safety net for a hung test only.
pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(3600)]

REPO = Path(__file__).resolve().parents[2]
RAY = str(Path(sys.executable).parent / "ray")


def saved_states(experiment: Path) -> dict[str, tuple[str, int]]:
    """trial id -> (status, last reported epoch) in the newest experiment state snapshot."""
    snapshots = sorted(experiment.glob("experiment_state-*.json"))
    try:
        trials = json.loads(snapshots[-1].read_text())["trial_data"] if snapshots else []
    except (json.JSONDecodeError, FileNotFoundError):  # being replaced, or removed since the glob
        return {}
    states = {}
    for trial_json, meta_json in trials:
        trial, meta = json.loads(trial_json), json.loads(meta_json)
        states[trial["trial_id"]] = (trial["status"], int(meta["last_result"].get("epoch", 0)))
    return states


def spec_toml(path: Path, name: str, *, ratios: str, num_samples: int, epochs: int, concurrent: int) -> Path:
    path.write_text(f"""
name = "{name}"
dataset = "nycbike-drop"
preset = "tiny"
seeds = [0]
num_samples = {num_samples}
max_failures = 1
[fixed]
"train.epochs" = {epochs}
"train.max_batches_per_epoch" = 2
"train.batch_size" = 8
"train.patience" = {epochs}
[scientific]
axes = {{ few_shot_ratio = [{ratios}] }}
[nuisance."train.lr"]
distribution = "loguniform"
low = 1e-4
high = 1e-2
[resources]
max_concurrent_trials = {concurrent}
[scheduler]
name = "fifo"
""")
    return path


class Head(NamedTuple):
    gcs: str  # 127.0.0.1:<port>
    dashboard: str  # http://127.0.0.1:<port>
    token: Path  # the cluster's authentication token (a file)


@pytest.fixture(scope="module")
def head(tmp_path_factory: pytest.TempPathFactory):
    """A loopback head node with 2 CPUs and 2 study_driver slots and token authentication."""
    port, dash = free_port(), free_port()
    folder = tmp_path_factory.mktemp("head")
    logs, token = folder / "head.log", folder / "auth_token"
    token.write_text(secrets.token_hex(32))
    # A private temp dir: `ray start` records its address there, not in /tmp/ray where every
    # other `ray.init()` on the machine would find it (and `--block` never removes it).
    temp_dir = tempfile.mkdtemp(prefix="rayt", dir="/tmp")
    cmd = [
        RAY, "start", "--head", "--node-ip-address=127.0.0.1", "--dashboard-host=127.0.0.1",
        f"--temp-dir={temp_dir}",
        f"--port={port}", f"--dashboard-port={dash}", f"--ray-client-server-port={free_port()}",
        f"--dashboard-agent-listen-port={free_port()}", f"--metrics-export-port={free_port()}",
        "--num-cpus=2", '--resources={"study_driver": 2}', "--block",
    ]
    with open(logs, "w") as log:
        # Without it Ray turns --node-ip-address=127.0.0.1 into the machine's routable address.
        loopback = {**client_env(token), "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0"}
        child = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                                 env=loopback)
    try:
        env = client_env(token, f"http://127.0.0.1:{dash}")
        # The event is a job run to its end: `ray job list` answers before the head's dashboard
        # agent has registered, and a submission then fails ("No available agent to submit job").
        wait_until(
            lambda: subprocess.run([RAY, "job", "submit", "--address", f"http://127.0.0.1:{dash}", "--",
                                    sys.executable, "-c", "pass"], env=env, capture_output=True).returncode == 0,
            what="the job server running a job", seconds=90, alive=lambda: child.poll() is None, poll=1,
        )
        yield Head(f"127.0.0.1:{port}", f"http://127.0.0.1:{dash}", token)
    finally:
        child.send_signal(signal.SIGTERM)  # `ray start --block` stops its Ray processes on exit
        try:
            child.wait(timeout=60)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
        shutil.rmtree(temp_dir, ignore_errors=True)


def client_env(token: Path | None, address: str | None = None) -> dict[str, str]:
    """This process's environment for a Ray client (or the head): token authentication with
    ``token`` (``None``: no token and no auth setting of ours), ``RAY_ADDRESS`` only if given."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("RAY_ADDRESS", "RAY_AUTH_MODE", "RAY_AUTH_TOKEN", "RAY_AUTH_TOKEN_PATH")}
    env["PYTHONUNBUFFERED"] = "1"
    if token is not None:
        env.update(RAY_AUTH_MODE="token", RAY_AUTH_TOKEN_PATH=str(token))
    if address:
        env["RAY_ADDRESS"] = address
    return env


def submit(head: Head, *script_args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [RAY, "job", "submit", "--address", head.dashboard, "--working-dir", str(REPO), "--",
         sys.executable, *script_args],
        env=client_env(head.token), capture_output=True, text=True, timeout=patient(300),
    )


def test_job_submit_runs_the_study_and_refuses_relative_storage(head, data_root: Path, tmp_path: Path) -> None:
    refused = subprocess.run([RAY, "job", "list", "--address", head.dashboard], env=client_env(None),
                             capture_output=True, text=True, timeout=patient(120))
    assert refused.returncode != 0 and "token" in (refused.stdout + refused.stderr).lower()
    spec = spec_toml(tmp_path / "job.toml", "job", ratios="0.05, 0.1", num_samples=1, epochs=2, concurrent=2)
    out = submit(head, "studies/fewshot.py", "--config", str(spec), "--storage", str(tmp_path / "ray"),
                 "--results-dir", str(tmp_path / "results"), "--data-root", str(data_root))
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-2000:]
    assert f"results: {tmp_path / 'results' / 'job' / 'trials.parquet'}" in out.stdout
    trials = pl.read_parquet(tmp_path / "results" / "job" / "trials.parquet").sort("arm")
    assert trials.select("arm", "status", "epochs_run").rows() == [
        ("few_shot_ratio=0.05", "completed", 2), ("few_shot_ratio=0.1", "completed", 2)]
    assert json.loads((tmp_path / "results" / "job" / "study.json").read_text())["storage"] == str(tmp_path / "ray")

    bad = submit(head, "studies/fewshot.py", "--config", str(spec), "--storage", "relative/ray",
                 "--results-dir", str(tmp_path / "results"), "--data-root", str(data_root))
    assert bad.returncode != 0
    assert "fewshot.py: error: --storage 'relative/ray' is a relative path inside the Ray job raysubmit_" in bad.stdout


def test_killed_driver_resumes_without_rerunning_finished_trials(head, data_root: Path, tmp_path: Path) -> None:
    spec = spec_toml(tmp_path / "resume.toml", "resume", ratios="0.1", num_samples=2, epochs=4, concurrent=1)
    cmd = [sys.executable, "studies/hpo.py", "--config", str(spec), "--storage", str(tmp_path / "ray"),
           "--results-dir", str(tmp_path / "results"), "--data-root", str(data_root)]
    experiment, trials_file = tmp_path / "ray" / "resume", tmp_path / "results" / "resume" / "trials.parquet"
    with open(tmp_path / "first.log", "w") as log:
        driver = subprocess.Popen(cmd, cwd=REPO, env=client_env(head.token, head.gcs), stdout=log, stderr=subprocess.STDOUT)
    running: list[str] = []

    def one_finished_and_the_next_checkpointed() -> bool:
        finished = pl.read_parquet(trials_file)["trial_id"].to_list() if trials_file.is_file() else []
        states = saved_states(experiment)  # what Tuner.restore will read
        running[:] = [t for t, (status, epoch) in states.items() if status == "RUNNING" and epoch >= 1]
        return bool(finished and states.get(finished[0], ("",))[0] == "TERMINATED" and running)

    try:
        try:
            wait_until(one_finished_and_the_next_checkpointed, seconds=240,
                       what="one trial finished and the next checkpointed",
                       alive=lambda: driver.poll() is None)
        except AssertionError as err:
            raise AssertionError(f"{err}\n{(tmp_path / 'first.log').read_text()[-3000:]}") from None
    finally:
        driver.kill()  # SIGKILL: no chance to save anything
        driver.wait()
    before = pl.read_parquet(trials_file)
    assert before.height == 1
    # the finished trial's reports are in the storage, where a resumed ASHA reads them back
    # (harness.runtime.schedulers.recorded_results): a report per epoch and the final one
    done = before.row(0, named=True)
    stored = next(experiment.glob(f"*_{done['trial_id']}")) / "result.json"
    reports = [json.loads(line) for line in stored.read_text().splitlines()]
    assert [r["training_iteration"] for r in reports] == list(range(1, done["epochs_run"] + 2 if done["kind"] == "stvlm" else 2))
    assert all(r["val_mae"] > 0 for r in reports)

    again = subprocess.run(cmd, cwd=REPO, env=client_env(head.token, head.gcs), capture_output=True, text=True,
                           timeout=patient(300))
    assert again.returncode == 0, again.stdout[-3000:] + again.stderr[-2000:]
    assert "study resume resumed and finished" in again.stdout
    after = pl.read_parquet(trials_file)
    assert after.height == 2 and after["trial_id"].n_unique() == 2
    assert set(after["status"]) == {"completed"} and set(after["epochs_run"]) == {4}
    kept = after.filter(pl.col("trial_id") == before["trial_id"][0])
    assert kept.select("started_at", "finished_at").rows() == before.select("started_at", "finished_at").rows()
    interrupted = after.filter(pl.col("trial_id") == running[0]).row(0, named=True)
    assert interrupted["resumed_from_epoch"] >= 1
    record = json.loads((tmp_path / "results" / "resume" / "study.json").read_text())
    assert [r["resumed"] for r in record["runs"]] == [False, True] and record["finished_at"] is not None


def test_a_driver_killed_before_tune_saved_a_finished_trial_resumes_with_one_row_per_planned_trial(
        head, data_root: Path, tmp_path: Path) -> None:
    """Tune saves its state every 10 s or more, not when a trial ends. Here it saves once, at the
    start (``TUNE_GLOBAL_CHECKPOINT_S``), and the driver is SIGKILLed after the first trial ended:
    its resume failed (the re-run reported to a finished Optuna trial) or ran the planned trial
    again beside its row."""
    spec = spec_toml(tmp_path / "late.toml", "late", ratios="0.1", num_samples=2, epochs=2, concurrent=1)
    cmd = [sys.executable, "studies/hpo.py", "--config", str(spec), "--storage", str(tmp_path / "ray"),
           "--results-dir", str(tmp_path / "results"), "--data-root", str(data_root)]
    trials_file = tmp_path / "results" / "late" / "trials.parquet"
    env = {**client_env(head.token, head.gcs), "TUNE_GLOBAL_CHECKPOINT_S": "3600"}
    with open(tmp_path / "first.log", "w") as log:
        driver = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        try:
            wait_until(trials_file.is_file, seconds=240, what="the first trial's row",
                       alive=lambda: driver.poll() is None)
        except AssertionError as err:
            raise AssertionError(f"{err}\n{(tmp_path / 'first.log').read_text()[-3000:]}") from None
    finally:
        driver.kill()  # SIGKILL: Tune's state is the one saved at the start
        driver.wait()
    before = pl.read_parquet(trials_file)
    assert before.select("plan_index", "status").rows() == [(0, "completed")]

    again = subprocess.run(cmd, cwd=REPO, env=client_env(head.token, head.gcs), capture_output=True, text=True,
                           timeout=patient(300))
    assert again.returncode == 0, again.stdout[-3000:] + again.stderr[-2000:]
    assert "study late resumed and finished" in again.stdout
    after = pl.read_parquet(trials_file).sort("plan_index")
    assert after.select("plan_index", "status").rows() == [(0, "completed"), (1, "completed")]
    assert not (trials_file.parent / ".running-curves").exists()  # none left by the killed launch
    optuna_db = tmp_path / "results" / "late" / "optuna.db"
    import optuna

    told = optuna.load_study(study_name="late/few_shot_ratio=0.1|seed=0", storage=f"sqlite:///{optuna_db}")
    assert [t.state.name for t in told.get_trials()].count("COMPLETE") == 2


def test_ctrl_c_stops_the_study_with_a_resume_hint_and_exit_130(head, data_root: Path, tmp_path: Path) -> None:
    """Ray Tune catches SIGINT, saves its state and returns: the script must not report the
    study as finished (nor exit 0, so that `&& stvlm report` does not run on half a study)."""
    spec = spec_toml(tmp_path / "stop.toml", "stop", ratios="0.1", num_samples=2, epochs=200, concurrent=1)
    cmd = [sys.executable, "studies/hpo.py", "--config", str(spec), "--storage", str(tmp_path / "ray"),
           "--results-dir", str(tmp_path / "results"), "--data-root", str(data_root)]
    with open(tmp_path / "driver.log", "w") as log:
        driver = subprocess.Popen(cmd, cwd=REPO, env=client_env(head.token, head.gcs), stdout=log,
                                  stderr=subprocess.STDOUT)
    try:
        wait_until(lambda: any(status == "RUNNING" and epoch >= 1
                               for status, epoch in saved_states(tmp_path / "ray" / "stop").values()),
                   seconds=240, what="a trial reporting its first epoch", alive=lambda: driver.poll() is None)
        driver.send_signal(signal.SIGINT)  # what Ctrl-C sends the driver
        code = driver.wait(timeout=patient(120))
    finally:
        if driver.poll() is None:
            driver.kill()
            driver.wait()
    out = (tmp_path / "driver.log").read_text()
    assert code == 130, out[-3000:]
    assert "study stop stopped before its end after" in out and "of 2 planned trials recorded" in out
    assert "the same command resumes it" in out and "study stop finished" not in out
    record = json.loads((tmp_path / "results" / "stop" / "study.json").read_text())
    assert record["finished_at"] is None and record["runs"][-1]["finished_at"] is not None
