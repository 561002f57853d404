"""``GpuSharing`` (cdk/gpu_sharing.py) on an imported cluster, with and without Karpenter."""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_eks as eks

from eks_gpu_sharing import (
    AmiFamily,
    CapacityType,
    ConfigurationError,
    ExistingKarpenter,
    GpuPool,
    GpuSharing,
    Mps,
    NoSharing,
    PodGuardrails,
    SpotServiceLinkedRole,
    TimeSlicing,
)
from eks_gpu_sharing.cdk import gpu_sharing as gpu_sharing_module
from eks_gpu_sharing.cdk.kubectl import kubectl_layer, kubernetes_version
from tests.cdk_helpers import (
    HELM_TYPE,
    MANIFEST_TYPE,
    depends_on_closure,
    imported_cluster,
    manifest_objects,
    resources_of,
)

POOLS = (
    GpuPool("inference", gpu_names=["l4"], sharing=TimeSlicing(replicas=4)),
    GpuPool("whole", instance_families=["p5"], gpu_counts=[8], gpu_limit=16),
)
EXISTING = ExistingKarpenter(
    node_role_name="KarpenterNodeRole-existing",
    discovery_tag_value="existing",
    version="1.14.1",
    node_overlay_enabled=True,
)


def _template(stack: cdk.Stack) -> dict[str, Any]:
    return cdk.assertions.Template.from_stack(stack).to_json()


def _manifest_named(template: dict[str, Any], kind: str, name: str) -> str:
    """The manifest resource that applies ``kind``/``name`` (a Job: ``name`` and its hash)."""
    for logical_id, resource in resources_of(template, MANIFEST_TYPE).items():
        for obj in manifest_objects(resource):
            found = obj["metadata"]["name"]
            if obj["kind"] == kind and (found == name or found.startswith(f"{name}-")):
                return logical_id
    raise AssertionError(f"no manifest applies {kind}/{name}")


@pytest.fixture(scope="module")
def existing_karpenter_template() -> dict[str, Any]:
    _, stack, cluster = imported_cluster()
    GpuSharing(stack, "Gpu", cluster=cluster, karpenter=EXISTING, pools=POOLS)
    return _template(stack)


@pytest.fixture(scope="module")
def installed_karpenter_template() -> dict[str, Any]:
    _, stack, cluster = imported_cluster()
    GpuSharing(stack, "Gpu", cluster=cluster, pools=POOLS, sample_workload=True)
    return _template(stack)


def test_existing_karpenter_adds_only_pools_and_device_plugin(
    existing_karpenter_template: dict[str, Any],
) -> None:
    template = existing_karpenter_template
    # An imported cluster is not ours: no demo unless asked for (sample_workload=True).
    kinds = {
        obj["kind"]
        for resource in resources_of(template, MANIFEST_TYPE).values()
        for obj in manifest_objects(resource)
    }
    assert "Job" not in kinds
    assert not resources_of(template, "AWS::SQS::Queue")
    assert not resources_of(template, "AWS::EKS::PodIdentityAssociation")
    charts = [r["Properties"]["Chart"] for r in resources_of(template, HELM_TYPE).values()]
    assert charts == ["nvidia-device-plugin"]
    node_class = _manifest_named(template, "EC2NodeClass", "inference")
    objects = manifest_objects(resources_of(template, MANIFEST_TYPE)[node_class])
    spec = next(o for o in objects if o["kind"] == "EC2NodeClass")["spec"]
    assert spec["role"] == "KarpenterNodeRole-existing"
    assert spec["subnetSelectorTerms"] == [{"tags": {"karpenter.sh/discovery": "existing"}}]


