"""Search: Optuna samples the nuisance settings inside every (arm, seed) group.

:class:`StudySearcher` is the Tune ``Searcher`` of a study. It walks the
:class:`~harness.study.plan.StudyPlan` in order; for an ST-VLM trial it asks the group's own
``OptunaSearch`` (define-by-run space from the spec's ``nuisance`` table, seeded per group, one
Optuna study per group named ``<study>/<arm>|seed=<seed>``) and builds the trial's full
experiment config. Baselines are planned, not searched.

Two fixes over plain ``OptunaSearch`` (reference/ray.md section 1):

* trials stopped by ASHA are told to Optuna as ``PRUNED`` (with their intermediate values),
  not ``COMPLETE`` with a partial-budget score: only a trial whose last report is the final one
  (``final == 1``) counts as complete;
* the searcher state (plan position, every group's Optuna study) is saved with the experiment,
  so ``Tuner.restore`` continues the same plan and the same Optuna studies.

Tune saves that state every 10 s or more, not when a trial ends, so a driver that stops
without saving (killed, out of memory, a lost head node) can leave trials that ended after the
last save. On restore the searcher skips the plan entries whose trials already finished
(``plan_index`` in ``trials.parquet``: the planned trial is not run twice), and a trial Tune
re-runs from its checkpoint whose Optuna trial was already told is not told again (Optuna
refuses to update a finished trial, which failed every later resume). Optuna trials asked after
the last save that never finished are told ``FAIL`` (they stayed running in the storage).

``optuna_storage`` opens an optional persistent storage (``sqlite:///abs.db`` or an absolute
journal file), so ``optuna-dashboard`` can show the studies while they run.
"""

from __future__ import annotations

import logging
import math
import pickle
import warnings
import zlib
from collections.abc import Callable
from typing import Any

import optuna
from ray.tune.result import TRAINING_ITERATION
from ray.tune.search import Searcher
from ray.tune.search.optuna import OptunaSearch

from harness.results.store import finished_entries
from harness.study.arms import applies
from harness.study.plan import StudyPlan
from harness.runtime.private_api import optuna_study_of, optuna_trials_of
from harness.study.spec import NuisanceParam
from harness.study.trial_config import STVLM_KIND
from stvlm.registry import Registry

log = logging.getLogger(__name__)

Suggest = Callable[[Any, str, NuisanceParam], Any]

DISTRIBUTIONS: Registry[Suggest] = Registry("distribution")
DISTRIBUTIONS.add("uniform", lambda t, name, p: t.suggest_float(name, p.low, p.high, step=p.step))
DISTRIBUTIONS.add("loguniform", lambda t, name, p: t.suggest_float(name, p.low, p.high, log=True))
DISTRIBUTIONS.add(
    "int", lambda t, name, p: t.suggest_int(name, int(p.low), int(p.high), step=int(p.step or 1))
)
DISTRIBUTIONS.add("logint", lambda t, name, p: t.suggest_int(name, int(p.low), int(p.high), log=True))
DISTRIBUTIONS.add("choice", lambda t, name, p: t.suggest_categorical(name, list(p.values or ())))


SamplerFactory = Callable[[Any, dict[str, NuisanceParam], int], Any]

#: spec.sampler -> ``factory(spec, params, seed)``: the Optuna sampler of one (arm, seed) group.
SAMPLERS: Registry[SamplerFactory] = Registry("sampler")
SAMPLERS.add("tpe", lambda spec, params, seed: optuna.samplers.TPESampler(
    n_startup_trials=spec.startup_trials, seed=seed))
SAMPLERS.add("random", lambda spec, params, seed: optuna.samplers.RandomSampler(seed=seed))
SAMPLERS.add("grid", lambda spec, params, seed: optuna.samplers.GridSampler(
    {path: list(p.values or ()) for path, p in params.items()}, seed=seed))


def _qmc(spec: Any, params: dict[str, NuisanceParam], seed: int) -> Any:
    with warnings.catch_warnings():  # "QMCSampler is experimental": noise, the API is pinned
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        return optuna.samplers.QMCSampler(qmc_type="sobol", scramble=True, seed=seed)


SAMPLERS.add("qmc", _qmc)


