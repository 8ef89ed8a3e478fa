"""Plan, search and scheduling without a Ray cluster: the order of trials, Optuna per group, ASHA per group."""

from __future__ import annotations

import json
from pathlib import Path

import optuna
import pytest
from ray.tune.experiment import Trial
from ray.tune.schedulers import FIFOScheduler, TrialScheduler
from ray.tune.search import Searcher

from harness.study.arms import build_arms
from harness.study.plan import StudyPlan
from harness.runtime.schedulers import SCHEDULERS, GroupedScheduler, make_scheduler
from harness.runtime.search import DISTRIBUTIONS, SAMPLERS, NuisanceSpace, StudySearcher, group_seed, optuna_storage
from harness.study.spec import NuisanceParam, StudySpec, startup_trials
from stvlm.errors import ConfigError


def study(design: dict, **overrides: object) -> StudyPlan:
    spec = StudySpec.from_dict({
        "name": "t", "dataset": "nycbike-drop", "preset": "tiny", "seeds": [0, 1], "num_samples": 2,
        "scientific": design, "baselines": {"models": ["last-value"]},
        "nuisance": {
            "train.lr": {"distribution": "loguniform", "low": 1e-4, "high": 1e-2},
            "model.finetune.lora_alpha": {"distribution": "uniform", "low": 4, "high": 8,
                                          "when": {"model.finetune.strategy": "lora"}},
        },
        "fixed": {"train.epochs": 3},
        **overrides,
    })
    return StudyPlan(spec, build_arms(spec, "/data"), "/data")


FEWSHOT = {"axes": {"few_shot_ratio": [0.1, 1.0]}}


def test_plan_order_baselines_first_then_round_robin() -> None:
    plan = study(FEWSHOT)
    assert [(e.kind, e.arm, e.seed) for e in plan.entries] == [
        ("baseline", "few_shot_ratio=0.1", 0), ("baseline", "few_shot_ratio=1", 0),
        ("baseline", "few_shot_ratio=0.1", 1), ("baseline", "few_shot_ratio=1", 1),
        *[("stvlm", arm, seed) for _ in range(2) for seed in (0, 1) for arm in ("few_shot_ratio=0.1", "few_shot_ratio=1")],
    ]
    assert plan.num_stvlm() == 8 and len(plan) == 12 and plan.max_epochs("few_shot_ratio=1|seed=0") == 3
    shared = study({"design": "one_at_a_time", "axes": {"finetune": ["lora", "frozen"]}})
    assert [(e.arm, e.source_arm) for e in shared.entries if e.kind == "baseline"] == [
        ("baseline", "finetune=lora"), ("baseline", "finetune=lora")]  # one split: evaluated once per seed


def test_trial_config() -> None:
    plan = study(FEWSHOT)
    cfg = plan.config(plan.entries[-1], {"train.lr": 0.001, "model.finetune.lora_alpha": 5.0})
    assert {k: cfg[k] for k in ("kind", "arm", "seed", "group", "model")} == {
        "kind": "stvlm", "arm": "few_shot_ratio=1", "seed": 1, "group": "few_shot_ratio=1|seed=1", "model": "stvlm"}
    assert cfg["params"] == {"train.lr": 0.001, "model.finetune.lora_alpha": 5.0}
    exp = cfg["experiment"]
    assert (exp["train"]["lr"], exp["train"]["seed"], exp["data"]["few_shot"]["ratio"], exp["data"]["data_root"]) == (
        0.001, 1, 1.0, "/data")
    base = plan.config(plan.entries[0])
    assert base["params"] == {"train.lr": None, "model.finetune.lora_alpha": None} and base["options"] == {}


