"""Before the first deploy on a cluster that already runs GPUs: what there would break ours, or
be broken by it.

:func:`preflight` reads a setup and a cluster dump (:mod:`.cluster_dump`, the one ``simulate
--cluster`` reads) and returns :class:`Finding` s, each with the object, the consequence and
the fix:

* **another NVIDIA device plugin** (a release with the chart's default affinity, the GPU
  Operator's) whose DaemonSet would also run on the pools' nodes: the AL2023 NVIDIA AMI labels
  GPU nodes ``nvidia.com/gpu.present=true`` itself on Kubernetes 1.35+, and NFD labels them
  ``feature.node.kubernetes.io/pci-10de.present=true``; both are in the chart's default
  affinity. Two plugins then register ``nvidia.com/gpu`` with different configs.
* **NodeOverlays** of the cluster that apply to the pools' instance types and set the same
  resource: a higher weight overrides ours, an equal one conflicts and Karpenter applies
  neither (``sigs.k8s.io/karpenter`` ``pkg/controllers/nodeoverlay``).
* **GPU workloads that would land on shared nodes**: they ask for ``nvidia.com/gpu``, tolerate
  a shared pool's taints and select no pool, so Karpenter may provision (and kube-scheduler
  bind) them onto time-sliced nodes, where they get a slice, not a GPU.
* **Karpenter** whose version or NodeOverlay feature gate differs from the setup's.
* **Namespaces and names** the manifests would take over: an existing namespace, NodePool,
  EC2NodeClass or NodeOverlay of the same name that this library did not make.

It runs offline on the dump; it never talks to a cluster.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from .backends import DEVICE_PLUGIN_RELEASE
from .catalog import GpuInstanceType
from .cluster_dump import ClusterDump
from .errors import printable
from .k8s_namespaces import SAMPLE_WORKLOAD_NAMESPACE
from .karpenter_api import (
    CAPACITY_TYPE,
    INSTANCE_TYPE_LABEL,
    NODEPOOL_LABEL,
)
from .labels import GPU_PRESENT_LABEL, MANAGED_BY, MANAGED_BY_LABEL, POOL_LABEL
from .node_fit import selects_label, selects_node, untolerated
from .plan import OVERLAY_WEIGHT, NodePoolPlan, plan_pool
from .pool_options import AmiFamily
from .setup import GpuSharingSetup
from .sharing import GPU_RESOURCE
from .versions import kubernetes_minor

#: NFD's label for a node with an NVIDIA PCI device (the device plugin chart's default affinity).
NFD_NVIDIA_PCI_LABEL: Final = "feature.node.kubernetes.io/pci-10de.present"
#: The first Kubernetes minor on which the AL2023 NVIDIA AMI labels nodes gpu.present itself.
AMI_GPU_PRESENT_SINCE_MINOR: Final = 35
_DEVICE_PLUGIN_IMAGE: Final = re.compile(r"(^|/)k8s-device-plugin(:|@|$)")
_KARPENTER_IMAGE: Final = re.compile(r"/karpenter/controller(:|@|$)")


@dataclass(frozen=True)
class Finding:
    """One thing in the cluster that breaks the setup, or that the setup would break.

    :param subject: The object, e.g. ``DaemonSet kube-system/nvdp-nvidia-device-plugin``.
    :param problem: What would happen.
    :param fix: What to change (a values snippet or patch where one helps).
    """

    subject: str
    problem: str
    fix: str


@dataclass(frozen=True)
class PreflightReport:
    """The findings for one setup and one dump."""

    findings: tuple[Finding, ...]
    cluster: str

    @property
    def clean(self) -> bool:
        """Nothing found."""
        return not self.findings

    def format_text(self) -> str:
        """One paragraph per finding, control characters escaped."""
        if self.clean:
            return f"preflight: nothing found ({printable(self.cluster)})"
        lines = [f"preflight: {len(self.findings)} finding(s) ({printable(self.cluster)})"]
        for finding in self.findings:
            lines += [
                "",
                f"- {printable(finding.subject)}: {printable(finding.problem)}",
                *(f"  {printable(line)}" for line in f"fix: {finding.fix}".splitlines()),
            ]
        return "\n".join(lines)

    def to_json(self) -> str:
        """The findings as JSON (``schemaVersion`` 1)."""
        return json.dumps(
            {
                "schemaVersion": 1,
                "cluster": self.cluster,
                "clean": self.clean,
                "findings": [
                    {"subject": f.subject, "problem": f.problem, "fix": f.fix}
                    for f in self.findings
                ],
            },
            indent=2,
        )


@dataclass(frozen=True)
class _PoolNode:
    """What a node of one of the setup's NodePools will carry."""

    pool: str
    node_pool: NodePoolPlan
    labels: Mapping[str, str]
    taints: tuple[Mapping[str, Any], ...]
    shares: bool


