"""Resource requests: GPU auto-detection, fail-fast checks and derived concurrency."""

from __future__ import annotations

import pytest

from harness.study.resources import TrialResources, check_fits, max_concurrent, resolve
from harness.study.spec import ResourcesConfig
from stvlm.errors import ConfigError

CPU2 = [{"CPU": 2.0, "study_driver": 2.0, "memory": 1e9}]


def test_resolve_and_bundles() -> None:
    cpu = resolve(ResourcesConfig(), {"CPU": 8.0})
    assert (cpu.cpus, cpu.gpus, cpu.trial_bundle()) == (1.0, 0.0, {"CPU": 1.0})
    gpu = resolve(ResourcesConfig(cpus_per_trial=4), {"CPU": 8.0, "GPU": 2.0})
    assert gpu.trial_bundle() == {"CPU": 4.0, "GPU": 1.0}
    ddp = resolve(ResourcesConfig(gpus_per_trial=1, num_workers=2), {"CPU": 8.0, "GPU": 2.0})
    assert ddp.trial_bundle() == {"study_driver": 1.0}
    assert ddp.worker_bundle() == {"CPU": 1.0, "GPU": 1.0}
    assert ddp.per_trial_total() == {"study_driver": 1.0, "CPU": 2.0, "GPU": 2.0}
    half = resolve(ResourcesConfig(gpus_per_trial=0.5), {"CPU": 8.0, "GPU": 1.0})
    assert half.trial_bundle() == {"CPU": 1.0, "GPU": 0.5}


def test_max_concurrent() -> None:
    assert max_concurrent(TrialResources(1, 0, 1, 1), {"CPU": 2.0}) == 2
    assert max_concurrent(TrialResources(2, 0, 1, 1), {"CPU": 2.0}) == 1
    assert max_concurrent(TrialResources(1, 0.5, 1, 1), {"CPU": 16.0, "GPU": 2.0}) == 4
    assert max_concurrent(TrialResources(1, 0, 2, 1), {"CPU": 8.0, "study_driver": 3.0}) == 3
    assert max_concurrent(TrialResources(1, 0, 1, 1), {"CPU": 16.0}, cap=2) == 2
    assert max_concurrent(TrialResources(4, 0, 1, 1), {"CPU": 2.0}) == 1  # never below one


def test_fitting_requests_pass() -> None:
    check_fits(TrialResources(2, 0, 1, 1), CPU2, {"CPU": 2.0}, with_baselines=True)
    check_fits(TrialResources(1, 0, 2, 1), CPU2, {"CPU": 2.0, "study_driver": 2.0})
    two_nodes = [{"CPU": 1.0, "study_driver": 2.0}, {"CPU": 1.0}]
    check_fits(TrialResources(1, 0, 2, 1), two_nodes, {"CPU": 2.0, "study_driver": 2.0})


@pytest.mark.parametrize(
    ("req", "nodes", "expected"),
    [
        (TrialResources(4, 0, 1, 1), CPU2,
         "resources: a trial asks for {CPU: 4} on one node but the cluster has {CPU: 2, study_driver: 2} over 1 "
         "node(s), the largest node {CPU: 2, study_driver: 2}; lower resources.cpus_per_trial or gpus_per_trial, or add nodes"),
        (TrialResources(1, 1, 1, 1), CPU2, "resources: a trial asks for {CPU: 1, GPU: 1} on one node but the cluster has"),
        (TrialResources(1, 0, 3, 1), CPU2,
         "resources: a trial asks for 3 Train workers x {CPU: 1} but the cluster has {CPU: 2, study_driver: 2}"),
        (TrialResources(1, 0, 2, 1), [{"CPU": 4.0}],
         "resources.num_workers = 2 needs a 'study_driver' slot for the trial driver but the cluster has {CPU: 4}"),
        (TrialResources(1, 0, 1, 3), CPU2, "resources.baseline_cpus = 3 does not fit on any node"),
    ],
)
def test_requests_that_never_fit_fail_at_once(req: TrialResources, nodes: list, expected: str) -> None:
    cluster = {k: sum(n.get(k, 0.0) for n in nodes) for k in ("CPU", "GPU", "study_driver")}
    with pytest.raises(ConfigError) as info:
        check_fits(req, nodes, cluster, with_baselines=True)
    assert str(info.value).startswith(expected) and "\n" not in str(info.value)


@pytest.mark.parametrize("value", [0.0, -1.0, 61.0])
def test_train_poll_interval_out_of_range_names_the_field(value: float) -> None:
    with pytest.raises(ConfigError, match=rf"train_poll_s = {value:g}"):
        ResourcesConfig(train_poll_s=value)
    assert ResourcesConfig().train_poll_s == 0.25 and ResourcesConfig(train_poll_s=60).train_poll_s == 60.0


def test_gpu_requests_ray_and_nccl_cannot_place_are_refused_by_the_spec() -> None:
    from harness.study.spec import StudySpec

    with pytest.raises(ConfigError) as info:
        StudySpec.from_dict({"name": "s", "dataset": "nycbike-drop",
                             "resources": {"gpus_per_trial": 0.5, "num_workers": 2}})
    assert str(info.value) == (
        "resources.gpus_per_trial = 0.5 is a fraction of a GPU with num_workers = 2; allowed: whole "
        "GPUs for DDP workers (NCCL refuses two ranks on one GPU), or num_workers = 1")
    with pytest.raises(ConfigError, match=r"^gpus_per_trial = 1.5 is out of range; allowed: a fraction below 1 or a whole number$"):
        ResourcesConfig(gpus_per_trial=1.5)
    assert [ResourcesConfig(gpus_per_trial=g, num_workers=w).gpus_per_trial
            for g, w in ((0.25, 1), (1, 2), (2, 2), (0, 2))] == [0.25, 1, 2, 0]
