"""Namespaces the library creates, and those it must never take over.

Every namespace the manifests define is written with a Pod Security level and the library's
managed-by label, and ``synth`` prints a ``kubectl delete`` for it once a config no longer
makes it. So it must be one the library owns: never ``default`` or a ``kube-*`` namespace,
which every cluster has and other workloads share (applying ours would lower or raise their
Pod Security, and deleting it would take their workloads with it). The existing-cluster
preflight flags any other existing namespace of the same name.
"""

from __future__ import annotations

from typing import Final

#: The sample workload's namespace (``baseline`` Pod Security).
SAMPLE_WORKLOAD_NAMESPACE: Final = "gpu-sharing-demo"
#: Namespaces every cluster has (kube-* is reserved to Kubernetes as a whole).
_CLUSTER_NAMESPACES: Final = ("default",)
_KUBERNETES_PREFIX: Final = "kube-"


def foreign_namespace_error(namespace: str) -> str | None:
    """Why the library must not create ``namespace``, or None."""
    if namespace in _CLUSTER_NAMESPACES or namespace.startswith(_KUBERNETES_PREFIX):
        return (
            "is a namespace every cluster has and other workloads share: the manifests would "
            "set its Pod Security level and a later change would print a delete for it"
        )
    return None
