"""All charts of one described setup, built the same way for CDK and for plain YAML."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from constructs import Construct

from ..backends import DEVICE_PLUGIN_NAMESPACE
from ..guardrails import PodGuardrails
from ..karpenter_installation import IKarpenter
from ..pool import GpuPool, validate_pools
from .device_plugin import (
    DevicePluginConfigChart,
    device_plugin_helm_values,
)
from .gpu_pool_chart import GpuPoolChart
from .guardrails import GuardrailsChart


@dataclass(frozen=True)
class GpuSharingCharts:
    """The charts of a setup and the device plugin Helm values derived with them."""

    #: One chart per pool (EC2NodeClass, NodePool, NodeOverlays), by pool name, in pool order.
    pools: dict[str, GpuPoolChart]
    #: The device plugin namespace and ConfigMap; None when no pool runs AL2023.
    device_plugin_config: DevicePluginConfigChart | None
    #: Values for the NVIDIA device plugin chart; None when no pool runs AL2023.
    device_plugin_values: dict[str, Any] | None
    #: The admission guardrails; None unless asked for.
    guardrails: GuardrailsChart | None = None


def sample_chart_id(pool_name: str) -> str:
    """Chart id of a pool's sample workload (ids order `cdk8s synth` files: samples last)."""
    return f"90-sample-{pool_name}"


def build_gpu_sharing_charts(
    app: Construct,
    *,
    pools: Sequence[GpuPool],
    karpenter: IKarpenter,
    device_plugin_namespace: str = DEVICE_PLUGIN_NAMESPACE,
    instance_tags: Mapping[str, str] | None = None,
    pod_guardrails: PodGuardrails | None = None,
) -> GpuSharingCharts:
    """Add the pool and device plugin charts of ``pools`` to the cdk8s ``app``.

    Chart ids become file names in ``cdk8s synth`` output; their numeric prefixes keep
    ``kubectl apply -f`` in dependency order: pools, then the device plugin config, then the
    guardrails (with ``pod_guardrails``).
    """
    pools = validate_pools(pools)
    guardrails = None
    if pod_guardrails is not None:
        guardrails = GuardrailsChart(
            app,
            "60-guardrails",
            pools=pools,
            guardrails=pod_guardrails,
            device_plugin_namespace=device_plugin_namespace,
        )
    pool_charts = {
        pool.name: GpuPoolChart(
            app,
            f"{index:02d}-pool-{pool.name}",
            pool=pool,
            karpenter=karpenter,
            instance_tags=instance_tags,
        )
        for index, pool in enumerate(pools, start=1)
    }
    if not any(pool.uses_device_plugin_daemonset for pool in pools):
        return GpuSharingCharts(pool_charts, None, None, guardrails)
    config = DevicePluginConfigChart(
        app, "50-device-plugin-config", pools=pools, namespace=device_plugin_namespace
    )
    values = device_plugin_helm_values(
        pools, config_map_name=config.config_map_name, config_hash=config.config_hash
    )
    return GpuSharingCharts(pool_charts, config, values, guardrails)
