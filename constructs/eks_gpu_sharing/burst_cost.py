"""What Karpenter launches for a burst of one-slice pods on a pool, against the cheapest fleet.

A model of Karpenter's order, for synth time (no Go there), checked against Karpenter's own
scheduler shape by shape (``tests/test_cheapest_fleet.py``). Karpenter tries NodePools by weight,
equal weights by name descending (kubernetes-sigs/karpenter ``utils/nodepool.OrderByWeight``),
one pod at a time, and keeps adding pods to a new NodeClaim while one of its types still fits
them, then launches the cheapest type that holds them (``addToInflightNode``). Every NodePool of
a plan admits one GPU count and one slice count per GPU (``plan.plan_pool``), so all its types
hold the same slices: ``n`` one-slice pods fill ``ceil(n / slices)`` nodes of the cheapest type
of the first NodePool. The plan weights its NodePools by price per slice, so that is the
cheapest per slice, and the fleet tends to the cheapest as ``n`` grows; for a few pods a smaller
or cheaper node of another NodePool can hold them for less, which no NodePool order can know
(it does not know ``n``).

On-demand catalog prices; NodePool limits are taken as not reached.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final

from .cheapest_fleet import CheapestFleet, NodeOption, PodShape, cheapest_fleet
from .plan import NodePoolPlan, PoolPlan

#: Karpenter's fleet may cost this much more than the cheapest before synth warns.
TOLERATED_RATIO: Final = 1.10
#: The pod counts checked, 1 to this many: past the largest node's slices a few times over.
_SCANNED_PODS: Final = 240
_SLICE: Final = "slices"


@dataclass(frozen=True)
class BurstCost:
    """Karpenter's fleet and the cheapest for ``pods`` one-slice pods of a pool.

    :param pods: Pending one-slice pods.
    :param karpenter: What Karpenter launches (this module's model of its order).
    :param cheapest: The cheapest fleet of the pool's instance types.
    """

    pods: int
    karpenter: CheapestFleet
    cheapest: CheapestFleet

    @property
    def ratio(self) -> float:
        """Karpenter's $/hour over the cheapest's."""
        return self.karpenter.price_per_hour / self.cheapest.price_per_hour


@dataclass(frozen=True)
class BurstBound:
    """The worst ratio over 1..``scanned`` pods, and from where on it stays tolerated.

    :param worst: The pod count with the highest ratio (the smallest such count).
    :param tolerated_from: The smallest pod count from which every count up to ``scanned`` is
        within ``TOLERATED_RATIO``.
    """

    worst: BurstCost
    tolerated_from: int
    scanned: int


def burst_cost(plan: PoolPlan, pods: int) -> BurstCost | None:
    """Both fleets for ``pods`` one-slice pods; None where the pool has no priced type."""
    options = _options(plan)
    first = _first_choice(plan, options)
    if first is None or pods < 1:
        return None
    nodes = math.ceil(pods / _slices(first))
    karpenter = CheapestFleet(
        ((first.instance_type, nodes),),
        round(first.price_per_hour * nodes, 6),
        per_node_pool=((first.node_pool, first.instance_type, nodes),),
    )
    admitted = frozenset((o.node_pool, o.instance_type) for o in options)
    cheapest = cheapest_fleet([PodShape(pods, {_SLICE: 1000}, admitted)], options, {})
    return None if cheapest is None else BurstCost(pods, karpenter, cheapest)


def burst_bound(plan: PoolPlan, scanned: int = _SCANNED_PODS) -> BurstBound | None:
    """The worst ratio over 1..``scanned`` one-slice pods; None without priced types."""
    options = _options(plan)
    first = _first_choice(plan, options)
    if first is None:
        return None
    # The cheapest cost per pod count in one pass; the fleets only for the worst count.
    cheapest = [0.0] + [math.inf] * scanned
    for pods in range(1, scanned + 1):
        cheapest[pods] = min(
            cheapest[max(pods - _slices(o), 0)] + o.price_per_hour for o in options
        )
    ratios = [
        (math.ceil(pods / _slices(first)) * first.price_per_hour / cheapest[pods], pods)
        for pods in range(1, scanned + 1)
    ]
    worst_ratio, worst_pods = max(ratios, key=lambda r: (round(r[0], 6), -r[1]))
    over = [pods for ratio, pods in ratios if ratio > TOLERATED_RATIO + 1e-9]
    worst = burst_cost(plan, worst_pods)
    assert worst is not None and math.isclose(worst.ratio, worst_ratio, rel_tol=1e-6)
    return BurstBound(worst, max(over, default=0) + 1, scanned)


def _first_choice(plan: PoolPlan, options: list[NodeOption]) -> NodeOption | None:
    """The type Karpenter launches for one-slice pods: the cheapest of its first NodePool."""
    first = _karpenter_order(plan)[0].name
    return min(
        (o for o in options if o.node_pool == first),
        key=lambda o: (o.price_per_hour, o.instance_type),
        default=None,
    )


def _slices(option: NodeOption) -> int:
    return option.room[_SLICE] // 1000


def _karpenter_order(plan: PoolPlan) -> list[NodePoolPlan]:
    return sorted(plan.node_pools, key=lambda p: (-(p.weight or 0), _descending(p.name)))


def _descending(name: str) -> tuple[int, ...]:
    return (*tuple(-ord(c) for c in name), 0)


def _options(plan: PoolPlan) -> list[NodeOption]:
    return [
        NodeOption(
            node_pool=node_pool.name,
            instance_type=t.name,
            price_per_hour=t.on_demand_price_per_hour,
            room={_SLICE: max(t.gpu_count, 1) * node_pool.slices_per_gpu * 1000},
            capacity={},
        )
        for node_pool in plan.node_pools
        for t in node_pool.instance_types
        if t.on_demand_price_per_hour is not None and node_pool.slices_per_gpu > 0
    ]
