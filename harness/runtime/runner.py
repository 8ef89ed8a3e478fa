"""Run a study end to end: validate, connect, search, write results, resume when re-launched.

    spec = load_spec("studies/configs/fewshot.toml")
    outcome = run_study(spec, StudyOptions(storage="/abs/ray", results_dir="/abs/results"))
    outcome.results   # results/<study>/ with trials.parquet, curves.parquet, study.json

Order of work, so that every mistake fails fast with one line:

1. paths: results folder, storage root, data root (relative ones refused inside a Ray job);
2. spec: every arm's ``ExperimentConfig`` built and checked, nuisance bounds included;
3. preflight: each data selection loaded, each random-preset model built once;
4. Ray: connect to the cluster (or start a local instance) and check that a trial fits;
5. Tune: ``Tuner.restore`` when the experiment exists (finished trials are kept, unfinished and
   errored ones resume from their checkpoints), else a new ``Tuner``; then ``fit``.
"""

from __future__ import annotations

import logging
import shutil
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.study.arms import Arm, build_arms
from harness.study.plan import StudyPlan
from harness.study.preflight import PreflightResult, check_metric, preflight
from harness.results.store import RUNNING_CURVES
from harness.study.lock import study_lock
from harness.study.spec import StudySpec
from harness.study.paths import check_optuna_storage, check_output_dir
from harness.study.storage import (
    OPTUNA_FILE,
    default_optuna_storage,
    experiment_path,
    mlflow_tracking_uri,
    resolve_data_root,
    resolve_results_dir,
    resolve_storage,
)
from harness.study.trial_config import STVLM_KIND
from stvlm.errors import ConfigError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class StudyOptions:
    """How and where to run a study (command-line flags of the study scripts)."""

    storage: str | None = None
    results_dir: str | None = None
    data_root: str | None = None
    num_samples: int | None = None
    optuna_storage: str | None = None
    mlflow: bool = False
    mlflow_uri: str | None = None
    address: str | None = None
    num_cpus: int | None = None
    max_report_frequency: int = 15
    verbose: int = 1


@dataclass
class PreparedStudy:
    """A validated study, ready for Ray (no Ray process exists yet)."""

    spec: StudySpec
    arms: list[Arm]
    plan: StudyPlan
    checks: PreflightResult
    results: Path
    storage: str
    experiment_path: str
    optuna_storage: str
    mlflow_uri: str | None = None


@dataclass
class StudyOutcome:
    """What a launch of a study did."""

    name: str
    results: Path
    experiment_path: str
    resumed: bool
    counts: dict[str, int] = field(default_factory=dict)
    wall_seconds: float = 0.0
    optuna_storage: str | None = None
    mlflow_uri: str | None = None
    planned: int = 0  # trials the study plans (every launch together)
    complete: bool = True  # every planned trial has its row; False: stopped (Ctrl-C) before


def prepare_study(spec: StudySpec, options: StudyOptions) -> PreparedStudy:
    """Steps 1-3 of the module docstring (no Ray)."""
    results_dir = resolve_results_dir(options.results_dir)
    storage = resolve_storage(options.storage, results_dir)
    data_root = resolve_data_root(options.data_root)
    if options.num_samples is not None:
        spec = spec.replace(num_samples=options.num_samples)
    if options.optuna_storage is not None:
        spec = spec.replace(optuna_storage=options.optuna_storage)
    check_optuna_storage(spec.optuna_storage)  # before anything starts
    check_output_dir(results_dir / spec.name, "--results-dir")
    optuna_url = spec.optuna_storage or default_optuna_storage(results_dir / spec.name)
    mlflow_uri = None
    if spec.mlflow or options.mlflow:
        mlflow_uri = mlflow_tracking_uri(options.mlflow_uri, results_dir / spec.name)
    arms = build_arms(spec, data_root)
    checks = preflight(arms)
    check_metric(spec.metric, checks)
    plan = StudyPlan(spec, arms, data_root)
    return PreparedStudy(spec, arms, plan, checks, results_dir / spec.name, storage,
                         experiment_path(storage, spec.name), optuna_url, mlflow_uri)


