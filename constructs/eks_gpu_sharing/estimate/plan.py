"""From recommendations to pools, nodes and dollars: today (whole GPUs) and with sharing.

Node counts come from Karpenter's own scheduler (:func:`eks_gpu_sharing.simulation.simulate`)
when Go is available, otherwise from arithmetic (GPUs needed / GPUs per instance of the
cheapest type per GPU); :attr:`Estimate.method` says which. Prices are the instance catalog's
(Karpenter's static on-demand table, region and date in :attr:`Estimate.prices`).
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Final

from ..catalog import GpuInstanceType, load_catalog
from ..errors import ConfigurationError
from ..pool import GpuPool
from ..pool_options import CapacityType
from ..setup import GpuSharingSetup
from ..sharing import NoSharing
from .recommend import Recommendation, gpu_model
from .workloads import gpu_sizes

#: AWS prices a month as 730 hours.
HOURS_PER_MONTH: Final = 730
#: Head room in each pool's GPU limit over what the workloads need (rolling updates surge).
LIMIT_HEADROOM: Final = 0.25
#: The cluster name the generated gpu-sharing.yaml carries until the user changes it.
CLUSTER_PLACEHOLDER: Final = "my-cluster"


@dataclass(frozen=True)
class Cost:
    """Nodes and their on-demand price, as Karpenter (or the arithmetic) would launch them."""

    nodes: int
    price_per_hour: float
    instance_types: tuple[str, ...]
    unplaced_pods: int = 0

    @property
    def per_month(self) -> float:
        """``price_per_hour`` x 730."""
        return self.price_per_hour * HOURS_PER_MONTH


@dataclass(frozen=True)
class PoolEstimate:
    """One pool the workloads imply, with its cost today and with sharing."""

    pool: GpuPool
    recommendations: tuple[Recommendation, ...]
    today: Cost
    shared: Cost

    @property
    def pods(self) -> int:
        """Pods of all its workloads."""
        return sum(r.pods_shared for r in self.recommendations)

    @property
    def share(self) -> int:
        """Pods per GPU."""
        return self.recommendations[0].share


#: Per pool, its workloads' pods: ``[(pods, {"cpu": "2", "memory": "8Gi"}), ...]`` (empty
#: requests: the sample pod's 250m CPU and 256Mi).
PodsByPool = Mapping[str, Sequence[tuple[int, Mapping[str, str]]]]
#: Counts the nodes of a config for those pods: Karpenter's scheduler (:func:`karpenter_simulator`).
Simulator = Callable[[GpuSharingSetup, PodsByPool], Mapping[str, Cost]]


@dataclass(frozen=True)
class Estimate:
    """What sharing saves on these workloads."""

    recommendations: tuple[Recommendation, ...]
    pools: tuple[PoolEstimate, ...]
    method: str
    prices: str
    spot: bool
    #: Where workloads declare CPU or memory: the saving with the sample pod's requests instead
    #: (250m, 256Mi), to show how much of it depends on them; None otherwise.
    sample_pod_saving: float | None = None
    #: Share taken off on-demand prices (Savings Plans, Reserved Instances), 0..<1; already in
    #: every ``Cost``.
    discount: float = 0.0

    @property
    def today(self) -> Cost:
        """Every pool on whole GPUs, as the workloads run now."""
        return _total(p.today for p in self.pools)

    @property
    def shared(self) -> Cost:
        """Every pool with its recommended sharing."""
        return _total(p.shared for p in self.pools)

    @property
    def saving(self) -> float:
        """Share of today's $/month that sharing saves (0 when nothing runs today)."""
        return _saving(self.today, self.shared)

    def config(self, *, cluster_name: str = CLUSTER_PLACEHOLDER) -> GpuSharingSetup:
        """The pools as a config (``render.synth`` or ``simulate`` take it as it is)."""
        return _config([p.pool for p in self.pools], cluster_name)


