"""What trials ask of the cluster, checked against what it has before any trial starts.

Ray Tune waits forever for a request that can never be granted, and a Train-in-Tune trial whose
driver holds a CPU its workers need deadlocks (reference/ray.md section 3). So:

* a plain trial asks for ``{CPU: cpus, GPU: gpus}`` on one node;
* a Train trial's driver asks only for one slot of the custom resource ``study_driver`` (no
  CPU), and its workers ask for ``{CPU: cpus, GPU: gpus}`` each;
* :func:`check_fits` raises a one-line :class:`~stvlm.errors.ConfigError` naming the request and
  what the cluster has when a trial could never be placed;
* :func:`max_concurrent` derives how many trials can run at once from the cluster totals.

``gpus_per_trial = None`` means "1 GPU when the cluster has GPUs, else none".
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from harness.study.spec import ResourcesConfig
from stvlm.errors import ConfigError

DRIVER_RESOURCE = "study_driver"


def _fmt(resources: Mapping[str, float]) -> str:
    shown = {k: v for k, v in resources.items() if k in ("CPU", "GPU", DRIVER_RESOURCE) and v}
    return "{" + ", ".join(f"{k}: {v:g}" for k, v in sorted(shown.items())) + "}" if shown else "{}"


@dataclass(frozen=True)
class TrialResources:
    """Resolved per-trial resources.

    Args:
        cpus: CPUs of a plain trial, or of each Train worker.
        gpus: GPUs of a plain trial, or of each Train worker (fractions allowed).
        num_workers: Train workers (1: a plain trial).
        baseline_cpus: CPUs of a baseline trial.
    """

    cpus: float
    gpus: float
    num_workers: int
    baseline_cpus: float

    @property
    def uses_train(self) -> bool:
        return self.num_workers > 1

    def worker_bundle(self) -> dict[str, float]:
        """What one training process needs (the plain trial itself, or one Train worker)."""
        return {"CPU": self.cpus, **({"GPU": self.gpus} if self.gpus else {})}

    def trial_bundle(self) -> dict[str, float]:
        """What the Tune trial itself asks for."""
        return {DRIVER_RESOURCE: 1.0} if self.uses_train else self.worker_bundle()

    def per_trial_total(self) -> dict[str, float]:
        """Everything one ST-VLM trial holds while it runs."""
        if not self.uses_train:
            return self.worker_bundle()
        return {
            DRIVER_RESOURCE: 1.0,
            **{k: v * self.num_workers for k, v in self.worker_bundle().items()},
        }


def resolve(cfg: ResourcesConfig, cluster: Mapping[str, float]) -> TrialResources:
    """Fill in ``gpus_per_trial = None`` from the cluster (1 with GPUs, else 0)."""
    gpus = cfg.gpus_per_trial
    if gpus is None:
        gpus = 1.0 if cluster.get("GPU", 0) > 0 else 0.0
    return TrialResources(cfg.cpus_per_trial, gpus, cfg.num_workers, cfg.baseline_cpus)


def _fits(bundle: Mapping[str, float], node: Mapping[str, float]) -> bool:
    return all(node.get(k, 0.0) + 1e-9 >= v for k, v in bundle.items() if v > 0)


def _workers_that_fit(bundle: Mapping[str, float], nodes: Sequence[Mapping[str, float]]) -> int:
    """How many copies of ``bundle`` the nodes can hold together (each copy on one node)."""
    return sum(
        math.floor(min(n.get(k, 0.0) / v for k, v in bundle.items() if v > 0) + 1e-9) for n in nodes
    )


def check_fits(
    req: TrialResources, nodes: Sequence[Mapping[str, float]], cluster: Mapping[str, float],
    *, with_baselines: bool = False,
) -> None:
    """Raise when a trial of this study could never be placed on this cluster.

    Args:
        req: per-trial resources.
        nodes: the resources of every alive node.
        cluster: the cluster totals.
        with_baselines: the study also runs baseline trials.

    Raises:
        ConfigError: one line with the request and what the cluster has.
    """
    largest = max(nodes, key=lambda n: (n.get("GPU", 0), n.get("CPU", 0)), default={})
    has = f"the cluster has {_fmt(cluster)} over {len(nodes)} node(s), the largest node {_fmt(largest)}"
    if req.uses_train:
        if not any(n.get(DRIVER_RESOURCE, 0) >= 1 for n in nodes):
            raise ConfigError(
                f"resources.num_workers = {req.num_workers} needs a '{DRIVER_RESOURCE}' slot for the "
                f"trial driver but {has}; start the cluster with "
                f"ray start --resources='{{\"{DRIVER_RESOURCE}\": 4}}'"
            )
        if _workers_that_fit(req.worker_bundle(), nodes) < req.num_workers:
            raise ConfigError(
                f"resources: a trial asks for {req.num_workers} Train workers x {_fmt(req.worker_bundle())} "
                f"but {has}; lower resources.num_workers, cpus_per_trial or gpus_per_trial"
            )
    elif not any(_fits(req.worker_bundle(), n) for n in nodes):
        raise ConfigError(
            f"resources: a trial asks for {_fmt(req.worker_bundle())} on one node but {has}; "
            "lower resources.cpus_per_trial or gpus_per_trial, or add nodes"
        )
    if with_baselines and not any(_fits({"CPU": req.baseline_cpus}, n) for n in nodes):
        raise ConfigError(
            f"resources.baseline_cpus = {req.baseline_cpus:g} does not fit on any node; {has}"
        )


def max_concurrent(req: TrialResources, cluster: Mapping[str, float], cap: int | None = None) -> int:
    """How many ST-VLM trials can hold their resources at once (at least 1)."""
    total = req.per_trial_total()
    fits = min(math.floor(cluster.get(k, 0.0) / v + 1e-9) for k, v in total.items() if v > 0)
    fits = max(1, fits)
    return min(fits, cap) if cap is not None else fits
