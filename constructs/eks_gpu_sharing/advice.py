"""Advice on a valid setup that will cost more than the user likely expects.

Not errors: the setup deploys and works. Each piece of advice says what Karpenter will do, what it
costs against the alternative, and what to change. The CLI prints them, the CDK constructs add
them as synth warnings, and ``simulate`` lists them with its report.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from .burst_cost import TOLERATED_RATIO, burst_bound
from .plan import NodePoolPlan, plan_pool
from .pool import GpuPool
from .pool_options import CapacityType
from .vocabulary import Yaml, speaking, vocabulary

#: Karpenter launches spot instances only if this service-linked role exists in the account.
SPOT_SERVICE_LINKED_ROLE: Final = "AWSServiceRoleForEC2Spot"
#: The one-time command that creates it (AWS CLI).
SPOT_ROLE_COMMAND: Final = (
    "aws iam create-service-linked-role --aws-service-name spot.amazonaws.com"
)


def pool_advice(pool: GpuPool) -> list[str]:
    """What to reconsider about ``pool``; empty when nothing."""
    return _burst_overshoot(pool)


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
        f"{'pools' if len(spot) > 1 else 'pool'} {', '.join(spot)} "
        f"{'allow' if len(spot) > 1 else 'allows'} spot: Karpenter launches spot only if the "
        "account has the "
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


def _burst_overshoot(pool: GpuPool) -> list[str]:
    """A few pods can cost more than the cheapest fleet: Karpenter fills the NodePool with the
    lowest price per slice first, one pod at a time (eks_gpu_sharing.burst_cost; the figures
    are checked against Karpenter's scheduler in tests/test_cheapest_fleet.py)."""
    plan = plan_pool(pool)
    if len(plan.node_pools) < 2:
        return []
    bound = burst_bound(plan)
    if bound is None or bound.worst.ratio <= TOLERATED_RATIO:
        return []
    worst = bound.worst
    first = next(p for p in plan.node_pools if p.name == worst.karpenter.per_node_pool[0][0])
    words = vocabulary()
    field = words.field(f"GpuPool({pool.name!r})", "gpu_names")
    return [
        f"{field}: for a few pods Karpenter launches up to {worst.ratio:.2f}x the cheapest "
        f"fleet ({worst.pods} one-slice pod(s): {worst.karpenter.describe()}, "
        f"${worst.karpenter.price_per_hour:.2f}/h, where {worst.cheapest.describe()}, "
        f"${worst.cheapest.price_per_hour:.2f}/h, holds them; on-demand us-east-1), and more "
        f"than {TOLERATED_RATIO:.2f}x for some counts up to {bound.tolerated_from - 1} pods: it "
        f"fills the NodePool with the lowest price per slice first ({first.name}), one pod at a "
        "time, without knowing how many follow. Accept it if the pool mostly runs more pods, or "
        "narrow the pool to one GPU model and count ("
        + _narrowed(first)
        + "), or give small workloads a pool of their own"
    ]


def _narrowed(plan: NodePoolPlan) -> str:
    """The setting that keeps only ``plan``'s GPU model (or count), in the user's words."""
    words = vocabulary()
    if plan.gpu_model is not None:
        return words.example("gpu_names", f"[{plan.gpu_model.name}]")
    return words.example("gpu_counts", f"[{plan.gpu_counts[0]}]")
