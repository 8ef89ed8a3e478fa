"""Study specs: what a study varies, tunes, fixes and repeats, validated before Ray starts.

A study spec is a TOML file (``studies/configs/*.toml``) read into a frozen :class:`StudySpec`
with the strict :meth:`stvlm.configs.Config.from_dict` (unknown keys raise). The vocabulary is
the tuning playbook's:

* **scientific** axes: the values a study compares (few-shot ratio, fusion depth, ...), as a
  grid, one axis at a time around the fixed settings, or explicit arms;
* **nuisance** settings: tuned by Optuna inside every arm and seed (learning rate, LoRA alpha,
  dropout, batch size);
* **fixed** settings: any ``ExperimentConfig`` key by dotted path, quoted (``"train.epochs" = 20``:
  TOML reads an unquoted dotted key as a table, which is refused).

The ``preset`` is the experiment a study starts from (``harness.study.presets.PRESETS``):
``benchmark`` is the accuracy benchmark's ST-VLM (``ExperimentConfig.default()``: the tiny ViLT,
40 epochs / patience 10, ``STVLM_TRAIN_SETTINGS``), as in ``studies/configs/fewshot-cpu.toml``;
``stvlm`` the model at its default sizes with those training settings (the cluster studies).
Baselines (``[baselines]``) run on every distinct data split with the study's experiment, on
those two presets with ST-VLM's own training settings back at ``TrainConfig``'s defaults; their
``train`` table replaces training settings in their trials only (``train = { warmup = 0.1 }``).

Example::

    name = "fewshot-nycbike-drop"
    dataset = "nycbike-drop"
    seeds = [0, 1]
    num_samples = 4                  # Optuna trials per arm and seed
    [scientific]
    axes = { few_shot_ratio = [0.05, 0.1, 1.0] }
    [nuisance."train.lr"]
    distribution = "loguniform"
    low = 1e-4
    high = 1e-2

:func:`harness.study.arms.build_arms` then builds and checks every arm's ``ExperimentConfig``.
"""

from __future__ import annotations

import re
try:
    import tomllib
except ImportError:  # pragma: no cover - Python 3.10 (pyproject allows it; tomli is its backport)
    import tomli as tomllib  # type: ignore[no-redef]
from pathlib import Path
from typing import Any, Literal

from harness.results.columns import result_key, split_of
from harness.study.paths import check_optuna_storage
from harness.study.presets import PRESETS
from stvlm.configs import Config, config_class, field
from stvlm.errors import ConfigError

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


#: Experiment paths the study sets itself, and what sets them: a [fixed] or [nuisance] value there
#: would be overwritten (the seeds) or would part the arms from the spec and their baselines.
STUDY_PATHS = {
    "name": "name", "train.seed": "seeds", "data.few_shot.seed": "seeds", "data.dataset": "dataset",
    "data.protocol": "protocol", "data.data_root": "--data-root",
    "train.num_threads": "resources (each trial's torch threads follow its CPUs)",
}


def _check_quoted(where: str, settings: dict[str, Any]) -> None:
    """Refuse a table as a setting's value: TOML reads an unquoted dotted key (``train.epochs =
    30``) as the table ``train = {epochs = 30}``, and a half-quoted one (``"model.image".encoding``)
    as ``"model.image" = {encoding = ...}``; either would replace the whole table (every other
    setting in it back to its class default, not the preset's), or never match a ``when``. Every
    key is a whole quoted path to one setting (no setting of an experiment is itself a table)."""
    for key, value in settings.items():
        if isinstance(value, dict):  # also "model.image".encoding = ...: a table at "model.image"
            inner = next(iter(value), "")
            raise ConfigError(f"{where}: {key} = {value!r} would set the whole {key} table; TOML reads an "
                              f"unquoted dotted key as a table: quote the whole path, e.g. "
                              f"\"{key}.{inner}\" = ...")


