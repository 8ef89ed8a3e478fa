"""The Tune callbacks of a study: its result tables, and MLflow tracking when switched on.

:class:`ResultsCallback` turns every per-epoch report (its ``epoch_*`` columns) into a curve
row, keeps the curve of each running trial on disk, and when a trial finishes (completed,
stopped by ASHA, or failed after all retries) writes its row and curve through
:class:`harness.results.store.ResultsStore`, so the Parquet files are current after every finished
trial and an interrupted study loses no epoch it had reported.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime, timezone
from typing import Any

from ray.tune import Callback
from ray.tune.experiment import Trial

from harness.results.store import ResultsStore, curve_row, trial_row

log = logging.getLogger(__name__)


def iso(ts: float | None = None) -> str:
    """An ISO 8601 UTC timestamp (now when ``ts`` is None)."""
    when = datetime.now(timezone.utc) if ts is None else datetime.fromtimestamp(ts, timezone.utc)
    return when.isoformat(timespec="seconds")


def error_line(trial: Trial) -> str:
    """The last line of a failed trial's error trace (what raised, and why)."""
    try:
        text = trial.get_error() or ""
    except Exception:  # noqa: BLE001 - the error file may be gone
        text = ""
    lines = [ln.strip() for ln in str(text).splitlines() if ln.strip()]
    return (lines[-1] if lines else "the trial failed without an error message")[:500]


class ResultsCallback(Callback):
    """Writes ``trials.parquet`` and ``curves.parquet`` after every finished trial.

    Args:
        folder: ``results/<study>``.
        study: study name.
        metrics: the protocol's metric names.
        horizons: the protocol's report horizons.
        provenance: ``harness.results.provenance.provenance()`` of the study driver.
    """

    def __init__(self, folder: str, study: str, metrics: list[str], horizons: list[int], provenance: dict):
        self.folder = folder
        self.study = study
        self.metrics = list(metrics)
        self.horizons = list(horizons)
        self.provenance = provenance
        self._reset()

    def _reset(self) -> None:
        self._store: ResultsStore | None = None
        self._curves: dict[str, dict[int, dict[str, Any]]] = {}
        self._started: dict[str, float] = {}

    def __getstate__(self) -> dict[str, Any]:  # pickled into the experiment: settings only
        state = self.__dict__.copy()
        for key in ("_store", "_curves", "_started"):
            state.pop(key, None)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._reset()

    @property
    def store(self) -> ResultsStore:
        if self._store is None:
            self._store = ResultsStore(self.folder, self.metrics, self.horizons)
        return self._store

    def setup(self, **info: Any) -> None:
        """Every launch, a resumed one too (whose callback comes from the first launch's
        pickle): the rows it writes name this launch's code and packages."""
        from harness.results.provenance import provenance

        self._store = ResultsStore(self.folder, self.metrics, self.horizons)
        self.provenance = provenance()

    def on_trial_start(self, iteration: int, trials: list[Trial], trial: Trial, **info: Any) -> None:
        self._started.setdefault(trial.trial_id, datetime.now(timezone.utc).timestamp())

    def on_trial_result(
        self, iteration: int, trials: list[Trial], trial: Trial, result: dict, **info: Any
    ) -> None:
        if result.get("final") != 0 or "epoch_seconds" not in result:
            return  # the final report (or a baseline's only one) adds no epoch
        curve = self._curve(trial.trial_id)
        curve[int(result["epoch"])] = curve_row(
            study=self.study, trial_id=trial.trial_id, config=trial.config, result=result)
        self.store.save_running_curve(trial.trial_id, list(curve.values()))

    def _curve(self, trial_id: str) -> dict[int, dict[str, Any]]:
        """The epochs a trial has reported, by epoch; after a driver restart, from disk."""
        if trial_id not in self._curves:
            self._curves[trial_id] = {int(r["epoch"]): r for r in self.store.running_curve(trial_id)}
        return self._curves[trial_id]

    def on_trial_complete(self, iteration: int, trials: list[Trial], trial: Trial, **info: Any) -> None:
        status = "completed" if (trial.last_result or {}).get("final") else "pruned"
        self._write(trial, status)

    def on_trial_error(self, iteration: int, trials: list[Trial], trial: Trial, **info: Any) -> None:
        self._write(trial, "failed", error_line(trial))

    def _write(self, trial: Trial, status: str, error: str | None = None) -> None:
        result = trial.last_result or {}
        started = self._started.get(trial.trial_id)
        if result.get("timestamp") and result.get("time_total_s") is not None:
            derived = result["timestamp"] - result["time_total_s"]
            started = min(started, derived) if started else derived
        meta = {
            "versions_json": json.dumps(self.provenance.get("versions", {}), sort_keys=True),
            "git_commit": self.provenance.get("git_commit"),
            "started_at": iso(started) if started else None,
            "finished_at": iso(),
            "wall_seconds": result.get("time_total_s"),
            "num_failures": trial.num_failures,
        }
        row = trial_row(
            study=self.study, trial_id=trial.trial_id, config=trial.config, result=result,
            status=status, error=error, meta=meta,
        )
        curve = list(self._curve(trial.trial_id).values())
        self._curves.pop(trial.trial_id, None)
        self.store.upsert(row, curve)
        config = trial.config
        log.info("trial %s (%s, seed %s): %s", trial.trial_id, config.get("arm"), config.get("seed"), status)


def mlflow_callback(tracking_uri: str, study: str, provenance: dict[str, Any]) -> Callback:
    """Ray Tune's own ``MLflowLoggerCallback``: one MLflow experiment per study (its name), one run
    per trial with the flattened trial config as parameters and every report as metrics
    (``val_mae``, ``train_loss``, ``lr``, ... per epoch), tagged with the code's commit."""
    from ray.air.integrations.mlflow import MLflowLoggerCallback

    tags = {"study": study, "git_commit": str(provenance.get("git_commit", "unknown"))}
    return MLflowLoggerCallback(tracking_uri=tracking_uri, experiment_name=study, tags=tags,
                                save_artifact=False)
