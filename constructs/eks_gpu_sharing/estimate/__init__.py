"""``eks-gpu-sharing estimate``: what sharing saves on your workloads, and at what risk.

Declared (:func:`read_workloads`) or measured (:func:`measure`, DCGM metrics in Prometheus)
workloads -> a recommendation per workload (:func:`recommend`) -> pools, nodes and $/month today
and shared (:func:`estimate_costs`, Karpenter's scheduler when Go is there) -> reports
(:mod:`.report`). Example::

    from eks_gpu_sharing.estimate import Workload, estimate, format_text

    result = estimate([Workload("chat-api", replicas=6, gpu_memory_gib=5, busy=0.15)])
    print(format_text(result))
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from ..errors import ConfigurationError
from .measured import Measurement, measure
from .plan import (
    Cost,
    Estimate,
    PoolEstimate,
    check_discount,
    discount_fraction,
    estimate_costs,
    karpenter_simulator,
)
from .recommend import MAX_SHARE, Recommendation, recommend
from .report import FORMATS, chart_svg, config_yaml, format_json, format_markdown, format_text
from .workloads import Workload, check_workloads, read_workloads


def estimate(
    workloads: Sequence[Workload],
    *,
    spot: bool = False,
    max_share: int = MAX_SHARE,
    use_simulator: bool = True,
    log: Callable[[str], None] | None = None,
    discount: float = 0.0,
    region: str | None = None,
) -> Estimate:
    """Recommend sharing for each workload and price it today and shared.

    With ``use_simulator`` (the default) Karpenter's scheduler counts the nodes when Go is
    available; otherwise, and when Go is missing, arithmetic does (:attr:`Estimate.method`).
    ``discount`` (0..<1) is what Savings Plans or Reserved Instances take off on-demand prices.
    ``region`` prices with Karpenter's static table for it (default us-east-1); it needs the
    scheduler, because the catalog the arithmetic reads holds us-east-1 prices only.
    """
    from ..simulation import DEFAULT_REGION, check_region, price_note
    from ..upstream import UpstreamUnavailable

    check_discount(discount)
    elsewhere = region is not None and check_region(region) != DEFAULT_REGION
    if elsewhere and not use_simulator:
        raise ConfigurationError(
            field="--region",
            value=region,
            rule="prices outside us-east-1 come from Karpenter's scheduler; --arithmetic knows "
            "the catalog's us-east-1 prices only",
            fix="leave out --arithmetic (it needs Go), or --region",
        )

    recommendations = [recommend(w, max_share=max_share) for w in check_workloads(workloads)]
    reason = "asked for: --arithmetic"
    if use_simulator:
        try:
            simulator = karpenter_simulator(log, region=region)
        except UpstreamUnavailable:
            if elsewhere:
                raise
            simulator = None
            reason = "Go was not found, so Karpenter's scheduler did not run"
        if simulator is not None:
            from ..versions import KARPENTER_VERSION

            result = estimate_costs(
                recommendations,
                spot=spot,
                simulator=simulator,
                method=f"Karpenter v{KARPENTER_VERSION}'s scheduler, run on the pools "
                "(as `eks-gpu-sharing simulate`)",
                discount=discount,
                prices=price_note(region),
            )
            _check_priced_in_region(result, region or DEFAULT_REGION)
            return result
    return estimate_costs(recommendations, spot=spot, method=reason, discount=discount)


def _check_priced_in_region(result: Estimate, region: str) -> None:
    """Refuse a pool Karpenter could launch nothing for: a "$0/month" line would read as free.

    Karpenter treats an instance type without a price as unavailable; a region's static table
    can lack a GPU that us-east-1's has (g7 in us-gov-west-1 at v1.15.2).
    """
    for pool in result.pools:
        if pool.pods and pool.today.nodes == 0 and pool.today.unplaced_pods >= pool.pods:
            gpus = ", ".join(pool.pool.gpu_names or ())
            raise ConfigurationError(
                field="--region",
                value=region,
                rule=f"Karpenter placed none of the {pool.pods} pods of pool {pool.pool.name} "
                f"({gpus}): no instance type of this GPU has a price in Karpenter's static "
                f"table for {region}, and Karpenter treats unpriced types as unavailable",
                fix="estimate those workloads in us-east-1 (its table prices every GPU of the "
                "catalog) or leave them out",
            )


__all__ = [
    "FORMATS",
    "MAX_SHARE",
    "Cost",
    "Estimate",
    "Measurement",
    "PoolEstimate",
    "Recommendation",
    "Workload",
    "chart_svg",
    "check_discount",
    "config_yaml",
    "discount_fraction",
    "estimate",
    "estimate_costs",
    "format_json",
    "format_markdown",
    "format_text",
    "measure",
    "read_workloads",
    "recommend",
]
