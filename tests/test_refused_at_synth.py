"""What would be accepted and then fail, or harm, on a cluster is refused when the setup is
built: namespaces every cluster has, generated names two pools share, reserved capacity with no
reservation to launch into, taints the API server refuses, and labels that exclude every
admitted instance type. Each error names the field in the words of what the user wrote."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from eks_gpu_sharing import CapacityType, GpuPool, Taint, TimeSlicing
from eks_gpu_sharing.errors import ConfigurationError
from eks_gpu_sharing.karpenter_installation import ExistingKarpenter
from eks_gpu_sharing.monitoring.settings import Monitoring
from eks_gpu_sharing.render import rendered_files
from eks_gpu_sharing.setup import GpuSharingSetup
from tests.config_inputs import MINIMAL, problems

_L4 = {"gpuNames": ["l4"], "sharing": {"mode": "time-slicing", "replicas": 2}}


def config(**top: Any) -> dict[str, Any]:
    document = yaml.safe_load(yaml.safe_dump(MINIMAL))
    document.update(top)
    return document


@pytest.mark.parametrize("namespace", ["default", "kube-system", "kube-public", "kube-anything"])
def test_namespaces_every_cluster_has_are_refused(namespace: str) -> None:
    found = problems(config(devicePlugin={"namespace": namespace}))
    assert found[0][0] == "devicePlugin.namespace"
    assert "every cluster has" in found[0][1]
    found = problems(config(monitoring={"namespace": namespace}))
    assert found[0][0] == "monitoring.namespace"


def test_one_namespace_for_two_pod_security_levels_is_refused() -> None:
    sample = {"pool": "inference"}
    found = problems(config(devicePlugin={"namespace": "gpu-sharing-demo"}, sampleWorkload=sample))
    assert found == [
        (
            "sampleWorkload (its namespace)",
            "is also devicePlugin.namespace: the manifests would define it twice with different "
            "Pod Security levels, and the later file wins",
        )
    ]
    found = problems(config(devicePlugin={"namespace": "gpu"}, monitoring={"namespace": "gpu"}))
    assert found[0][0] == "monitoring.namespace"


def test_the_python_api_names_its_own_fields() -> None:
    karpenter = ExistingKarpenter("KarpenterNodeRole-c", "c", "1.14.1", node_overlay_enabled=True)
    with pytest.raises(ConfigurationError) as caught:
        GpuSharingSetup.from_options(
            error_owner="GpuSharing",
            cluster_name="c",
            karpenter=karpenter,
            pools=[GpuPool("a", gpu_names=["l4"])],
            device_plugin_namespace="default",
            monitoring=Monitoring(namespace="default"),
        )
    fields = [p.field for p in caught.value.problems]
    assert fields == ["GpuSharing.device_plugin", "GpuSharing.monitoring"]


def test_two_pools_making_one_nodepool_are_refused() -> None:
    """Pool `inf` with a NodePool per GPU model makes `inf-l4`; so does a pool named so."""
    pools = [
        {
            "name": "inf",
            "gpuNames": ["t4", "l4"],
            "sharing": {"mode": "time-slicing", "memoryGib": 4},
        },
        {"name": "inf-l4", **_L4},
    ]
    found = problems(config(pools=pools))
    assert found[0][0] == "pools[1].name"
    assert "'inf' and 'inf-l4' both generate a NodePool" in found[0][1]


def test_reserved_capacity_without_a_reservation_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="capacityReservationSelectorTerms"):
        GpuPool("p", gpu_names=["l4"], capacity_types=[CapacityType.RESERVED])
    found = problems(
        config(pools=[{"name": "p", **_L4, "capacityTypes": ["on-demand", "reserved"]}])
    )
    assert found[0][0] == "pools[0].capacityTypes"


def test_a_taint_twice_is_refused_and_an_empty_value_is_no_value() -> None:
    with pytest.raises(ConfigurationError, match="appears twice with effect NoSchedule"):
        GpuPool("p", gpu_names=["l4"], taints=[Taint("a.io/b", "x"), Taint("a.io/b", "y")])
    pool = GpuPool(
        "p", sharing=TimeSlicing(replicas=2), gpu_names=["l4"], taints=[Taint("a.io/b", "")]
    )
    assert pool.taints == (Taint("a.io/b"),)
    setup = GpuSharingSetup.for_pools([pool])
    documents = [
        d for text in rendered_files(setup).values() for d in yaml.safe_load_all(text) if d
    ]
    node_pool = next(d for d in documents if d.get("kind") == "NodePool")
    written = [t for t in node_pool["spec"]["template"]["spec"]["taints"] if t["key"] == "a.io/b"]
    assert written == [{"key": "a.io/b", "effect": "NoSchedule"}]


def test_an_instance_type_label_outside_the_pool_is_refused() -> None:
    label = {"node.kubernetes.io/instance-type": "m5.large"}
    with pytest.raises(ConfigurationError, match="admits none of the pool's instance types"):
        GpuPool("p", gpu_names=["l4"], labels=label)
    # One of the pool's own types narrows the pool; that is allowed.
    GpuPool("p", gpu_names=["l4"], labels={"node.kubernetes.io/instance-type": "g6.xlarge"})
