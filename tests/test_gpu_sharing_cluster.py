"""``GpuSharingCluster`` (cdk/gpu_sharing_cluster.py): its props are checked before anything is
built, so a refused prop leaves no half-built construct and stages no asset."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest

from eks_gpu_sharing import ConfigurationError, GpuPool, GpuSharingCluster, TimeSlicing
from eks_gpu_sharing.k8s import DevicePluginConfigChart
from tests.config_inputs import INJECTED


def test_1_a_namespace_with_a_newline_is_refused_by_the_constructs() -> None:
    pool = GpuPool("inference", sharing=TimeSlicing(replicas=4))
    with pytest.raises(ConfigurationError) as info:
        DevicePluginConfigChart(cdk8s_app(), "config", pools=[pool], namespace=INJECTED)
    assert info.value.field == "DevicePluginConfigChart.namespace"
    with pytest.raises(ConfigurationError) as info:
        GpuSharingCluster(cdk.Stack(), "S", pools=[pool], device_plugin_namespace=INJECTED)
    assert info.value.field == "GpuSharingCluster.device_plugin_namespace"


def cdk8s_app() -> Any:
    import cdk8s

    return cdk8s.App()


@pytest.mark.parametrize(
    "props",
    [
        {"pools": [GpuPool("inference")], "device_plugin_namespace": "NVIDIA"},
        {"pools": [GpuPool("inference")], "instance_tags": {"karpenter.sh/nodepool": "x"}},
        {"pools": [GpuPool("inference")], "cluster_name": "demo\n"},
        {"pools": []},
    ],
    ids=["namespace", "instance-tags", "cluster-name", "no-pools"],
)
def test_12_nothing_is_staged_before_the_props_are_checked(
    tmp_path: Path, props: dict[str, Any]
) -> None:
    app = cdk.App(outdir=str(tmp_path / "cdk.out"))
    stack = cdk.Stack(app, "S")
    with pytest.raises(ConfigurationError):
        GpuSharingCluster(stack, "Gpu", **props)
    staged = list((tmp_path / "cdk.out").glob("asset.*")) if (tmp_path / "cdk.out").exists() else []
    assert staged == []
    assert (
        stack.node.try_find_child("Gpu") is None or not stack.node.find_child("Gpu").node.children
    )


def test_12_a_valid_cluster_does_stage_the_kubectl_layer(tmp_path: Path) -> None:
    """The check above could pass by never staging anything: a valid one does stage."""
    app = cdk.App(outdir=str(tmp_path / "cdk.out"))
    GpuSharingCluster(cdk.Stack(app, "S"), "Gpu", pools=[GpuPool("inference")])
    assert list((tmp_path / "cdk.out").glob("asset.*"))