def plan_pools(
    recommendations: Sequence[Recommendation], *, spot: bool = False
) -> list[tuple[GpuPool, tuple[Recommendation, ...]]]:
    """One pool per (GPU, mode, share): ``<gpu>-<profile>``, e.g. ``l4-ts4``, ``l4-whole``;
    ``<gpu>-<size>g-<profile>`` and only the instance families of that GPU memory where the GPU
    name comes in several sizes (``a100-40g-ts2`` on p4d): Karpenter would otherwise launch the
    cheaper 40 GiB p4d for pods sized on 80 GiB."""
    groups: dict[tuple[str, int, str], list[Recommendation]] = {}
    for rec in recommendations:
        size = gpu_model(rec.workload.gpu, rec.workload.gpu_size_gib).memory_mib // 1024
        groups.setdefault((rec.workload.gpu, size, rec.profile), []).append(rec)
    capacity = (CapacityType.SPOT, CapacityType.ON_DEMAND) if spot else (CapacityType.ON_DEMAND,)
    planned = []
    for (gpu, size, profile), recs in sorted(groups.items()):
        share = recs[0].share
        families: list[str] = []
        name = f"{gpu}-{profile}"
        if len(gpu_sizes()[gpu]) > 1:
            families = sorted({t.family for t in _types(gpu) if t.gpu_memory_mib // 1024 == size})
            name = f"{gpu}-{size}g-{profile}"
        count = min(t.gpu_count for t in _types(gpu) if not families or t.family in families)
        gpus = math.ceil(sum(r.pods_shared for r in recs) / share)
        limit = max(count, math.ceil(gpus * (1 + LIMIT_HEADROOM)))
        limit = math.ceil(limit / count) * count
        pool = GpuPool(
            name,
            sharing=recs[0].sharing,
            gpu_names=[gpu],
            instance_families=families,
            gpu_counts=[count],
            capacity_types=capacity,
            gpu_limit=limit,
        )
        planned.append((pool, tuple(recs)))
    return planned


def estimate_costs(
    recommendations: Sequence[Recommendation],
    *,
    spot: bool = False,
    simulator: Simulator | None = None,
    method: str = "",
    discount: float = 0.0,
    prices: str | None = None,
) -> Estimate:
    """Pools and costs today and shared; ``simulator`` is Karpenter's scheduler, None for
    arithmetic. ``method`` says how the nodes were counted (with the simulator) or why they were
    not simulated (without it)."""
    planned = plan_pools(recommendations, spot=spot)
    shared_pods = {pool.name: sum(r.pods_shared for r in recs) for pool, recs in planned}
    today_pods = {pool.name: sum(r.pods_today for r in recs) for pool, recs in planned}
    whole = [replace(pool, sharing=NoSharing()) for pool, _ in planned]
    whole = [replace(p, gpu_limit=max(p.gpu_limit, _rounded(today_pods[p.name], p))) for p in whole]
    declared = any(r.workload.host_requests for r in recommendations)
    sample_pod_saving = None
    if simulator is None:
        shared = {
            pool.name: _arithmetic(pool, shared_pods[pool.name], recs[0].share)
            for pool, recs in planned
        }
        today = {pool.name: _arithmetic(pool, today_pods[pool.name], 1) for pool in whole}
        method = "arithmetic: GPUs needed / GPUs per instance of the cheapest type per GPU" + (
            f" ({method})" if method else ""
        )
        if declared:
            method += "; the workloads' cpu and memory are not counted (that needs the scheduler)"
    else:
        pods = {
            pool.name: [(r.pods_shared, r.workload.host_requests) for r in recs]
            for pool, recs in planned
        }
        pods_today = {
            pool.name: [(r.pods_today, r.workload.host_requests) for r in recs]
            for pool, recs in planned
        }
        shared_config = _config([p for p, _ in planned], CLUSTER_PLACEHOLDER)
        whole_config = _config(whole, CLUSTER_PLACEHOLDER)
        shared = dict(simulator(shared_config, pods))
        today = dict(simulator(whole_config, pods_today))
        if declared:

            def sample(of: PodsByPool) -> PodsByPool:
                return {name: [(n, {}) for n, _ in entries] for name, entries in of.items()}

            sample_pod_saving = _saving(
                _total(simulator(whole_config, sample(pods_today)).values()),
                _total(simulator(shared_config, sample(pods)).values()),
            )
    pools = tuple(
        PoolEstimate(
            pool,
            recs,
            _discounted(today[pool.name], discount),
            _discounted(shared[pool.name], discount),
        )
        for pool, recs in planned
    )
    prices = prices or load_catalog().price_note
    if discount:
        prices += f", less {discount:.0%} (Savings Plans or Reserved Instances, as given)"
    return Estimate(
        tuple(recommendations),
        pools,
        method,
        prices,
        spot,
        sample_pod_saving,
        discount,
    )


def check_discount(discount: object) -> None:
    """``discount`` is a share of on-demand prices, 0 to below 1."""
    if not isinstance(discount, int | float) or isinstance(discount, bool) or not 0 <= discount < 1:
        raise ConfigurationError(
            field="discount",
            value=discount,
            rule="the share Savings Plans or Reserved Instances take off on-demand prices, "
            "0 to below 1",
            fix="e.g. discount=0.28 for 28%",
        )


def discount_fraction(text: str) -> float:
    """``--discount`` as a share: ``28`` or ``28%`` -> 0.28; refused outside 0..<100."""
    value = text.strip().removesuffix("%")
    try:
        percent = float(value)
    except ValueError:
        percent = -1.0
    if not 0 <= percent < 100 or percent != percent:
        raise ConfigurationError(
            field="--discount",
            value=text,
            rule="a percentage off on-demand prices, 0 to below 100",
            fix="e.g. --discount 28 for a 28% Savings Plan discount",
        )
    return percent / 100


def _discounted(cost: Cost, discount: float) -> Cost:
    return replace(cost, price_per_hour=cost.price_per_hour * (1 - discount))


def _saving(today: Cost, shared: Cost) -> float:
    return 0.0 if today.per_month == 0 else 1 - shared.per_month / today.per_month


def _config(pools: Sequence[GpuPool], cluster_name: str) -> GpuSharingSetup:
    return GpuSharingSetup.for_pools(pools, cluster_name=cluster_name)


def _types(gpu: str) -> list[GpuInstanceType]:
    return [t for t in load_catalog().instance_types if t.gpu_name == gpu and t.gpu_count > 0]


def _cheapest(pool: GpuPool) -> GpuInstanceType:
    """The cheapest priced type the pool admits (the arithmetic's choice)."""
    priced = [t for t in pool.admitted_instance_types() if t.on_demand_price_per_hour is not None]
    return min(priced, key=lambda t: (t.on_demand_price_per_hour, t.name))


def _arithmetic(pool: GpuPool, pods: int, share: int) -> Cost:
    instance = _cheapest(pool)
    nodes = math.ceil(math.ceil(pods / share) / instance.gpu_count)
    price = instance.on_demand_price_per_hour or 0.0
    return Cost(nodes, nodes * price, (instance.name,) if nodes else ())


def _rounded(gpus: int, pool: GpuPool) -> int:
    count = pool.gpu_counts[0]
    return math.ceil(gpus / count) * count


def _total(costs: Iterable[Cost]) -> Cost:
    items = list(costs)
    return Cost(
        sum(c.nodes for c in items),
        sum(c.price_per_hour for c in items),
        tuple(sorted({t for c in items for t in c.instance_types})),
        sum(c.unplaced_pods for c in items),
    )


def karpenter_simulator(
    log: Callable[[str], None] | None = None, *, region: str | None = None
) -> Simulator:
    """A simulator for :func:`estimate_costs`: Karpenter's scheduler, one round per config, on
    one Deployment per workload made from the pool's sample pod with the workload's CPU and
    memory requests.

    :raises eks_gpu_sharing.upstream.UpstreamUnavailable: without Go.
    """
    from ..simulation import simulate, simulation_input
    from ..upstream import upstream
    from ..workload_manifests import WorkloadManifests, WorkloadPods

    harness = upstream(log)

    def run(config: GpuSharingSetup, pods: PodsByPool) -> Mapping[str, Cost]:
        templates = simulation_input(config).pod_templates
        workloads = tuple(
            WorkloadPods(
                kind="Deployment",
                namespace="estimate",
                name=f"{pool}-{index}",
                pods=count,
                template=_with_requests(templates[pool], requests),
                source="estimate",
            )
            for pool, entries in pods.items()
            for index, (count, requests) in enumerate(entries)
        )
        report = simulate(
            config, workloads=WorkloadManifests(workloads, {}), harness=harness, region=region
        )
        requested = {pool: sum(count for count, _ in entries) for pool, entries in pods.items()}
        return {
            outcome.pool: Cost(
                outcome.nodes,
                outcome.price_per_hour,
                tuple(sorted({c.instance_type for c in outcome.node_claims})),
                # Pods Karpenter refused, and pods no NodePool of the pool could even take
                # (e.g. none of its types is priced in the region, so none is offered).
                max(outcome.unschedulable_pods, requested[outcome.pool] - outcome.scheduled_pods),
            )
            for outcome in report.with_overlays.pools
            if outcome.pool in pods
        }

    return run


def _with_requests(template: Mapping[str, Any], requests: Mapping[str, str]) -> dict[str, Any]:
    """The sample pod with the workload's CPU and memory requests (memory's limit raised to it:
    the API server refuses a request above the limit)."""
    pod = copy.deepcopy(dict(template))
    resources = pod["spec"]["containers"][0].setdefault("resources", {})
    resources.setdefault("requests", {}).update(requests)
    if "memory" in requests:
        resources.setdefault("limits", {})["memory"] = requests["memory"]
    return pod
