"""Karpenter's API as this library uses it: kinds, API versions, well-known label keys, limits.

One home for every fact of Karpenter's own API (kubernetes-sigs/karpenter ``pkg/apis/v1``, the
AWS provider's ``pkg/apis/v1``), so renderers, checks and the simulator cannot disagree. The
pinned CRDs check the API versions (``tests/test_k8s_charts.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

#: API group and kind of the EC2NodeClass a NodePool references.
NODE_CLASS_GROUP: Final = "karpenter.k8s.aws"
NODE_CLASS_KIND: Final = "EC2NodeClass"
NODE_CLASS_API_VERSION: Final = f"{NODE_CLASS_GROUP}/v1"
NODE_POOL_KIND: Final = "NodePool"
NODE_POOL_API_VERSION: Final = "karpenter.sh/v1"
NODE_OVERLAY_KIND: Final = "NodeOverlay"
NODE_OVERLAY_API_VERSION: Final = "karpenter.sh/v1alpha1"

#: Well-known requirement keys (karpenter.k8s.aws / karpenter.sh / kubernetes.io).
INSTANCE_CATEGORY: Final = "karpenter.k8s.aws/instance-category"
INSTANCE_FAMILY: Final = "karpenter.k8s.aws/instance-family"
INSTANCE_SIZE: Final = "karpenter.k8s.aws/instance-size"
INSTANCE_GPU_NAME: Final = "karpenter.k8s.aws/instance-gpu-name"
INSTANCE_GPU_COUNT: Final = "karpenter.k8s.aws/instance-gpu-count"
#: Per-GPU memory in MiB (of the fraction, on fractional-GPU types).
INSTANCE_GPU_MEMORY: Final = "karpenter.k8s.aws/instance-gpu-memory"
INSTANCE_GPU_MANUFACTURER: Final = "karpenter.k8s.aws/instance-gpu-manufacturer"
CAPACITY_TYPE: Final = "karpenter.sh/capacity-type"
NODEPOOL_LABEL: Final = "karpenter.sh/nodepool"
ARCH: Final = "kubernetes.io/arch"
OS: Final = "kubernetes.io/os"
#: Well-known label of a node's instance type (kubelet sets it; Karpenter requires it).
INSTANCE_TYPE_LABEL: Final = "node.kubernetes.io/instance-type"

#: NodePool weight range (CRD: minimum 1, maximum 100).
WEIGHT_RANGE: Final = range(1, 101)
#: Longest NodePool name this library generates: it is a label value
#: (``karpenter.sh/nodepool``), and ``pool-<name>`` (the device plugin config key, a label
#: value too) must fit 63 characters.
MAX_NODE_POOL_NAME: Final = 58


@dataclass(frozen=True)
class Requirement:
    """A Karpenter node requirement (``key operator values``)."""

    key: str
    operator: str
    values: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """The NodeSelectorRequirement object."""
        requirement: dict[str, Any] = {"key": self.key, "operator": self.operator}
        if self.values:
            requirement["values"] = list(self.values)
        return requirement


def is_reserved_label(key: str) -> bool:
    """Whether Karpenter refuses ``key`` as a NodePool template label: its restricted domains
    (karpenter.sh, karpenter.k8s.aws, kubernetes.io, k8s.io) except the domains kubelet may set
    (v1 ``RestrictedLabelDomains`` and ``LabelDomainExceptions`` in kubernetes-sigs/karpenter
    ``pkg/apis/v1/labels.go``)."""
    prefix = key.rpartition("/")[0]
    exceptions = ("node.kubernetes.io", "node-restriction.kubernetes.io", "kops.k8s.io")
    if any(prefix == d or prefix.endswith("." + d) for d in exceptions):
        return False
    domains = ("karpenter.sh", "karpenter.k8s.aws", "kubernetes.io", "k8s.io")
    return any(prefix == d or prefix.endswith("." + d) for d in domains)
