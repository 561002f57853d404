"""What every chart of this package shares: common labels and fixed object names."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

import cdk8s
from cdk8s_plus_36 import k8s
from constructs import Construct

from ..labels import MANAGED_BY, MANAGED_BY_LABEL
from ..versions import KUBERNETES_VERSION

#: Labels on every object the charts create (``metadata.labels``).
COMMON_LABELS: Final = {
    MANAGED_BY_LABEL: MANAGED_BY,
    "app.kubernetes.io/part-of": "eks-gpu-sharing",
}

#: Keyword arguments for ``cdk8s.Chart``: common labels, and no hashes appended to names, so
#: names referenced elsewhere (``nodeClassRef.name``, the ConfigMap in Helm values) are fixed.
CHART_PROPS: Final[dict[str, Any]] = {
    "labels": COMMON_LABELS,
    "disable_resource_name_hashes": True,
}


def api_object(
    scope: Construct, id: str, api_version: str, kind: str, name: str, spec: dict[str, Any]
) -> cdk8s.ApiObject:
    """An object with a fixed name and a ``spec``, as plain data.

    The objects are checked by the API server's own validation in the tests (the pinned CRDs,
    schema and CEL), so no generated classes stand between the model and the YAML. Keys are
    sorted at every level, so the output does not depend on the order code builds a dict in.
    """
    obj = cdk8s.ApiObject(
        scope, id, api_version=api_version, kind=kind, metadata=cdk8s.ApiObjectMetadata(name=name)
    )
    obj.add_json_patch(cdk8s.JsonPatch.add("/spec", _sorted(spec)))
    return obj


def _sorted(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _sorted(value[key]) for key in sorted(value)}
    if isinstance(value, list):
        return [_sorted(item) for item in value]
    return value


@dataclass(frozen=True)
class PodSecurityLevels:
    """The Pod Security Standard levels of a namespace (``pod-security.kubernetes.io/*``
    labels, read by the API server's built-in Pod Security admission), pinned to the
    Kubernetes version this package targets so a new release cannot tighten them unnoticed."""

    enforce: str
    warn: str
    audit: str

    def labels(self) -> dict[str, str]:
        """The namespace labels."""
        version = f"v{KUBERNETES_VERSION}"
        labels = {}
        for mode in ("enforce", "warn", "audit"):
            labels[f"pod-security.kubernetes.io/{mode}"] = getattr(self, mode)
            labels[f"pod-security.kubernetes.io/{mode}-version"] = version
        return labels


def namespace_object(
    scope: Construct, id: str, name: str, *, pod_security: PodSecurityLevels
) -> k8s.KubeNamespace:
    """A ``Namespace`` with Pod Security labels, in a chart whose ``namespace`` is set.

    cdk8s stamps the chart's namespace on every object, but a Namespace is cluster-scoped and its
    manifest must not carry ``metadata.namespace``.
    """
    namespace = k8s.KubeNamespace(
        scope, id, metadata=k8s.ObjectMeta(name=name, labels=pod_security.labels())
    )
    namespace.add_json_patch(cdk8s.JsonPatch.remove("/metadata/namespace"))
    return namespace