@config_class
class NuisanceParam(Config):
    """One nuisance setting sampled by Optuna (define-by-run).

    ``uniform``/``loguniform`` sample floats in ``[low, high]``; ``int``/``logint`` integers;
    ``choice`` one of ``values``. ``when`` restricts the setting to arms whose experiment has the
    given values at the given dotted paths (``{"model.finetune.strategy" = "lora"}``).
    """

    distribution: Literal["uniform", "loguniform", "int", "logint", "choice"] = field(
        help="uniform, loguniform, int, logint or choice"
    )
    low: float | None = field(None, help="lower bound (uniform, loguniform, int, logint)")
    high: float | None = field(None, help="upper bound (inclusive)")
    step: float | None = field(None, gt=0.0, help="quantisation step (uniform, int)")
    values: tuple[Any, ...] | None = field(None, help="the choices (choice)")
    when: dict[str, Any] | None = field(None, help="sample only where these paths have these values")

    def check(self) -> None:
        _check_quoted("when", self.when or {})
        if self.distribution == "choice":
            if not self.values:
                self.fail("values", "is not allowed; distribution 'choice' needs a non-empty list")
            for key in ("low", "high", "step"):  # accepted and ignored, they would mislead
                if getattr(self, key) is not None:
                    self.fail(key, "is not allowed with distribution 'choice'; list the values")
            return
        if self.step is not None and self.distribution.startswith("log"):
            self.fail("step", f"is not allowed with distribution {self.distribution!r}: Optuna samples "
                      "a log scale without one")
        if self.step is not None and self.distribution == "int" and not float(self.step).is_integer():
            self.fail("step", "is not allowed; distribution 'int' needs an integer step")
        if self.low is None or self.high is None:
            self.fail("low", f"is not allowed; distribution {self.distribution!r} needs low and high")
        if not self.low < self.high:  # type: ignore[operator]
            self.fail("high", f"is not allowed; it must be greater than low = {self.low!r}")
        if self.distribution.startswith("log") and self.low <= 0:  # type: ignore[operator]
            self.fail("low", f"is out of range; distribution {self.distribution!r} needs low > 0")
        if self.distribution in ("int", "logint") and not (
            float(self.low).is_integer() and float(self.high).is_integer()  # type: ignore[arg-type]
        ):
            self.fail("low", f"is not allowed; distribution {self.distribution!r} needs integer bounds")

    def bounds(self) -> tuple[Any, ...]:
        """The extreme values a trial can get (checked against the config before Ray starts)."""
        if self.distribution == "choice":
            return tuple(self.values or ())
        if self.distribution in ("int", "logint"):
            return (int(self.low), int(self.high))  # type: ignore[arg-type]
        return (self.low, self.high)


@config_class
class ScientificConfig(Config):
    """The arms a study compares."""

    design: Literal["grid", "one_at_a_time", "arms"] = field(
        "grid",
        help="grid: every combination of the axes; one_at_a_time: each axis varied alone with the "
        "rest fixed; arms: the listed arms",
    )
    axes: dict[str, tuple[Any, ...]] = field(default_factory=dict, help="axis -> values")
    arms: tuple[dict[str, Any], ...] = field((), help="explicit arms (design = 'arms')")

    def check(self) -> None:
        if self.design == "arms" and not self.arms:
            self.fail("arms", "is not allowed; design 'arms' needs at least one arm")
        if self.design != "arms" and self.arms:
            self.fail("arms", f"is not allowed with design {self.design!r}; use design = 'arms'")
        if self.design == "arms" and self.axes:  # the listed arms alone run
            self.fail("axes", "is not allowed with design 'arms'; list every arm under arms, or use "
                      "design = 'grid' or 'one_at_a_time'")
        for axis, values in self.axes.items():
            if not values:
                raise ConfigError(f"axes.{axis} = [] is not allowed; give at least one value")