class NuisanceSpace:
    """A define-by-run space: ``space(trial)`` suggests every setting under its dotted path.

    Args:
        params: dotted ``ExperimentConfig`` path -> the setting's distribution.
    """

    def __init__(self, params: dict[str, NuisanceParam]) -> None:
        self.params = dict(params)

    def __call__(self, trial: Any) -> None:
        for path, param in self.params.items():
            DISTRIBUTIONS.get(param.distribution)(trial, path, param)


class BudgetAwareOptunaSearch(OptunaSearch):
    """``OptunaSearch`` that tells trials stopped before their final report as ``PRUNED``, and
    tells a finished Optuna trial nothing more (a trial re-run after a driver stopped), but for a
    failed trial that a later launch ran to its end: its result is added to the study as a new
    trial with the same parameters (Optuna never reopens a finished trial)."""

    def on_trial_result(self, trial_id: str, result: dict) -> None:
        try:
            super().on_trial_result(trial_id, result)
        except optuna.exceptions.UpdateFinishedTrialError:
            log.info("trial %s: its Optuna trial was told before the driver stopped; its re-run "
                     "is not told again", trial_id)

    def on_trial_complete(self, trial_id: str, result: dict | None = None, error: bool = False) -> None:
        if result is not None and not error and result.get("final") and self._add_if_failed(trial_id, result):
            return
        if result is not None and not error and not result.get("final"):
            # Ray hands a searcher no on_trial_result for the result its scheduler stops on, so
            # Optuna would prune the trial at the epoch before the rung ASHA compared it at:
            # report that result first (a step already reported is ignored by Optuna).
            if self.metric in result and TRAINING_ITERATION in result:
                try:
                    self.on_trial_result(trial_id, result)
                except KeyError:  # a trial this searcher never suggested (a restored run's)
                    pass
            result = None  # OptunaSearch tells a result-less, error-less trial as PRUNED
        super().on_trial_complete(trial_id, result=result, error=error)

    def _add_if_failed(self, trial_id: str, result: dict) -> bool:
        """Add the final ``result`` of a trial whose Optuna trial was told ``FAIL`` as a new
        complete trial; whether it was one."""
        asked = optuna_trials_of(self).get(trial_id)
        value = result.get(self.metric)
        if asked is None or value is None or not math.isfinite(value):  # Optuna refuses NaN
            return False
        study = optuna_study_of(self)
        told = next(t for t in study.get_trials(deepcopy=False) if t.number == asked.number)
        if told.state != optuna.trial.TrialState.FAIL:
            return False
        study.add_trial(optuna.trial.create_trial(
            params=told.params, distributions=told.distributions, value=value,
            user_attrs={"rerun_of": told.number, "tune_trial_id": trial_id},
        ))
        log.info("trial %s failed before and finished now: its result is Optuna trial %d's re-run",
                 trial_id, told.number)
        return True


def optuna_storage(url: str | None) -> optuna.storages.BaseStorage | None:
    """Open an Optuna storage: ``sqlite:///abs/path.db`` (any RDB URL) or an absolute journal file.

    The URL was checked by :func:`harness.runtime.runner.prepare_study` (the one owner of that check;
    the study scripts also run it before their heavy imports).
    """
    if url is None:
        return None
    if "://" in url:
        return optuna.storages.RDBStorage(url)
    from optuna.storages.journal import JournalFileBackend

    return optuna.storages.JournalStorage(JournalFileBackend(url))


def earlier_studies(storage: optuna.storages.BaseStorage | None, study: str) -> list[str]:
    """The Optuna studies of a study's groups (``<study>/<group>``) that ``storage`` already holds:
    a fresh start would continue them (Ray's ``OptunaSearch`` loads a study of the same name), so
    its search would count and learn from the earlier run's trials."""
    if storage is None:
        return []
    return sorted(s.study_name for s in storage.get_all_studies() if s.study_name.startswith(f"{study}/"))


def group_seed(seed: int, group: str) -> int:
    """A stable per-group sampler seed (same study, same suggestions, on every machine)."""
    return (seed * 1_000_003 + zlib.crc32(group.encode())) % 2**31


