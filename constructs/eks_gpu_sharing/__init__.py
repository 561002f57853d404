"""GPU sharing on Amazon EKS: NVIDIA time-slicing on Karpenter-autoscaled GPU pools.

Describe GPU pools and how their GPUs are shared once (``GpuPool``, ``TimeSlicing``, ``Mps``,
``NoSharing``); the library derives the Karpenter NodePools, EC2NodeClasses and NodeOverlays, the
NVIDIA device plugin config, and a sample workload, as AWS CDK constructs or plain YAML.
"""

from __future__ import annotations

from .errors import ConfigurationError
from .guardrails import PodGuardrails
from .karpenter_installation import ExistingKarpenter, IKarpenter
from .monitoring.settings import Monitoring
from .pool import (
    AmiFamily,
    CapacityType,
    ConsolidationPolicy,
    Disruption,
    GpuPool,
    Taint,
    TaintEffect,
)
from .pool_options import Backend, SpotServiceLinkedRole
from .sharing import Mig, Mps, NoSharing, TimeSlicing

__all__ = [
    "AmiFamily",
    "Backend",
    "CapacityType",
    "ConfigurationError",
    "ConsolidationPolicy",
    "Disruption",
    "ExistingKarpenter",
    "GpuPool",
    "GpuSharing",
    "GpuSharingCluster",
    "IKarpenter",
    "Karpenter",
    "Mig",
    "Monitoring",
    "Mps",
    "NoSharing",
    "PodGuardrails",
    "ReferenceCluster",
    "SpotServiceLinkedRole",
    "Taint",
    "TaintEffect",
    "TimeSlicing",
    "ZonedStack",
]

_CDK_EXPORTS = {
    "GpuSharing": ".cdk.gpu_sharing",
    "GpuSharingCluster": ".cdk.gpu_sharing_cluster",
    "Karpenter": ".cdk.karpenter",
    "ReferenceCluster": ".cdk.cluster",
    "ZonedStack": ".cdk.zoned_stack",
}


def __getattr__(name: str) -> object:
    # The AWS CDK constructs load lazily: the pure models and the cdk8s side (and the
    # `eks-gpu-sharing` command) work without paying for aws-cdk-lib's start-up.
    if name in _CDK_EXPORTS:
        import importlib

        return getattr(importlib.import_module(_CDK_EXPORTS[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