def resumable(experiment: str) -> bool:
    """Whether the Tune experiment at ``experiment`` (a path or URI) can be resumed: Tune's
    ``tuner.pkl`` and at least one saved experiment state. A launch stopped before Tune saved its
    first state (Ctrl-C in its first seconds) leaves the first alone, and ``Tuner.restore`` of it
    logged a 40-line ValueError traceback, then ran the plan from its start as a "resumed" study;
    no trial can have finished by then, so such a study starts afresh."""
    import pyarrow.fs
    from ray import tune

    if not tune.Tuner.can_restore(experiment):
        return False
    fs, path = pyarrow.fs.FileSystem.from_uri(experiment if "://" in experiment else str(Path(experiment).resolve()))
    found = fs.get_file_info(pyarrow.fs.FileSelector(path, allow_not_found=True))
    return any(Path(f.path).name.startswith("experiment_state-") and f.path.endswith(".json") for f in found)


def trial_dirname(trial: Any) -> str:
    """Short, stable trial folder names (``stvlm_<id>``) instead of Tune's config dump."""
    return f"{trial.config.get('kind', 'trial')}_{trial.trial_id}"


class TrialBundles:
    """``tune.with_resources`` callback: the placement group of a trial from its config."""

    def __init__(self, stvlm: dict[str, float], baseline: dict[str, float]) -> None:
        self.stvlm, self.baseline = stvlm, baseline

    def __call__(self, config: dict[str, Any]) -> Any:
        from ray.tune import PlacementGroupFactory

        return PlacementGroupFactory([self.stvlm if config["kind"] == STVLM_KIND else self.baseline])


def _build_tuner(
    study: PreparedStudy, trainable: Any, max_conc: int, options: StudyOptions, restore: bool
) -> Any:
    """The restored ``Tuner`` when ``restore`` (:func:`resumable` said so), else a new one."""
    from ray import tune

    from harness.runtime.progress import make_reporter
    from harness.results.provenance import provenance
    from harness.runtime.schedulers import make_scheduler
    from harness.runtime.search import StudySearcher, optuna_storage
    from harness.runtime.tune_callbacks import ResultsCallback, mlflow_callback

    if restore:
        # Tune restores the first launch's Tuner: its concurrency, progress reporter and callbacks
        log.info("resuming %s from %s (with its first launch's trials at once and progress reports)",
                 study.spec.name, study.experiment_path)
        tuner = tune.Tuner.restore(
            study.experiment_path, trainable=trainable, resume_unfinished=True, resume_errored=True
        )
        return tuner
    spec = study.spec
    info = provenance()
    callbacks = [ResultsCallback(
        str(study.results), spec.name, list(study.checks.metrics), list(study.checks.horizons), info
    )]
    if study.mlflow_uri is not None:
        callbacks.append(mlflow_callback(study.mlflow_uri, spec.name, info))
    tuner = tune.Tuner(
        trainable,
        tune_config=tune.TuneConfig(
            metric=spec.metric,
            mode=spec.mode,
            search_alg=StudySearcher(study.plan, optuna_storage(study.optuna_storage), str(study.results)),
            scheduler=make_scheduler(study.plan),
            num_samples=len(study.plan),
            max_concurrent_trials=max_conc,
            reuse_actors=True,  # one process runs many trials: imports and data paid once
            trial_dirname_creator=trial_dirname,
            trial_name_creator=trial_dirname,
        ),
        run_config=tune.RunConfig(
            name=spec.name,
            storage_path=study.experiment_path.rsplit("/", 1)[0],
            callbacks=callbacks,
            failure_config=tune.FailureConfig(max_failures=spec.max_failures),
            checkpoint_config=tune.CheckpointConfig(num_to_keep=2),
            progress_reporter=make_reporter(
                spec, total_samples=len(study.plan), max_report_frequency=options.max_report_frequency
            ),
            verbose=options.verbose,
        ),
    )
    return tuner


def _own_optuna_file(study: PreparedStudy) -> bool:
    """Whether the study keeps its Optuna studies in its results folder's default ``optuna.db``
    (set aside on a fresh start), not in a storage the user named (refused when it holds them)."""
    return study.optuna_storage == default_optuna_storage(study.results)


def _start_afresh(study: PreparedStudy) -> None:
    """Keep the files of an earlier run that cannot resume aside (``previous/<UTC time>/``) and
    drop its unfinished trials' running curves."""
    from harness.results.study_record import RUN_FILES, set_aside

    aside = set_aside(study.results, RUN_FILES + ((OPTUNA_FILE,) if _own_optuna_file(study) else ()))
    if aside is not None:
        log.warning("study %s starts afresh (no saved Tune experiment at %s); the earlier run's files are "
                    "kept in %s", study.spec.name, study.experiment_path, aside)
    shutil.rmtree(study.results / RUNNING_CURVES, ignore_errors=True)