def preflight(setup: GpuSharingSetup, dump: ClusterDump) -> PreflightReport:
    """Every finding for deploying ``setup`` into the cluster ``dump`` describes."""
    nodes = list(_pool_nodes(setup, dump))
    findings = [
        *_other_device_plugins(setup, dump, nodes),
        *_overlays(dump, nodes),
        *_workloads_on_shared_nodes(dump, nodes),
        *_karpenter(setup, dump),
        *_taken_over(setup, dump, nodes),
    ]
    return PreflightReport(tuple(findings), dump.summary())


# -- the setup's nodes ----------------------------------------------------------------------------


def _pool_nodes(setup: GpuSharingSetup, dump: ClusterDump) -> Iterator[_PoolNode]:
    nfd_runs = any(_runs_image(ds, "node-feature-discovery") for ds in dump.daemon_sets)
    ami_labels_gpus = kubernetes_minor(setup.kubernetes_version) >= AMI_GPU_PRESENT_SINCE_MINOR
    for pool in setup.pools:
        for plan in plan_pool(pool).node_pools:
            labels = {
                **plan.instance_types[0].labels,
                INSTANCE_TYPE_LABEL: plan.instance_types[0].name,
                NODEPOOL_LABEL: plan.name,
                CAPACITY_TYPE: pool.capacity_types[0].value,
                **plan.node_labels(),
            }
            if pool.ami_family is AmiFamily.AL2023 and ami_labels_gpus:
                labels[GPU_PRESENT_LABEL] = "true"
            if nfd_runs or pool.sharing.needs_gpu_feature_discovery:
                labels[NFD_NVIDIA_PCI_LABEL] = "true"
            yield _PoolNode(
                pool.name, plan, labels, tuple(pool.node_taints()), pool.sharing.shares_gpus
            )


# -- checks ---------------------------------------------------------------------------------------


def _other_device_plugins(
    setup: GpuSharingSetup, dump: ClusterDump, nodes: Sequence[_PoolNode]
) -> Iterator[Finding]:
    for daemon_set in dump.daemon_sets:
        if not _runs_image(daemon_set, _DEVICE_PLUGIN_IMAGE) or _is_ours(daemon_set, setup):
            continue
        pools = _pools_admitting(_pod_spec(daemon_set), nodes)
        if pools:
            yield Finding(
                _subject(daemon_set),
                f"an NVIDIA device plugin that would also run on the nodes of pools "
                f"{', '.join(pools)} beside this library's: two plugins register "
                f"{GPU_RESOURCE} with different configs, and the slice count flaps",
                "keep it off the pools' nodes: add "
                f"{{key: {POOL_LABEL}, operator: DoesNotExist}} to every nodeSelectorTerm of its "
                "required node affinity. For a Helm release of the chart, its values "
                "(they replace the chart's default affinity, so keep your own terms):\n"
                "affinity:\n"
                "  nodeAffinity:\n"
                "    requiredDuringSchedulingIgnoredDuringExecution:\n"
                "      nodeSelectorTerms:\n"
                "        - matchExpressions:\n"
                f"            - {{key: {GPU_PRESENT_LABEL}, operator: In, values: ['true']}}\n"
                f"            - {{key: {POOL_LABEL}, operator: DoesNotExist}}",
            )


