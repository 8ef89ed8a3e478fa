"""Storage and results paths: defaults, absolute paths, URIs, and the Ray-job trap."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from harness.study.storage import (
    JOB_ENV, REPO, experiment_path, is_uri, ray_job_id, resolve_data_root, resolve_results_dir,
    mlflow_tracking_uri, resolve_storage,
)
from stvlm.errors import ConfigError

JOB = {JOB_ENV: json.dumps({"runtime_env": {}, "metadata": {"job_submission_id": "raysubmit_abc"}})}


def test_job_detection() -> None:
    assert ray_job_id({}) is None
    assert ray_job_id(JOB) == "raysubmit_abc"
    assert ray_job_id({JOB_ENV: "not json"}) == "ray-job"


def test_local_defaults_and_relative_paths(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert resolve_results_dir(None, {}) == REPO / "runs" / "studies"
    assert resolve_storage(None, tmp_path / "res", {}) == str(tmp_path / "res" / "ray")
    assert resolve_results_dir("out", {}) == tmp_path / "out"
    assert resolve_storage("ckpt", tmp_path, {}) == str(tmp_path / "ckpt")
    assert resolve_storage(None, tmp_path, {"STVLM_STORAGE": "s3://bucket/x/"}) == "s3://bucket/x"
    assert resolve_results_dir(None, {"STVLM_RESULTS": str(tmp_path / "r")}) == tmp_path / "r"
    assert resolve_data_root("data", {}) == str(tmp_path / "data")
    assert resolve_data_root(None, {}) is None
    assert experiment_path("s3://b/p/", "study") == "s3://b/p/study"
    assert (is_uri("gs://b"), is_uri("/abs")) == (True, False)


def test_inside_a_job_absolute_paths_and_uris_pass(tmp_path: Path) -> None:
    assert resolve_storage(str(tmp_path), tmp_path, JOB) == str(tmp_path)
    assert resolve_storage("gs://b/p", tmp_path, JOB) == "gs://b/p"
    assert resolve_results_dir(str(tmp_path), JOB) == tmp_path


@pytest.mark.parametrize(
    ("call", "expected"),
    [
        (lambda: resolve_storage("results/ray", Path("/abs"), JOB),
         "--storage 'results/ray' is a relative path inside the Ray job raysubmit_abc (its working dir is a "
         "temporary copy that is deleted); pass an absolute path or a URI (s3://, gs://) with --storage or $STVLM_STORAGE"),
        (lambda: resolve_storage(None, Path("/abs"), JOB),
         "--storage is not given inside the Ray job raysubmit_abc"),
        (lambda: resolve_results_dir("results", JOB),
         "--results-dir 'results' is a relative path inside the Ray job raysubmit_abc"),
        (lambda: resolve_results_dir(None, JOB), "--results-dir is not given inside the Ray job raysubmit_abc"),
        (lambda: resolve_data_root("data", JOB), "--data-root 'data' is a relative path inside the Ray job"),
        (lambda: resolve_results_dir("s3://b/r", {}), "--results-dir 's3://b/r' is not allowed; give a local folder"),
    ],
)
def test_errors_are_one_line(call, expected: str) -> None:
    with pytest.raises(ConfigError) as info:
        call()
    assert str(info.value).startswith(expected) and "\n" not in str(info.value)


CHECKOUT = Path(__file__).resolve().parents[2]  # this test's own repository, found independently


def test_a_report_inside_a_job_needs_an_absolute_folder(tmp_path: Path) -> None:
    """studies/report.py in a Ray job: a relative report folder would be written into the
    job's temporary copy of the checkout and deleted with it."""
    from harness.cli.commands.report import check_job_output

    def args(*results: str, out: str | None = None):
        return argparse.Namespace(results=list(results), out=out)

    with pytest.raises(ConfigError) as info:
        check_job_output(args("runs/studies/a"), JOB)
    assert str(info.value) == ("the report folder 'runs/studies/a/report' is a relative path inside the Ray job "
                               "raysubmit_abc (its working dir is a temporary copy that is deleted); pass an absolute --out")
    with pytest.raises(ConfigError, match="the report folder 'compare' is a relative path"):
        check_job_output(args(str(tmp_path), out="compare"), JOB)
    check_job_output(args("results/a", out=str(tmp_path)), JOB)  # committed inputs travel with the upload
    check_job_output(args(str(tmp_path / "a")), JOB)
    check_job_output(args("runs/studies/a"), {})  # outside a job: relative to the current folder


def test_the_repository_root_is_the_checkout() -> None:
    """Default results and provenance are found from the module's own path; a move of the module
    between packages once sent the README's main job to harness/runs/ and skipped the test below."""
    from harness.results import provenance

    assert REPO == provenance.REPO == CHECKOUT and (CHECKOUT / "pyproject.toml").is_file()
    assert resolve_results_dir(None, {}) == CHECKOUT / "runs" / "studies"


def test_default_results_and_storage_are_git_ignored(tmp_path: Path) -> None:
    """The README's main job writes under the defaults: a fresh clone must stay clean."""
    import shutil
    import subprocess

    if shutil.which("git") is None or not (CHECKOUT / ".git").exists():
        pytest.skip("not a git checkout")
    default = resolve_results_dir(None, {})
    for path in (default / "fewshot-nycbike-drop-smoke" / "trials.parquet",
                 Path(resolve_storage(None, default, {})) / "fewshot-nycbike-drop-smoke" / "x.json"):
        rel = path.relative_to(REPO)
        proc = subprocess.run(["git", "-C", str(REPO), "check-ignore", "-q", str(rel)])
        assert proc.returncode == 0, f"{rel} is not git-ignored"


def test_mlflow_tracking_uri_flag_env_default(tmp_path: Path) -> None:
    study = tmp_path / "results" / "s"
    assert mlflow_tracking_uri(None, study, env={}) == f"sqlite:///{study.resolve()}/mlflow.db"
    assert mlflow_tracking_uri(None, study, env={"MLFLOW_TRACKING_URI": "http://127.0.0.1:5000"}) == \
        "http://127.0.0.1:5000"
    assert mlflow_tracking_uri("sqlite:////x/m.db", study, env={"MLFLOW_TRACKING_URI": "http://h"}) == \
        "sqlite:////x/m.db"


def test_mlflow_without_the_package_is_one_line_with_the_install_command(monkeypatch, tmp_path: Path) -> None:
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "mlflow" else real(name, *a))
    with pytest.raises(ConfigError, match=r"^MLflow tracking is on \(--mlflow or mlflow = true\) but the mlflow "
                       r"package is not installed; pip install 'mlflow-skinny>=3.17,<4' \(the project's "
                       r"'tracking' extra\)$"):
        mlflow_tracking_uri(None, tmp_path, env={})
