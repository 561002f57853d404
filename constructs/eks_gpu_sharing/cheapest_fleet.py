"""The cheapest fleet that holds a set of pending pods: the yardstick for what Karpenter launches.

An exact integer optimum over the instance types a pool's NodePools admit, with Karpenter's own
figures (the simulator reports them, ``upstream/fleet.go``): each type's allocatable (capacity
less kube-reserved, system-reserved, eviction threshold and VM overhead), its cheapest available
offering, the requests of the DaemonSet pods Karpenter counts on every new node of the NodePool,
the NodePool's limits, each pod's requests (every resource it asks for, pods: 1 included) and
the types each pod's own requirements and tolerations admit.

What it does not model, so that Karpenter may cost more for a reason the optimum ignores:
topology spread and pod (anti-)affinity between pods (a zone spread may need more nodes at
small counts), and spot prices (the simulator prices every offering on-demand).

One pod shape (the sample pods, or workloads whose pods ask for the same) is solved by dynamic
programming over the pod count; several shapes by dynamic programming over the vector of counts
still to place, each node a maximal mix of shapes that fits it. Beyond ``MAX_STATES`` states
(or ``MAX_SEARCH_PODS`` pods) the fleet is the cheapest per shape, added up: a feasible fleet,
so an upper bound, and said so (``CheapestFleet.exact``).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Final

#: Most states the several-shapes search visits (the product of each shape's count + 1):
#: about 2 s on one core at 10,000 with 17 instance types.
MAX_STATES: Final = 10_000
#: Most pods the several-shapes search takes: each node it adds is one level of recursion,
#: which must stay well inside Python's default limit of 1,000.
MAX_SEARCH_PODS: Final = 400
#: Most pods of one shape for which a binding NodePool limit is solved exactly (the split of
#: the pods between NodePools takes pods² steps); beyond, no fleet is given.
MAX_LIMITED_PODS: Final = 1500


# Compared and hashed by identity: the solver counts nodes per option.
@dataclass(frozen=True, eq=False)
class NodeOption:
    """An instance type one NodePool may launch.

    :param node_pool: The NodePool.
    :param instance_type: The instance type.
    :param price_per_hour: USD per hour of its cheapest available offering.
    :param room: What pods may request on it (milli-units): allocatable less the NodePool's
        DaemonSet overhead.
    :param capacity: Its capacity (milli-units), which counts against the NodePool's limits.
    """

    node_pool: str
    instance_type: str
    price_per_hour: float
    room: Mapping[str, int]
    capacity: Mapping[str, int]

    def holds(self, requests: Mapping[str, int]) -> int:
        """How many pods with ``requests`` fit."""
        return _count_fitting(self.room, requests)


@dataclass(frozen=True)
class PodShape:
    """Pending pods that ask for the same and admit the same node options.

    :param pods: How many.
    :param requests: One pod's requests (milli-units), ``pods: 1000`` included.
    :param admitted: ``(node_pool, instance_type)`` pairs its requirements and tolerations allow.
    """

    pods: int
    requests: Mapping[str, int]
    admitted: frozenset[tuple[str, str]]


@dataclass(frozen=True)
class CheapestFleet:
    """The cheapest set of new nodes that holds the pods.

    :param launches: ``((instance_type, nodes), ...)``, most nodes first.
    :param price_per_hour: USD per hour.
    :param exact: False when it is the sum of each pod shape's cheapest fleet (too many shapes
        and pods for the exact search): then a feasible fleet, an upper bound on the optimum.
    """

    launches: tuple[tuple[str, int], ...]
    price_per_hour: float
    exact: bool = True
    #: ``((node_pool, instance_type, nodes), ...)``: where each node comes from.
    per_node_pool: tuple[tuple[str, str, int], ...] = ()

    @property
    def nodes(self) -> int:
        """How many nodes."""
        return sum(count for _, count in self.launches)

    def describe(self) -> str:
        """``4 x g5.xlarge + 1 x g4dn.xlarge``."""
        return " + ".join(f"{count} x {name}" for name, count in self.launches) or "no nodes"


def cheapest_fleet(
    shapes: Sequence[PodShape],
    options: Sequence[NodeOption],
    limits: Mapping[str, Mapping[str, int]],
) -> CheapestFleet | None:
    """The cheapest fleet for ``shapes`` on ``options`` within the NodePools' ``limits``; None
    when no fleet holds them (a pod fits no option, or the limits leave too little room)."""
    shapes = _merged([s for s in shapes if s.pods > 0])
    if not shapes:
        return CheapestFleet((), 0.0)
    if len(shapes) == 1:
        return _one_shape(shapes[0], options, limits)
    pods = sum(s.pods for s in shapes)
    if math.prod(s.pods + 1 for s in shapes) <= MAX_STATES and pods <= MAX_SEARCH_PODS:
        fleet = _several_shapes(shapes, options)
        if fleet is not None and _within_limits(fleet, options, limits):
            return fleet
    # Too many states, or the limits bind: each shape on its own nodes, within limits.
    parts = [_one_shape(shape, options, limits) for shape in shapes]
    if any(part is None for part in parts):
        return None
    return _combined([p for p in parts if p is not None], exact=False)


def _merged(shapes: Sequence[PodShape]) -> list[PodShape]:
    pods: Counter[tuple[tuple[tuple[str, int], ...], frozenset[tuple[str, str]]]] = Counter()
    for shape in shapes:
        pods[(tuple(sorted(shape.requests.items())), shape.admitted)] += shape.pods
    return [PodShape(n, dict(requests), admitted) for (requests, admitted), n in pods.items()]


def _usable(shape: PodShape, options: Iterable[NodeOption]) -> list[tuple[NodeOption, int]]:
    usable = []
    for option in options:
        if (option.node_pool, option.instance_type) in shape.admitted:
            held = option.holds(shape.requests)
            if held > 0:
                usable.append((option, held))
    return usable


def _one_shape(
    shape: PodShape, options: Sequence[NodeOption], limits: Mapping[str, Mapping[str, int]]
) -> CheapestFleet | None:
    usable = _usable(shape, options)
    fleet = _cover(shape.pods, usable)
    if fleet is None or _within_limits(fleet, options, limits):
        return fleet
    if shape.pods > MAX_LIMITED_PODS:
        return None  # the split between NodePools below grows with the square of the pods
    # The cheapest fleet breaks a NodePool's limit: the best per NodePool, each within its
    # limit, then the cheapest split of the pods between NodePools.
    per_pool: dict[str, list[tuple[NodeOption, int]]] = {}
    for option, held in usable:
        per_pool.setdefault(option.node_pool, []).append((option, held))
    unreached: tuple[float, tuple[CheapestFleet, ...]] = (math.inf, ())
    best = [(0.0, ())] + [unreached] * shape.pods
    for node_pool, pool_options in per_pool.items():
        tables = _bounded_cover(shape.pods, pool_options, limits.get(node_pool, {}))
        merged = list(best)
        for placed in range(shape.pods + 1):
            cost, parts = best[placed]
            if math.isinf(cost):
                continue
            for more in range(1, shape.pods - placed + 1):
                part = tables[more]
                if part is not None and cost + part.price_per_hour < merged[placed + more][0]:
                    merged[placed + more] = (cost + part.price_per_hour, (*parts, part))
        best = merged
    cost, parts = best[shape.pods]
    return None if math.isinf(cost) else _combined(list(parts), exact=True)


def _cover(pods: int, usable: Sequence[tuple[NodeOption, int]]) -> CheapestFleet | None:
    """Unbounded: the cheapest multiset of options holding ``pods`` (ties: fewer nodes)."""
    if not usable:
        return None
    best: list[tuple[float, int, int]] = [(0.0, 0, -1)] + [(math.inf, 0, -1)] * pods
    for need in range(1, pods + 1):
        for index, (option, held) in enumerate(usable):
            cost, nodes, _ = best[max(need - held, 0)]
            candidate = (cost + option.price_per_hour, nodes + 1, index)
            if candidate[:2] < best[need][:2]:
                best[need] = candidate
    if math.isinf(best[pods][0]):
        return None
    chosen: Counter[NodeOption] = Counter()
    need = pods
    while need > 0:
        option, held = usable[best[need][2]]
        chosen[option] += 1
        need = max(need - held, 0)
    return _fleet(chosen, exact=True)


def _bounded_cover(
    pods: int, usable: Sequence[tuple[NodeOption, int]], limit: Mapping[str, int]
) -> list[CheapestFleet | None]:
    """Per pod count 0..pods, the cheapest fleet of one NodePool within its limit.

    Exact where the limited resources are the same on every option (a NodePool per GPU model and
    count, as this library writes them): then the limit is a most number of nodes."""
    most = pods
    for name, bound in limit.items():
        sizes = {option.capacity.get(name, 0) for option, _ in usable}
        largest = max(sizes, default=0)
        if largest > 0:
            most = min(most, bound // largest)
    # layers[n] after m rounds: cheapest with at most m nodes.
    unreached: tuple[float, tuple[NodeOption, ...]] = (math.inf, ())
    table = [(0.0, ())] + [unreached] * pods
    for _ in range(most):
        layer = list(table)
        for need in range(1, pods + 1):
            for option, held in usable:
                cost, chosen = table[max(need - held, 0)]
                if cost + option.price_per_hour < layer[need][0] - 1e-9:
                    layer[need] = (cost + option.price_per_hour, (*chosen, option))
        if layer == table:
            break
        table = layer
    return [
        None if math.isinf(cost) else _fleet(Counter(chosen), exact=True) for cost, chosen in table
    ]


def _several_shapes(
    shapes: Sequence[PodShape], options: Sequence[NodeOption]
) -> CheapestFleet | None:
    """Exact for several shapes: every pod of the first shape still unplaced sits on some node,
    so each step adds a node holding at least one of them, in every maximal mix that fits."""
    mixes = [(option, _maximal_mixes(option, shapes)) for option in options]
    mixes = [(option, m) for option, m in mixes if m]

    @cache
    def cover(left: tuple[int, ...]) -> tuple[float, tuple[NodeOption, ...]] | None:
        first = next((i for i, n in enumerate(left) if n > 0), None)
        if first is None:
            return 0.0, ()
        best: tuple[float, tuple[NodeOption, ...]] | None = None
        for option, option_mixes in mixes:
            for mix in option_mixes:
                if mix[first] == 0:
                    continue
                rest = cover(tuple(max(n - m, 0) for n, m in zip(left, mix, strict=True)))
                if rest is not None and (best is None or rest[0] + option.price_per_hour < best[0]):
                    best = (rest[0] + option.price_per_hour, (option, *rest[1]))
        return best

    found = cover(tuple(s.pods for s in shapes))
    cover.cache_clear()
    return None if found is None else _fleet(Counter(found[1]), exact=True)


def _maximal_mixes(option: NodeOption, shapes: Sequence[PodShape]) -> list[tuple[int, ...]]:
    """Every count vector of shapes that fits ``option`` and cannot take one more pod."""
    admitted = [(option.node_pool, option.instance_type) in s.admitted for s in shapes]
    mixes: list[tuple[int, ...]] = []

    def extend(index: int, room: dict[str, int], mix: tuple[int, ...]) -> None:
        if index == len(shapes):
            if any(mix) and not any(
                admitted[i] and mix[i] < shapes[i].pods and _fits(room, shapes[i].requests)
                for i in range(len(shapes))
            ):
                mixes.append(mix)
            return
        most = 0
        if admitted[index]:
            most = min(shapes[index].pods, _count_fitting(room, shapes[index].requests))
        for count in range(most, -1, -1):
            left = {k: v - count * shapes[index].requests.get(k, 0) for k, v in room.items()}
            extend(index + 1, left, (*mix, count))

    extend(0, {k: v for k, v in option.room.items()}, ())
    return mixes


def _fits(room: Mapping[str, int], requests: Mapping[str, int]) -> bool:
    return all(room.get(name, 0) >= asked for name, asked in requests.items() if asked > 0)


def _count_fitting(room: Mapping[str, int], requests: Mapping[str, int]) -> int:
    fits = [room.get(name, 0) // asked for name, asked in requests.items() if asked > 0]
    return max(0, min(fits)) if fits else 0


def _within_limits(
    fleet: CheapestFleet, options: Sequence[NodeOption], limits: Mapping[str, Mapping[str, int]]
) -> bool:
    by_key = {(o.node_pool, o.instance_type): o for o in options}
    used: dict[str, Counter[str]] = {}
    for node_pool, instance_type, count in fleet.per_node_pool:
        option = by_key[(node_pool, instance_type)]
        for name, amount in option.capacity.items():
            used.setdefault(node_pool, Counter())[name] += amount * count
    return all(
        used.get(node_pool, Counter())[name] <= bound
        for node_pool, limit in limits.items()
        for name, bound in limit.items()
    )


def _fleet(chosen: Counter[NodeOption], *, exact: bool) -> CheapestFleet:
    nodes: Counter[tuple[str, str]] = Counter()
    for option, count in chosen.items():
        nodes[(option.node_pool, option.instance_type)] += count
    price = sum(option.price_per_hour * count for option, count in chosen.items())
    return _built(nodes, price, exact)


def _combined(parts: Sequence[CheapestFleet], *, exact: bool) -> CheapestFleet:
    nodes: Counter[tuple[str, str]] = Counter()
    for part in parts:
        nodes.update({(pool, name): count for pool, name, count in part.per_node_pool})
    price = sum(p.price_per_hour for p in parts)
    return _built(nodes, price, exact and all(p.exact for p in parts))


def _built(nodes: Counter[tuple[str, str]], price: float, exact: bool) -> CheapestFleet:
    """The fleet of ``nodes`` per (NodePool, instance type): launches by type, most first."""
    by_type: Counter[str] = Counter()
    for (_, name), count in nodes.items():
        by_type[name] += count
    return CheapestFleet(
        tuple(sorted(by_type.items(), key=lambda item: (-item[1], item[0]))),
        round(price, 6),
        exact,
        tuple((pool, name, count) for (pool, name), count in sorted(nodes.items())),
    )
