"""The NVIDIA DRA driver's consumable shares, counted by Karpenter 1.15 from an annotation."""

from __future__ import annotations

from ..dra import (
    CONSUMABLE_CAPACITY_ANNOTATION,
    DEVICE_MANAGER_LABEL,
    DRA_DEVICE_MANAGER,
    consumable_shares,
)
from .base import PlannedNodePool, SharingBackend


class DraBackend(SharingBackend):
    """AL2023 nodes whose GPUs the NVIDIA DRA driver manages (``GpuPool.backend=Backend.DRA``).

    The driver's kubelet plugin runs on the nodes labelled ``eks-gpu-sharing.io/device-manager:
    dra``; the library's device plugin never does. Karpenter needs no NodeOverlay: with its
    ``DRANVIDIAGPU`` gate it models each GPU's shares from the EC2NodeClass annotation.
    """

    name = "dra"
    uses_node_overlays = False

    def node_labels(self, plan: PlannedNodePool) -> dict[str, str]:
        """The label the driver's kubelet plugin selects."""
        return {DEVICE_MANAGER_LABEL: DRA_DEVICE_MANAGER}

    def node_class_annotations(self, plan: PlannedNodePool) -> dict[str, str]:
        """``karpenter.k8s.aws/nvidia-consumable-capacity``, the driver's ``consumableShares``
        (absent for whole GPUs: each GPU serves one claim)."""
        # As written, not per model: ``memory_gib`` becomes the driver's memory mode, where each
        # claim asks for that memory and Karpenter packs it against each GPU's own memory.
        shares = consumable_shares(plan.pool_sharing)
        return {} if shares is None else {CONSUMABLE_CAPACITY_ANNOTATION: shares}