@pytest.mark.parametrize("name", ["uniform", "loguniform", "int", "logint", "choice"])
def test_every_distribution_samples_within_its_bounds(name: str) -> None:
    param = (NuisanceParam(distribution=name, values=(8, 16)) if name == "choice"
             else NuisanceParam(distribution=name, low=2, high=64))
    trial = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0)).ask()
    value = DISTRIBUTIONS.get(name)(trial, "x", param)
    assert value in (8, 16) if name == "choice" else 2 <= value <= 64
    assert isinstance(value, int) == (name in ("int", "logint", "choice"))
    # the distribution Optuna records: its scale, not only its range (loguniform is not uniform)
    dist = trial.distributions["x"]
    if name == "choice":
        assert isinstance(dist, optuna.distributions.CategoricalDistribution) and dist.choices == (8, 16)
    else:
        kind = optuna.distributions.IntDistribution if "int" in name else optuna.distributions.FloatDistribution
        assert isinstance(dist, kind) and dist.log == name.startswith("log") and (dist.low, dist.high) == (2, 64)


def test_space_suggests_dotted_paths() -> None:
    trial = optuna.create_study().ask()
    NuisanceSpace({"train.lr": NuisanceParam(distribution="loguniform", low=1e-4, high=1e-2)})(trial)
    assert list(trial.params) == ["train.lr"]


def test_searcher_walks_the_plan_and_tells_optuna_pruned_or_complete(tmp_path: Path) -> None:
    plan = study(FEWSHOT)
    searcher = StudySearcher(plan)
    configs = [searcher.suggest(f"t{i}") for i in range(len(plan))]
    assert searcher.suggest("extra") == Searcher.FINISHED
    assert [c["kind"] for c in configs] == ["baseline"] * 4 + ["stvlm"] * 8
    stvlm = configs[4]
    assert sorted(k for k, v in stvlm["params"].items() if v is not None) == ["model.finetune.lora_alpha", "train.lr"]
    assert 1e-4 <= stvlm["experiment"]["train"]["lr"] <= 1e-2
    searcher.on_trial_result("t4", {"val_mae": 3.0, "training_iteration": 1})
    # stopped by ASHA at its rung: Ray gives the searcher that result only through on_trial_complete
    searcher.on_trial_complete("t4", {"val_mae": 3.5, "training_iteration": 2, "final": 0})
    searcher.on_trial_complete("t8", {"val_mae": 2.0, "training_iteration": 4, "final": 1})
    searcher.on_trial_complete("t0", {"val_mae": 1.0, "final": 1})  # baselines are not Optuna trials
    group = searcher.optuna_study("few_shot_ratio=0.1|seed=0")
    states = [t.state for t in group.get_trials()]
    assert states == [optuna.trial.TrialState.PRUNED, optuna.trial.TrialState.COMPLETE]
    assert group.best_value == 2.0 and group.get_trials()[0].intermediate_values == {1: 3.0, 2: 3.5}

    path = tmp_path / "searcher.pkl"
    searcher.save(str(path))
    restored = StudySearcher(plan)
    restored.restore(str(path))
    assert restored.position == len(plan) and restored.suggest("more") == Searcher.FINISHED
    assert len(restored.optuna_study("few_shot_ratio=0.1|seed=0").get_trials()) == 2


def test_a_restored_searcher_skips_the_entries_that_finished_after_the_last_saved_state(tmp_path: Path) -> None:
    """Tune saves the searcher every 10 s or more. Entries 4 and 5 were handed out after the save
    and ended before the driver was killed (4 completed, 5 failed): the resume hands out 5 again
    (a failed trial is tried again) but not 4, whose row stands."""
    from harness.results.store import ResultsStore, trial_row

    plan, results = study(FEWSHOT), tmp_path / "results"
    searcher = StudySearcher(plan, results=str(results))
    configs = [searcher.suggest(f"t{i}") for i in range(4)]
    assert [c["plan_index"] for c in configs] == [0, 1, 2, 3]
    searcher.save(str(tmp_path / "searcher.pkl"))
    late = [searcher.suggest(f"t{i}") for i in (4, 5)]
    store = ResultsStore(results, ("mae",), (3,))
    for config, status in zip(late, ("completed", "failed")):
        store.upsert(trial_row(study="t", trial_id=f"t{config['plan_index']}", config=config,
                               result={"val_mae": 1.0, "final": 1}, status=status))
    restored = StudySearcher(plan, results=str(results))
    restored.restore(str(tmp_path / "searcher.pkl"))
    again = [restored.suggest(f"r{i}") for i in range(len(plan) - 5)]
    assert [c["plan_index"] for c in again] == [5, *range(6, len(plan))]
    assert restored.suggest("more") == Searcher.FINISHED


