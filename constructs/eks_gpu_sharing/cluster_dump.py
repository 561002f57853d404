"""What already runs in a cluster, from one ``kubectl get -o yaml`` dump.

Make the dump with :data:`DUMP_COMMAND`. :func:`read_cluster_dump` sorts what it holds into
:class:`ClusterDump`: the nodes and NodeClaims (capacity that exists), the pods bound to nodes
(what uses that capacity, DaemonSet pods included), the DaemonSets (overhead on new nodes),
Karpenter's NodePools, NodeOverlays and EC2NodeClasses, and the Namespaces and Deployments.
``simulate --cluster`` and the existing-cluster preflight both read it through here.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from .errors import ConfigurationError
from .manifest_files import ManifestSource, bad_manifest, manifest_objects

#: The command that makes the dump (every kind read below, all namespaces).
DUMP_COMMAND: Final = (
    "kubectl get nodes,pods,daemonsets,deployments,namespaces,nodepools,nodeclaims,"
    "nodeoverlays,ec2nodeclasses -A -o yaml > cluster.yaml"
)
#: Largest dump read (a 1,000-node cluster's dump is about 60 MiB with managed fields).
MAX_DUMP_BYTES: Final = 256 * 1024 * 1024
CLUSTER_DUMP: Final = ManifestSource(
    option="--cluster",
    what="the cluster dump",
    max_bytes=MAX_DUMP_BYTES,
    example=DUMP_COMMAND,
)
#: Kinds read from the dump, by the ClusterDump field that holds them.
_FIELDS: Final = {
    "Node": "nodes",
    "NodeClaim": "node_claims",
    "DaemonSet": "daemon_sets",
    "Deployment": "deployments",
    "Namespace": "namespaces",
    "NodePool": "node_pools",
    "NodeOverlay": "node_overlays",
    "EC2NodeClass": "ec2_node_classes",
}
_TERMINAL_PHASES: Final = ("Succeeded", "Failed")


@dataclass(frozen=True)
class ClusterDump:
    """The objects of one dump, by kind, as read (``metadata.managedFields`` dropped).

    :param pods: Pods bound to a node and not finished: what uses the nodes' capacity.
    :param unbound_pods: Pods no node runs yet (pending), counted: the simulation takes the
        workloads to place from ``--workloads``, not from the dump.
    :param skipped: Objects of other kinds, counted by kind.
    """

    nodes: tuple[Mapping[str, Any], ...] = ()
    node_claims: tuple[Mapping[str, Any], ...] = ()
    pods: tuple[Mapping[str, Any], ...] = ()
    daemon_sets: tuple[Mapping[str, Any], ...] = ()
    deployments: tuple[Mapping[str, Any], ...] = ()
    namespaces: tuple[Mapping[str, Any], ...] = ()
    node_pools: tuple[Mapping[str, Any], ...] = ()
    node_overlays: tuple[Mapping[str, Any], ...] = ()
    ec2_node_classes: tuple[Mapping[str, Any], ...] = ()
    unbound_pods: int = 0
    finished_pods: int = 0
    skipped: Mapping[str, int] = field(default_factory=dict)

    def summary(self) -> str:
        """One line: what the dump holds."""
        parts = [
            _counted(len(self.nodes), "node"),
            _counted(len(self.pods), "running pod"),
            _counted(len(self.daemon_sets), "DaemonSet"),
            _counted(len(self.node_pools), "NodePool"),
            _counted(len(self.node_overlays), "NodeOverlay"),
        ]
        if self.unbound_pods:
            parts.append(
                _counted(self.unbound_pods, "pending pod")
                + " (not simulated: pass their workloads with --workloads)"
            )
        return ", ".join(parts)


def _counted(count: int, noun: str) -> str:
    return f"{count} {noun}" + ("" if count == 1 else "s")


def read_cluster_dump(paths: Sequence[str], *, stdin: Any = None) -> ClusterDump:
    """The cluster described by the dump files ``paths`` (or ``-``, standard input).

    Raises ``ConfigurationError`` naming file, document and field for an object without a
    name, and for a dump that holds no node (the wrong file)."""
    found: dict[str, list[Mapping[str, Any]]] = {name: [] for name in _FIELDS.values()}
    pods: list[Mapping[str, Any]] = []
    unbound = finished = 0
    skipped: Counter[str] = Counter()
    for where, document in manifest_objects(paths, CLUSTER_DUMP, stdin=stdin):
        kind = document["kind"]
        if kind != "Pod" and kind not in _FIELDS:
            skipped[kind] += 1
            continue
        obj = _named(document, where)
        if kind != "Pod":
            found[_FIELDS[kind]].append(obj)
        elif (obj.get("status") or {}).get("phase") in _TERMINAL_PHASES:
            finished += 1
        elif (obj.get("spec") or {}).get("nodeName"):
            pods.append(obj)
        else:
            unbound += 1
    if not found["nodes"] and not found["node_pools"]:
        raise ConfigurationError(
            field="--cluster",
            value=", ".join(paths),
            rule="holds no Node and no NodePool, so it is not a dump of a cluster",
            fix=f"make the dump with: {DUMP_COMMAND}",
        )
    return ClusterDump(
        **{name: tuple(objects) for name, objects in found.items()},
        pods=tuple(pods),
        unbound_pods=unbound,
        finished_pods=finished,
        skipped=dict(sorted(skipped.items())),
    )


def _named(document: dict[str, Any], where: str) -> dict[str, Any]:
    """``document`` without its managed fields, once it is known to have a name."""
    metadata = document.get("metadata")
    if not isinstance(metadata, dict):
        metadata = {}
    name = metadata.get("name")
    if not isinstance(name, str) or not name:
        raise bad_manifest(
            CLUSTER_DUMP, where, "metadata.name", name, f"a {document['kind']} has a name"
        )
    if "managedFields" not in metadata:
        return document
    return {**document, "metadata": {k: v for k, v in metadata.items() if k != "managedFields"}}


@dataclass(frozen=True)
class ClusterObjects:
    """What of a dump takes part in a simulation beside the objects a config generates.

    The config's objects replace the cluster's of the same kind and name (a cluster that
    already runs an older config of this library); everything else of the cluster's own
    (NodePools, NodeOverlays, EC2NodeClasses, DaemonSets) takes part as it is, reduced to what
    the API server's create path takes (``apiVersion``, ``kind``, name, namespace, labels,
    annotations, ``spec``).
    """

    karpenter_objects: tuple[Mapping[str, Any], ...] = ()
    daemon_sets: tuple[Mapping[str, Any], ...] = ()
    #: What the report should say about them (objects replaced by the config's).
    notes: tuple[str, ...] = ()

    @classmethod
    def of(
        cls,
        dump: ClusterDump | None,
        generated: Sequence[Mapping[str, Any]],
        generated_daemon_sets: Sequence[Mapping[str, Any]],
    ) -> ClusterObjects:
        """The dump's objects that are not replaced by ``generated`` ones (none for None)."""
        if dump is None:
            return cls()
        ours = {_identity(o) for o in [*generated, *generated_daemon_sets]}
        karpenter: list[Mapping[str, Any]] = []
        daemon_sets: list[Mapping[str, Any]] = []
        replaced: list[Mapping[str, Any]] = []
        for obj in [*dump.node_pools, *dump.node_overlays, *dump.ec2_node_classes]:
            (replaced if _identity(obj) in ours else karpenter).append(obj)
        for obj in dump.daemon_sets:
            (replaced if _identity(obj) in ours else daemon_sets).append(obj)
        notes = []
        if replaced:
            names = ", ".join(f"{kind} {name}" for kind, _, name in map(_identity, replaced))
            notes.append(f"Replaced by this config's objects of the same name: {names}.")
        return cls(
            tuple(_creatable(o) for o in karpenter),
            tuple(_creatable(o) for o in daemon_sets),
            tuple(notes),
        )


def _identity(obj: Mapping[str, Any]) -> tuple[str, str, str]:
    metadata = obj.get("metadata") or {}
    return obj.get("kind", ""), metadata.get("namespace", ""), metadata.get("name", "")


def _creatable(obj: Mapping[str, Any]) -> dict[str, Any]:
    """``obj`` as a create request would send it: no status, uid or resourceVersion."""
    metadata = obj.get("metadata") or {}
    kept = {k: metadata[k] for k in ("name", "namespace", "labels", "annotations") if k in metadata}
    return {
        "apiVersion": obj.get("apiVersion"),
        "kind": obj.get("kind"),
        "metadata": kept,
        "spec": obj.get("spec") or {},
    }
