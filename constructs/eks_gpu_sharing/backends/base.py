"""The protocol of a sharing backend."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar, Protocol

if TYPE_CHECKING:
    from ..catalog import GpuModel
    from ..sharing import SharingMode


class PlannedNodePool(Protocol):
    """What a backend reads of one NodePool's plan (``plan.NodePoolPlan`` has it; the backends
    do not import the plan, which chooses them)."""

    @property
    def sharing(self) -> SharingMode: ...

    @property
    def gpu_model(self) -> GpuModel | None: ...

    @property
    def device_plugin_config_key(self) -> str: ...

    @property
    def pool_sharing(self) -> SharingMode:
        """The pool's sharing as written (``memory_gib`` not yet resolved per GPU model)."""
        ...


class SharingBackend:
    """How one NodePool's sharing is delivered to its nodes.

    ``name`` identifies the backend; ``runs_device_plugin_daemonset`` says whether the library's
    NVIDIA device plugin Helm release serves the nodes (its node affinity and ConfigMap keys are
    derived from the NodePools of such backends).
    """

    name: ClassVar[str]
    runs_device_plugin_daemonset: ClassVar[bool] = False
    #: Whether Karpenter learns the slices from NodeOverlays (extended resources); the DRA
    #: backend's Karpenter counts shares from the EC2NodeClass itself.
    uses_node_overlays: ClassVar[bool] = True

    def node_labels(self, plan: PlannedNodePool) -> dict[str, str]:
        """Labels the NodePool template adds for this backend."""
        return {}

    def user_data(self, plan: PlannedNodePool) -> str | None:
        """The EC2NodeClass ``userData``, or None."""
        return None

    def node_class_annotations(self, plan: PlannedNodePool) -> dict[str, str]:
        """Annotations the EC2NodeClass carries for this backend."""
        return {}
