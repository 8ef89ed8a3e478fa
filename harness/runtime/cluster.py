"""Connecting a study to Ray: a running cluster, a Ray job's cluster, or a local instance.

* Inside ``ray job submit`` (or with ``RAY_ADDRESS`` set, or an explicit ``address``) the study
  connects with ``ray.init()`` and uses the cluster as started (resources such as
  ``study_driver`` come from ``ray start --resources``; Ray 2.60 refuses them on connect).
  Clusters started with ``ray start`` use token authentication when the head finds a token
  (``~/.ray/auth_token``, made by ``ray get-auth-token --generate``, or ``RAY_AUTH_TOKEN_PATH``):
  clients then need ``RAY_AUTH_MODE=token`` and the same token.
* Otherwise it starts a local instance bound to 127.0.0.1, with the dashboard (Train's
  placement-group cleaner needs the State API it serves) and ``study_driver`` slots for
  zero-CPU Train drivers, and shuts it down when the study ends.
* A process that is already connected (tests, notebooks) keeps its connection.

Trying a cluster on one machine (a loopback head; jobs need ``ray[default]`` for the dashboard)::

    ray get-auth-token --generate > /dev/null
    RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0 ray start --head --node-ip-address=127.0.0.1 \\
        --dashboard-host=127.0.0.1 --port=6379 --dashboard-port=8265 --resources='{"study_driver": 4}'
    RAY_AUTH_MODE=token ray job submit --address http://127.0.0.1:8265 --working-dir . -- \\
        python studies/fewshot.py --smoke-test --data-root $PWD/../shared/data \\
        --storage $PWD/results/ray --results-dir $PWD/results

On a real cluster, start at least one node with ``--resources='{"study_driver": K}'`` (K = the
Train-driven trials that may run at once), give all nodes and clients the token
(``RAY_AUTH_TOKEN`` or ``RAY_AUTH_TOKEN_PATH``) and use shared storage (``s3://``, ``gs://`` or
an NFS path) for ``--storage``.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field

import ray

from harness.runtime.private_api import disable_ray_clusters
from harness.study.resources import DRIVER_RESOURCE
from harness.study.storage import ray_job_id

log = logging.getLogger(__name__)


@dataclass
class ClusterInfo:
    """What the study is connected to.

    Args:
        started: this process started the Ray instance (and must shut it down).
        how: ``"connected"``, ``"job"``, ``"local"`` or ``"existing"``.
        resources: cluster totals (``ray.cluster_resources()``).
        nodes: the resources of each alive node.
    """

    started: bool
    how: str
    resources: dict[str, float] = field(default_factory=dict)
    nodes: list[dict[str, float]] = field(default_factory=list)

    def refresh(self) -> ClusterInfo:
        self.resources = {k: float(v) for k, v in ray.cluster_resources().items()}
        self.nodes = [
            {k: float(v) for k, v in n["Resources"].items()} for n in ray.nodes() if n.get("Alive")
        ]
        return self

    def shutdown(self) -> None:
        """Stop the local instance if this process started it (never a cluster it joined)."""
        if self.started and ray.is_initialized():
            ray.shutdown()


def loopback_only() -> None:
    """Make a local instance bind every server (GCS, raylets, workers) to 127.0.0.1.

    ``ray.init(_node_ip_address="127.0.0.1")`` alone is not enough: Ray turns a loopback address
    into the machine's routable one unless clusters are disabled, which is what
    ``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0`` does (read at import, hence the constant is set too;
    the variable reaches the processes Ray starts). Only for an instance this process starts.
    """
    disable_ray_clusters()


def connect(
    address: str | None = None, *, num_cpus: int | None = None, num_gpus: int | None = None
) -> ClusterInfo:
    """Connect to (or start) the Ray instance the study runs on; see the module docstring."""
    if ray.is_initialized():
        return ClusterInfo(started=False, how="existing").refresh()
    if ray_job_id() or address or os.environ.get("RAY_ADDRESS"):
        target = address or os.environ.get("RAY_ADDRESS", "")
        if target.split("://")[-1].split(":")[0] in ("127.0.0.1", "localhost"):
            loopback_only()  # else Ray dials the routable address, where a loopback head is not
        ray.init(address=address, log_to_driver=True)
        return ClusterInfo(started=False, how="job" if ray_job_id() else "connected").refresh()
    cpus = num_cpus or os.cpu_count() or 1
    loopback_only()
    ray.init(
        address="local",  # never join a cluster recorded in /tmp/ray/ray_current_cluster
        num_cpus=cpus,
        num_gpus=num_gpus,
        resources={DRIVER_RESOURCE: max(2, cpus)},
        include_dashboard=True,
        dashboard_host="127.0.0.1",
        _node_ip_address="127.0.0.1",
        log_to_driver=True,
    )
    log.info("started a local Ray instance with %d CPUs", cpus)
    return ClusterInfo(started=True, how="local").refresh()