class StudySearcher(Searcher):
    """Tune searcher of a study; see the module docstring.

    Args:
        plan: the study's planned trials.
        storage: an Optuna storage, or None for in-memory studies.
        results: the study's results folder, whose finished trials a restored searcher skips
            (None: skips none).
    """

    # class defaults: a searcher pickled (tuner.pkl) before these existed still restores
    _results: str | None = None
    _finished: frozenset[int] = frozenset()

    def __init__(
        self, plan: StudyPlan, storage: optuna.storages.BaseStorage | None = None,
        results: str | None = None,
    ) -> None:
        super().__init__(metric=plan.spec.metric, mode=plan.spec.mode)
        optuna.logging.set_verbosity(optuna.logging.WARNING)  # no line per created study
        self._plan = plan
        self._storage = storage
        self._position = 0
        self._results = results
        self._finished = frozenset()
        self._groups: dict[str, BudgetAwareOptunaSearch] = {}
        self._trial_groups: dict[str, str] = {}

    def _optuna(self, group: str) -> BudgetAwareOptunaSearch:
        if group not in self._groups:
            spec = self._plan.spec
            arm = self._plan.arms[next(e.source_arm for e in self._plan.entries if e.group == group)]
            params = {p: n for p, n in spec.nuisance.items() if applies(n, arm.experiment)}
            # Nothing to search: every sampler would hand out the same empty setting.
            name = spec.sampler if params else "random"
            sampler = SAMPLERS.get(name)(spec, params, group_seed(spec.search_seed, group))
            self._groups[group] = BudgetAwareOptunaSearch(
                space=NuisanceSpace(params),
                metric=spec.metric,
                mode=spec.mode,
                sampler=sampler,
                study_name=f"{spec.name}/{group}",
                storage=self._storage,
            )
            _fail_orphans(self._groups[group], group)
        return self._groups[group]

    @property
    def position(self) -> int:
        """How many planned trials have been handed out."""
        return self._position

    def suggest(self, trial_id: str) -> dict | str | None:
        while self._position in self._finished:
            log.info("plan entry %d finished after the last saved state: not run again", self._position)
            self._position += 1
        if self._position >= len(self._plan):
            return Searcher.FINISHED
        index, entry = self._position, self._plan.entries[self._position]
        params: dict[str, Any] = {}
        if entry.kind == STVLM_KIND:
            params = self._optuna(entry.group).suggest(trial_id)
            self._trial_groups[trial_id] = entry.group
        self._position += 1
        return self._plan.config(entry, params, index)

    def on_trial_result(self, trial_id: str, result: dict) -> None:
        group = self._trial_groups.get(trial_id)
        if group is not None:
            self._groups[group].on_trial_result(trial_id, result)

    def on_trial_complete(self, trial_id: str, result: dict | None = None, error: bool = False) -> None:
        group = self._trial_groups.get(trial_id)
        if group is not None:
            self._groups[group].on_trial_complete(trial_id, result=result, error=error)

    def optuna_study(self, group: str) -> optuna.Study:
        """The Optuna study of a group (for reports and tests)."""
        return optuna_study_of(self._optuna(group))

    def save(self, checkpoint_path: str) -> None:
        with open(checkpoint_path, "wb") as fh:
            pickle.dump(self.__dict__, fh)

    def restore(self, checkpoint_path: str) -> None:
        """Unpickle the state :meth:`save` wrote (Optuna's samplers and studies): like Ray Tune's
        own experiment state beside it, a storage folder is resumed only by who wrote it."""
        with open(checkpoint_path, "rb") as fh:
            self.__dict__.update(pickle.load(fh))
        if self._results is not None:
            self._finished = finished_entries(self._results)
        for group, search in self._groups.items():
            _fail_orphans(search, group)


def _fail_orphans(search: OptunaSearch, group: str) -> None:
    """Tell ``FAIL`` for the trials the search's Optuna storage holds as running but the search
    never asked: asked after the last saved searcher state by a driver that then stopped. They
    would stay running for ever, and a grid sampler would never hand out their points again."""
    known = {t.number for t in optuna_trials_of(search).values()}
    study = optuna_study_of(search)
    for orphan in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,)):
        if orphan.number not in known:
            study.tell(orphan.number, state=optuna.trial.TrialState.FAIL)
            log.warning("%s: Optuna trial %d was asked after the last saved state of a driver that "
                        "stopped; told FAIL", group, orphan.number)
