"""The plan of a pool: the Karpenter NodePools it becomes, with every rule derived from it.

``GpuPool`` is what the user wrote; a :class:`NodePoolPlan` is what the renderers (cdk8s
charts, the device plugin config, the simulator, the advice) read. With a fixed number of slices
per GPU (``TimeSlicing(replicas=4)``, ``Mps(replicas=4)``, whole GPUs) a pool is one NodePool
named after it. With slices sized by memory (``memory_gib``) or MIG, the slices per GPU differ
per GPU model, and three consumers need that number per node: the device plugin (its config is
chosen by a node label a NodePool template sets), Bottlerocket (user data of the EC2NodeClass)
and Karpenter (NodeOverlays and the NodePool limit). So such a pool becomes one NodePool and
EC2NodeClass per GPU model it admits, ``<pool>-<gpu>``, each restricted to that model. Karpenter
takes NodePools in order of weight, equal weights by name descending (kubernetes-sigs/karpenter
``utils/nodepool.OrderByWeight``), and uses the first that fits a pod, so the NodePools of one
pool are weighted by their cheapest on-demand price per slice: the cheapest per slice is tried
first (``tests/test_sharing.py`` runs Karpenter's scheduler to check).

A pool that admits several GPU counts (``gpu_counts=[1, 4]``) becomes one NodePool per count
(``<name>-<n>gpu``, ``<name>-fraction`` for fractional GPUs), weighted the same way: Karpenter
keeps adding pending pods to a new NodeClaim while any admitted type still fits them and then
launches the cheapest type that holds them all, so one NodePool admitting 4-GPU types fills
4-GPU nodes at their price per slice (``_per_gpu_count``). All NodePools of a pool share its
``eks-gpu-sharing.io/pool`` label, so pods and the device plugin select the pool as before; each
has its own ``gpu_limit`` (the limit applies per NodePool: per GPU model and count).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import cache
from typing import Final

from .backends import SharingBackend
from .catalog import GpuInstanceType, GpuModel
from .errors import ConfigurationError
from .karpenter_api import INSTANCE_GPU_COUNT, INSTANCE_GPU_MEMORY, INSTANCE_GPU_NAME, Requirement
from .labels import POOL_LABEL, SHARING_LABEL
from .node_pool_names import name_per_gpu_count, names_per_gpu_model
from .pool import GpuPool
from .sharing import GPU_RESOURCE, Sharing
from .vocabulary import vocabulary

#: Weight of every NodeOverlay of the library (Karpenter: 1..10000, unset is 0; per resource the
#: higher weight wins, equal weights on one resource conflict and neither applies). 1000 wins
#: over the cluster-wide overlays public guides show (karpenter-blueprints' ``node-overlay``:
#: 10) and leaves room above for an operator who means to override the library.
OVERLAY_WEIGHT: Final = 1000


def price_per_slice(instance_type: GpuInstanceType, slices_per_gpu: int) -> float | None:
    """On-demand price of one slice-hour on ``instance_type`` (catalog prices); a fractional
    GPU (count 0) is one device. None where the type has no price or no slices."""
    price = instance_type.on_demand_price_per_hour
    if price is None or slices_per_gpu <= 0:
        return None
    return price / (max(instance_type.gpu_count, 1) * slices_per_gpu)


@dataclass(frozen=True)
class NodePoolPlan:
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
    #: The name before the split per GPU count (the pool's, or ``<pool>-<gpu>``): the NodePools
    #: of one family share a device plugin config key and name their overlays after it.
    family: str = ""

    @property
    def backend(self) -> SharingBackend:
        """How the sharing reaches the nodes (device plugin DaemonSet, Bottlerocket or DRA)."""
        return self.pool.sharing_backend

    @property
    def resource_name(self) -> str:
        """The extended resource its pods request."""
        return self.sharing.resource_name

    @property
    def pool_sharing(self) -> Sharing:
        """The pool's sharing as written (before it is resolved for the GPU model)."""
        return self.pool.sharing

    @property
    def device_plugin_config_key(self) -> str:
        """Its key in the device plugin ConfigMap, ``pool-<name>``: named after the NodePool,
        not its setting, so a change of sharing changes the key's content, never the key its
        nodes select (the plugin on running nodes loads the new setting when it restarts)."""
        return f"pool-{self.family or self.name}"

    @property
    def slice_limit(self) -> int:
        """The NodePool limit on ``resource_name``: the pool's physical GPUs x slices per GPU."""
        return self.pool.gpu_limit * self.slices_per_gpu

    @property
    def gpu_counts(self) -> tuple[int, ...]:
        """The GPU counts (0: a fractional GPU) its instance types have, sorted."""
        return tuple(sorted({t.gpu_count for t in self.instance_types}))

    def requirements(self) -> list[Requirement]:
        """The pool's requirements, narrowed to the GPU model when it has one and to the GPU
        count when the pool admits several (one NodePool per count)."""
        requirements = self.pool.requirements()
        counts = self.gpu_counts
        if len(set(self.pool.gpu_counts)) > 1 and len(counts) == 1:
            requirements = [r for r in requirements if r.key != INSTANCE_GPU_COUNT] + [
                Requirement(INSTANCE_GPU_COUNT, "In", (str(counts[0]),))
            ]
        if self.gpu_model is None:
            return requirements
        model = self.gpu_model
        return [r for r in requirements if r.key != INSTANCE_GPU_NAME] + [
            Requirement(INSTANCE_GPU_NAME, "In", (model.name,)),
            Requirement(INSTANCE_GPU_MEMORY, "In", (str(model.memory_mib),)),
        ]

    def node_labels(self) -> dict[str, str]:
        """Labels every node carries (NodePool ``template.metadata.labels``)."""
        labels = {POOL_LABEL: self.pool.name, SHARING_LABEL: self.sharing.profile_name}
        labels.update(self.backend.node_labels(self))
        labels.update(self.pool.labels)
        return labels

    def user_data(self) -> str | None:
        """The EC2NodeClass ``userData`` its backend needs, or None."""
        return self.backend.user_data(self)

    def node_class_annotations(self) -> dict[str, str]:
        """The EC2NodeClass annotations its backend needs (DRA: the consumable capacity)."""
        return self.backend.node_class_annotations(self)

    def limits(self) -> dict[str, str]:
        """The NodePool's ``limits``: in slices where NodeOverlays make Karpenter see slices;
        in physical GPUs for DRA, where nodes keep the instance type's ``nvidia.com/gpu``."""
        if not self.backend.uses_node_overlays:
            return {GPU_RESOURCE: str(self.pool.gpu_limit)}
        return {self.resource_name: str(self.slice_limit)}

    def overlay_capacities(self) -> dict[int, dict[str, str]]:
        """NodeOverlay ``capacity`` per GPU count: what a node of that count really offers.

        A fractional-GPU type (count 0, which EC2 reports for g6f and gr6f) offers one device
        to the plugin; whole GPUs on full types need no overlay (Karpenter's view is right).
        """
        capacities: dict[int, dict[str, str]] = {}
        if not self.backend.uses_node_overlays:
            return capacities
        for count in self.gpu_counts:
            devices = count if count > 0 else 1
            if not self.sharing.shares_gpus and count > 0:
                continue
            capacity = {self.resource_name: str(devices * self.slices_per_gpu)}
            if self.resource_name != GPU_RESOURCE:
                # A renamed node advertises no nvidia.com/gpu at all; tell Karpenter so that
                # pods asking for whole GPUs are not planned onto it.
                capacity[GPU_RESOURCE] = "0"
            capacities[count] = capacity
        return capacities

    def overlay_name(self, gpu_count: int) -> str:
        """The NodeOverlay for ``gpu_count``-GPU instances of this NodePool, named after its
        family: each count is one NodePool's, and the name stays when a pool is split by count
        (the overlay is updated in place, not replaced)."""
        return f"{self.family or self.name}-gpu-{gpu_count}"

    def price_per_slice(self) -> float | None:
        """The cheapest on-demand price per slice-hour among its instance types (catalog)."""
        prices = [
            price
            for t in self.instance_types
            if (price := price_per_slice(t, self.slices_per_gpu)) is not None
        ]
        return min(prices) if prices else None


