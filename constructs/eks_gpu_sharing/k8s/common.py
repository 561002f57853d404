"""What every chart of this package shares: common labels and fixed object names."""

from __future__ import annotations

import re
from enum import Enum
from typing import Any, Final, TypeVar

import cdk8s
from cdk8s_plus_36 import k8s
from constructs import Construct

#: Labels on every object the charts create (``metadata.labels``).
COMMON_LABELS: Final = {
    "app.kubernetes.io/managed-by": "eks-gpu-sharing",
    "app.kubernetes.io/part-of": "eks-gpu-sharing",
}

#: Keyword arguments for ``cdk8s.Chart``: common labels, and no hashes appended to names, so
#: names referenced elsewhere (``nodeClassRef.name``, the ConfigMap in Helm values) are fixed.
CHART_PROPS: Final[dict[str, Any]] = {
    "labels": COMMON_LABELS,
    "disable_resource_name_hashes": True,
}

_E = TypeVar("_E", bound=Enum)
_WORD_START = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")


def jsii_enum(enum_type: type[_E], value: str) -> _E:
    """The member of a ``cdk8s import`` enum for a Kubernetes value (``"NotIn"`` -> ``NOT_IN``).

    The generated classes name members in upper snake case and render them back to the CRD's
    spelling; this maps the spelling the value objects produce onto those members.
    """
    name = _WORD_START.sub("_", value).replace("-", "_HYPHEN_").upper()
    try:
        return enum_type[name]
    except KeyError:
        raise ValueError(f"{value!r} is not a value of {enum_type.__name__}") from None


def namespace_object(scope: Construct, id: str, name: str) -> k8s.KubeNamespace:
    """A ``Namespace`` in a chart whose ``namespace`` is set.

    cdk8s stamps the chart's namespace on every object, but a Namespace is cluster-scoped and its
    manifest must not carry ``metadata.namespace``.
    """
    namespace = k8s.KubeNamespace(scope, id, metadata=k8s.ObjectMeta(name=name))
    namespace.add_json_patch(cdk8s.JsonPatch.remove("/metadata/namespace"))
    return namespace