def test_imported_cluster_without_karpenter_installs_it_first(
    installed_karpenter_template: dict[str, Any],
) -> None:
    template = installed_karpenter_template
    assert len(resources_of(template, "AWS::SQS::Queue")) == 1
    helm = resources_of(template, HELM_TYPE)
    karpenter_chart = next(k for k, r in helm.items() if r["Properties"]["Chart"] == "karpenter")
    for kind, name in (("NodePool", "inference"), ("NodePool", "whole")):
        manifest = _manifest_named(template, kind, name)
        assert karpenter_chart in depends_on_closure(template, manifest), (
            f"{kind}/{name} must be applied after (and deleted before) the Karpenter chart"
        )


def test_deploy_and_destroy_order(installed_karpenter_template: dict[str, Any]) -> None:
    template = installed_karpenter_template
    helm = resources_of(template, HELM_TYPE)
    device_plugin = next(
        k for k, r in helm.items() if r["Properties"]["Chart"] == "nvidia-device-plugin"
    )
    config_map = _manifest_named(template, "ConfigMap", "nvidia-device-plugin-config")
    sample = _manifest_named(template, "Job", "inference-sample")
    pool = _manifest_named(template, "NodePool", "inference")
    assert config_map in depends_on_closure(template, device_plugin)
    assert {pool, device_plugin} <= depends_on_closure(template, sample)
    # Destroy runs backwards: nothing the pools need may depend on the pools.
    assert pool not in depends_on_closure(template, device_plugin)


def test_device_plugin_values_follow_the_pools(existing_karpenter_template: dict[str, Any]) -> None:
    helm = resources_of(existing_karpenter_template, HELM_TYPE)
    (chart,) = helm.values()
    values_text = chart["Properties"]["Values"]
    values_text = values_text if isinstance(values_text, str) else str(values_text)
    assert '"name":"nvidia-device-plugin-config"' in values_text.replace(" ", "")
    assert chart["Properties"]["Version"] == "0.20.0"
    assert chart["Properties"]["Repository"] == "https://nvidia.github.io/k8s-device-plugin"


def test_existing_karpenter_without_feature_gate_is_refused() -> None:
    _, stack, cluster = imported_cluster()
    gate_off = ExistingKarpenter(
        node_role_name="r", discovery_tag_value="t", version="1.14.1", node_overlay_enabled=False
    )
    with pytest.raises(ConfigurationError) as info:
        GpuSharing(stack, "Gpu", cluster=cluster, karpenter=gate_off, pools=POOLS)
    assert info.value.field == "ExistingKarpenter.node_overlay_enabled"
    assert "settings.featureGates.nodeOverlay=true" in info.value.fix
    assert stack.node.try_find_child("Gpu") is None  # nothing half-built


@pytest.mark.parametrize(
    ("version", "kubernetes_version", "rule_fragment"),
    [
        ("1.6.3", "1.33", "NodeOverlay"),
        ("1.12.0", "1.36", "Kubernetes 1.36 needs Karpenter >= 1.13.0"),
    ],
)
def test_existing_karpenter_version_is_checked(
    version: str, kubernetes_version: str, rule_fragment: str
) -> None:
    _, stack, cluster = imported_cluster()
    old = ExistingKarpenter(
        node_role_name="r", discovery_tag_value="t", version=version, node_overlay_enabled=True
    )
    with pytest.raises(ConfigurationError) as info:
        GpuSharing(
            stack,
            "Gpu",
            cluster=cluster,
            karpenter=old,
            pools=POOLS,
            kubernetes_version=kubernetes_version,
        )
    assert rule_fragment in info.value.rule
    assert info.value.value == version


def test_whole_gpu_pools_need_no_feature_gate() -> None:
    _, stack, cluster = imported_cluster()
    gate_off = ExistingKarpenter(
        node_role_name="r", discovery_tag_value="t", version="1.9.0", node_overlay_enabled=False
    )
    sharing = GpuSharing(
        stack,
        "Gpu",
        cluster=cluster,
        karpenter=gate_off,
        pools=[GpuPool("whole")],
        kubernetes_version="1.35",
    )
    assert set(sharing.pool_manifests) == {"whole"}


