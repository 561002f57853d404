"""See what Karpenter will launch, and what it costs, before you deploy.

:func:`simulate` runs Karpenter's own provisioner (the pinned release, through
:mod:`eks_gpu_sharing.upstream`) on the objects this library generates for a setup and on N
pending one-slice pods per pool, once with the NodeOverlays and once without them (the setup
public guides describe), and reports per pool the NodeClaims Karpenter would create, the instance
types each may launch, the slices per node, the hourly price and every pod it could not place,
with Karpenter's reason.

What it cannot tell (:data:`LIMITS`): it is one scheduling round and launches nothing.
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import cdk8s

from .advice import file_advice
from .catalog import InstanceCatalog, load_catalog
from .cheapest_fleet import CheapestFleet, NodeOption, PodShape, cheapest_fleet
from .cluster_dump import ClusterDump, ClusterObjects
from .config_writer import to_document
from .dra import (
    CONSUMABLE_CAPACITY_ANNOTATION,
    DEVICE_MANAGER_LABEL,
    DRA_DEVICE_MANAGER,
    claim_template,
    gpu_device_class,
)
from .errors import ConfigurationError, printable
from .k8s import (
    DEVICE_PLUGIN_RELEASE,
    SampleWorkloadChart,
    build_gpu_sharing_charts,
)
from .karpenter_values import KARPENTER_RELEASE, karpenter_chart_values
from .labels import POOL_LABEL
from .plan import plan_pool
from .pool import GpuPool
from .setup import GpuSharingSetup
from .upstream import Upstream, UpstreamError, upstream
from .upstream.harness import KARPENTER_CORE_MODULE, KARPENTER_MODULE
from .versions import KARPENTER_VERSION, KUBERNETES_VERSION
from .vocabulary import Yaml, speaking, vocabulary
from .workload_manifests import WorkloadManifests, WorkloadPods, device_plugin_refusals

#: What a simulated figure does not include; shown with every report.
LIMITS: Final = (
    "One scheduling round of Karpenter's provisioner: nothing is launched, so which offering "
    "EC2 actually fills, insufficient-capacity fallbacks, spot interruptions and node start-up "
    "are not simulated.",
    "Every catalog instance type is assumed offered in three zones of the price region; spot "
    "is priced like on-demand (Karpenter's static table has no spot prices) and types without "
    "a static price are unavailable, as in Karpenter before its first price update.",
    "DaemonSet overhead on a new node counts every DaemonSet Karpenter would count there: the "
    "NVIDIA device plugin this library deploys, with MPS also GPU and node feature discovery and "
    "the MPS control daemon, and with --cluster your cluster's own DaemonSets. Without "
    "--cluster the cluster is empty: no existing node, DaemonSet, NodePool or NodeOverlay of "
    "yours takes part.",
    "Pods come from --workloads as their controllers would create them at once (replicas, a "
    "Job's parallelism); autoscalers, PodDisruptionBudgets and volume topology (no "
    "PersistentVolumeClaims are read) are not simulated. --pods makes one-slice sample pods "
    "(250m CPU, 256Mi): real requests can need larger, costlier nodes.",
    "Every pending pod is accounted for: placed, refused with Karpenter's reason, or, when "
    "Karpenter's one-minute scheduling deadline ends the round first, reported as INCOMPLETE.",
)
#: Version of ``simulate --format json``'s layout (docs/simulation.md lists its keys); a change
#: that removes or renames a key raises it.
JSON_SCHEMA_VERSION: Final = 1
#: Most pending pods one round takes, all pools and workloads together. Measured on two cores
#: with one kept busy (docs/simulation.md): 5,000 one-slice pods with a zone spread took 57 s
#: of Karpenter's one-minute deadline (scripts/benchmark_workloads.py --scale), and the time
#: grows faster than the pods; 4,000 leave a margin for slower machines and constraints.
MAX_PENDING_PODS: Final = 4000
#: Most pods ``--pods`` takes for one pool (the round's bound).
MAX_PODS_PER_POOL: Final = MAX_PENDING_PODS
_SIMULATED_NAMESPACE: Final = "simulated"
#: The region the catalog's prices are for, and the simulator's default.
DEFAULT_REGION: Final = "us-east-1"


@dataclass(frozen=True)
class SimulatedNodeClaim:
    """One node Karpenter would launch.

    :param pool: Its pool.
    :param pods: Pending pods it was created for.
    :param instance_types: Every instance type the NodeClaim may launch as.
    :param instance_type: The cheapest of them (EC2 Fleet's lowest-price choice).
    :param capacity_type: ``on-demand`` or ``spot``.
    :param price_per_hour: USD per hour of that instance type.
    :param slices: What Karpenter expects the node to offer of the pool's GPU resource.
    :param node_pool: Its NodePool (the pool's, or one per GPU model of it).
    """

    pool: str
    pods: int
    instance_types: tuple[str, ...]
    instance_type: str
    capacity_type: str
    price_per_hour: float
    slices: int
    node_pool: str = ""


@dataclass(frozen=True)
class PoolOutcome:
    """What Karpenter does for one pool's pending pods."""

    pool: str
    pending_pods: int
    node_claims: tuple[SimulatedNodeClaim, ...]
    #: Karpenter's reason per pod it could not place, counted: ((reason, pods), ...).
    unschedulable: tuple[tuple[str, int], ...]
    #: Pods placed on nodes that already run (``--cluster``), not on new ones.
    existing_node_pods: int = 0
    #: The cheapest fleet of the pool's admitted types that holds the pods Karpenter placed on
    #: its new nodes (eks_gpu_sharing.cheapest_fleet); None when it holds none of them.
    cheapest: CheapestFleet | None = None

    @property
    def cost_ratio(self) -> float | None:
        """Karpenter's $/hour over the cheapest fleet's; None without new nodes or a fleet."""
        if self.cheapest is None or not self.node_claims or self.cheapest.price_per_hour <= 0:
            return None
        return round(self.price_per_hour / self.cheapest.price_per_hour, 4)

    @property
    def nodes(self) -> int:
        """NodeClaims (= GPU nodes) Karpenter would launch."""
        return len(self.node_claims)

    @property
    def price_per_hour(self) -> float:
        """USD per hour of those nodes."""
        return round(sum(claim.price_per_hour for claim in self.node_claims), 6)

    @property
    def scheduled_pods(self) -> int:
        """Pods placed on the new nodes."""
        return sum(claim.pods for claim in self.node_claims)

    @property
    def unschedulable_pods(self) -> int:
        """Pods Karpenter could not place."""
        return sum(count for _, count in self.unschedulable)

    @property
    def unaccounted_pods(self) -> int:
        """Pods neither placed nor refused: Karpenter's scheduling deadline ended the round
        before it tried them (``SimulationRun.deadline_exceeded``)."""
        placed = self.scheduled_pods + self.existing_node_pods
        return max(0, self.pending_pods - placed - self.unschedulable_pods)


#: Where the report counts pods placed on a node that already runs and belongs to no NodePool.
EXISTING_NODES: Final = "existing nodes"


@dataclass(frozen=True)
class PodGroup:
    """Pending pods made from one template: a workload's replicas, or a pool's sample pods.

    :param name: Prefix of its pods' names (``<name>-<i>``), unique in its namespace.
    :param namespace: Namespace of its pods.
    :param count: How many pods.
    :param template: The pod template (``metadata``, ``spec``).
    :param label: How the report names it: ``Deployment ml/chat`` (or the pool's name).
    :param pool: The pool it was made for (``--pods``); empty where Karpenter decides.
    """

    name: str
    namespace: str
    count: int
    template: Mapping[str, Any]
    label: str
    pool: str = ""


@dataclass(frozen=True)
class WorkloadOutcome:
    """Where one group's pending pods went."""

    label: str
    pending_pods: int
    #: Pods placed, by pool (new nodes and that pool's existing ones) or EXISTING_NODES.
    placed: Mapping[str, int]
    #: Karpenter's reason per pod it could not place, counted: ((reason, pods), ...).
    unschedulable: tuple[tuple[str, int], ...] = ()
    #: The pool the pods were made for (``--pods``); empty for a workload.
    pool: str = ""

    @property
    def placed_pods(self) -> int:
        """Pods placed anywhere."""
        return sum(self.placed.values())

    @property
    def unschedulable_pods(self) -> int:
        """Pods Karpenter could not place."""
        return sum(count for _, count in self.unschedulable)

    @property
    def unaccounted_pods(self) -> int:
        """Pods neither placed nor refused (the round's deadline ended first)."""
        return max(0, self.pending_pods - self.placed_pods - self.unschedulable_pods)


@dataclass(frozen=True)
class ExistingNodeUse:
    """A node that already runs and took pending pods."""

    name: str
    pool: str
    instance_type: str
    pods: int


@dataclass(frozen=True)
class KarpenterLogEntry:
    """One line Karpenter logged during the round (``level`` 0 or 1, as logr's V-levels)."""

    level: int
    message: str
    error: str = ""
    values: Mapping[str, str] = field(default_factory=dict)

    @property
    def is_error(self) -> bool:
        """Logged as an error."""
        return bool(self.error)

    def __str__(self) -> str:
        details = ", ".join(f"{k}={v}" for k, v in sorted(self.values.items()))
        text = self.message + (f": {self.error}" if self.error else "")
        return text + (f" ({details})" if details else "")


@dataclass(frozen=True)
class SimulationRun:
    """One provisioning round on one set of objects."""

    label: str
    node_overlay_gate: bool
    pools: tuple[PoolOutcome, ...]
    #: Status conditions Karpenter's controllers wrote: ((kind/name, type, status, message)).
    conditions: tuple[tuple[str, str, str, str], ...]
    #: Per pool, what Karpenter believes each admitted instance type offers of the pool's resource.
    capacities: Mapping[str, Mapping[str, int]]
    #: Per pool, the DaemonSets (namespace/name) Karpenter counts on its new nodes.
    daemon_sets: Mapping[str, tuple[str, ...]]
    schedule_seconds: float
    #: Whether Karpenter's one-minute Solve deadline ended the round (the provisioner ignores
    #: it: pods not yet tried are neither placed nor refused; see ``unaccounted_pods``).
    deadline_exceeded: bool = False
    #: What Karpenter logged at V(0) and V(1), up to 2,000 lines (``logs_dropped`` beyond).
    logs: tuple[KarpenterLogEntry, ...] = ()
    logs_dropped: int = 0
    #: Per pod group (workload, or a pool's sample pods), where its pods went.
    workloads: tuple[WorkloadOutcome, ...] = ()
    #: Nodes that already run and took pending pods (``--cluster``).
    existing_nodes: tuple[ExistingNodeUse, ...] = ()
    #: Whether Karpenter modelled pods' ResourceClaims (its DRA gate on, so
    #: ``IGNORE_DRA_REQUESTS=false``).
    dra_claims_modelled: bool = False

    @property
    def unaccounted_pods(self) -> int:
        """Pending pods neither placed nor refused."""
        if self.workloads:
            return sum(w.unaccounted_pods for w in self.workloads)
        return sum(p.unaccounted_pods for p in self.pools)

    @property
    def complete(self) -> bool:
        """Every pending pod came back placed or refused."""
        return not self.deadline_exceeded and self.unaccounted_pods == 0

    def pool(self, name: str) -> PoolOutcome:
        """The outcome for pool ``name`` (an empty one where the round used none of it)."""
        return next((p for p in self.pools if p.pool == name), PoolOutcome(name, 0, (), ()))

    @property
    def nodes(self) -> int:
        """NodeClaims of all pools."""
        return sum(p.nodes for p in self.pools)

    @property
    def price_per_hour(self) -> float:
        """USD per hour of all pools' nodes."""
        return round(sum(p.price_per_hour for p in self.pools), 6)


@dataclass(frozen=True)
class SimulationReport:
    """The simulation with this library's NodeOverlays and the control without them."""

    with_overlays: SimulationRun
    without_overlays: SimulationRun
    prices: str
    versions: Mapping[str, str]
    #: What to reconsider in the setup (eks_gpu_sharing.advice), e.g. mixed GPU counts.
    advice: tuple[str, ...] = ()
    #: What makes this answer differ from your cluster's (e.g. another Karpenter version).
    notes: tuple[str, ...] = ()
    limits: tuple[str, ...] = field(default=LIMITS)
    #: Workloads not simulated because the NVIDIA device plugin would refuse them at
    #: Allocate: ((workload, the plugin's reason), ...).
    refused: tuple[tuple[str, str], ...] = ()

    @property
    def complete(self) -> bool:
        """The round with this library's objects accounted for every pending pod (placed or
        refused). The control without overlays may not: it tracks one NodeClaim per pod and
        reaches about 1,700 pods before the deadline on two busy cores (docs/simulation.md); its
        figures are then a lower bound, which only understates what sharing saves."""
        return self.with_overlays.complete

    def to_json(self) -> str:
        """The report as JSON, with the same figures as the table."""

        def run(r: SimulationRun) -> dict[str, Any]:
            data: dict[str, Any] = to_document(r, keep_defaults=True)
            data["pools"] = [
                {
                    **to_document(p, keep_defaults=True),
                    "nodes": p.nodes,
                    "pricePerHour": p.price_per_hour,
                    "scheduledPods": p.scheduled_pods,
                    "unschedulablePods": p.unschedulable_pods,
                    "unaccountedPods": p.unaccounted_pods,
                    "unschedulable": [{"reason": r, "pods": n} for r, n in p.unschedulable],
                    "costRatio": p.cost_ratio,
                }
                for p in r.pools
            ]
            data["workloads"] = [
                {
                    **to_document(w, keep_defaults=True),
                    "placedPods": w.placed_pods,
                    "unschedulablePods": w.unschedulable_pods,
                    "unaccountedPods": w.unaccounted_pods,
                    "unschedulable": [{"reason": r, "pods": n} for r, n in w.unschedulable],
                }
                for w in r.workloads
            ]
            data["nodes"] = r.nodes
            data["pricePerHour"] = r.price_per_hour
            data["unaccountedPods"] = r.unaccounted_pods
            data["complete"] = r.complete
            return data

        return json.dumps(
            {
                "schemaVersion": JSON_SCHEMA_VERSION,
                "withOverlays": run(self.with_overlays),
                "withoutOverlays": run(self.without_overlays),
                "prices": self.prices,
                "versions": dict(self.versions),
                "advice": list(self.advice),
                "notes": list(self.notes),
                "limits": list(self.limits),
                "refused": [{"workload": w, "reason": r} for w, r in self.refused],
                "complete": self.complete,
            },
            indent=2,
        )

    def format_table(self, *, verbose: bool = False) -> str:
        """A terminal table: per pool, both runs side by side, then details and limits.

        What Karpenter logged as errors is shown; with ``verbose`` every line it logged."""
        ours, control = self.with_overlays, self.without_overlays
        header = (
            f"{'pool':<16} {'pods':>5} | {'nodes':>5} {'slices per node':>15} {'$/hour':>9} "
            f"{'unplaced':>8} | {'nodes':>5} {'$/hour':>9} {'unplaced':>8}"
        )
        lines = [
            f"Karpenter {self.versions.get('github.com/aws/karpenter-provider-aws', '?')} "
            f"scheduling simulation; prices: {self.prices}",
            "",
            f"{'':<24}| {'with NodeOverlays (this library)':<42}| without (control)",
            header,
            "-" * len(header),
        ]
        names = sorted({p.pool for p in ours.pools} | {p.pool for p in control.pools})
        for pool, other in ((ours.pool(name), control.pool(name)) for name in names):
            slices = sorted({c.slices for c in pool.node_claims})
            lines.append(
                f"{pool.pool:<16} {pool.pending_pods:>5} | {pool.nodes:>5} "
                f"{', '.join(map(str, slices)) or '-':>15} {pool.price_per_hour:>9.3f} "
                f"{pool.unschedulable_pods:>8} | {other.nodes:>5} {other.price_per_hour:>9.3f} "
                f"{other.unschedulable_pods:>8}"
            )
        lines.append("-" * len(header))
        lines.append(
            f"{'total':<16} {sum(p.pending_pods for p in ours.pools):>5} | {ours.nodes:>5} "
            f"{'':>15} {ours.price_per_hour:>9.3f} {'':>8} | {control.nodes:>5} "
            f"{control.price_per_hour:>9.3f}"
        )
        for run in (ours, control):
            lines += ["", f"{run.label}:"]
            for pool in run.pools:
                launches = Counter((c.instance_type, c.capacity_type) for c in pool.node_claims)
                for (instance_type, capacity_type), count in sorted(launches.items()):
                    options = sorted(
                        {
                            t
                            for c in pool.node_claims
                            for t in c.instance_types
                            if c.instance_type == instance_type
                        }
                    )
                    lines.append(
                        f"  {pool.pool}: {count} x {instance_type} ({capacity_type}); "
                        f"may launch any of {len(options)}: {', '.join(options)}"
                    )
                if run is ours:
                    lines += _cheapest_lines(pool)
                for reason, count in pool.unschedulable:
                    lines.append(f"  {pool.pool}: {count} pod(s) not placed: {reason}")
            lines += _workload_lines(run)
            for name, kind_type, status, message in run.conditions:
                if status != "True":
                    lines.append(f"  {name} {kind_type}={status}: {message}")
            lines += _incomplete_lines(run)
            shown = [e for e in run.logs if verbose or e.is_error]
            if shown:
                lines.append("  Karpenter logged:")
                lines += [f"    {_printable(text)}" for text in _grouped_log_lines(shown)]
                if verbose and run.logs_dropped:
                    lines.append(f"    ... and {run.logs_dropped} more lines")
        if self.refused:
            lines += ["", "Refused by the NVIDIA device plugin at Allocate (not simulated):"]
            lines += [f"  - {_printable(w)}: {_printable(r)}" for w, r in self.refused]
        if self.notes:
            lines += ["", "Note:", *(f"  - {_printable(text)}" for text in self.notes)]
        if self.advice:
            lines += ["", "Advice:", *(f"  - {text}" for text in self.advice)]
        lines += ["", "Limits:", *(f"  - {text}" for text in self.limits)]
        return "\n".join(lines)


def _grouped_log_lines(entries: Sequence[KarpenterLogEntry]) -> list[str]:
    """One line per message, in first-logged order: Karpenter logs "could not schedule pod"
    once per pod, which for 24 pods over one limit is 24 lines that differ only in the pod's
    name; the line names the first pod and counts the others."""
    groups: dict[tuple[str, tuple[tuple[str, str], ...]], list[KarpenterLogEntry]] = {}
    for entry in entries:
        others = tuple(sorted((k, v) for k, v in entry.values.items() if k != "Pod"))
        key = (entry.message + "\0" + entry.error, others)
        groups.setdefault(key, []).append(entry)
    lines = []
    for same in groups.values():
        first, pods = same[0], [e.values["Pod"] for e in same if "Pod" in e.values]
        if len(pods) < 2 or len(pods) != len(same):
            lines += [str(entry) for entry in same]
            continue
        values = {**first.values, "Pod": f"{pods[0]} and {len(pods) - 1} more pod(s)"}
        lines.append(str(dataclasses.replace(first, values=values)))
    return lines


def _cheapest_lines(pool: PoolOutcome) -> list[str]:
    """The cheapest fleet beside what Karpenter launches, and the ratio."""
    fleet, ratio = pool.cheapest, pool.cost_ratio
    if fleet is None or ratio is None:
        return []
    bound = "" if fleet.exact else " at most"
    return [
        f"  {pool.pool}: cheapest fleet for the same {pool.scheduled_pods} pod(s):{bound} "
        f"{fleet.describe()}, ${fleet.price_per_hour:.3f}/h; Karpenter's "
        f"${pool.price_per_hour:.3f}/h is {ratio:.2f}x"
    ]


def _workload_lines(run: SimulationRun) -> list[str]:
    """Where each workload's pods went (sample pods of ``--pods`` are in the pool lines), and
    the existing nodes that took pods."""
    lines = []
    for workload in run.workloads:
        if workload.pool:
            continue
        where = ", ".join(f"{pool} {n}" for pool, n in workload.placed.items()) or "nowhere"
        lines.append(
            f"  {_printable(workload.label)}: {workload.pending_pods} pod(s); placed: {where}"
        )
        for reason, count in workload.unschedulable:
            lines.append(f"    {count} pod(s) not placed: {_printable(reason)}")
    for node in run.existing_nodes:
        lines.append(
            f"  existing node {_printable(node.name)} ({_printable(node.pool)}, "
            f"{_printable(node.instance_type) or '?'}): took {node.pods} pending pod(s)"
        )
    return lines


def _incomplete_lines(run: SimulationRun) -> list[str]:
    """Say, per pool, which pods the round never reached (none when it is complete)."""
    if run.complete:
        return []
    missing = ", ".join(f"{p.pool} {p.unaccounted_pods}" for p in run.pools if p.unaccounted_pods)
    cause = (
        "Karpenter's scheduling deadline (one minute per round, sigs.k8s.io/karpenter "
        "provisioner.go) ended the round"
        if run.deadline_exceeded
        else "Karpenter returned"
    )
    return [
        f"  INCOMPLETE: {cause} before {run.unaccounted_pods} pending pod(s) were placed or "
        f"refused ({missing or 'no pool named'}); the figures count only the pods it reached "
        "(for the control, its nodes and cost are a lower bound). Simulate fewer pods per run."
    ]


def _printable(text: str) -> str:
    """``text`` escaped (log values come from pod names), cut to 500 characters."""
    return printable(text)[:500]


@dataclass(frozen=True)
class SimulationInput:
    """Everything one simulation run consumes, derived from the pools (tests add leftovers)."""

    karpenter_objects: tuple[Mapping[str, Any], ...]
    pod_templates: Mapping[str, Mapping[str, Any]]
    resource_names: Mapping[str, str]
    device_plugin_values: Mapping[str, Any] | None
    #: For DRA pools: their ResourceClaimTemplates (in the pods' namespace) and the DeviceClass
    #: the NVIDIA DRA driver's chart creates; empty without DRA pools.
    dra_objects: tuple[Mapping[str, Any], ...] = ()


def simulation_input(setup: GpuSharingSetup) -> SimulationInput:
    """The objects the library generates for ``setup`` and one-slice pod templates per pool
    (``GpuSharingSetup.for_pools(pools, ...)`` for pools alone)."""
    pools = setup.pools
    app = cdk8s.App()
    charts = build_gpu_sharing_charts(app, setup)
    objects = tuple(obj for chart in charts.pools.values() for obj in chart.to_json())
    templates = {}
    for pool in pools:
        sample = SampleWorkloadChart(
            app, f"simulated-{pool.name}", pool=pool, replicas=1, create_namespace=False
        )
        job = next(o for o in sample.to_json() if o["kind"] == "Job")
        templates[pool.name] = job["spec"]["template"]
    dra_pools = [pool for pool in pools if pool.uses_dra]
    dra_objects = tuple(
        claim_template(pool.name, _SIMULATED_NAMESPACE, pool.sharing) for pool in dra_pools
    ) + ((gpu_device_class(),) if dra_pools else ())
    return SimulationInput(
        karpenter_objects=objects,
        pod_templates=templates,
        resource_names={pool.name: pool.resource_name for pool in pools},
        device_plugin_values=charts.device_plugin_values,
        dra_objects=dra_objects,
    )


def _dra_objects(
    ours: Sequence[Mapping[str, Any]], workloads: WorkloadManifests | None
) -> tuple[Mapping[str, Any], ...]:
    """The pools' claim templates and the driver's DeviceClass, and the ResourceClaimTemplates
    of the user's manifests (their DRA workloads name them; the API server admits them first)."""
    theirs = tuple(workloads.claim_templates) if workloads else ()
    if not theirs:
        return tuple(ours)
    has_class = any(o["kind"] == "DeviceClass" for o in ours)
    return (*ours, *theirs, *(() if has_class else (gpu_device_class(),)))


def _without_consumable_capacity(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    """``obj`` without the DRA consumable-capacity annotation (an EC2NodeClass of a DRA pool)."""
    annotations = obj.get("metadata", {}).get("annotations", {})
    if CONSUMABLE_CAPACITY_ANNOTATION not in annotations:
        return obj
    kept = {k: v for k, v in annotations.items() if k != CONSUMABLE_CAPACITY_ANNOTATION}
    return {**obj, "metadata": {**obj["metadata"], "annotations": kept}}


def karpenter_controller_env(
    harness: Upstream, *, cluster_name: str, node_overlay_enabled: bool, dra_enabled: bool = False
) -> dict[str, str]:
    """The Karpenter controller's environment, read from the pinned chart rendered by Helm.

    The chart at the module's tag still names the previous image; the tag is set to the pinned
    version (it does not change the environment, which is what the simulation reads).
    """
    values = karpenter_chart_values(
        cluster_name=cluster_name, node_overlay=node_overlay_enabled, dra=dra_enabled
    )
    values["controller"] = {"image": {"tag": KARPENTER_VERSION, "digest": ""}}
    objects = _rendered_objects(harness, "karpenter", KARPENTER_RELEASE, "kube-system", values)
    deployment = next(o for o in objects if o["kind"] == "Deployment")
    container = next(
        c for c in deployment["spec"]["template"]["spec"]["containers"] if c["name"] == "controller"
    )
    return {e["name"]: e["value"] for e in container.get("env", []) if "value" in e}


def device_plugin_daemon_sets(
    harness: Upstream,
    values: Mapping[str, Any] | None,
    namespace: str,
    release: str = DEVICE_PLUGIN_RELEASE,
) -> list[dict[str, Any]]:
    """The DaemonSets the device plugin chart renders with ``values`` (none for None: no
    AL2023 pool)."""
    if values is None:
        return []
    objects = _rendered_objects(harness, "nvidia-device-plugin", release, namespace, values)
    return [o for o in objects if o["kind"] == "DaemonSet"]


def _rendered_objects(
    harness: Upstream, chart: str, release: str, namespace: str, values: Mapping[str, Any]
) -> list[dict[str, Any]]:
    """Helm's render of a pinned chart; a failure is a bug in the values we generate."""
    rendered = harness.render_chart(
        chart,
        release=release,
        namespace=namespace,
        values=values,
        kube_version=f"v{KUBERNETES_VERSION}.0",
    )
    if rendered.get("error"):
        raise UpstreamError(f"Helm cannot render the {chart} chart: {rendered['error']}")
    objects: list[dict[str, Any]] = rendered["objects"]
    return objects


def pool_pod_groups(
    pod_templates: Mapping[str, Mapping[str, Any]], pods: Mapping[str, int]
) -> list[PodGroup]:
    """``pods[pool]`` sample pods per pool, from ``SimulationInput.pod_templates``."""
    return [
        PodGroup(pool, _SIMULATED_NAMESPACE, count, pod_templates[pool], label=pool, pool=pool)
        for pool, count in pods.items()
    ]


def run_simulation(
    harness: Upstream,
    *,
    label: str,
    karpenter_objects: Sequence[Mapping[str, Any]],
    resource_names: Mapping[str, str],
    controller_env: Mapping[str, str],
    pod_templates: Mapping[str, Mapping[str, Any]] | None = None,
    pods: Mapping[str, int] | None = None,
    pod_groups: Sequence[PodGroup] = (),
    daemon_sets: Sequence[Mapping[str, Any]] = (),
    cluster: ClusterDump | None = None,
    catalog: InstanceCatalog | None = None,
    solve_deadline_seconds: float | None = None,
    region: str | None = None,
    dra_objects: Sequence[Mapping[str, Any]] = (),
) -> SimulationRun:
    """One provisioning round of Karpenter on ``karpenter_objects`` and the pending pods:
    ``pods[pool]`` copies of ``pod_templates[pool]``, and ``pod_groups``.

    :param cluster: What already runs: its nodes take pending pods first, as in Karpenter's
        controller (its NodePools, overlays and DaemonSets go in ``karpenter_objects`` and
        ``daemon_sets``).
    :param solve_deadline_seconds: End the round earlier than Karpenter's own one-minute
        deadline (tests). Default: Karpenter's.
    :param region: Price the types with Karpenter's static on-demand table for this region.
        Default: us-east-1, the catalog's.
    :param dra_objects: ResourceClaimTemplates the pods name and DeviceClasses their claims
        name (``SimulationInput.dra_objects``); the simulator makes each pod's claim from its
        template, as the resource-claim controller would.
    :raises ConfigurationError: when the API server would refuse one of the objects, or a
        pod template or cluster object does not decode as its Kubernetes type.
    """
    catalog = catalog or load_catalog()
    groups = [*pool_pod_groups(pod_templates or {}, pods or {}), *pod_groups]
    answer = harness.simulate(
        catalog=dict(catalog.document),
        objects=[dict(o) for o in karpenter_objects],
        daemonSets=[dict(d) for d in daemon_sets],
        controllerEnv=dict(controller_env),
        pods=[
            {
                "name": g.name,
                "namespace": g.namespace,
                "count": g.count,
                "template": dict(g.template),
            }
            for g in groups
        ],
        cluster={
            "nodes": [dict(o) for o in cluster.nodes] if cluster else [],
            "nodeClaims": [dict(o) for o in cluster.node_claims] if cluster else [],
            "pods": [dict(o) for o in cluster.pods] if cluster else [],
        },
        solveDeadlineSeconds=solve_deadline_seconds or 0,
        region=check_region(region) if region else "",
        resourceClaimTemplates=[
            dict(o) for o in dra_objects if o["kind"] == "ResourceClaimTemplate"
        ],
        deviceClasses=[dict(o) for o in dra_objects if o["kind"] == "DeviceClass"],
    )
    if answer["invalidObjects"]:
        first = answer["invalidObjects"][0]
        raise ConfigurationError(
            field=f"{first['kind']} {first['name']}",
            value=first["errors"][0],
            rule="the Kubernetes API server would refuse this object",
            fix="this is a bug in eks-gpu-sharing unless the object comes from --cluster: "
            "please report it with your config",
        )
    if answer["inputErrors"]:
        first = answer["inputErrors"][0]
        if first["object"].startswith("region "):
            raise ConfigurationError(
                field="--region",
                value=region,
                rule=first["error"],
                fix="leave --region out for us-east-1; Karpenter "
                f"v{KARPENTER_VERSION} carries static prices for us-east-1, us-gov-east-1, "
                "us-gov-west-1 and cn-north-1 only",
            )
        labels = {f"pod group {g.namespace}/{g.name}": g.label for g in groups}
        raise ConfigurationError(
            field=labels.get(first["object"], first["object"]),
            value=first["error"],
            rule="does not decode as its Kubernetes type (the API server would refuse it)",
            fix="check the manifest with kubectl apply --dry-run=server",
        )
    pools_of = {
        obj["metadata"]["name"]: obj["spec"]["template"]["metadata"]
        .get("labels", {})
        .get(POOL_LABEL, obj["metadata"]["name"])
        for obj in karpenter_objects
        if obj.get("kind") == "NodePool"
    }
    return _run_from_answer(
        label, answer, groups, resource_names, pools_of, _consumable_capacities(karpenter_objects)
    )


#: The oracle's name for one consumable share of a DRA pool's GPU (no Kubernetes resource).
GPU_SHARE: Final = "gpu.nvidia.com/shares"


def _consumable_capacities(objects: Sequence[Mapping[str, Any]]) -> dict[str, str]:
    """Per DRA NodePool, its EC2NodeClass's consumable-capacity annotation (``"1"`` for whole
    GPUs, where there is none)."""
    annotations = {
        obj["metadata"]["name"]: obj["metadata"].get("annotations", {})
        for obj in objects
        if obj.get("kind") == "EC2NodeClass"
    }
    found = {}
    for obj in objects:
        if obj.get("kind") != "NodePool":
            continue
        node_class = obj["spec"]["template"]["spec"]["nodeClassRef"]["name"]
        value = annotations.get(node_class, {}).get(CONSUMABLE_CAPACITY_ANNOTATION)
        labels = obj["spec"]["template"].get("metadata", {}).get("labels", {})
        if value is None and labels.get(DEVICE_MANAGER_LABEL) == DRA_DEVICE_MANAGER:
            value = "1"  # a DRA pool of whole GPUs: each GPU serves one claim
        if value is not None:
            found[obj["metadata"]["name"]] = value
    return found


def _shares_per_gpu(consumable: Mapping[str, str] | None, node_pool: str) -> int:
    """Pods one GPU of ``node_pool`` serves, where a DRA pool's EC2NodeClass gives an integer
    consumable capacity (memory shares depend on each pod's claim: 1 here)."""
    shares = (consumable or {}).get(node_pool, "1")
    return int(shares) if shares.isdigit() else 1


def _run_from_answer(
    label: str,
    answer: Mapping[str, Any],
    groups: Sequence[PodGroup],
    resource_names: Mapping[str, str],
    pools_of: Mapping[str, str],
    consumable: Mapping[str, str] | None = None,
) -> SimulationRun:
    """The answer per pool and per pod group; ``pools_of`` maps NodePool names to pool names
    (a pool with a NodePool per GPU model has several)."""
    group_of = {(g.namespace, g.name): g for g in groups}

    def key(pod: str) -> tuple[str, str]:
        namespace, name = pod.split("/", 1)
        return namespace, name.rsplit("-", 1)[0]

    errors_by_group: dict[tuple[str, str], Counter[str]] = {k: Counter() for k in group_of}
    placed_by_group: dict[tuple[str, str], Counter[str]] = {k: Counter() for k in group_of}
    # Per pool, the pods per group on its new nodes: what the cheapest fleet must hold.
    new_by_pool: dict[str, Counter[tuple[str, str]]] = {}
    for error in answer["podErrors"]:
        errors_by_group[key(error["pod"])][error["error"]] += 1
    # A pool's pending pods: the sample pods made for it (--pods), and the workload pods
    # Karpenter placed on it (a workload names no pool).
    pending_by_pool = Counter({g.pool: g.count for g in groups if g.pool})
    aimed = bool(pending_by_pool)
    claims_by_pool: dict[str, list[SimulatedNodeClaim]] = {pool: [] for pool in pending_by_pool}
    for claim in answer["nodeClaims"]:
        launch = claim["launch"]
        pool = pools_of.get(claim["nodePool"], claim["nodePool"])
        resource = resource_names.get(pool, "nvidia.com/gpu")
        claims_by_pool.setdefault(pool, []).append(
            SimulatedNodeClaim(
                pool=pool,
                pods=len(claim["pods"]),
                instance_types=tuple(claim["instanceTypes"]),
                instance_type=launch["instanceType"],
                capacity_type=launch["capacityType"],
                price_per_hour=launch["pricePerHour"],
                slices=int(launch["capacity"].get(resource, "0"))
                * _shares_per_gpu(consumable, claim["nodePool"]),
                node_pool=claim["nodePool"],
            )
        )
        for pod in claim["pods"]:
            placed_by_group[key(pod)][pool] += 1
            new_by_pool.setdefault(pool, Counter())[key(pod)] += 1
            if not group_of[key(pod)].pool:
                pending_by_pool[pool] += 1
    existing_nodes = []
    on_existing: Counter[str] = Counter()
    for node in answer["existingNodes"]:
        pool = pools_of.get(node["nodePool"], node["nodePool"]) or EXISTING_NODES
        existing_nodes.append(
            ExistingNodeUse(node["name"], pool, node["instanceType"], len(node["pods"]))
        )
        for pod in node["pods"]:
            placed_by_group[key(pod)][pool] += 1
            # Sample pods count for the pool they were made for, wherever they landed.
            made_for = group_of[key(pod)].pool
            on_existing[made_for or pool] += 1
            if not made_for:
                pending_by_pool[pool] += 1
    errors_by_pool: dict[str, Counter[str]] = {}
    for k, g in group_of.items():
        if g.pool:
            errors_by_pool.setdefault(g.pool, Counter()).update(errors_by_group[k])
    # --pods lists the pools it names; workloads list every pool of the setup.
    pool_names = set(pending_by_pool) | set(claims_by_pool)
    if not aimed:
        pool_names |= set(resource_names)
    outcomes = tuple(
        PoolOutcome(
            pool=pool,
            pending_pods=pending_by_pool[pool],
            node_claims=tuple(claims_by_pool.get(pool, ())),
            unschedulable=tuple(sorted(errors_by_pool.get(pool, Counter()).items())),
            existing_node_pods=on_existing[pool],
            cheapest=_cheapest_for(
                answer.get("fleet"), new_by_pool.get(pool), pools_of, pool, consumable or {}
            ),
        )
        for pool in sorted(pool_names)
    )
    workloads = tuple(
        WorkloadOutcome(
            label=g.label,
            pending_pods=g.count,
            placed=dict(sorted(placed_by_group[k].items())),
            unschedulable=tuple(sorted(errors_by_group[k].items())),
            pool=g.pool,
        )
        for k, g in group_of.items()
    )
    capacities: dict[str, dict[str, int]] = {}
    for node_pool, entry in answer["fleet"]["nodePools"].items():
        pool = pools_of.get(node_pool, node_pool)
        resource = resource_names.get(pool, "nvidia.com/gpu")
        # Milli-units, as the fleet's figures are: whole slices. A DRA pool's nodes keep their
        # physical GPUs; its EC2NodeClass says how many shares each serves (integer mode).
        per_gpu = _shares_per_gpu(consumable, node_pool)
        capacities.setdefault(pool, {}).update(
            {
                t["name"]: t["capacity"].get(resource, 0) // 1000 * per_gpu
                for t in entry["instanceTypes"]
            }
        )
    conditions = tuple(
        (f"{s['kind']}/{s['name']}", c["type"], c["status"], c["message"])
        for s in answer["statuses"]
        for c in s["conditions"]
    )
    return SimulationRun(
        label=label,
        node_overlay_gate=answer["featureGates"]["NodeOverlay"],
        dra_claims_modelled=not answer["featureGates"].get("IgnoreDRARequests", True),
        pools=outcomes,
        conditions=conditions,
        capacities=capacities,
        daemon_sets=_by_pool(answer["daemonSetFit"], pools_of),
        schedule_seconds=answer["scheduleSeconds"],
        deadline_exceeded=answer["deadlineExceeded"],
        logs=tuple(
            KarpenterLogEntry(
                level=entry["level"],
                message=entry["message"],
                error=entry.get("error", ""),
                values=dict(entry.get("values") or {}),
            )
            for entry in answer["logs"]
        ),
        logs_dropped=answer["logsDropped"],
        workloads=workloads,
        existing_nodes=tuple(existing_nodes),
    )


def _cheapest_for(
    fleet: Mapping[str, Any] | None,
    placed: Mapping[tuple[str, str], int] | None,
    pools_of: Mapping[str, str],
    pool: str,
    consumable: Mapping[str, str],
) -> CheapestFleet | None:
    """The cheapest fleet of ``pool``'s NodePools for the pods Karpenter placed on its new
    nodes (``placed``: pods per (namespace, group)), from the figures Karpenter computed.

    A DRA pool's pods request no extended resource: with ``consumable[node_pool] = "N"`` each
    pod takes one of the N shares of a GPU, so the oracle counts a node's room as its GPUs x N
    and each pod as one (the driver's integer mode: a claim takes one share). Memory shares pack
    per GPU by memory, which this sum cannot say: no oracle for them.
    """
    if not fleet or not placed:
        return None
    node_pools = {
        name: entry
        for name, entry in fleet["nodePools"].items()
        if pools_of.get(name, name) == pool
    }
    shares = {name: consumable[name] for name in node_pools if name in consumable}
    if any(not value.isdigit() for value in shares.values()):
        return None

    def room(name: str, t: Mapping[str, Any], overhead: Mapping[str, int]) -> dict[str, int]:
        free = {k: v - overhead.get(k, 0) for k, v in t["allocatable"].items()}
        if name in shares:
            # Milli-units, as every figure here: 1000 per GPU, so 1000 x N shares per GPU.
            free[GPU_SHARE] = int(t["capacity"].get("nvidia.com/gpu", 0)) * int(shares[name])
        return free

    options = [
        NodeOption(
            node_pool=name,
            instance_type=t["name"],
            price_per_hour=t["pricePerHour"],
            room=room(name, t, entry["daemonSetOverhead"]),
            capacity=t["capacity"],
        )
        for name, entry in node_pools.items()
        for t in entry["instanceTypes"]
        if t["pricePerHour"] is not None
    ]
    groups = {(g["namespace"], g["name"]): g for g in fleet["groups"]}
    shapes = [
        PodShape(
            pods=count,
            requests={**groups[k]["requests"], **({GPU_SHARE: 1000} if shares else {})},
            admitted=frozenset(
                (node_pool, name)
                for node_pool, names in groups[k]["admitted"].items()
                if node_pool in node_pools
                for name in names
            ),
        )
        for k, count in sorted(placed.items())
    ]
    limits = {name: entry["limits"] for name, entry in node_pools.items()}
    return cheapest_fleet(shapes, options, limits)


def _by_pool(
    per_node_pool: Mapping[str, Sequence[str]], pools_of: Mapping[str, str]
) -> dict[str, tuple[str, ...]]:
    merged: dict[str, set[str]] = {}
    for node_pool, names in per_node_pool.items():
        merged.setdefault(pools_of.get(node_pool, node_pool), set()).update(names)
    return {pool: tuple(sorted(names)) for pool, names in merged.items()}


def check_pod_counts(pools: Sequence[GpuPool], pods: Mapping[str, int]) -> dict[str, int]:
    """Validate ``pool name -> pending pods`` against the pools; return it as a dict."""
    names = sorted(p.name for p in pools)
    checked: dict[str, int] = {}
    for name, count in pods.items():
        if name not in names:
            raise ConfigurationError(
                field="pods",
                value=name,
                rule="names no pool of this setup",
                fix=f"use one of {', '.join(names)}",
            )
        if (
            not isinstance(count, int)
            or isinstance(count, bool)
            or not (0 <= count <= MAX_PODS_PER_POOL)
        ):
            raise ConfigurationError(
                field=f"pods[{name}]",
                value=count,
                rule=f"a pending pod count is a whole number from 0 to {MAX_PODS_PER_POOL}",
                fix=f"e.g. {name}=40",
            )
        checked[name] = count
    if not checked:
        raise ConfigurationError(
            field="pods",
            value={},
            rule="say how many pending one-slice pods each pool gets",
            fix=f"e.g. --pods {names[0]}=40",
        )
    return checked


def simulate(
    config: GpuSharingSetup,
    pods: Mapping[str, int] | None = None,
    *,
    workloads: WorkloadManifests | None = None,
    cluster: ClusterDump | None = None,
    harness: Upstream | None = None,
    log: Callable[[str], None] | None = None,
    region: str | None = None,
) -> SimulationReport:
    """Simulate Karpenter on ``config`` with pending pods: ``pods[pool]`` one-slice sample pods
    per pool name, and every replica of ``workloads`` (placed wherever Karpenter decides),
    in the cluster ``cluster`` describes (default: an empty one).

    Needs a Go toolchain (the first call builds the pinned upstream code, minutes; later calls
    take seconds). Example::

        report = simulate(load_config("gpu-sharing.yaml"), {"inference": 40})
        print(report.format_table())

    Workloads the NVIDIA device plugin would refuse are not scheduled; the report names them
    (``refused``).

    :raises ConfigurationError: for an unknown pool, a bad count, no pods at all, or a
        workload or cluster object the API server would refuse.
    :param log: Told when the upstream code is being built (first use). Default: silent.
    :param region: Prices of this region, from Karpenter's static on-demand table. Default:
        us-east-1.
    :raises eks_gpu_sharing.upstream.UpstreamUnavailable: without Go.
    """
    if region is not None:
        check_region(region)
    counts = check_pod_counts(config.pools, pods or {}) if pods or workloads is None else {}
    refused = device_plugin_refusals(workloads, config) if workloads else []
    refused_names = {id(workload) for workload, _ in refused}
    groups = workload_pod_groups(
        [w for w in workloads.workloads if id(w) not in refused_names] if workloads else []
    )
    pending = sum(counts.values()) + sum(g.count for g in groups)
    if pending > MAX_PENDING_PODS:
        raise ConfigurationError(
            field="--workloads" if workloads else "--pods",
            value=f"{pending} pending pods",
            rule=f"one scheduling round takes at most {MAX_PENDING_PODS} pods (Karpenter's "
            "one-minute deadline would cut a larger one short)",
            fix="simulate fewer replicas or workloads per run, e.g. one team's at a time",
        )
    harness = harness or upstream(log)
    inputs = simulation_input(config)
    env = karpenter_controller_env(
        harness,
        cluster_name=config.cluster_name,
        node_overlay_enabled=config.karpenter.node_overlay_enabled,
        dra_enabled=config.karpenter.dra_enabled,
    )
    daemon_sets = device_plugin_daemon_sets(
        harness, inputs.device_plugin_values, config.device_plugin_namespace
    )
    theirs = ClusterObjects.of(cluster, inputs.karpenter_objects, daemon_sets)
    common: dict[str, Any] = {
        "pod_templates": inputs.pod_templates,
        "resource_names": inputs.resource_names,
        "pods": counts,
        "pod_groups": groups,
        "controller_env": env,
        "daemon_sets": [*daemon_sets, *theirs.daemon_sets],
        "cluster": cluster,
        "region": region,
        "dra_objects": _dra_objects(inputs.dra_objects, workloads),
    }
    ours = run_simulation(
        harness,
        label="with NodeOverlays (this library)",
        karpenter_objects=[*inputs.karpenter_objects, *theirs.karpenter_objects],
        **common,
    )
    control = run_simulation(
        harness,
        label="without NodeOverlays (control)",
        # The control counts whole GPUs: no NodeOverlay, and no consumable capacity on a DRA
        # pool's EC2NodeClass (each GPU then serves one claim).
        karpenter_objects=[
            *(
                _without_consumable_capacity(o)
                for o in inputs.karpenter_objects
                if o["kind"] != "NodeOverlay"
            ),
            *theirs.karpenter_objects,
        ],
        **common,
    )
    versions = harness.call("versions")["modules"]
    notes = version_notes(config.karpenter.version, versions)
    if workloads and workloads.skipped:
        notes.append(
            "Not workloads, skipped: "
            + ", ".join(f"{n} {kind}" for kind, n in workloads.skipped.items())
            + "."
        )
    if cluster:
        notes.append(f"Your cluster (--cluster): {cluster.summary()}.")
        notes += theirs.notes
    return SimulationReport(
        ours,
        control,
        price_note(region),
        versions,
        tuple(limit_advice(config.pools, ours) + file_advice(config.pools)),
        notes=tuple(notes),
        refused=tuple((_workload_label(w), reason) for w, reason in refused),
    )


#: Karpenter's reason for a pod that would take its NodePool past ``spec.limits``
#: (sigs.k8s.io/karpenter v1.15.0 pkg/controllers/provisioning/scheduling/nodeclaim.go).
_OVER_LIMIT: Final = "all available instance types exceed limits for nodepool (NodePool={})"


def limit_advice(pools: Sequence[GpuPool], run: SimulationRun) -> list[str]:
    """For each pool whose own NodePool limit left pods unplaced, the ``gpuLimit`` that would
    hold them: the pool's limit scaled by pending over placed pods (exact for pods of one
    size, which is what ``--pods`` makes), in the config file's words."""
    lines = []
    for index, pool in enumerate(pools):
        outcome = run.pool(pool.name)
        over = sum(
            count
            for reason, count in outcome.unschedulable
            if any(_OVER_LIMIT.format(p.name) in reason for p in plan_pool(pool).node_pools)
        )
        if not over:
            continue
        placed, pending = outcome.scheduled_pods, outcome.pending_pods
        with speaking(Yaml(f"pools[{index}]")):
            words = vocabulary()
            where = words.field("GpuPool", "")
            now = words.example("gpu_limit", str(pool.gpu_limit))
            enough = words.example("gpu_limit", str(math.ceil(pool.gpu_limit * pending / placed)))
        fix = f"; {enough} would hold all {pending}" if placed else ""
        lines.append(
            f"{pool.name} ({where}): {over} of {pending} pod(s) would take the pool past "
            f"{now} (physical GPUs per NodePool), so Karpenter left them pending{fix}"
        )
    return lines


#: An AWS region name (us-east-1, ap-southeast-2, us-gov-west-1).
_REGION: Final = re.compile(r"[a-z]{2}(-[a-z]+)+-[0-9]")


def check_region(region: str) -> str:
    """``region`` if it looks like an AWS region name, else a ConfigurationError."""
    if not isinstance(region, str) or not _REGION.fullmatch(region):
        raise ConfigurationError(
            field="--region",
            value=region,
            rule="an AWS region name",
            fix="e.g. --region us-gov-west-1",
        )
    return region


def price_note(region: str | None) -> str:
    """Where the simulation's prices come from."""
    catalog = load_catalog()
    if region is None or region == DEFAULT_REGION:
        return catalog.price_note
    return (
        f"on-demand {region}, Karpenter's static price table in karpenter-provider-aws "
        f"v{KARPENTER_VERSION} (types it does not price there are unavailable)"
    )


def workload_pod_groups(workloads: Sequence[WorkloadPods]) -> list[PodGroup]:
    """One pod group per workload, named after it (made unique where two workloads of one
    namespace share a name, e.g. a Deployment and a Job)."""
    groups = []
    taken: set[tuple[str, str]] = set()
    for workload in workloads:
        name = workload.name
        suffix = 1
        while (workload.namespace, name) in taken:
            suffix += 1
            name = f"{workload.name}-{workload.kind.lower()}{suffix}"
        taken.add((workload.namespace, name))
        groups.append(
            PodGroup(
                name,
                workload.namespace,
                workload.pods,
                workload.template,
                label=_workload_label(workload),
            )
        )
    return groups


def _workload_label(workload: WorkloadPods) -> str:
    return f"{workload.kind} {workload.namespace}/{workload.name}"


def version_notes(configured: str, versions: Mapping[str, str]) -> list[str]:
    """Say so when the setup's Karpenter differs from the release whose scheduler ran."""
    simulated = versions.get(KARPENTER_MODULE, "").removeprefix("v")
    if not simulated or configured == simulated:
        return []
    core = versions.get(KARPENTER_CORE_MODULE, "").removeprefix("v")
    # The proxy may serve an older core than the provider names (go.mod says when and why).
    core_note = f", core {core}" if core and core != simulated else ""
    return [
        f"Your setup's Karpenter is {configured}; this simulation ran the scheduler of "
        f"{simulated} (the pinned release{core_note}). Scheduling changes between releases, so "
        "your cluster's Karpenter may launch differently."
    ]
