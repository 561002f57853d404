"""Advice on a valid setup that will cost more than the user likely expects.

Not errors: the setup deploys and works. Each piece of advice says what Karpenter will do, what it
costs against the alternative, and what to change. The CLI prints them, the CDK constructs add
them as synth warnings, and ``simulate`` lists them with its report.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from .plan import NodePoolPlan, plan_pool, price_per_slice
from .pool import GpuPool
from .pool_options import CapacityType
from .vocabulary import Yaml, speaking, vocabulary

#: Karpenter launches spot instances only if this service-linked role exists in the account.
SPOT_SERVICE_LINKED_ROLE: Final = "AWSServiceRoleForEC2Spot"
#: The one-time command that creates it (AWS CLI).
SPOT_ROLE_COMMAND: Final = (
    "aws iam create-service-linked-role --aws-service-name spot.amazonaws.com"
)

#: A multi-GPU type must cost this much more per slice before it is worth a warning.
_PER_SLICE_TOLERANCE: Final = 1.05


def pool_advice(pool: GpuPool) -> list[str]:
    """What to reconsider about ``pool``; empty when nothing."""
    return _mixed_gpu_counts(pool)


def setup_advice(pools: Sequence[GpuPool]) -> list[str]:
    """Advice for every pool, in pool order."""
    return [line for pool in pools for line in pool_advice(pool)]


def file_advice(pools: Sequence[GpuPool]) -> list[str]:
    """All advice for the pools of a config file, in its words (``pools[0].gpuCounts``)."""
    lines = []
    for index, pool in enumerate(pools):
        with speaking(Yaml(f"pools[{index}]")):
            lines += pool_advice(pool)
    with speaking(Yaml("")):
        lines += spot_role_advice(pools)
    return lines


def spot_role_advice(pools: Sequence[GpuPool]) -> list[str]:
    """A reminder of the EC2 Spot service-linked role when a pool allows spot.

    Without the role Karpenter marks spot unavailable and launches on-demand instead; the only
    sign is a Warning event on the NodeClaim (karpenter-provider-aws v1.14.1
    ``pkg/providers/instance/instance.go`` and ``events.go``
    ``SpotServiceLinkedRoleCreationFailure``). It is created once per account.
    """
    spot = [pool.name for pool in pools if CapacityType.SPOT in pool.capacity_types]
    if not spot:
        return []
    words = vocabulary()
    return [
        f"pools {spot} allow spot: Karpenter launches spot only if the account has the "
        f"service-linked role {SPOT_SERVICE_LINKED_ROLE}, and otherwise launches on-demand, "
        'its only sign a Warning event on the NodeClaim ("Attempted to launch a spot instance '
        f'but failed due to AuthFailure.ServiceLinkedRoleCreationNotPermitted"); create it '
        f"once per account with `{SPOT_ROLE_COMMAND}`"
        + words.choose(
            python=", or pass spot_service_linked_role=SpotServiceLinkedRole.CREATE "
            "(SpotServiceLinkedRole.EXISTS once it exists silences this)",
            yaml="",
        )
    ]


def _mixed_gpu_counts(pool: GpuPool) -> list[str]:
    """Karpenter packs one-slice pods by the largest admitted node, not the cheapest per slice.

    It keeps adding pending pods to a new NodeClaim while any admitted instance type still fits
    them (kubernetes-sigs/karpenter scheduling NodeClaim.Add) and launches the cheapest type that
    holds them all; with 4-GPU types admitted, a NodeClaim grows to 4 x replicas pods and only
    4-GPU types remain. Measured with the simulator in docs/simulation.md. Checked per NodePool
    (per GPU model where the pool has one per model).
    """
    if not pool.sharing.shares_gpus:
        return []
    return [line for plan in plan_pool(pool).node_pools for line in _mixed_counts_of(plan)]


def _mixed_counts_of(spec: NodePoolPlan) -> list[str]:
    pool = spec.pool
    per_slice: dict[int, tuple[float, str]] = {}
    for instance_type in spec.instance_types:
        cost = price_per_slice(instance_type, spec.slices_per_gpu)
        if cost is None or instance_type.gpu_count == 0:
            continue
        if instance_type.gpu_count not in per_slice or cost < per_slice[instance_type.gpu_count][0]:
            per_slice[instance_type.gpu_count] = (cost, instance_type.name)
    if len(per_slice) < 2:
        return []
    smallest, largest = min(per_slice), max(per_slice)
    (small_cost, small_type), (large_cost, large_type) = per_slice[smallest], per_slice[largest]
    if large_cost <= small_cost * _PER_SLICE_TOLERANCE:
        return []
    words = vocabulary()
    field = words.field(f"GpuPool({pool.name!r})", "gpu_counts")
    return [
        f"{field}={sorted(pool.gpu_counts)}: Karpenter packs pending "
        f"one-slice pods onto the largest admitted nodes ({largest} GPUs = "
        f"{largest * spec.slices_per_gpu} slices), and the cheapest of those, {large_type}, "
        f"costs ${large_cost:.3f} per slice-hour against ${small_cost:.3f} on {small_type} "
        f"({large_cost / small_cost:.1f}x, on-demand us-east-1); "
        + words.example("gpu_counts", f"[{smallest}]")
        + " unless pods need the larger nodes, or a second pool for them"
    ]