def _overlays(dump: ClusterDump, nodes: Sequence[_PoolNode]) -> Iterator[Finding]:
    ours = {name for node in nodes for name in _overlay_names(node.node_pool)}
    for overlay in dump.node_overlays:
        name = _name(overlay)
        if name in ours and _managed(overlay):
            continue
        spec = overlay.get("spec") or {}
        capacity = spec.get("capacity") or {}
        weight = spec.get("weight") or 0
        for node in nodes:
            plan = node.node_pool
            resources = sorted(set(capacity) & {plan.resource_name, GPU_RESOURCE})
            if not resources or not node.shares:
                continue
            if not any(
                _requirements_admit(spec.get("requirements") or [], plan, instance_type)
                for instance_type in plan.instance_types
            ):
                continue
            if weight > OVERLAY_WEIGHT:
                effect = (
                    f"has a higher weight ({weight}) than this library's ({OVERLAY_WEIGHT}) and "
                    f"overrides {', '.join(resources)} on the instance types of NodePool "
                    f"{plan.name}: Karpenter plans with its {capacity[resources[0]]}, not the "
                    "slices the device plugin advertises"
                )
            elif weight == OVERLAY_WEIGHT:
                effect = (
                    f"has this library's weight ({weight}) and sets {', '.join(resources)} on "
                    f"the instance types of NodePool {plan.name}: the two conflict and "
                    "Karpenter applies neither (NodeOverlay ValidationSucceeded=False)"
                )
            else:
                continue
            yield Finding(
                _subject(overlay),
                effect,
                f"scope it off the pools: add {{key: {NODEPOOL_LABEL}, operator: NotIn, values: "
                f"[{plan.name}]}} to its requirements, or lower its weight below "
                f"{OVERLAY_WEIGHT}",
            )
            break


def _workloads_on_shared_nodes(dump: ClusterDump, nodes: Sequence[_PoolNode]) -> Iterator[Finding]:
    shared = [node for node in nodes if node.shares]
    for workload, spec in _workloads(dump):
        if not _asks_for_whole_gpus(spec) or selects_label(spec, POOL_LABEL):
            continue
        pools = _pools_admitting(spec, shared)
        if pools:
            yield Finding(
                workload,
                f"asks for whole {GPU_RESOURCE}, tolerates the taints of shared pools "
                f"{', '.join(pools)} and selects no pool: Karpenter may provision it onto "
                "their nodes (it tries NodePools by weight) and kube-scheduler may bind it "
                "there, where each GPU it asks for is a shared slice",
                f"give it a node selector for its own nodes (e.g. {POOL_LABEL}: <a pool of "
                "whole GPUs>), or give the shared pools a taint of their own that it does "
                "not tolerate",
            )


def _karpenter(setup: GpuSharingSetup, dump: ClusterDump) -> Iterator[Finding]:
    for deployment in dump.deployments:
        for container in _pod_spec(deployment).get("containers") or []:
            image = str(container.get("image", ""))
            if not _KARPENTER_IMAGE.search(image):
                continue
            running = image.split("@", 1)[0].rpartition(":")[2].removeprefix("v")
            if running and running != setup.karpenter.version:
                yield Finding(
                    _subject(deployment),
                    f"runs Karpenter {running}; the setup says {setup.karpenter.version}, and "
                    "synth checks its manifests against that version's API",
                    f"set karpenter.version to {running!r}, or upgrade Karpenter",
                )
            gates = next(
                (
                    str(e.get("value", ""))
                    for e in container.get("env") or []
                    if e.get("name") == "FEATURE_GATES"
                ),
                "",
            )
            overlay_gate = "NodeOverlay=true" in gates
            needs_overlays = setup.needs_node_overlay
            if needs_overlays and not overlay_gate:
                yield Finding(
                    _subject(deployment),
                    "runs without the NodeOverlay feature gate: Karpenter ignores the "
                    "overlays and counts each slice request as a whole GPU (a quarter of the "
                    "pods per node with 4 slices)",
                    "install the chart with --set settings.featureGates.nodeOverlay=true",
                )
            elif overlay_gate and not setup.karpenter.node_overlay_enabled:
                yield Finding(
                    _subject(deployment),
                    "runs with the NodeOverlay feature gate, but the setup says it is off",
                    "set karpenter.nodeOverlayEnabled: true",
                )


def _taken_over(
    setup: GpuSharingSetup, dump: ClusterDump, nodes: Sequence[_PoolNode]
) -> Iterator[Finding]:
    namespaces = {setup.device_plugin_namespace}
    if setup.monitoring is not None:
        namespaces.add(setup.monitoring.namespace)
    if setup.sample_workload is not None:
        namespaces.add(SAMPLE_WORKLOAD_NAMESPACE)
    for namespace in dump.namespaces:
        if _name(namespace) in namespaces and not _managed(namespace):
            yield Finding(
                _subject(namespace),
                "exists and was not made by this library: the manifests would set its Pod "
                "Security level and label it as theirs, and a later change would print a "
                "delete for it (with everything in it)",
                "choose another namespace for this library, or, if it is meant to be this "
                f"library's, label it {MANAGED_BY_LABEL}={MANAGED_BY}",
            )
    names = {
        "NodePool": {node.node_pool.name for node in nodes},
        "EC2NodeClass": {node.node_pool.name for node in nodes},
        "NodeOverlay": {name for node in nodes for name in _overlay_names(node.node_pool)},
    }
    for obj in [*dump.node_pools, *dump.ec2_node_classes, *dump.node_overlays]:
        if _name(obj) in names.get(obj.get("kind", ""), set()) and not _managed(obj):
            yield Finding(
                _subject(obj),
                "has the name of an object this setup generates: applying the manifests "
                "would replace it",
                "rename the pool that generates it (pools[].name)",
            )