def test_bottlerocket_only_pools_skip_the_device_plugin() -> None:
    _, stack, cluster = imported_cluster()
    pools = [GpuPool("br", ami_family=AmiFamily.BOTTLEROCKET, sharing=TimeSlicing(replicas=2))]
    sharing = GpuSharing(stack, "Gpu", cluster=cluster, karpenter=EXISTING, pools=pools)
    assert sharing.device_plugin_chart is None
    assert not resources_of(_template(stack), HELM_TYPE)


def test_invalid_existing_karpenter_values() -> None:
    with pytest.raises(ConfigurationError, match=r"ExistingKarpenter\.version='latest'"):
        ExistingKarpenter(node_role_name="r", discovery_tag_value="t", version="latest")
    with pytest.raises(ConfigurationError, match=r"ExistingKarpenter\.node_role_name=''"):
        ExistingKarpenter(node_role_name="", discovery_tag_value="t", version="1.14.1")


def test_add_sample_workload_rules() -> None:
    _, stack, cluster = imported_cluster()
    sharing = GpuSharing(
        stack, "Gpu", cluster=cluster, karpenter=EXISTING, pools=POOLS, sample_workload=False
    )
    sharing.add_sample_workload("whole", replicas=2)
    with pytest.raises(ConfigurationError, match="already has a sample"):
        sharing.add_sample_workload("whole")
    with pytest.raises(ConfigurationError, match="use one of"):
        sharing.add_sample_workload("missing")
    with pytest.raises(ConfigurationError, match="use one of"):
        sharing.add_sample_workload(GpuPool("inference", sharing=Mps(replicas=2)))


def test_wrong_karpenter_type_is_refused() -> None:
    _, stack, cluster = imported_cluster()
    with pytest.raises(ConfigurationError, match=r"GpuSharing\.karpenter"):
        GpuSharing(stack, "Gpu", cluster=cluster, karpenter="karpenter", pools=POOLS)  # type: ignore[arg-type]