def sqlite_searcher(tmp_path: Path) -> tuple[StudyPlan, optuna.storages.BaseStorage, StudySearcher]:
    """A searcher on an Optuna file (which outlives a driver) that handed out the plan's first
    five trials: four baselines and ST-VLM trial t4."""
    plan = study(FEWSHOT)
    storage = optuna_storage(f"sqlite:///{tmp_path}/optuna.db")
    searcher = StudySearcher(plan, storage)
    for i in range(5):
        searcher.suggest(f"t{i}")
    return plan, storage, searcher


def restored_searcher(plan: StudyPlan, storage: optuna.storages.BaseStorage, saved: Path) -> StudySearcher:
    """The searcher a resumed launch restores from the state Tune saved last."""
    restored = StudySearcher(plan, storage)
    restored.restore(str(saved))
    return restored


def test_a_trial_rerun_after_its_optuna_trial_was_told_is_not_told_again(tmp_path: Path) -> None:
    """The searcher was saved while ST-VLM trial t4 ran; t4 ended and was told to Optuna; the
    driver died before the next save. On resume Tune re-runs t4 from its checkpoint, and its
    reports reached a finished Optuna trial: UpdateFinishedTrialError failed the study, and every
    later resume with it."""
    plan, storage, searcher = sqlite_searcher(tmp_path)
    searcher.on_trial_result("t4", {"val_mae": 3.0, "training_iteration": 1})
    searcher.save(str(tmp_path / "searcher.pkl"))
    searcher.on_trial_result("t4", {"val_mae": 2.5, "training_iteration": 2})
    searcher.on_trial_complete("t4", {"val_mae": 2.0, "training_iteration": 3, "final": 1})
    restored = restored_searcher(plan, storage, tmp_path / "searcher.pkl")
    restored.on_trial_result("t4", {"val_mae": 2.5, "training_iteration": 2})
    restored.on_trial_complete("t4", {"val_mae": 2.6, "training_iteration": 3, "final": 0})  # ASHA's path
    restored.on_trial_complete("t4", {"val_mae": 2.0, "training_iteration": 3, "final": 1})
    (told,) = optuna.load_study(study_name="t/few_shot_ratio=0.1|seed=0", storage=storage).get_trials()
    assert told.state == optuna.trial.TrialState.COMPLETE and told.value == 2.0
    assert told.intermediate_values == {1: 3.0, 2: 2.5}


def test_optuna_trials_asked_after_the_last_saved_state_are_failed_on_restore(tmp_path: Path) -> None:
    """The driver stopped after asking Optuna for t5 (a group first seen then) and t8 (a second
    trial of t4's group) past the last save: both stayed RUNNING in the storage for ever (and a
    grid sampler skips running trials' points). t4, which Tune restores and runs on, stays running."""
    plan, storage, searcher = sqlite_searcher(tmp_path)
    searcher.save(str(tmp_path / "searcher.pkl"))
    for i in range(5, 9):
        searcher.suggest(f"t{i}")
    restored = restored_searcher(plan, storage, tmp_path / "searcher.pkl")

    def states(group: str) -> list[str]:
        return [t.state.name for t in optuna.load_study(study_name=f"t/{group}", storage=storage).get_trials()]

    assert states("few_shot_ratio=0.1|seed=0") == ["RUNNING", "FAIL"]  # t4 known, t8 not
    assert states("few_shot_ratio=1|seed=0") == ["RUNNING"]  # its search is made at its next trial
    restored.suggest("r5")
    assert states("few_shot_ratio=1|seed=0") == ["FAIL", "RUNNING"]


