"""Where a study keeps its checkpoints (storage) and its result tables (results folder).

* **Storage** (Tune experiment, trial checkpoints, Train runs): ``--storage`` or
  ``$STVLM_STORAGE``; an absolute path (local or an NFS mount every node sees) or a URI
  (``s3://bucket/prefix``, ``gs://...``). Default: ``<results folder>/ray``. Tune and Train use
  the same root; the experiment is ``<storage>/<study>``.
* **Optuna storage**: ``--optuna-storage`` or the spec's ``optuna_storage``; default a SQLite
  file ``optuna.db`` in the study's results folder, so ``optuna-dashboard`` and the report's
  parameter importance always have every trial to read.
* **MLflow** (with ``--mlflow`` or ``mlflow = true``): ``--mlflow-uri``, else
  ``$MLFLOW_TRACKING_URI``, else a SQLite file ``mlflow.db`` in the study's results folder.
* **Results** (``trials.parquet``, ``curves.parquet``, ``study.json``): ``--results-dir`` or
  ``$STVLM_RESULTS``, a local path; default ``runs/studies/`` in the checkout, which git
  ignores, so running a study never changes tracked files (committed example results live in
  ``results/``).

Inside ``ray job submit --working-dir .`` the script runs in a temporary copy of the working
dir that is deleted with the job, so relative paths (and the checkout-relative defaults) would
silently lose everything: there, both must be given explicitly and absolute, else
:func:`resolve_storage` / :func:`resolve_results_dir` raise one line before any trial starts.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path

from stvlm.errors import ConfigError

STORAGE_ENV = "STVLM_STORAGE"
RESULTS_ENV = "STVLM_RESULTS"
#: Set by Ray's job supervisor for the entrypoint of `ray job submit` (Ray 2.60).
JOB_ENV = "RAY_JOB_CONFIG_JSON_ENV_VAR"
REPO = Path(__file__).resolve().parents[2]  # harness/<package>/<module>.py -> the repository
#: Where studies write when no results folder is given: git-ignored (``/runs/`` in .gitignore).
DEFAULT_RESULTS = REPO / "runs" / "studies"
#: The default Optuna storage of a study: this SQLite file in its results folder.
OPTUNA_FILE = "optuna.db"
#: The default MLflow tracking store of a study: this SQLite file in its results folder (MLflow 3
#: keeps its file store in maintenance mode and recommends a database).
MLFLOW_FILE = "mlflow.db"
MLFLOW_ENV = "MLFLOW_TRACKING_URI"


def _sqlite_in(study_results: Path, name: str) -> str:
    """``sqlite:////abs/<results>/<study>/<name>`` (the folder is created with the study)."""
    return f"sqlite:///{Path(study_results).resolve() / name}"


def mlflow_tracking_uri(given: str | None, study_results: Path, env: Mapping[str, str] = os.environ) -> str:
    """``--mlflow-uri``, else ``$MLFLOW_TRACKING_URI``, else ``sqlite:////abs/<results>/<study>/mlflow.db``.

    Raises:
        ConfigError: MLflow is not installed (one line with the install command).
    """
    import importlib.util

    if importlib.util.find_spec("mlflow") is None:
        raise ConfigError(
            "MLflow tracking is on (--mlflow or mlflow = true) but the mlflow package is not "
            "installed; pip install 'mlflow-skinny>=3.17,<4' (the project's 'tracking' extra)"
        )
    return given or env.get(MLFLOW_ENV) or _sqlite_in(study_results, MLFLOW_FILE)


def default_optuna_storage(study_results: Path) -> str:
    """``sqlite:////abs/<results>/<study>/optuna.db``."""
    return _sqlite_in(study_results, OPTUNA_FILE)


def ray_job_id(env: Mapping[str, str] = os.environ) -> str | None:
    """The submission id when this process is the entrypoint of a Ray job, else None."""
    raw = env.get(JOB_ENV)
    if not raw:
        return None
    try:
        metadata = json.loads(raw).get("metadata", {})
    except (json.JSONDecodeError, AttributeError):
        metadata = {}
    return str(metadata.get("job_submission_id") or "ray-job")


def is_uri(location: str) -> bool:
    """``s3://...``, ``gs://...``, ``file://...`` (anything with a scheme)."""
    return "://" in location


def _job_error(flag: str, env_var: str, value: str | None, job: str) -> ConfigError:
    what = f"{flag} {value!r} is a relative path" if value else f"{flag} is not given"
    return ConfigError(
        f"{what} inside the Ray job {job} (its working dir is a temporary copy that is deleted); "
        f"pass an absolute path{' or a URI (s3://, gs://)' if flag == '--storage' else ''} "
        f"with {flag} or ${env_var}"
    )


def resolve_results_dir(flag: str | None, env: Mapping[str, str] = os.environ) -> Path:
    """The absolute results folder (see the module docstring)."""
    value = flag or env.get(RESULTS_ENV) or None
    job = ray_job_id(env)
    if value is None:
        if job:
            raise _job_error("--results-dir", RESULTS_ENV, None, job)
        return DEFAULT_RESULTS
    if is_uri(value):
        raise ConfigError(
            f"--results-dir {value!r} is not allowed; give a local folder (URIs go to --storage)"
        )
    path = Path(value).expanduser()
    if not path.is_absolute():
        if job:
            raise _job_error("--results-dir", RESULTS_ENV, value, job)
        path = Path.cwd() / path
    return path.resolve()


def resolve_storage(flag: str | None, results_dir: Path, env: Mapping[str, str] = os.environ) -> str:
    """The storage root: an absolute local path or a URI (see the module docstring)."""
    value = flag or env.get(STORAGE_ENV) or None
    job = ray_job_id(env)
    if value is None:
        if job:
            raise _job_error("--storage", STORAGE_ENV, None, job)
        return str(results_dir / "ray")
    if is_uri(value):
        return value.rstrip("/")
    path = Path(value).expanduser()
    if not path.is_absolute():
        if job:
            raise _job_error("--storage", STORAGE_ENV, value, job)
        path = Path.cwd() / path
    return str(path.resolve())


def resolve_data_root(flag: str | None, env: Mapping[str, str] = os.environ) -> str | None:
    """The data root as an absolute path written into every trial's config (None: $STVLM_DATA).

    A relative ``--data-root`` inside a Ray job would point into the deleted working-dir copy.
    """
    value = flag or env.get("STVLM_DATA") or None
    if value is None:
        return None
    path = Path(value).expanduser()
    if not path.is_absolute():
        job = ray_job_id(env)
        if job:
            raise _job_error("--data-root", "STVLM_DATA", value, job)
        path = Path.cwd() / path
    return str(path.resolve())


def experiment_path(storage: str, study: str) -> str:
    """The Tune experiment folder (or URI) of a study."""
    return f"{storage.rstrip('/')}/{study}"