def test_oversized_manifest_is_refused_before_deploy(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(gpu_sharing_module, "MAX_MANIFEST_BYTES", 500)
    _, stack, cluster = imported_cluster()
    with pytest.raises(ConfigurationError, match="262,144-byte limit"):
        GpuSharing(stack, "Gpu", cluster=cluster, karpenter=EXISTING, pools=[GpuPool("whole")])


def test_no_sharing_pools_get_no_overlays(existing_karpenter_template: dict[str, Any]) -> None:
    kinds_by_pool: dict[str, set[str]] = {}
    for resource in resources_of(existing_karpenter_template, MANIFEST_TYPE).values():
        for obj in manifest_objects(resource):
            if obj["kind"] == "NodeOverlay":
                pool = obj["spec"]["requirements"][0]["values"][0]
                kinds_by_pool.setdefault(pool, set()).add(obj["metadata"]["name"])
    assert kinds_by_pool == {"inference": {"inference-gpu-1"}}
    assert isinstance(POOLS[1].sharing, NoSharing)


def test_a_pool_karpenter_cannot_fill_at_the_optimum_warns_at_synth() -> None:
    """Memory-sized slices on four models: a few pods cost up to 1.31x the cheapest fleet
    (the figure is Karpenter's: tests/test_cheapest_fleet.py)."""
    from aws_cdk.assertions import Annotations, Match

    _, stack, cluster = imported_cluster()
    sized = GpuPool(
        "sized", gpu_names=["t4", "a10g", "l4", "l40s"], sharing=TimeSlicing(memory_gib=6)
    )
    GpuSharing(stack, "Gpu", cluster=cluster, karpenter=EXISTING, pools=[sized, POOLS[1]])
    Annotations.from_stack(stack).has_warning(
        "/User/Gpu",
        Match.string_like_regexp(r"gpu_names: .*up to 1\.31x the cheapest fleet.*gpu_names=\[t4\]"),
    )


def test_the_sample_runs_by_default_only_on_a_cluster_of_this_app() -> None:
    app = cdk.App()
    stack = cdk.Stack(app, "Own")
    own = eks.Cluster(
        stack,
        "Cluster",
        version=kubernetes_version(),
        kubectl_layer=kubectl_layer(stack),
        default_capacity=0,
    )
    sharing = GpuSharing(stack, "Gpu", cluster=own, karpenter=EXISTING, pools=POOLS)
    assert list(sharing.sample_workloads) == ["inference"]
    _, imported_stack, imported = imported_cluster()
    on_imported = GpuSharing(
        imported_stack, "Gpu", cluster=imported, karpenter=EXISTING, pools=POOLS
    )
    assert on_imported.sample_workloads == {}


SPOT = GpuPool(
    "spot",
    gpu_names=["l4"],
    sharing=TimeSlicing(replicas=2),
    capacity_types=[CapacityType.SPOT, CapacityType.ON_DEMAND],
)


def _spot_role_warnings(stack: cdk.Stack) -> list[str]:
    # The constructs' own metadata, not Annotations.find_warning: under pytest-xdist, jsii
    # 1.142's lazy loader sometimes failed to turn the cloud-assembly MetadataEntry it returns
    # into Python ("Unknown interface: aws-cdk-lib.cloud_assembly_schema.MetadataEntry").
    return [
        str(entry.data)
        for construct in stack.node.find_all()
        for entry in construct.node.metadata
        if entry.type == "aws:cdk:warning" and "AWSServiceRoleForEC2Spot" in str(entry.data)
    ]


@pytest.mark.parametrize(
    ("pools", "role", "warned", "created"),
    [
        ([SPOT], None, True, False),
        ([SPOT], SpotServiceLinkedRole.EXISTS, False, False),
        ([SPOT], SpotServiceLinkedRole.CREATE, False, True),
        ([POOLS[0]], None, False, False),
    ],
    ids=["spot-unhandled", "spot-exists", "spot-create", "no-spot"],
)
def test_spot_pools_get_the_service_linked_role_or_a_warning(
    pools: list[GpuPool], role: SpotServiceLinkedRole | None, warned: bool, created: bool
) -> None:
    _, stack, cluster = imported_cluster()
    sharing = GpuSharing(
        stack,
        "Gpu",
        cluster=cluster,
        karpenter=EXISTING,
        pools=pools,
        spot_service_linked_role=role,
    )
    warnings = _spot_role_warnings(stack)
    assert bool(warnings) is warned, warnings
    if warned:
        assert (
            "aws iam create-service-linked-role --aws-service-name spot.amazonaws.com"
            in (warnings[0])
        )
    template = _template(stack)
    roles = resources_of(template, "AWS::IAM::ServiceLinkedRole")
    assert bool(roles) is created
    if created:
        ((role_id, resource),) = roles.items()
        assert resource["Properties"]["AWSServiceName"] == "spot.amazonaws.com"
        assert resource["DeletionPolicy"] == "Retain"
        pool = _manifest_named(template, "NodePool", "spot")
        assert role_id in depends_on_closure(template, pool)
        assert sharing.spot_service_linked_role is not None


def test_spot_role_prop_is_type_checked() -> None:
    _, stack, cluster = imported_cluster()
    with pytest.raises(ConfigurationError, match="spot_service_linked_role"):
        GpuSharing(
            stack,
            "Gpu",
            cluster=cluster,
            karpenter=EXISTING,
            pools=[SPOT],
            spot_service_linked_role="create",  # type: ignore[arg-type]
        )


def test_pod_guardrails_are_one_manifest_when_asked_for() -> None:
    def kinds(**props: Any) -> set[str]:
        _, stack, cluster = imported_cluster()
        GpuSharing(stack, "Gpu", cluster=cluster, karpenter=EXISTING, pools=POOLS, **props)
        return {
            obj["kind"]
            for resource in resources_of(_template(stack), MANIFEST_TYPE).values()
            for obj in manifest_objects(resource)
        }

    assert "ValidatingAdmissionPolicy" not in kinds()
    assert {"ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding"} <= kinds(
        pod_guardrails=PodGuardrails()
    )