def test_a_failed_trial_that_a_later_launch_finishes_is_added_to_its_optuna_study(tmp_path: Path) -> None:
    """A failed trial is run again by the next launch (Tune resumes errored trials). Its Optuna
    trial stayed FAIL, so the search never learnt the result the re-run reached."""
    plan, storage, searcher = sqlite_searcher(tmp_path)
    searcher.on_trial_result("t4", {"val_mae": 3.0, "training_iteration": 1})
    searcher.on_trial_complete("t4", None, error=True)
    searcher.save(str(tmp_path / "searcher.pkl"))
    restored = restored_searcher(plan, storage, tmp_path / "searcher.pkl")
    restored.on_trial_result("t4", {"val_mae": 2.5, "training_iteration": 2})
    restored.on_trial_complete("t4", {"val_mae": 2.0, "training_iteration": 3, "final": 1})
    failed, rerun = optuna.load_study(study_name="t/few_shot_ratio=0.1|seed=0", storage=storage).get_trials()
    assert (failed.state.name, rerun.state.name, rerun.value) == ("FAIL", "COMPLETE", 2.0)
    assert rerun.params == failed.params and rerun.user_attrs == {"rerun_of": 0, "tune_trial_id": "t4"}
    # a re-run that diverged: Optuna refuses a NaN value, and the driver must not fail on it
    restored = restored_searcher(plan, storage, tmp_path / "searcher.pkl")
    restored.on_trial_complete("t4", {"val_mae": float("nan"), "training_iteration": 3, "final": 1})
    assert len(optuna.load_study(study_name="t/few_shot_ratio=0.1|seed=0", storage=storage).get_trials()) == 2


def test_same_seed_same_suggestions() -> None:
    def first_lrs() -> list[float]:
        searcher = StudySearcher(study(FEWSHOT))
        return [searcher.suggest(f"t{i}")["params"]["train.lr"] for i in range(12)][4:]

    assert first_lrs() == first_lrs()
    assert group_seed(0, "a|seed=0") == group_seed(0, "a|seed=0") != group_seed(0, "a|seed=1")


def test_optuna_storage(tmp_path: Path) -> None:
    assert optuna_storage(None) is None
    assert isinstance(optuna_storage(f"sqlite:///{tmp_path}/o.db"), optuna.storages.RDBStorage)
    assert isinstance(optuna_storage(str(tmp_path / "o.log")), optuna.storages.JournalStorage)


def test_optuna_storage_urls_are_checked_before_opening() -> None:
    from harness.study.paths import check_optuna_storage

    with pytest.raises(ConfigError, match=r"^optuna_storage = 'o.log' is not allowed; give an absolute journal file path$"):
        check_optuna_storage("o.log")
    with pytest.raises(ConfigError, match="use sqlite:////abs/path.db"):
        check_optuna_storage("sqlite:///rel.db")


def trial(trial_id: str, group: str, kind: str = "stvlm") -> Trial:
    return Trial("run_trial", config={"kind": kind, "group": group}, trial_id=trial_id, stub=True)