@config_class
class ResourcesConfig(Config):
    """What one trial asks of the cluster."""

    cpus_per_trial: float = field(1.0, gt=0.0, help="CPUs per trial (per Train worker if num_workers > 1)")
    gpus_per_trial: float | None = field(
        None,
        ge=0.0,
        help="GPUs per trial or Train worker, fractions allowed; None: 1 if the cluster has GPUs",
    )
    num_workers: int = field(1, ge=1, help="> 1: the trial runs a DDP TorchTrainer with this many workers")
    max_concurrent_trials: int | None = field(None, ge=1, help="None: as many as the resources allow")
    baseline_cpus: float = field(1.0, gt=0.0, help="CPUs of a baseline trial")
    train_poll_s: float = field(
        0.25, gt=0.0, le=60.0,
        help="seconds between Ray Train's polls of a Train trial's workers (num_workers > 1; "
        "Ray's default is 2): each poll notices the start, the reports and the end, so a short "
        "Train trial waits less. 0.25 against 2 s took 6 s off each 2-worker trial on 2 CPUs "
        "(results/benchmarks/train_trial_overhead.json)",
    )

    def check(self) -> None:
        gpus = self.gpus_per_trial
        if gpus is not None and gpus > 1 and gpus != int(gpus):
            self.fail("gpus_per_trial", "is out of range; allowed: a fraction below 1 or a whole number")
        if gpus is not None and 0 < gpus < 1 and self.num_workers > 1:
            self.fail("gpus_per_trial", f"is a fraction of a GPU with num_workers = {self.num_workers}; "
                      "allowed: whole GPUs for DDP workers (NCCL refuses two ranks on one GPU), or "
                      "num_workers = 1")


@config_class
class SchedulerConfig(Config):
    """Early stopping of unpromising trials (per arm and seed)."""

    name: Literal["asha", "fifo"] = field("asha", help="asha (prune) or fifo (run every trial to its end)")
    grace_period: int = field(2, ge=2, help="epochs before ASHA may stop a trial")
    reduction_factor: float = field(2.0, gt=1.0, help="ASHA keeps 1/reduction_factor per rung")
    brackets: int = field(1, ge=1)


@config_class
class BaselinesConfig(Config):
    """Baselines evaluated on the same splits as the ST-VLM arms."""

    models: tuple[str, ...] = field((), help="names in stvlm.baselines.BASELINES")
    options: dict[str, dict[str, Any]] = field(default_factory=dict, help="model -> its options")
    train: dict[str, Any] = field(
        default_factory=dict,
        help="TrainConfig settings of the neural baselines over the study's own (e.g. "
        "{ warmup = 0.05, start_candidate = false } when the fixed settings give ST-VLM its own)",
    )