@dataclass(frozen=True)
class PoolPlan:
    """The NodePools one pool becomes (see the module docstring)."""

    pool: GpuPool
    node_pools: tuple[NodePoolPlan, ...]

    @property
    def slice_limit(self) -> int:
        """The most slices the pool can run: ``gpu_limit`` x slices per GPU (per GPU model when
        the pool has a NodePool per model; the largest of those)."""
        return max(plan.slice_limit for plan in self.node_pools)

    def only(self) -> NodePoolPlan:
        """The one NodePool of a pool of one GPU count and slice count (ValueError otherwise)."""
        if len(self.node_pools) != 1:
            raise ValueError(
                f"pool {self.pool.name!r} is {len(self.node_pools)} NodePools (one per GPU "
                "model and count): use node_pools"
            )
        return self.node_pools[0]


@cache
def plan_pool(pool: GpuPool) -> PoolPlan:
    """The plan of a validated pool (cached: pools are frozen values)."""
    admitted = pool.admitted_instance_types()
    sharing = pool.sharing
    if not sharing.depends_on_gpu_model:
        # The count does not depend on the model: any model answers it.
        slices = sharing.slices_for(GpuModel("any", 0))
        only = NodePoolPlan(pool, pool.name, None, sharing, slices, admitted, pool.weight)
        split = _per_gpu_count(only)
        if len(split) > 1 and pool.weight is None:
            split = _weighted_by_price_per_slice(split)
        return PoolPlan(pool, tuple(split))
    models = sorted({t.gpu_model for t in admitted})
    names = names_per_gpu_model(pool.name, models)
    plans = [
        NodePoolPlan(
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
    plans = [split for plan in plans for split in _per_gpu_count(plan)]
    if len(plans) > 1 and pool.weight is None:
        plans = _weighted_by_price_per_slice(plans)
    return PoolPlan(pool, tuple(plans))


def _per_gpu_count(plan: NodePoolPlan) -> list[NodePoolPlan]:
    """One NodePool per GPU count where the plan admits several.

    Karpenter keeps adding pending pods to a new NodeClaim while any admitted type still fits
    them, then launches the cheapest type that holds them all (``addToInflightNode``): a
    NodePool that admits 4-GPU types fills 4-GPU nodes, at a higher price per slice than 1-GPU
    types. Split by count and weighted by price per slice, each NodeClaim holds one count's
    slices, the cheapest count per slice is tried first, and a pod that needs a larger node
    (several slices of one node, several whole GPUs, a big CPU request) still falls through to
    the NodePool of the larger count."""
    counts = plan.gpu_counts
    if len(counts) < 2:
        return [plan]
    return [
        replace(
            plan,
            name=name_per_gpu_count(plan.name, count),
            family=plan.name,
            instance_types=tuple(t for t in plan.instance_types if t.gpu_count == count),
        )
        for count in counts
    ]


def _weighted_by_price_per_slice(plans: list[NodePoolPlan]) -> list[NodePoolPlan]:
    """Weights len..1, the cheapest on-demand price per slice highest (unpriced last)."""
    ranked = sorted(plans, key=lambda p: (p.price_per_slice() is None, p.price_per_slice() or 0))
    weights = {p.name: len(ranked) - rank for rank, p in enumerate(ranked)}
    return [replace(p, weight=weights[p.name]) for p in plans]


def sample_replicas(pool: GpuPool, replicas: int | None) -> int:
    """Validate a sample's pod count for ``pool``; None means one node's worth of slices."""
    if replicas is None:
        # One node of the smallest admitted instance (a fractional GPU counts as one device).
        return min(
            max(count, 1) * spec.slices_per_gpu
            for spec in plan_pool(pool).node_pools
            for count in spec.gpu_counts
        )
    words = vocabulary()
    field = words.field("SampleWorkloadChart", "replicas")
    if not isinstance(replicas, int) or isinstance(replicas, bool) or replicas < 0:
        raise ConfigurationError(
            field=field,
            value=replicas,
            rule="must be a whole number >= 0",
            fix="leave it unset to fill one node, or use e.g. " + words.example("replicas", "4"),
        )
    limit = plan_pool(pool).slice_limit
    if replicas > limit:
        raise ConfigurationError(
            field=field,
            value=replicas,
            rule=f"pool {pool.name!r} is limited to {limit} slices "
            f"({words.name('gpu_limit')} x slices per GPU); the other pods would stay Pending",
            fix=f"use at most {limit} or raise the pool's {words.name('gpu_limit')}",
        )
    return replicas