def test_asha_prunes_within_a_group_only() -> None:
    plan = study(FEWSHOT, scheduler={"grace_period": 2, "reduction_factor": 2})
    sched = make_scheduler(plan)
    assert isinstance(sched, GroupedScheduler) and isinstance(SCHEDULERS.get("fifo")(plan), FIFOScheduler)
    good, bad = trial("a", "few_shot_ratio=0.1|seed=0"), trial("b", "few_shot_ratio=0.1|seed=0")
    other, base = trial("c", "few_shot_ratio=1|seed=0"), trial("d", "x", kind="baseline")
    for t in (good, bad, other, base):
        sched.on_trial_add(None, t)
    at_rung = {"training_iteration": 2}
    assert sched.on_trial_result(None, good, {**at_rung, "val_mae": 1.0}) == TrialScheduler.CONTINUE
    assert sched.on_trial_result(None, bad, {**at_rung, "val_mae": 5.0}) == TrialScheduler.STOP
    assert sched.on_trial_result(None, other, {**at_rung, "val_mae": 9.0}) == TrialScheduler.CONTINUE
    assert sched.on_trial_result(None, base, {"training_iteration": 1, "val_mae": 9.0}) == TrialScheduler.CONTINUE
    # the final report (epochs + 1 = max_t) is never cut off by max_t
    assert sched.on_trial_result(None, good, {"training_iteration": 4, "val_mae": 1.0}) == TrialScheduler.CONTINUE
    restored = trial("e", "few_shot_ratio=1|seed=0")  # restored trials are registered on first sight
    assert sched.on_trial_result(None, restored, {"training_iteration": 1, "val_mae": 1.0}) == TrialScheduler.CONTINUE
    sched.on_trial_complete(None, good, {"training_iteration": 4, "val_mae": 1.0})
    assert "2 groups, 1 trials stopped" in sched.debug_string()


def stored_trial(root: Path, trial_id: str, group: str, results: list[dict] | None) -> Trial:
    """A trial of an experiment in ``root`` as ``Tuner.restore`` hands it over: its reports in
    ``result.json`` in the storage (``None``: none written)."""
    from ray.train._internal.storage import StorageContext

    storage = StorageContext(storage_path=str(root), experiment_dir_name="exp", trial_dir_name=f"stvlm_{trial_id}")
    restored = Trial("run_trial", config={"kind": "stvlm", "group": group}, trial_id=trial_id, stub=True, storage=storage)
    if results is not None:
        Path(restored.path).mkdir(parents=True)
        lines = [json.dumps(r) for r in results]
        Path(restored.path, "result.json").write_text("\n".join(lines) + "\n")
        restored.run_metadata.last_result = results[-1]
    return restored


def test_a_restored_study_prunes_against_the_scores_reported_before_the_resume(tmp_path: Path) -> None:
    """Ray rebuilds the scheduler without its rungs on restore: the finished trial's scores come
    back from its result.json, so a newcomer is judged as it would have been without the resume."""
    from harness.runtime.private_api import asha_rungs

    plan = study(FEWSHOT, scheduler={"grace_period": 2, "reduction_factor": 2})  # rungs at 2 and 4
    group = "few_shot_ratio=0.1|seed=0"
    first = [{"training_iteration": 1, "val_mae": 1.0}, {"training_iteration": 2, "val_mae": 0.8},
             {"training_iteration": 3, "val_mae": 0.7}, {"training_iteration": 4, "val_mae": 0.7}]
    uninterrupted = make_scheduler(plan)
    done = trial("a", group)
    uninterrupted.on_trial_add(None, done)
    for result in first:
        uninterrupted.on_trial_result(None, done, result)
    uninterrupted.on_trial_complete(None, done, first[-1])

    resumed = make_scheduler(plan)  # what Tuner.restore unpickles: no rungs
    resumed.on_trial_add(None, stored_trial(tmp_path, "a", group, first))
    resumed.on_trial_add(None, stored_trial(tmp_path, "n", group, None))  # never reported: nothing to read
    assert asha_rungs(resumed._groups[group]) == asha_rungs(uninterrupted._groups[group]) == [
        (4, {"a": -0.7}), (2, {"a": -0.8})]
    for sched in (uninterrupted, resumed):
        late = trial("b", group)
        sched.on_trial_add(None, late)
        assert sched.on_trial_result(None, late, {"training_iteration": 2, "val_mae": 2.0}) == TrialScheduler.STOP
    assert "1 trials stopped" in resumed.debug_string()  # the replay counted no stop of its own


