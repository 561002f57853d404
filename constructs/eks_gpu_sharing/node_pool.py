"""The Karpenter NodePools a pool is rendered as: one, or one per GPU model.

With a fixed number of slices per GPU (``TimeSlicing(replicas=4)``, ``Mps(replicas=4)``, whole
GPUs) a pool is one NodePool named after it. With slices sized by memory (``memory_gib``) or
MIG, the slices per GPU differ per GPU model, and three consumers need that number per node:
the device plugin (its config is chosen by a node label a NodePool template sets), Bottlerocket
(user data of the EC2NodeClass) and Karpenter (NodeOverlays and the NodePool limit). So such a
pool becomes one NodePool and EC2NodeClass per GPU model it admits, ``<pool>-<gpu>``, each
restricted to that model. Karpenter takes NodePools in order of weight, equal weights by name
descending (kubernetes-sigs/karpenter ``utils/nodepool.OrderByWeight``), and uses the first that
fits a pod, so the NodePools of one pool are weighted by their cheapest on-demand price per
slice: the cheapest per slice is tried first
(``tests/test_sharing_modes.py`` runs Karpenter's scheduler to check). All NodePools of a pool
share its ``eks-gpu-sharing.io/pool`` label, so pods and the device plugin select the pool as
before; each has its own ``gpu_limit`` (the limit applies per GPU model).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Final

from .catalog import GpuInstanceType, GpuModel
from .sharing import DEVICE_PLUGIN_CONFIG_LABEL, GPU_RESOURCE, NoSharing, Sharing

if TYPE_CHECKING:
    from .pool import GpuPool, Requirement

#: Karpenter's per-GPU memory label (MiB; of the fraction, on fractional-GPU types).
INSTANCE_GPU_MEMORY: Final = "karpenter.k8s.aws/instance-gpu-memory"
#: Longest NodePool name: it is a label value (``karpenter.sh/nodepool``), and ``pool-<name>``
#: (the device plugin config key, a label value too) must fit 63 characters.
MAX_NODE_POOL_NAME: Final = 58


@dataclass(frozen=True)
class NodePoolSpec:
    """One NodePool (and its EC2NodeClass, of the same name) of a pool.

    :param pool: The pool.
    :param name: The NodePool's name: the pool's, or ``<pool>-<gpu>`` per GPU model.
    :param gpu_model: The one GPU model it admits, or None (every model the pool admits).
    :param sharing: The pool's sharing resolved for that model (a fixed count per GPU).
    :param slices_per_gpu: Schedulable units per physical GPU (1 for whole GPUs).
    :param instance_types: The catalog's instance types it admits.
    :param weight: The NodePool's weight, or None.
    """

    pool: GpuPool
    name: str
    gpu_model: GpuModel | None
    sharing: Sharing
    slices_per_gpu: int
    instance_types: tuple[GpuInstanceType, ...]
    weight: int | None

    @property
    def resource_name(self) -> str:
        """The extended resource its pods request."""
        return self.sharing.resource_name

    @property
    def device_plugin_config_key(self) -> str:
        """Its key in the device plugin ConfigMap, ``pool-<name>``: named after the NodePool,
        not its setting, so a change of sharing changes the key's content, never the key its
        nodes select (the plugin on running nodes loads the new setting when it restarts)."""
        return f"pool-{self.name}"

    @property
    def slice_limit(self) -> int:
        """The NodePool limit on ``resource_name``: the pool's physical GPUs x slices per GPU."""
        return self.pool.gpu_limit * self.slices_per_gpu

    @property
    def gpu_counts(self) -> tuple[int, ...]:
        """The GPU counts (0: a fractional GPU) its instance types have, sorted."""
        return tuple(sorted({t.gpu_count for t in self.instance_types}))

    def requirements(self) -> list[Requirement]:
        """The pool's requirements, narrowed to the GPU model when it has one."""
        from .pool import INSTANCE_GPU_NAME, Requirement

        requirements = self.pool.requirements()
        if self.gpu_model is None:
            return requirements
        model = self.gpu_model
        return [r for r in requirements if r.key != INSTANCE_GPU_NAME] + [
            Requirement(INSTANCE_GPU_NAME, "In", (model.name,)),
            Requirement(INSTANCE_GPU_MEMORY, "In", (str(model.memory_mib),)),
        ]

    def node_labels(self) -> dict[str, str]:
        """Labels every node carries (NodePool ``template.metadata.labels``)."""
        from .pool import POOL_LABEL, SHARING_LABEL

        labels = {POOL_LABEL: self.pool.name, SHARING_LABEL: self.sharing.profile_name}
        if self.pool.uses_device_plugin_daemonset:
            labels[DEVICE_PLUGIN_CONFIG_LABEL] = self.device_plugin_config_key
        labels.update(self.pool.labels)
        return labels

    def overlay_capacities(self) -> dict[int, dict[str, str]]:
        """NodeOverlay ``capacity`` per GPU count: what a node of that count really offers.

        A fractional-GPU type (count 0, which EC2 reports for g6f and gr6f) offers one device
        to the plugin; whole GPUs on full types need no overlay (Karpenter's view is right).
        """
        capacities = {}
        for count in self.gpu_counts:
            devices = count if count > 0 else 1
            if isinstance(self.sharing, NoSharing) and count > 0:
                continue
            capacity = {self.resource_name: str(devices * self.slices_per_gpu)}
            if self.resource_name != GPU_RESOURCE:
                # A renamed node advertises no nvidia.com/gpu at all; tell Karpenter so that
                # pods asking for whole GPUs are not planned onto it.
                capacity[GPU_RESOURCE] = "0"
            capacities[count] = capacity
        return capacities

    def overlay_name(self, gpu_count: int) -> str:
        """The NodeOverlay for ``gpu_count``-GPU instances of this NodePool."""
        return f"{self.name}-gpu-{gpu_count}"

    def bottlerocket_settings(self) -> str:
        """The EC2NodeClass user data for a Bottlerocket pool's built-in device plugin."""
        return self.sharing.bottlerocket_settings(self.gpu_model)

    def price_per_slice(self) -> float | None:
        """The cheapest on-demand price per slice-hour among its instance types (catalog)."""
        prices = [
            t.on_demand_price_per_hour / (max(t.gpu_count, 1) * self.slices_per_gpu)
            for t in self.instance_types
            if t.on_demand_price_per_hour is not None and self.slices_per_gpu > 0
        ]
        return min(prices) if prices else None