# -- helpers --------------------------------------------------------------------------------------


def _pools_admitting(spec: Mapping[str, Any], nodes: Sequence[_PoolNode]) -> list[str]:
    """The pools whose nodes ``spec``'s selectors admit and whose taints it tolerates."""
    return sorted(
        {
            node.pool
            for node in nodes
            if selects_node(spec, node.labels)
            and not untolerated(spec.get("tolerations") or [], node.taints)
        }
    )


def _workloads(dump: ClusterDump) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """Deployments' pod templates, and pods no ReplicaSet or DaemonSet owns."""
    for deployment in dump.deployments:
        yield _subject(deployment), _pod_spec(deployment)
    for pod in dump.pods:
        owners = {o.get("kind") for o in (pod.get("metadata") or {}).get("ownerReferences") or []}
        if not owners & {"ReplicaSet", "DaemonSet"}:
            yield _subject(pod), pod.get("spec") or {}


def _asks_for_whole_gpus(spec: Mapping[str, Any]) -> bool:
    for container in [*(spec.get("containers") or []), *(spec.get("initContainers") or [])]:
        resources = container.get("resources") or {}
        for part in ("limits", "requests"):
            if GPU_RESOURCE in (resources.get(part) or {}):
                return True
    return False


def _requirements_admit(
    requirements: Sequence[Mapping[str, Any]], plan: NodePoolPlan, instance_type: GpuInstanceType
) -> bool:
    """Whether a node of ``instance_type`` in ``plan``'s NodePool could meet every requirement;
    keys the setup does not fix (zones, for example) are assumed met."""
    known = {
        **instance_type.labels,
        INSTANCE_TYPE_LABEL: instance_type.name,
        NODEPOOL_LABEL: plan.name,
        **plan.node_labels(),
    }
    for requirement in requirements:
        key = requirement.get("key", "")
        if key not in known and requirement.get("operator") in ("In", "Exists", "Gt", "Lt"):
            continue
        if not selects_node(
            {
                "affinity": {
                    "nodeAffinity": {
                        "requiredDuringSchedulingIgnoredDuringExecution": {
                            "nodeSelectorTerms": [{"matchExpressions": [requirement]}]
                        }
                    }
                }
            },
            known,
        ):
            return False
    return True


def _overlay_names(plan: NodePoolPlan) -> list[str]:
    return [plan.overlay_name(count) for count in plan.overlay_capacities()]


def _runs_image(obj: Mapping[str, Any], pattern: str | re.Pattern[str]) -> bool:
    spec = _pod_spec(obj)
    images = [
        str(c.get("image", ""))
        for c in [*(spec.get("containers") or []), *(spec.get("initContainers") or [])]
    ]
    if isinstance(pattern, str):
        return any(pattern in image for image in images)
    return any(pattern.search(image) for image in images)


def _is_ours(daemon_set: Mapping[str, Any], setup: GpuSharingSetup) -> bool:
    metadata = daemon_set.get("metadata") or {}
    labels = metadata.get("labels") or {}
    return (
        metadata.get("namespace") == setup.device_plugin_namespace
        and labels.get("app.kubernetes.io/instance") == DEVICE_PLUGIN_RELEASE
    )


def _pod_spec(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    template = (obj.get("spec") or {}).get("template") or {}
    spec = template.get("spec")
    return spec if isinstance(spec, Mapping) else {}


def _managed(obj: Mapping[str, Any]) -> bool:
    labels = (obj.get("metadata") or {}).get("labels") or {}
    return labels.get(MANAGED_BY_LABEL) == MANAGED_BY


def _name(obj: Mapping[str, Any]) -> str:
    return str((obj.get("metadata") or {}).get("name", ""))


def _subject(obj: Mapping[str, Any]) -> str:
    metadata = obj.get("metadata") or {}
    namespace = metadata.get("namespace")
    name = f"{namespace}/{metadata.get('name')}" if namespace else str(metadata.get("name"))
    return f"{obj.get('kind')} {name}"