def _check_own_optuna_storage(study: PreparedStudy) -> None:
    """Refuse a fresh start on a user's Optuna storage that holds this study's groups from an
    earlier run (the default ``optuna.db`` is set aside instead: :func:`_start_afresh`)."""
    from harness.runtime.search import earlier_studies, optuna_storage

    if _own_optuna_file(study):
        return
    found = earlier_studies(optuna_storage(study.optuna_storage), study.spec.name)
    if found:
        raise ConfigError(
            f"study {study.spec.name!r} starts afresh, but the Optuna storage {study.optuna_storage} "
            f"already holds {len(found)} of its studies from an earlier run ({found[0]}, ...), whose "
            "trials the new search would continue from: delete them (optuna delete-study) or give "
            "the study another name"
        )


def run_study(spec: StudySpec, options: StudyOptions = StudyOptions()) -> StudyOutcome:
    """Run (or resume) a study; see the module docstring.

    Raises:
        STVLMError: a bad spec, path, data selection or resource request, before any trial; or
            another launch of the study still running (:mod:`harness.study.lock`).
    """
    from harness.runtime.progress import quiet_ray

    t0 = time.perf_counter()
    quiet_ray()
    study = prepare_study(spec, options)
    with study_lock(study.results, study.spec.name):  # one launch at a time
        return _launch(study, options, t0)


def _launch(study: PreparedStudy, options: StudyOptions, t0: float) -> StudyOutcome:
    """Steps 4-5 of the module docstring for a prepared study whose lock this launch holds."""
    from ray import tune

    from harness.runtime.cluster import connect
    from harness.results.provenance import provenance
    from harness.study.resources import check_fits, max_concurrent, resolve
    from harness.results.store import ResultsStore
    from harness.results.study_record import check_fresh_start, check_resumable, finish_record, start_record
    from harness.runtime.trial import run_trial
    from harness.runtime.trial_runtime import TrialRuntime

    spec = study.spec
    restorable = resumable(study.experiment_path)
    if restorable:
        check_resumable(study.results, spec, study.experiment_path, study.mlflow_uri)
    else:
        check_fresh_start(study.results, spec, study.experiment_path, resumable)
        _check_own_optuna_storage(study)
    cluster = connect(options.address, num_cpus=options.num_cpus)
    try:
        req = resolve(spec.resources, cluster.resources)
        check_fits(req, cluster.nodes, cluster.resources, with_baselines=bool(spec.baselines.models))
        max_conc = max_concurrent(req, cluster.resources, spec.resources.max_concurrent_trials)
        if not restorable:
            _start_afresh(study)
        runtime = TrialRuntime(
            study=spec.name, storage=study.storage, num_workers=req.num_workers, cpus=req.cpus,
            gpus=req.gpus, max_failures=spec.max_failures, baseline_cpus=req.baseline_cpus,
            train_poll_s=spec.resources.train_poll_s, data_root=study.plan.data_root,
        )
        trainable = tune.with_resources(
            tune.with_parameters(run_trial, runtime=runtime),
            TrialBundles(req.trial_bundle(), {"CPU": req.baseline_cpus}),
        )
        record = start_record(
            study.results, spec=spec, arms=study.arms, provenance=provenance(), storage=study.storage,
            experiment_path=study.experiment_path, cluster=cluster.resources, resumed=restorable,
            mlflow_uri=study.mlflow_uri,
        )
        tuner = _build_tuner(study, trainable, max_conc, options, restorable)
        log.info("study %s: %d trials planned, up to %d at once", spec.name, len(study.plan), max_conc)
        tuner.fit()
        store = ResultsStore(study.results, study.checks.metrics, study.checks.horizons)
        counts = dict(Counter(r["status"] for r in store.rows()))
        complete = len(store) >= len(study.plan)  # Ray Tune returns normally after a Ctrl-C
        if complete:  # no trial runs: drop the curves of trials a stopped driver left, re-run since
            shutil.rmtree(study.results / RUNNING_CURVES, ignore_errors=True)
        finish_record(study.results, record, counts=counts, complete=complete)
        return StudyOutcome(spec.name, study.results, study.experiment_path, restorable, counts,
                            time.perf_counter() - t0, study.optuna_storage, study.mlflow_uri,
                            planned=len(study.plan), complete=complete)
    finally:
        cluster.shutdown()
