"""Workloads as users keep them: Kubernetes manifests in, the pods they make out.

``read_workload_manifests`` takes files, folders or ``-`` (standard input) holding
Deployments, StatefulSets, ReplicaSets, Jobs, CronJobs (their job template), bare Pods, and
``kind: List`` as ``kubectl get -o yaml`` prints it, in multi-document YAML or JSON. Each
workload becomes its pod template and the pods its controller would run at once: ``replicas``
(default 1) for Deployments, StatefulSets and ReplicaSets, ``parallelism`` (default 1, at most
``completions``) for Jobs and CronJobs, one for a Pod (Kubernetes' defaults: the apps/v1 and
batch/v1 API types). Objects that are not workloads (Services, ConfigMaps...) are counted and
skipped.

:func:`device_plugin_refusals` says which workloads the NVIDIA device plugin would refuse at
``Allocate`` on every pool that could take them: a container asking for more than one shared
slice where the plugin fails such requests (``failRequestsGreaterThanOne``), or for
``nvidia.com/gpu.shared`` where no pool renames its slices. Karpenter would place those pods
and the plugin would then refuse them, so ``simulate`` reports them before scheduling.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from .errors import ConfigurationError
from .manifest_files import ManifestSource, bad_manifest, manifest_objects
from .setup import GpuSharingSetup
from .sharing import GPU_RESOURCE, SHARED_GPU_RESOURCE

#: Largest manifest file read (a cluster's `kubectl get -o yaml` of workloads is a few MiB).
MAX_MANIFEST_BYTES: Final = 16 * 1024 * 1024
#: Most pods the manifests may make together (``simulate``'s bound per pool, five pools).
MAX_WORKLOAD_PODS: Final = 25_000
#: How ``--workloads`` reads its files.
WORKLOAD_MANIFESTS: Final = ManifestSource(
    option="--workloads",
    what="your workload manifests",
    max_bytes=MAX_MANIFEST_BYTES,
    example="kubectl get deployments,statefulsets,jobs -A -o yaml > workloads.yaml",
)
_REPLICATED: Final = ("Deployment", "StatefulSet", "ReplicaSet")


@dataclass(frozen=True)
class WorkloadPods:
    """The pods one workload runs at once.

    :param kind: Its kind (``Deployment``, ``Job``, ``Pod``...).
    :param namespace: Its namespace (``default`` when the manifest names none).
    :param name: Its name.
    :param pods: Pods it runs at once (replicas, or a Job's parallelism).
    :param template: The pod template (``metadata`` and ``spec``) every pod is made from.
    :param source: Where it was read: ``<file>`` and the document's position.
    """

    kind: str
    namespace: str
    name: str
    pods: int
    template: Mapping[str, Any]
    source: str

    def gpu_requests(self) -> dict[str, int]:
        """Per container, the largest request of a GPU resource: ``{container: n}`` for
        ``nvidia.com/gpu`` and ``nvidia.com/gpu.shared`` together (limits count where no
        request is given, as the API server defaults extended resources)."""
        found = {}
        spec = self.template.get("spec") or {}
        for container in [*(spec.get("initContainers") or []), *(spec.get("containers") or [])]:
            resources = container.get("resources") or {}
            for resource in (GPU_RESOURCE, SHARED_GPU_RESOURCE):
                amount = (resources.get("requests") or {}).get(resource)
                if amount is None:
                    amount = (resources.get("limits") or {}).get(resource)
                if amount is not None:
                    found[f"{container.get('name', '?')}/{resource}"] = _count(amount)
        return found


@dataclass(frozen=True)
class WorkloadManifests:
    """What the manifests hold: the workloads, and the objects skipped, counted by kind."""

    workloads: tuple[WorkloadPods, ...]
    skipped: Mapping[str, int]
    #: The ResourceClaimTemplates among the manifests (``resource.k8s.io/v1``), which DRA
    #: workloads name; each with its namespace (``default`` where it names none).
    claim_templates: tuple[Mapping[str, Any], ...] = ()

    @property
    def pods(self) -> int:
        """Pods of all workloads."""
        return sum(w.pods for w in self.workloads)


def read_workload_manifests(paths: Sequence[str], *, stdin: Any = None) -> WorkloadManifests:
    """The workloads in ``paths``: files, folders (their ``*.yaml``, ``*.yml``, ``*.json``,
    not recursive) or ``-`` for standard input. Raises ``ConfigurationError`` naming the file
    and document of anything that is not what a Kubernetes API server would accept as such."""
    workloads: list[WorkloadPods] = []
    skipped: Counter[str] = Counter()
    templates: list[Mapping[str, Any]] = []
    for where, document in manifest_objects(paths, WORKLOAD_MANIFESTS, stdin=stdin):
        if document["kind"] == "ResourceClaimTemplate":
            metadata = document.get("metadata") or {}
            namespace = metadata.get("namespace") or "default"
            templates.append({**document, "metadata": {**metadata, "namespace": namespace}})
            continue
        workload = _workload(document, where)
        if workload is None:
            skipped[document["kind"]] += 1
        else:
            workloads.append(workload)
    if not workloads:
        raise ConfigurationError(
            field="--workloads",
            value=", ".join(paths),
            rule="holds no workload (Deployment, StatefulSet, ReplicaSet, Job, CronJob or Pod)"
            + (f"; skipped {_described(skipped)}" if skipped else ""),
            fix="pass the manifests of the workloads to simulate, e.g. kubectl get deployments "
            "-A -o yaml > workloads.yaml",
        )
    result = WorkloadManifests(tuple(workloads), dict(sorted(skipped.items())), tuple(templates))
    if result.pods > MAX_WORKLOAD_PODS:
        raise ConfigurationError(
            field="--workloads",
            value=f"{result.pods} pods",
            rule=f"at most {MAX_WORKLOAD_PODS} pods are simulated at once",
            fix="simulate fewer workloads or replicas per run",
        )
    return result


def device_plugin_refusals(
    manifests: WorkloadManifests, setup: GpuSharingSetup
) -> list[tuple[WorkloadPods, str]]:
    """Workloads the NVIDIA device plugin would refuse on every pool offering what they ask
    for, each with the plugin's reason."""
    refusals = []
    for workload in manifests.workloads:
        for where, amount in workload.gpu_requests().items():
            resource = where.split("/", 1)[1]
            pools = [p for p in setup.pools if p.resource_name == resource]
            if not pools:
                if resource == SHARED_GPU_RESOURCE:
                    refusals.append(
                        (
                            workload,
                            f"{where}: no pool advertises {resource} (only pools with "
                            "rename_by_default do); the pod would never start",
                        )
                    )
                continue
            if amount > 1 and all(p.sharing.fail_requests_greater_than_one for p in pools):
                names = ", ".join(p.name for p in pools)
                refusals.append(
                    (
                        workload,
                        f"{where}={amount}: the device plugin refuses a request for more than "
                        f"one shared slice (failRequestsGreaterThanOne) on {names}",
                    )
                )
    return refusals


# -- reading ------------------------------------------------------------------------------------


def _workload(document: dict[str, Any], where: str) -> WorkloadPods | None:
    """The workload ``document`` describes, or None for an object that is not a workload."""
    kind = document["kind"]
    if kind not in (*_REPLICATED, "Job", "CronJob", "Pod"):
        return None
    metadata = document.get("metadata") or {}
    name = metadata.get("name")
    if not isinstance(name, str) or not name:
        raise _bad(where, "metadata.name", name, f"a {kind} has a name")
    namespace = metadata.get("namespace") or "default"
    spec = document.get("spec")
    if not isinstance(spec, dict):
        raise _bad(where, "spec", spec, f"a {kind} has a spec")
    if kind == "Pod":
        template: Any = {"metadata": metadata, "spec": spec}
        pods = 1
    elif kind in _REPLICATED:
        template = spec.get("template")
        pods = _whole(where, "spec.replicas", spec.get("replicas", 1))
    else:
        job = spec if kind == "Job" else (spec.get("jobTemplate") or {}).get("spec")
        if not isinstance(job, dict):
            raise _bad(where, "spec.jobTemplate.spec", job, "a CronJob has a job template")
        prefix = "spec" if kind == "Job" else "spec.jobTemplate.spec"
        template = job.get("template")
        pods = _whole(where, f"{prefix}.parallelism", job.get("parallelism", 1))
        completions = job.get("completions")
        if completions is not None:
            pods = min(pods, _whole(where, f"{prefix}.completions", completions))
    if not isinstance(template, dict) or not isinstance(template.get("spec"), dict):
        raise _bad(where, "spec.template", template, f"a {kind} has a pod template with a spec")
    containers = template["spec"].get("containers")
    if not isinstance(containers, list) or not containers:
        raise _bad(where, "spec.template.spec.containers", containers, "a pod has containers")
    return WorkloadPods(kind, namespace, name, pods, template, where)


def _whole(where: str, field: str, value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise _bad(where, field, value, "a whole number >= 0")
    return value


def _count(amount: Any) -> int:
    """A GPU quantity as a count (extended resources are whole numbers: ``1``, ``"2"``)."""
    try:
        return int(str(amount))
    except ValueError:
        return 0  # the API server would refuse it; not the device plugin's concern


def _bad(where: str, field: str, value: Any, rule: str) -> ConfigurationError:
    return bad_manifest(WORKLOAD_MANIFESTS, where, field, value, rule)


def _described(counts: Mapping[str, int]) -> str:
    return ", ".join(f"{n} {kind}" for kind, n in sorted(counts.items()))