def plan_node_pools(pool: GpuPool) -> tuple[NodePoolSpec, ...]:
    """The NodePools ``pool`` is rendered as (see the module docstring)."""
    admitted = pool.admitted_instance_types()
    sharing = pool.sharing
    if not sharing.depends_on_gpu_model:
        # The count does not depend on the model: any model answers it.
        slices = sharing.slices_for(GpuModel("any", 0))
        return (NodePoolSpec(pool, pool.name, None, sharing, slices, admitted, pool.weight),)
    models = sorted({t.gpu_model for t in admitted})
    names = _model_names(pool.name, models)
    specs = [
        NodePoolSpec(
            pool,
            names[model],
            model,
            sharing.for_gpu(model),
            sharing.slices_for(model),
            tuple(t for t in admitted if t.gpu_model == model),
            pool.weight,
        )
        for model in models
    ]
    if len(specs) == 1:
        # One model: the pool keeps its own name, as with a fixed slice count.
        return (replace(specs[0], name=pool.name),)
    if pool.weight is None:
        specs = _weighted_by_price_per_slice(specs)
    return tuple(specs)


def _model_names(pool_name: str, models: Sequence[GpuModel]) -> dict[GpuModel, str]:
    """``<pool>-<gpu>``; ``<pool>-<gpu>-<GiB>g`` where one GPU name comes in several sizes
    (A100 40 and 80 GB; L4 and its g6f fractions)."""
    sizes: dict[str, int] = {}
    for model in models:
        sizes[model.name] = sizes.get(model.name, 0) + 1
    return {
        model: f"{pool_name}-{model.name}"
        + (f"-{model.memory_mib // 1024}g" if sizes[model.name] > 1 else "")
        for model in models
    }


def _weighted_by_price_per_slice(specs: list[NodePoolSpec]) -> list[NodePoolSpec]:
    """Weights len..1, the cheapest on-demand price per slice highest (unpriced last)."""
    ranked = sorted(specs, key=lambda s: (s.price_per_slice() is None, s.price_per_slice() or 0))
    weights = {s.name: len(ranked) - rank for rank, s in enumerate(ranked)}
    return [replace(s, weight=weights[s.name]) for s in specs]