def test_a_result_file_cut_short_gives_the_scores_before_the_cut(tmp_path: Path) -> None:
    from harness.runtime.schedulers import recorded_results

    cut = stored_trial(tmp_path, "c", "g", [{"training_iteration": 1, "val_mae": 1.0}])
    with open(Path(cut.path, "result.json"), "a") as f:
        f.write('{"training_iteration": 2, "val_')
    assert recorded_results(cut) == [{"training_iteration": 1, "val_mae": 1.0}]
    assert recorded_results(trial("d", "g")) == []  # no storage: a trial of a fresh study


@pytest.mark.parametrize("name", SAMPLERS.names())
def test_every_sampler_drives_the_group_search(name: str) -> None:
    batch = {"train.batch_size": {"distribution": "choice", "values": [8, 16]}}
    plan = study(FEWSHOT, sampler=name, nuisance=batch, num_samples=2)
    searcher = StudySearcher(plan)
    configs = [searcher.suggest(f"t{i}") for i in range(len(plan))]
    sizes = [c["params"]["train.batch_size"] for c in configs if c["kind"] == "stvlm"]
    assert len(sizes) == 2 * 2 * 2 and set(sizes) <= {8, 16}  # 2 arms x 2 seeds x 2 samples
    study_ = searcher.optuna_study("few_shot_ratio=0.1|seed=0")
    expected = {"tpe": "TPESampler", "random": "RandomSampler", "grid": "GridSampler", "qmc": "QMCSampler"}
    assert type(study_.sampler).__name__ == expected[name]
    if name == "grid":  # every combination once per group
        assert sorted(t.params["train.batch_size"] for t in study_.get_trials()) == [8, 16]


def test_startup_trials_rule() -> None:
    assert startup_trials("tpe", 10, 8) == 8 and startup_trials("tpe", 10, 30) == 10
    assert startup_trials("random", 10, 8) == 8


def test_a_fresh_start_on_a_users_optuna_storage_holding_the_study_is_refused(tmp_path: Path) -> None:
    """Ray's OptunaSearch loads a study of the same name: a fresh start would continue the earlier
    run's searches. The default optuna.db is set aside instead, so it is not checked."""
    from types import SimpleNamespace

    from harness.runtime.runner import _check_own_optuna_storage
    from harness.runtime.search import earlier_studies
    from harness.study.storage import default_optuna_storage

    journal = str(tmp_path / "optuna.journal")
    storage = optuna_storage(journal)
    assert earlier_studies(storage, "s") == [] and earlier_studies(None, "s") == []
    for name in ("s/few_shot_ratio=0.1|seed=0", "s/few_shot_ratio=1|seed=0", "s2/x", "other"):
        optuna.create_study(storage=storage, study_name=name)
    assert earlier_studies(storage, "s") == ["s/few_shot_ratio=0.1|seed=0", "s/few_shot_ratio=1|seed=0"]
    study = SimpleNamespace(spec=SimpleNamespace(name="s"), optuna_storage=journal, results=tmp_path / "s")
    with pytest.raises(ConfigError) as info:
        _check_own_optuna_storage(study)
    assert str(info.value) == (
        f"study 's' starts afresh, but the Optuna storage {journal} already holds 2 of its studies from an "
        "earlier run (s/few_shot_ratio=0.1|seed=0, ...), whose trials the new search would continue from: "
        "delete them (optuna delete-study) or give the study another name")
    _check_own_optuna_storage(SimpleNamespace(spec=SimpleNamespace(name="s3"), optuna_storage=journal,
                                              results=tmp_path / "s3"))
    own = default_optuna_storage(tmp_path / "s")
    _check_own_optuna_storage(SimpleNamespace(spec=SimpleNamespace(name="s"), optuna_storage=own, results=tmp_path / "s"))
