"""Deprecated alias of :mod:`eks_gpu_sharing.karpenter_compatibility` (renamed: it is Karpenter's
compatibility matrix, not a compatibility layer)."""

from __future__ import annotations

import warnings

from .karpenter_compatibility import check_karpenter_version, check_node_overlay_gate

warnings.warn(
    "eks_gpu_sharing.compat is renamed eks_gpu_sharing.karpenter_compatibility",
    DeprecationWarning,
    stacklevel=2,
)

__all__ = ["check_karpenter_version", "check_node_overlay_gate"]