@config_class
class StudySpec(Config):
    """A whole study; see the module docstring."""

    name: str = field(help="folder name of the results (letters, digits, . _ -)")
    description: str = ""
    dataset: str = field(help="registered dataset name")
    protocol: str = field("standard", help="evaluation protocol")
    preset: Literal["tiny", "default", "benchmark", "stvlm"] = field(
        "default", help="base experiment (harness.study.presets.PRESETS): 'tiny' "
        "(ExperimentConfig.tiny(), smoke size), 'default' (ExperimentConfig's field defaults), "
        "'benchmark' (the accuracy benchmark's: ExperimentConfig.default()), 'stvlm' (the field "
        "defaults with STVLM_TRAIN_SETTINGS); on 'benchmark' and 'stvlm' the baselines train with "
        "TrainConfig's defaults for those settings",
    )
    seeds: tuple[int, ...] = field((0,), ge=0, help="one group of trials per seed")
    num_samples: int = field(1, ge=1, help="Optuna trials per arm and seed")
    metric: str = field(
        "val_mae", help="validation metric that Optuna and ASHA optimise: val_<metric>[_h<k>] of "
        "the protocol's metrics or of a registered mean of them (val_mae_both, the mean of the "
        "masked and the all-entries MAE). Within a trial the checkpoint kept is the epoch with "
        "the best value of the engine's monitor, TrainConfig.monitor: ST-VLM's own settings "
        "(preset 'stvlm', 'benchmark') monitor mae_both, so on count data val_mae_both ranks "
        "trials on what each of them selected on",
    )
    mode: Literal["min", "max"] = field(
        "min", help="direction of metric: min for errors, max for accuracy, r2 and var (checked)"
    )
    search_seed: int = field(0, ge=0, help="seed of the Optuna samplers")
    sampler: Literal["tpe", "random", "grid", "qmc"] = field(
        "tpe", help="Optuna sampler of the nuisance search in each (arm, seed) group: tpe "
        "(random start-up trials, then TPE), random, grid (every combination of 'choice' "
        "values; num_samples = their number), qmc (Sobol quasi-random)",
    )
    startup_trials: int = field(
        10, ge=1, help="tpe only: random start-up trials per group before TPE models the results "
        "(with num_samples <= startup_trials the search IS random search, and the report says so)",
    )
    optuna_storage: str | None = field(
        None, help="sqlite:///abs/path.db or an absolute journal file path (*.log); None: in memory"
    )
    mlflow: bool = field(
        False, help="log every trial (parameters, per-epoch metrics) to MLflow through Ray Tune's "
        "MLflowLoggerCallback; needs the mlflow package (the 'tracking' extra)",
    )
    max_failures: int = field(1, ge=0, help="retries of a crashed trial (from its checkpoint)")
    fixed: dict[str, Any] = field(default_factory=dict, help="dotted ExperimentConfig path -> value")
    scientific: ScientificConfig = field(default_factory=ScientificConfig)
    nuisance: dict[str, NuisanceParam] = field(default_factory=dict)
    resources: ResourcesConfig = field(default_factory=ResourcesConfig)
    scheduler: SchedulerConfig = field(default_factory=SchedulerConfig)
    baselines: BaselinesConfig = field(default_factory=BaselinesConfig)

    def check(self) -> None:
        if not _NAME.match(self.name):
            self.fail("name", "is not allowed; use letters, digits, '.', '_' and '-' only")
        if not self.seeds:
            self.fail("seeds", "is not allowed; give at least one seed")
        if len(set(self.seeds)) != len(self.seeds):
            self.fail("seeds", "is not allowed; seeds must be distinct")
        if split_of(self.metric) != "val":
            self.fail("metric", "is not allowed; studies select on validation metrics (val_<metric>)")
        check_optuna_storage(self.optuna_storage, files=False)
        written = [*(f'[fixed] "{k}"' for k in self.fixed), *(f'[nuisance] "{k}"' for k in self.nuisance)]
        paths = [*self.fixed, *self.nuisance, *(f"train.{k}" for k in self.baselines.train)]
        written += [f"[baselines] train.{k}" for k in self.baselines.train]
        for where, key in zip(written, paths):
            if key in STUDY_PATHS:
                raise ConfigError(f"{where} is not allowed: the study sets {key} from "
                                  f"{STUDY_PATHS[key]} (it would be overwritten or part the arms "
                                  "from their baselines)")
        _check_quoted("[fixed]", self.fixed)
        searched_data = sorted(k for k in self.nuisance if k.startswith("data."))
        if searched_data:
            raise ConfigError(f"[nuisance] \"{searched_data[0]}\" is not allowed: the baselines run once "
                              "per arm and seed without the sampled settings, so a searched data setting "
                              "would score each trial on other windows than its baselines; make it an "
                              "axis or fix it")
        self._check_axis_paths()
        both = sorted(set(self.fixed) & set(self.nuisance))
        if both:
            key = both[0]
            raise ConfigError(
                f"{key} is both fixed ([fixed] \"{key}\" = {self.fixed[key]!r}) and searched "
                f"([nuisance.\"{key}\"]); keep one of the two"
            )
        ranged = [k for k, p in self.nuisance.items() if p.distribution != "choice"]
        if self.sampler == "grid" and ranged:
            raise ConfigError(
                f"sampler = 'grid' needs 'choice' nuisance distributions only; {ranged[0]} is "
                f"{self.nuisance[ranged[0]].distribution!r} (use tpe, random or qmc for ranges)"
            )
        from stvlm.data.protocols import higher_is_better, metric_of_key, rankable
        from stvlm.metrics import METRICS
        from stvlm.monitor import MONITOR_MEANS

        key = result_key(self.metric)
        known = [*METRICS.names(), *MONITOR_MEANS.names()]
        if metric_of_key(key) not in known:
            self.fail("metric", f"is not allowed; expected val_<metric> with <metric> one of {', '.join(known)}")
        if not rankable(key):
            self.fail("metric", "is not allowed: the bias is signed (mean prediction minus mean "
                      "truth), so neither its smallest nor its largest value is best; rank on an error "
                      "such as val_mae")
        best = "max" if higher_is_better(key) else "min"
        if self.mode != best:
            self.fail("mode", f"is not allowed with metric = {self.metric!r}: its best value is its "
                      f"{'largest' if best == 'max' else 'smallest'}; set mode = {best!r}")

    def _check_axis_paths(self) -> None:
        """Refuse a nuisance setting on a path a scientific axis of the study writes: the sampled
        value is applied after the arm's and would replace it under the arm's label."""
        from harness.study.axes import AXES

        sci = self.scientific
        used = [axis for axis in dict.fromkeys([*sci.axes, *(a for arm in sci.arms for a in arm)]) if axis in AXES]
        for key in self.nuisance:
            for axis in used:
                clash = [p for p in AXES.get(axis).paths
                         if key == p or p.startswith(f"{key}.") or key.startswith(f"{p}.")]
                if clash:
                    raise ConfigError(f"[nuisance.\"{key}\"] is not allowed: the axis {axis} sets {clash[0]} in "
                                      "its arms, and a sampled value would replace the arm's; drop one of the two")

    def smoke(self) -> StudySpec:
        """The same study cut to seconds: 2 epochs of 2 batches, 1 trial per arm.

        Tiny models (the preset's ``smoke`` preset: ``benchmark`` where the study trains ST-VLM
        with its own settings, else ``tiny``), trained the way the study trains them.
        Keeps two arms (the first two values of the first axis, or the first two listed arms),
        the first seed and the first two baselines; drops fixed ``model.backbone.*`` settings (no
        pretrained weights); one CPU per trial, no Train workers (runs on a laptop). The settings
        it fixes (epochs, batches per epoch, batch size) leave the nuisance search; a grid search
        samples one of its combinations (``random``).
        """
        fixed = {k: v for k, v in self.fixed.items() if not k.startswith("model.backbone.")}
        cut = {"train.epochs": 2, "train.max_batches_per_epoch": 2, "train.batch_size": 8}
        fixed.update(cut)
        # What the smoke test fixes is no longer searched (else a sampled value would win).
        nuisance = {k: v for k, v in self.nuisance.items() if k not in cut}
        sci = self.scientific
        first = dict(list(sci.axes.items())[:1])
        sci = sci.replace(axes={k: tuple(v[:2]) for k, v in first.items()}, arms=tuple(sci.arms[:2]))
        return self.replace(
            name=f"{self.name}-smoke",
            preset=PRESETS[self.preset].smoke,
            seeds=self.seeds[:1],
            num_samples=1,
            sampler="random" if self.sampler == "grid" else self.sampler,
            fixed=fixed,
            nuisance=nuisance,
            scientific=sci,
            scheduler=self.scheduler.replace(grace_period=2),
            resources=self.resources.replace(cpus_per_trial=1.0, num_workers=1, max_concurrent_trials=None),
            baselines=self.baselines.replace(  # the cut holds for the baselines too
                models=self.baselines.models[:2],
                train={k: v for k, v in self.baselines.train.items() if f"train.{k}" not in cut},
            ),
        )


def startup_trials(sampler: str, startup: int, num_samples: int) -> int:
    """How many of a group's ``num_samples`` trials are sampled before the sampler uses results
    (TPE's random start-up; every trial of the other samplers ignores results)."""
    return min(startup, num_samples) if sampler == "tpe" else num_samples


def load_spec(path: str | Path) -> StudySpec:
    """Read and validate a study spec TOML file.

    Raises:
        ConfigError: the file is missing, is not TOML, or holds an invalid spec (the message
            starts with the file name).
    """
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"study config {path} does not exist")
    try:
        raw = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"{path}: not valid TOML: {' '.join(str(err).split())}") from None
    try:
        return StudySpec.from_dict(raw)
    except ConfigError as err:
        raise ConfigError(f"{path}: {err}") from None
