"""The cdk8s charts (k8s/): Karpenter objects, device plugin config and Helm values, sample
workload, the Pod Security levels of their namespaces, and the device plugin beside an existing
release of it.

Every expectation is read back from the synthesized JSON (what ``kubectl apply`` would get),
and where the charts must agree with each other (profile label vs ConfigMap key, affinity vs
pools, overlay counts vs NodePool requirement) the test reads both sides from the output. Where
a consumer decides, its own code does: Helm's chart defaults for the values' keys, the Pod
Security admission's evaluator (k8s.io/pod-security-admission, pinned) for the namespaces, and
Helm's render of the pinned chart with Karpenter's DaemonSet fit for an existing release.
"""

from __future__ import annotations

import copy
import dataclasses
import os
import re
import subprocess
import sys
import tomllib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import cdk8s
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from eks_gpu_sharing import (
    ConfigurationError,
    GpuPool,
    Mps,
    Taint,
    TaintEffect,
    TimeSlicing,
)
from eks_gpu_sharing.backends import DEVICE_PLUGIN_CONFIG_LABEL
from eks_gpu_sharing.k8s import (
    COMMON_LABELS,
    CONFIG_HASH_ANNOTATION,
    DEVICE_PLUGIN_CONFIG_MAP,
    DEVICE_PLUGIN_NAMESPACE,
    DevicePluginConfigChart,
    GpuPoolChart,
    SampleWorkloadChart,
    device_plugin_config_data,
    device_plugin_helm_values,
)
from eks_gpu_sharing.k8s.sample_workload import (
    SAMPLE_DEADLINE_SECONDS,
    SAMPLE_DURATION_SECONDS,
    sample_script,
)
from eks_gpu_sharing.karpenter_api import INSTANCE_GPU_COUNT
from eks_gpu_sharing.karpenter_installation import ExistingKarpenter
from eks_gpu_sharing.labels import POOL_LABEL, SHARING_LABEL
from eks_gpu_sharing.plan import plan_pool
from eks_gpu_sharing.render import DEVICE_PLUGIN_VALUES_FILE
from eks_gpu_sharing.setup import GpuSharingSetup
from eks_gpu_sharing.simulation import (
    device_plugin_daemon_sets,
    karpenter_controller_env,
    run_simulation,
    simulation_input,
)
from eks_gpu_sharing.upstream import Upstream
from eks_gpu_sharing.versions import (
    AL2023_AMI_VERSION,
    BOTTLEROCKET_AMI_VERSION,
    KUBERNETES_VERSION,
    SAMPLE_WORKLOAD_IMAGE,
)
from tests.pools import BATCH, DEDICATED, INFERENCE, KARPENTER, MPS, RENAMED, TRAINING

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def app(tmp_path: Path) -> cdk8s.App:
    return cdk8s.App(outdir=str(tmp_path))


def pool_objects(
    app: cdk8s.App,
    pool: GpuPool,
    karpenter: ExistingKarpenter = KARPENTER,
    instance_tags: dict[str, str] | None = None,
) -> list[dict[str, Any]]:
    return GpuPoolChart(
        app, f"pool-{pool.name}", pool=pool, karpenter=karpenter, instance_tags=instance_tags
    ).to_json()


def only(objects: Sequence[dict[str, Any]], kind: str) -> dict[str, Any]:
    matches = of_kind(objects, kind)
    assert len(matches) == 1, f"expected one {kind}, got {len(matches)}"
    return matches[0]


def of_kind(objects: Sequence[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [o for o in objects if o["kind"] == kind]


def requirement_values(node_pool: dict[str, Any], key: str) -> list[str]:
    (requirement,) = [
        r for r in node_pool["spec"]["template"]["spec"]["requirements"] if r["key"] == key
    ]
    assert requirement["operator"] == "In"
    return requirement["values"]


def affinity_pool_names(values: dict[str, Any]) -> list[str]:
    terms = values["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"][
        "nodeSelectorTerms"
    ]
    assert len(terms) == 1, "one term: terms are ORed, a second one would admit other nodes"
    (expression,) = terms[0]["matchExpressions"]
    assert expression["key"] == POOL_LABEL and expression["operator"] == "In"
    return expression["values"]


# -- names and labels --------------------------------------------------------------------------


def test_pool_chart_names_are_fixed_and_labelled(app: cdk8s.App, tmp_path: Path) -> None:
    chart = GpuPoolChart(app, "pool-inference", pool=INFERENCE, karpenter=KARPENTER)
    app.synth()
    (manifest,) = tmp_path.glob("*.k8s.yaml")
    objects = [d for d in yaml.safe_load_all(manifest.read_text()) if d]
    assert objects == chart.to_json()
    names = {(o["kind"], o["metadata"]["name"]) for o in objects}
    # gpu_counts [1, 4]: one NodePool (and EC2NodeClass) per count; the overlays keep the
    # pool's name, so splitting a pool updates them in place.
    assert names == {
        ("EC2NodeClass", "inference-1gpu"),
        ("EC2NodeClass", "inference-4gpu"),
        ("NodePool", "inference-1gpu"),
        ("NodePool", "inference-4gpu"),
        ("NodeOverlay", "inference-gpu-1"),
        ("NodeOverlay", "inference-gpu-4"),
    }
    for node_pool in of_kind(objects, "NodePool"):
        assert node_pool["spec"]["template"]["spec"]["nodeClassRef"] == {
            "group": "karpenter.k8s.aws",
            "kind": "EC2NodeClass",
            "name": node_pool["metadata"]["name"],
        }
    for obj in objects:
        assert obj["metadata"]["labels"] == COMMON_LABELS
        assert "namespace" not in obj["metadata"], "Karpenter objects are cluster-scoped"
    assert chart.pool is INFERENCE
    with pytest.raises(ValueError, match="one NodePool per GPU model and count"):
        _ = chart.node_pool
    assert {
        name: {count: o.name for count, o in objects.overlays.items()}
        for name, objects in chart.node_pools.items()
    } == {"inference-1gpu": {1: "inference-gpu-1"}, "inference-4gpu": {4: "inference-gpu-4"}}
    single = GpuPoolChart(app, "pool-batch", pool=BATCH, karpenter=KARPENTER)
    assert single.node_pool.name == single.node_class.name == BATCH.name


def test_names_do_not_depend_on_the_chart_id(app: cdk8s.App) -> None:
    first = pool_objects(app, INFERENCE)
    second = GpuPoolChart(app, "01-other-id", pool=INFERENCE, karpenter=KARPENTER).to_json()
    assert first == second


# -- EC2NodeClass ------------------------------------------------------------------------------


def test_ec2_node_class_is_locked_down_and_pinned(app: cdk8s.App) -> None:
    spec = only(pool_objects(app, RENAMED), "EC2NodeClass")["spec"]
    assert spec["metadataOptions"] == {
        "httpEndpoint": "enabled",
        "httpProtocolIPv6": "disabled",
        "httpPutResponseHopLimit": 1,
        "httpTokens": "required",
    }
    assert spec["amiSelectorTerms"] == [{"alias": f"al2023@{AL2023_AMI_VERSION}"}]
    assert not spec["amiSelectorTerms"][0]["alias"].endswith("@latest")
    assert spec["blockDeviceMappings"] == [
        {
            "deviceName": "/dev/xvda",
            "ebs": {
                "volumeSize": "100Gi",
                "volumeType": "gp3",
                "encrypted": True,
                "deleteOnTermination": True,
            },
        }
    ]
    assert spec["role"] == "KarpenterNodeRole-demo"
    discovery = [{"tags": {"karpenter.sh/discovery": "demo"}}]
    assert spec["subnetSelectorTerms"] == discovery
    assert spec["securityGroupSelectorTerms"] == discovery
    assert "userData" not in spec, "AL2023 needs no user data: the DaemonSet is the plugin"
    assert "tags" not in spec and "instanceProfile" not in spec


def test_ec2_node_class_custom_discovery_tag_and_tags(app: cdk8s.App) -> None:
    spec = only(
        pool_objects(
            app,
            BATCH,
            ExistingKarpenter(
                node_role_name="${Token[TOKEN.123]}",
                discovery_tag_value="${Token[TOKEN.456]}",
                discovery_tag_key="example.com/cluster",
                version="1.14.1",
            ),
            instance_tags={"team": "ml", "cost-center": "42"},
        ),
        "EC2NodeClass",
    )["spec"]
    assert spec["role"] == "${Token[TOKEN.123]}"
    assert spec["subnetSelectorTerms"] == [{"tags": {"example.com/cluster": "${Token[TOKEN.456]}"}}]
    assert spec["tags"] == {"team": "ml", "cost-center": "42"}


def test_bottlerocket_pool_configures_its_built_in_plugin(app: cdk8s.App) -> None:
    objects = pool_objects(app, BATCH)
    spec = only(objects, "EC2NodeClass")["spec"]
    assert spec["amiSelectorTerms"] == [{"alias": f"bottlerocket@{BOTTLEROCKET_AMI_VERSION}"}]
    settings = tomllib.loads(spec["userData"])["settings"]["kubelet-device-plugins"]["nvidia"]
    assert settings["device-sharing-strategy"] == "time-slicing"
    assert settings["time-slicing"] == {
        "replicas": 2,
        "rename-by-default": False,
        "fail-requests-greater-than-one": True,
    }
    volumes = {m["deviceName"]: m["ebs"] for m in spec["blockDeviceMappings"]}
    assert set(volumes) == {"/dev/xvda", "/dev/xvdb"}, "both default volumes, replaced together"
    assert volumes["/dev/xvda"]["volumeSize"] == "4Gi"
    assert volumes["/dev/xvdb"]["volumeSize"] == "200Gi"
    for ebs in volumes.values():
        assert ebs["encrypted"] is True and ebs["volumeType"] == "gp3"
    labels = only(objects, "NodePool")["spec"]["template"]["metadata"]["labels"]
    assert DEVICE_PLUGIN_CONFIG_LABEL not in labels
    assert labels[POOL_LABEL] == "batch"
    values = device_plugin_helm_values([INFERENCE, BATCH])
    assert "batch" not in affinity_pool_names(values)


# -- NodePool ----------------------------------------------------------------------------------


def test_node_pool_carries_the_pool_description(app: cdk8s.App) -> None:
    node_pools = {
        n["metadata"]["name"]: n for n in of_kind(pool_objects(app, INFERENCE), "NodePool")
    }
    assert set(node_pools) == {"inference-1gpu", "inference-4gpu"}
    # Weighted by price per slice: the 1-GPU types (g4dn.xlarge) before the 4-GPU ones.
    assert node_pools["inference-1gpu"]["spec"]["weight"] == 2
    assert node_pools["inference-4gpu"]["spec"]["weight"] == 1
    for count, node_pool in (
        ("4", node_pools["inference-4gpu"]),
        ("1", node_pools["inference-1gpu"]),
    ):
        # The pool's requirements, the GPU count narrowed to the NodePool's.
        assert node_pool["spec"]["template"]["spec"]["requirements"] == [
            r.to_dict() for r in INFERENCE.requirements() if r.key != INSTANCE_GPU_COUNT
        ] + [{"key": INSTANCE_GPU_COUNT, "operator": "In", "values": [count]}]
        # Limits count slices, per NodePool: Karpenter sees slices through the overlays.
        assert node_pool["spec"]["limits"] == {"nvidia.com/gpu": str(6 * 4)}
    template = node_pool["spec"]["template"]
    assert requirement_values(node_pool, "karpenter.k8s.aws/instance-gpu-name") == [
        "l4",
        "a10g",
        "t4",
    ]
    # The generic GPU taint, and the pool's own: only pods meant for the shared pool land here.
    assert template["spec"]["taints"] == [
        {"key": "nvidia.com/gpu", "effect": "NoSchedule"},
        {
            "key": "eks-gpu-sharing.io/pool",
            "value": template["metadata"]["labels"][POOL_LABEL],
            "effect": "NoSchedule",
        },
    ]
    labels = template["metadata"]["labels"]
    assert labels[POOL_LABEL] == "inference"
    assert labels[DEVICE_PLUGIN_CONFIG_LABEL] == "pool-inference"
    assert labels[SHARING_LABEL] == "time-slicing-4"
    # Never: it would draw other device plugin releases (default affinity) onto the node.
    assert "nvidia.com/gpu.present" not in labels
    assert labels[DEVICE_PLUGIN_CONFIG_LABEL] in device_plugin_config_data([INFERENCE])
    assert node_pool["spec"]["disruption"] == {
        "consolidationPolicy": "WhenEmpty",
        "consolidateAfter": "5m",
        "budgets": [{"nodes": "1"}],
    }
    assert template["spec"]["expireAfter"] == "720h"
    assert "weight" not in only(pool_objects(app, RENAMED), "NodePool")["spec"]


def test_node_pool_extra_taints_labels_disruption_and_weight(app: cdk8s.App) -> None:
    pool = GpuPool(
        "custom",
        sharing=TimeSlicing(replicas=2),
        taints=[Taint("example.com/x", "y", TaintEffect.PREFER_NO_SCHEDULE)],
        labels={"example.com/team": "ml"},
        disruption=DEDICATED.disruption,
        weight=50,
    )
    node_pool = only(pool_objects(app, pool), "NodePool")
    spec = node_pool["spec"]
    assert spec["template"]["spec"]["taints"] == pool.node_taints()
    assert {"key": "example.com/x", "value": "y", "effect": "PreferNoSchedule"} in spec["template"][
        "spec"
    ]["taints"]
    assert spec["template"]["metadata"]["labels"]["example.com/team"] == "ml"
    assert spec["disruption"] == pool.disruption.to_dict()
    assert spec["disruption"]["consolidationPolicy"] == "WhenEmptyOrUnderutilized"
    assert spec["template"]["spec"]["expireAfter"] == "Never"
    assert spec["weight"] == 50


# -- NodeOverlays ------------------------------------------------------------------------------


@pytest.mark.parametrize("pool", [INFERENCE, BATCH, MPS, DEDICATED], ids=lambda p: p.name)
def test_one_overlay_per_admitted_gpu_count(app: cdk8s.App, pool: GpuPool) -> None:
    objects = pool_objects(app, pool)
    node_pool_of = {
        count: n["metadata"]["name"]
        for n in of_kind(objects, "NodePool")
        for count in requirement_values(n, INSTANCE_GPU_COUNT)
    }
    assert sorted(map(int, node_pool_of)) == sorted(pool.gpu_counts)
    overlays = of_kind(objects, "NodeOverlay")
    assert len(overlays) == len(node_pool_of)
    by_count: dict[str, dict[str, Any]] = {}
    for overlay in overlays:
        requirements = overlay["spec"]["requirements"]
        assert requirements[1]["key"] == INSTANCE_GPU_COUNT
        assert requirements[1]["operator"] == "In"
        (count,) = requirements[1]["values"]
        # Scoped to the one NodePool of that count.
        assert requirements[0] == {
            "key": "karpenter.sh/nodepool",
            "operator": "In",
            "values": [node_pool_of[count]],
        }
        assert overlay["metadata"]["name"] == f"{pool.name}-gpu-{count}"
        by_count[count] = overlay["spec"]["capacity"]
    assert sorted(by_count) == sorted(node_pool_of)
    for count, capacity in by_count.items():
        assert capacity == {"nvidia.com/gpu": str(pool.sharing.replicas * int(count))}


def test_unshared_pool_has_no_overlays(app: cdk8s.App) -> None:
    objects = pool_objects(app, TRAINING)
    assert of_kind(objects, "NodeOverlay") == []
    assert only(objects, "NodePool")["spec"]["limits"] == {"nvidia.com/gpu": "16"}
    labels = only(objects, "NodePool")["spec"]["template"]["metadata"]["labels"]
    assert labels[DEVICE_PLUGIN_CONFIG_LABEL] == "pool-training"
    assert labels[SHARING_LABEL] == "exclusive"


def test_renamed_pool_advertises_shared_resource(app: cdk8s.App) -> None:
    objects = pool_objects(app, RENAMED)
    (overlay,) = of_kind(objects, "NodeOverlay")
    assert overlay["spec"]["capacity"] == {"nvidia.com/gpu.shared": "3", "nvidia.com/gpu": "0"}
    assert only(objects, "NodePool")["spec"]["limits"] == {"nvidia.com/gpu.shared": str(8 * 3)}
    job = only(SampleWorkloadChart(app, "sample", pool=RENAMED).to_json(), "Job")
    (container,) = job["spec"]["template"]["spec"]["containers"]
    assert container["resources"]["limits"]["nvidia.com/gpu.shared"] == "1"
    assert "nvidia.com/gpu" not in container["resources"]["limits"]


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    replicas=st.integers(min_value=2, max_value=64),
    counts=st.sets(st.sampled_from([1, 2, 4, 8]), min_size=1),
    gpu_limit=st.integers(min_value=8, max_value=64),
    renamed=st.booleans(),
)
def test_overlays_and_limits_count_slices(
    tmp_path: Path, replicas: int, counts: set[int], gpu_limit: int, renamed: bool
) -> None:
    sharing = TimeSlicing(replicas=replicas, rename_by_default=renamed)
    pool = GpuPool("prop", sharing=sharing, gpu_counts=sorted(counts), gpu_limit=gpu_limit)
    objects = GpuPoolChart(
        cdk8s.App(outdir=str(tmp_path)), "pool", pool=pool, karpenter=KARPENTER
    ).to_json()
    resource = "nvidia.com/gpu.shared" if renamed else "nvidia.com/gpu"
    node_pools = of_kind(objects, "NodePool")
    assert len(node_pools) == len(counts)
    admitted = []
    for node_pool in node_pools:
        assert node_pool["spec"]["limits"] == {resource: str(gpu_limit * replicas)}
        (count,) = requirement_values(node_pool, INSTANCE_GPU_COUNT)
        admitted.append(count)
    assert sorted(int(c) for c in admitted) == sorted(counts)
    capacities = {
        o["spec"]["requirements"][1]["values"][0]: o["spec"]["capacity"]
        for o in of_kind(objects, "NodeOverlay")
    }
    assert sorted(capacities) == sorted(admitted)
    for count, capacity in capacities.items():
        assert capacity[resource] == str(replicas * int(count))


# -- device plugin config ----------------------------------------------------------------------


def test_config_map_holds_valid_v1_configs(app: cdk8s.App) -> None:
    pools = [INFERENCE, BATCH, TRAINING, RENAMED, MPS]
    chart = DevicePluginConfigChart(app, "device-plugin-config", pools=pools)
    objects = chart.to_json()
    namespace = only(objects, "Namespace")
    assert namespace["metadata"]["name"] == DEVICE_PLUGIN_NAMESPACE
    assert "namespace" not in namespace["metadata"], "a Namespace is cluster-scoped"
    config_map = only(objects, "ConfigMap")
    assert config_map["metadata"]["name"] == DEVICE_PLUGIN_CONFIG_MAP == chart.config_map_name
    assert config_map["metadata"]["namespace"] == DEVICE_PLUGIN_NAMESPACE == chart.namespace
    assert config_map["metadata"]["labels"] == COMMON_LABELS
    data = config_map["data"]
    # One key per AL2023 pool; Bottlerocket's pool is configured through user data, not here.
    assert set(data) == {"exclusive", "pool-inference", "pool-renamed", "pool-mps", "pool-training"}
    assert data["pool-training"] == data["exclusive"]  # whole GPUs, under the pool's own key
    assert chart.default_profile == "exclusive"
    for key, text in data.items():
        config = yaml.safe_load(text)
        assert config["version"] == "v1"
        assert config["flags"] == {"migStrategy": "none"}
        if key in ("exclusive", "pool-training"):
            assert "sharing" not in config
            continue
        (mode,) = config["sharing"].values()
        assert mode["resources"], "the plugin rejects an empty resources list"
        for resource in mode["resources"]:
            assert resource["name"] == "nvidia.com/gpu"
            assert isinstance(resource["replicas"], int) and resource["replicas"] >= 2
    assert yaml.safe_load(data["pool-mps"])["sharing"]["mps"]["resources"][0]["replicas"] == 8
    assert yaml.safe_load(data["pool-renamed"])["sharing"]["timeSlicing"]["renameByDefault"]


def test_every_al2023_profile_label_names_a_config_map_key(app: cdk8s.App) -> None:
    pools = [INFERENCE, BATCH, TRAINING, RENAMED, MPS, DEDICATED]
    data = only(DevicePluginConfigChart(app, "dp", pools=pools).to_json(), "ConfigMap")["data"]
    for pool in pools:
        for node_pool in of_kind(pool_objects(app, pool), "NodePool"):
            labels = node_pool["spec"]["template"]["metadata"]["labels"]
            if pool.uses_device_plugin_daemonset:
                # A label naming a missing key makes the config-manager fail; the NodePools of
                # one count split share their pool's key.
                assert labels[DEVICE_PLUGIN_CONFIG_LABEL] == f"pool-{pool.name}"
                assert labels[DEVICE_PLUGIN_CONFIG_LABEL] in data
            else:
                assert DEVICE_PLUGIN_CONFIG_LABEL not in labels


def test_each_pool_has_its_own_key_so_a_change_never_orphans_a_node() -> None:
    """A node selects its pool's key. When the pool's sharing changes, the key stays and its
    content changes: the plugin on the pool's existing nodes (until Karpenter replaces them,
    drifted by the sharing label) loads the new setting instead of failing on a missing key."""
    other = GpuPool("other", sharing=TimeSlicing(replicas=4), gpu_names=["t4"])
    before = device_plugin_config_data([INFERENCE, other])
    assert set(before) == {"exclusive", "pool-inference", "pool-other"}
    assert before["pool-inference"] == before["pool-other"]
    changed = dataclasses.replace(INFERENCE, sharing=TimeSlicing(replicas=8))
    after = device_plugin_config_data([changed, other])
    assert set(after) == set(before)
    assert (
        yaml.safe_load(after["pool-inference"])["sharing"]["timeSlicing"]["resources"][0][
            "replicas"
        ]
        == 8
    )
    for before_plan, after_plan in zip(
        plan_pool(INFERENCE).node_pools, plan_pool(changed).node_pools, strict=True
    ):
        assert after_plan.node_labels()[DEVICE_PLUGIN_CONFIG_LABEL] == "pool-inference"
        # ... while the template label that tells Karpenter the nodes are out of date changes.
        assert after_plan.node_labels()[SHARING_LABEL] != before_plan.node_labels()[SHARING_LABEL]
    assert set(device_plugin_config_data([BATCH])) == {"exclusive"}


def test_config_hash_is_stable_and_follows_the_data(app: cdk8s.App) -> None:
    first = DevicePluginConfigChart(app, "a", pools=[INFERENCE, MPS], create_namespace=False)
    again = DevicePluginConfigChart(app, "b", pools=[MPS, INFERENCE], create_namespace=False)
    assert of_kind(first.to_json(), "Namespace") == []
    assert len(first.config_hash) == 64 and int(first.config_hash, 16) >= 0
    assert first.config_hash == again.config_hash
    changed_pool = GpuPool("inference", sharing=TimeSlicing(replicas=5), gpu_counts=[1, 4])
    changed = DevicePluginConfigChart(app, "c", pools=[changed_pool, MPS], create_namespace=False)
    assert changed.config_hash != first.config_hash
    before = device_plugin_helm_values([INFERENCE, MPS], config_hash=first.config_hash)
    after = device_plugin_helm_values([changed_pool, MPS], config_hash=changed.config_hash)
    assert before["podAnnotations"] == {CONFIG_HASH_ANNOTATION: first.config_hash}
    assert before["podAnnotations"] != after["podAnnotations"]
    assert "podAnnotations" not in device_plugin_helm_values([INFERENCE])


def test_custom_namespace_and_config_map_name(app: cdk8s.App) -> None:
    chart = DevicePluginConfigChart(
        app, "dp", pools=[INFERENCE], namespace="gpu-system", config_map_name="profiles"
    )
    config_map = only(chart.to_json(), "ConfigMap")
    assert config_map["metadata"] == {
        "name": "profiles",
        "namespace": "gpu-system",
        "labels": COMMON_LABELS,
    }
    assert only(chart.to_json(), "Namespace")["metadata"]["name"] == "gpu-system"
    values = device_plugin_helm_values([INFERENCE], config_map_name=chart.config_map_name)
    assert values["config"] == {"name": "profiles", "default": "exclusive"}


# -- Helm values -------------------------------------------------------------------------------


def test_helm_values_serve_exactly_the_al2023_pools() -> None:
    pools = [INFERENCE, BATCH, TRAINING, DEDICATED]
    values = device_plugin_helm_values(pools, config_hash="abc")
    assert affinity_pool_names(values) == ["dedicated", "inference", "training"]
    assert values["config"] == {"name": DEVICE_PLUGIN_CONFIG_MAP, "default": "exclusive"}
    assert values["config"]["default"] in device_plugin_config_data(pools)
    tolerations = values["tolerations"]
    assert {"key": "CriticalAddonsOnly", "operator": "Exists"} in tolerations
    assert {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"} in tolerations
    # DEDICATED's extra taints: one with a value, one without.
    assert {
        "key": "example.com/team",
        "operator": "Equal",
        "value": "ml",
        "effect": "NoSchedule",
    } in tolerations
    assert {"key": "example.com/spot", "operator": "Exists", "effect": "NoSchedule"} in tolerations
    # One toleration for every shared pool's isolation taint.
    isolation = {"key": "eks-gpu-sharing.io/pool", "operator": "Exists", "effect": "NoSchedule"}
    assert isolation in tolerations
    assert len(tolerations) == 5
    assert values["gfd"] == {"enabled": False}
    assert "nfd" not in values
    # Written to a values file: no YAML anchors from shared dicts.
    assert "&id" not in yaml.safe_dump(values)


def test_helm_values_enable_gfd_and_nfd_toleration_for_mps() -> None:
    values = device_plugin_helm_values([INFERENCE, MPS])
    assert values["gfd"] == {"enabled": True}
    nfd_tolerations = values["nfd"]["worker"]["tolerations"]
    # The NodePool taint has no value: NFD's default `Equal present` does not tolerate it.
    taint = only_taint(of_kind(pool_objects(cdk8s.App(), MPS), "NodePool")[0])
    assert taint == {"key": "nvidia.com/gpu", "effect": "NoSchedule"}
    assert not tolerates(
        {"key": "nvidia.com/gpu", "operator": "Equal", "value": "present", "effect": "NoSchedule"},
        taint,
    )
    assert any(tolerates(t, taint) for t in nfd_tolerations)
    assert "&id" not in yaml.safe_dump(values)


def only_taint(node_pool: dict[str, Any]) -> dict[str, str]:
    """The generic GPU taint (the first; a shared pool's isolation taint follows it)."""
    taint: dict[str, str] = node_pool["spec"]["template"]["spec"]["taints"][0]
    return taint


def tolerates(toleration: dict[str, str], taint: dict[str, str]) -> bool:
    """Kubernetes' toleration matching (``ToleratesTaint``)."""
    if toleration.get("effect") and toleration["effect"] != taint["effect"]:
        return False
    if toleration.get("key") and toleration["key"] != taint["key"]:
        return False
    if toleration.get("operator", "Equal") == "Exists":
        return True
    return toleration.get("value", "") == taint.get("value", "")


@pytest.mark.parametrize("pool", [INFERENCE, DEDICATED, MPS, TRAINING], ids=lambda p: p.name)
def test_device_plugin_tolerates_every_taint_of_its_pools(app: cdk8s.App, pool: GpuPool) -> None:
    values = device_plugin_helm_values([pool, BATCH])
    taints = [
        taint
        for node_pool in of_kind(pool_objects(app, pool), "NodePool")
        for taint in node_pool["spec"]["template"]["spec"]["taints"]
    ]
    for taint in taints:
        assert any(tolerates(t, taint) for t in values["tolerations"]), taint


def test_helm_values_need_an_al2023_pool() -> None:
    with pytest.raises(ConfigurationError, match="AL2023"):
        device_plugin_helm_values([BATCH])


def test_device_plugin_values_use_only_keys_the_chart_has(harness: Upstream) -> None:
    """Helm ignores a misspelt key silently: every key must be one of the chart's values.yaml
    (as Helm loads it from the pinned module). The rendering itself is tested in
    test_upstream_charts.py."""
    known = harness.render_chart(
        "nvidia-device-plugin", release="nvidia-device-plugin", namespace="n", values={}
    )["defaults"]
    values = yaml.safe_load((ROOT / "manifests" / DEVICE_PLUGIN_VALUES_FILE).read_text())
    assert set(values) <= set(known), set(values) - set(known)
    assert set(values["config"]) <= set(known["config"])
    assert set(values["gfd"]) <= set(known["gfd"])


# -- sample workload ---------------------------------------------------------------------------


def test_sample_fills_one_node_with_one_slice_per_pod(app: cdk8s.App) -> None:
    chart = SampleWorkloadChart(app, "sample", pool=INFERENCE)
    objects = chart.to_json()
    namespace = only(objects, "Namespace")
    assert namespace["metadata"]["name"] == "gpu-sharing-demo"
    job = only(objects, "Job")
    assert job["apiVersion"] == "batch/v1"
    assert job["metadata"]["name"] == chart.job_name
    assert re.fullmatch(r"inference-sample-[0-9a-f]{8}", chart.job_name)
    assert job["metadata"]["namespace"] == "gpu-sharing-demo"
    assert job["metadata"]["labels"] == {
        **COMMON_LABELS,
        "app.kubernetes.io/name": "inference-sample",
    }
    spec = job["spec"]
    # 4 slices per GPU x 1 GPU on the smallest admitted instance, all at once.
    assert spec["completions"] == spec["parallelism"] == 4 == chart.replicas
    # Finite: it gives up after an hour, Pending included, and each pod exits on its own.
    assert spec["activeDeadlineSeconds"] == SAMPLE_DEADLINE_SECONDS
    template = spec["template"]
    assert template["metadata"]["labels"] == {"app.kubernetes.io/name": "inference-sample"}
    assert "selector" not in spec  # the Job controller generates it
    pod = template["spec"]
    assert pod["restartPolicy"] == "Never"
    assert pod["nodeSelector"] == {POOL_LABEL: "inference"}
    assert pod["tolerations"] == [
        {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"},
        {
            "key": "eks-gpu-sharing.io/pool",
            "operator": "Equal",
            "value": "inference",
            "effect": "NoSchedule",
        },
    ]
    (container,) = pod["containers"]
    assert container["resources"]["limits"]["nvidia.com/gpu"] == "1"
    assert "nvidia.com/gpu" not in container["resources"].get("requests", {})
    assert (
        container["resources"]["requests"]["cpu"] and container["resources"]["requests"]["memory"]
    )
    assert container["image"] == SAMPLE_WORKLOAD_IMAGE
    assert ":" in container["image"].rsplit("/", 1)[-1]
    assert not container["image"].endswith(":latest")
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    assert container["securityContext"]["privileged"] is False
    command = container["command"]
    assert command[:2] == ["bash", "-c"]
    script = command[2]
    for expected in (
        "trap 'exit 0' TERM",
        "nvidia-smi -L",
        "NVIDIA_VISIBLE_DEVICES=",
        "/tmp/sample --benchmark --numbodies=",
        "GFLOP/s",
        "date",
        "POD_NAME",
        "sleep",
        f"end=$((SECONDS + {SAMPLE_DURATION_SECONDS}))",
    ):
        assert expected in script
    env = {e["name"]: e["valueFrom"]["fieldRef"]["fieldPath"] for e in container["env"]}
    assert env == {"POD_NAME": "metadata.name", "NODE_NAME": "spec.nodeName"}


@pytest.mark.skipif(not Path("/bin/bash").exists(), reason="bash is not installed")
def test_sample_script_is_valid_bash_and_ends(app: cdk8s.App, tmp_path: Path) -> None:
    job = only(SampleWorkloadChart(app, "sample", pool=INFERENCE).to_json(), "Job")
    script = job["spec"]["template"]["spec"]["containers"][0]["command"][2]
    result = subprocess.run(
        ["/bin/bash", "-n", "-c", script], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    # Run it for real with a 2-second budget and stand-ins for the CUDA tools: it exits 0.
    short = sample_script(duration_seconds=2)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "nvidia-smi").write_text("#!/bin/sh\necho 'GPU 0: Tesla T4'\n")
    (bin_dir / "nvidia-smi").chmod(0o755)
    sample = tmp_path / "sample"
    sample.write_text("#!/bin/sh\necho '= 123.4 single-precision GFLOP/s'\n")
    sample.chmod(0o755)
    finished = subprocess.run(
        ["/bin/bash", "-c", short.replace("/tmp/sample", str(sample))],
        capture_output=True,
        text=True,
        timeout=30,
        env={"PATH": f"{bin_dir}:/usr/bin:/bin", "POD_NAME": "p", "NODE_NAME": "n"},
        check=False,
    )
    assert finished.returncode == 0, finished.stderr
    assert "123.4 single-precision GFLOP/s" in finished.stdout
    assert "done after" in finished.stdout


def test_sample_tolerates_extra_taints_and_scales(app: cdk8s.App) -> None:
    chart = SampleWorkloadChart(
        app, "sample", pool=DEDICATED, replicas=7, namespace="demo", create_namespace=False
    )
    objects = chart.to_json()
    assert of_kind(objects, "Namespace") == []
    job = only(objects, "Job")
    assert job["metadata"]["namespace"] == "demo"
    assert job["spec"]["completions"] == job["spec"]["parallelism"] == 7
    tolerations = job["spec"]["template"]["spec"]["tolerations"]
    for taint in DEDICATED.node_taints():
        assert any(tolerates(t, taint) for t in tolerations), taint


def test_sample_default_replicas_use_smallest_instance(app: cdk8s.App) -> None:
    pool = GpuPool("big", sharing=TimeSlicing(replicas=3), gpu_counts=[8, 4], gpu_limit=16)
    job = only(SampleWorkloadChart(app, "s", pool=pool).to_json(), "Job")
    assert job["spec"]["completions"] == 12
    whole = only(SampleWorkloadChart(app, "w", pool=TRAINING).to_json(), "Job")
    assert whole["spec"]["completions"] == 8


def test_a_changed_sample_is_a_new_job(app: cdk8s.App) -> None:
    """A Job's pod template cannot change: the name carries a hash of the spec, so any change
    is a new Job (and the same description the same name, run after run)."""
    names = {
        SampleWorkloadChart(app, f"s{i}", pool=pool, replicas=replicas).job_name
        for i, (pool, replicas) in enumerate(
            [(INFERENCE, 4), (INFERENCE, 3), (DEDICATED, 4), (RENAMED, 4)]
        )
    }
    assert len(names) == 4
    again = SampleWorkloadChart(cdk8s.App(), "again", pool=INFERENCE, replicas=4).job_name
    assert again in names


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"replicas": 25}, "limited to 24 slices"),
        ({"replicas": -1}, "replicas"),
        ({"replicas": True}, "replicas"),
        ({"image": "nvcr.io/nvidia/k8s/cuda-sample:latest"}, "pinned"),
        ({"image": "nvcr.io/nvidia/k8s/cuda-sample"}, "pinned"),
    ],
)
def test_sample_rejects_bad_input(app: cdk8s.App, kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        SampleWorkloadChart(app, "s", pool=INFERENCE, **kwargs)


def test_sample_accepts_digest_pinned_image(app: cdk8s.App) -> None:
    image = "registry.example.com:5000/cuda-sample@sha256:" + "a" * 64
    job = only(SampleWorkloadChart(app, "s", pool=INFERENCE, image=image).to_json(), "Job")
    assert job["spec"]["template"]["spec"]["containers"][0]["image"] == image


# -- Pod Security levels of the namespaces -----------------------------------------------------

# Each namespace the library creates gets the strictest level its pods pass, as the Pod Security
# admission's own evaluator decides on the pods that run there: the sample Job's, and every pod
# template Helm renders from the device plugin chart with the library's values.

POOLS = [
    GpuPool("inference", sharing=TimeSlicing(replicas=4)),
    GpuPool("mps", sharing=Mps(replicas=4), gpu_names=["l4"]),
]


def namespace_labels(objects: list[dict[str, Any]]) -> dict[str, str]:
    (namespace,) = [o for o in objects if o["kind"] == "Namespace"]
    labels: dict[str, str] = namespace["metadata"]["labels"]
    return labels


def pod_templates(objects: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {
        f"{o['kind']}/{o['metadata']['name']}": o["spec"]["template"]
        for o in objects
        if o["kind"] in ("DaemonSet", "Deployment", "Job")
    }


def test_the_sample_namespace_enforces_baseline_and_the_job_passes(harness: Upstream) -> None:
    chart = SampleWorkloadChart(cdk8s.App(), "sample", pool=POOLS[0])
    objects = chart.to_json()
    answer = harness.pod_security(namespace_labels(objects), pod_templates(objects))
    version = f"v{KUBERNETES_VERSION}"
    assert answer["errors"] == []
    assert answer["policy"] == {
        "enforce": f"baseline:{version}",
        "warn": f"baseline:{version}",
        "audit": f"restricted:{version}",
    }
    (verdict,) = answer["verdicts"]
    # Allowed and no warning; restricted (audit only) refuses it for running as root, the one
    # thing the CUDA sample image needs.
    assert set(verdict["forbidden"]) == {"audit"}
    assert "runAsNonRoot" in verdict["forbidden"]["audit"]


@pytest.mark.parametrize("pools", [POOLS[:1], POOLS], ids=["time-slicing", "with-mps"])
def test_the_device_plugin_namespace_is_privileged_because_its_pods_need_it(
    harness: Upstream, pools: list[GpuPool]
) -> None:
    chart = DevicePluginConfigChart(cdk8s.App(), "config", pools=pools)
    labels = namespace_labels(chart.to_json())
    rendered = harness.render_chart(
        "nvidia-device-plugin",
        release="nvidia-device-plugin",
        namespace=chart.namespace,
        values=device_plugin_helm_values(pools),
    )
    pods = pod_templates(rendered["objects"])
    assert "DaemonSet/nvidia-device-plugin" in pods
    answer = harness.pod_security(labels, pods)
    assert answer["errors"] == []
    assert answer["policy"]["enforce"] == f"privileged:v{KUBERNETES_VERSION}"
    assert all(v["forbidden"] == {} for v in answer["verdicts"])
    # No lower level would do: baseline refuses the plugin (it mounts the kubelet's
    # device-plugin folder from the host).
    baseline = harness.pod_security({"pod-security.kubernetes.io/enforce": "baseline"}, pods)
    refused = {v["name"]: v["forbidden"].get("enforce", "") for v in baseline["verdicts"]}
    assert "hostPath" in refused["DaemonSet/nvidia-device-plugin"]


# -- beside an existing device plugin release --------------------------------------------------

# An existing release with the chart's default affinity selects nodes labelled
# ``nvidia.com/gpu.present=true`` or, where NFD runs,
# ``feature.node.kubernetes.io/pci-10de.present``. On a pool node it would be a second plugin
# registering ``nvidia.com/gpu``. Karpenter's own DaemonSet fit (which DaemonSets it expects on a
# pool's new nodes) and Helm's render of the pinned chart decide here, on the pool's NodePool
# template:
#
# * the pools do not carry ``nvidia.com/gpu.present``, so the default release stays off them
#   where no NFD runs;
# * where NFD labels the node, only the exclusion values the guide gives the existing release
#   keep it off; they keep it on every other GPU node.

GUIDE = ROOT / "docs" / "runbook.md"


POOL = GpuPool("inference", sharing=TimeSlicing(replicas=4), gpu_names=["t4"], gpu_limit=8)
#: The same without its isolation taint: where another plugin's affinity alone decides.
UNISOLATED = dataclasses.replace(POOL, isolated=False)


NFD_LABEL = "feature.node.kubernetes.io/pci-10de.present"


EXISTING_RELEASE = "existing-plugin"


def guide_exclusion_values() -> dict[str, Any]:
    """The ```yaml block under the guide's "Beside an existing device plugin release"."""
    text = GUIDE.read_text()
    section = text[text.index("### Beside an existing device plugin release") :]
    block = re.search(r"```yaml\n(.*?)```", section, re.DOTALL)
    assert block, "the guide lost its exclusion values"
    values: dict[str, Any] = yaml.safe_load(block.group(1))
    return values


def expected_daemon_sets(
    harness: Upstream,
    existing_values: Mapping[str, Any],
    *,
    node_labels: Mapping[str, str] = {},
    pools: Sequence[GpuPool] = (UNISOLATED,),
) -> dict[str, tuple[str, ...]]:
    """Per pool, the DaemonSets Karpenter expects on a new node, with an existing release of the
    device plugin chart (rendered by Helm with ``existing_values``) in kube-system."""
    inputs = simulation_input(GpuSharingSetup.for_pools(pools))
    objects = copy.deepcopy(list(inputs.karpenter_objects))
    for obj in objects:
        if obj["kind"] == "NodePool":
            obj["spec"]["template"]["metadata"]["labels"].update(node_labels)
    existing = device_plugin_daemon_sets(harness, existing_values, "kube-system", EXISTING_RELEASE)
    ours = device_plugin_daemon_sets(harness, inputs.device_plugin_values, "nvidia-device-plugin")
    run = run_simulation(
        harness,
        label="coexistence",
        karpenter_objects=objects,
        pod_templates=inputs.pod_templates,
        resource_names=inputs.resource_names,
        pods={pool.name: 1 for pool in pools},
        controller_env=karpenter_controller_env(
            harness, cluster_name="test", node_overlay_enabled=True
        ),
        daemon_sets=[*existing, *ours],
    )
    return dict(run.daemon_sets)


def existing(daemon_sets: Mapping[str, tuple[str, ...]]) -> set[str]:
    return {name for names in daemon_sets.values() for name in names if "kube-system/" in name}


def test_a_default_release_stays_off_the_pools_without_nfd(harness: Upstream) -> None:
    fit = expected_daemon_sets(harness, {})
    assert existing(fit) == set()
    # Ours is there: the pool label selects it.
    assert any(name.startswith("nvidia-device-plugin/") for name in fit["inference"])


def test_control_with_the_label_earlier_releases_set_it_is_a_second_plugin(
    harness: Upstream, existing_name: str
) -> None:
    fit = expected_daemon_sets(harness, {}, node_labels={"nvidia.com/gpu.present": "true"})
    assert existing(fit) == {f"kube-system/{existing_name}"}


def test_the_isolation_taint_keeps_a_default_release_off_even_with_the_label(
    harness: Upstream,
) -> None:
    """The chart's default tolerations (nvidia.com/gpu, CriticalAddonsOnly) do not tolerate a
    shared pool's own taint: the AMI's gpu.present label no longer draws a second plugin."""
    labels = {"nvidia.com/gpu.present": "true", NFD_LABEL: "true"}
    fit = expected_daemon_sets(harness, {}, node_labels=labels, pools=(POOL,))
    assert existing(fit) == set()
    assert any(name.startswith("nvidia-device-plugin/") for name in fit["inference"])


def test_the_guides_exclusion_values_keep_it_off_where_nfd_runs(
    harness: Upstream, existing_name: str
) -> None:
    assert existing(expected_daemon_sets(harness, {}, node_labels={NFD_LABEL: "true"})) == {
        f"kube-system/{existing_name}"
    }
    values = guide_exclusion_values()
    for labels in ({NFD_LABEL: "true"}, {"nvidia.com/gpu.present": "true"}, {}):
        assert existing(expected_daemon_sets(harness, values, node_labels=labels)) == set()


def test_the_exclusion_values_keep_every_selector_of_the_chart(harness: Upstream) -> None:
    """The values add `eks-gpu-sharing.io/pool DoesNotExist` to each of the chart's default
    terms and change nothing else, so the existing release still runs on its own GPU nodes."""
    defaults = harness.render_chart(
        "nvidia-device-plugin", release="x", namespace="kube-system", values={}
    )["defaults"]
    chart_terms = defaults["affinity"]["nodeAffinity"][
        "requiredDuringSchedulingIgnoredDuringExecution"
    ]["nodeSelectorTerms"]
    ours = guide_exclusion_values()["affinity"]["nodeAffinity"][
        "requiredDuringSchedulingIgnoredDuringExecution"
    ]["nodeSelectorTerms"]
    exclusion = {"key": "eks-gpu-sharing.io/pool", "operator": "DoesNotExist"}
    assert ours == [
        {"matchExpressions": [*term["matchExpressions"], exclusion]} for term in chart_terms
    ]


@pytest.fixture
def existing_name(harness: Upstream) -> str:
    """The existing release's DaemonSet, as Helm names it (not the library's)."""
    rendered = device_plugin_daemon_sets(harness, {}, "kube-system", EXISTING_RELEASE)
    names = [d["metadata"]["name"] for d in rendered]
    # The plugin, and the MPS control daemon, which runs only on nodes GFD marks MPS-capable.
    assert names == [f"{EXISTING_RELEASE}-nvidia-device-plugin", *names[1:]]
    return str(names[0])


# -- Karpenter installation and instance tags -------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"node_role_name": "arn:aws:iam::123456789012:role/node"}, "role name"),
        ({"node_role_name": ""}, "1-64 letters"),
        ({"node_role_name": "node\n"}, "1-64 letters"),
        ({"discovery_tag_value": ""}, "1-256 characters"),
        ({"discovery_tag_value": "a\tb"}, "1-256 characters"),
        ({"discovery_tag_key": "aws:x"}, "does not start with aws:"),
        ({"version": "v1.14.1"}, "no leading 'v'"),
        ({"node_overlay_enabled": "yes"}, "true or false"),
    ],
)
def test_existing_karpenter_rejects_bad_input(kwargs: dict[str, Any], message: str) -> None:
    arguments = {"node_role_name": "node", "discovery_tag_value": "demo", "version": "1.14.1"}
    with pytest.raises(ConfigurationError, match=message):
        ExistingKarpenter(**{**arguments, **kwargs})


@pytest.mark.parametrize(
    ("tags", "message"),
    [
        ({"kubernetes.io/cluster/demo": "owned"}, "Karpenter sets this tag"),
        ({"karpenter.sh/nodepool": "x"}, "Karpenter sets this tag"),
        ({"team": 1}, "EC2 tag values are strings"),
        ({"team": "ml\n"}, "0-256 characters"),
        ({"aws:createdBy": "me"}, "does not start with aws:"),
    ],
)
def test_instance_tags_reject_karpenters_own(
    app: cdk8s.App, tags: dict[str, Any], message: str
) -> None:
    with pytest.raises(ConfigurationError, match=message):
        pool_objects(app, INFERENCE, instance_tags=tags)


def test_instance_tags_are_copied(app: cdk8s.App) -> None:
    tags = {"team": "ml"}
    chart = GpuPoolChart(app, "pool", pool=INFERENCE, karpenter=KARPENTER, instance_tags=tags)
    tags["team"] = "changed"
    assert chart.instance_tags == {"team": "ml"}
    with pytest.raises(TypeError):
        chart.instance_tags["x"] = "y"  # type: ignore[index]


def test_charts_reject_wrong_argument_types(app: cdk8s.App) -> None:
    with pytest.raises(ConfigurationError, match="GpuPool"):
        GpuPoolChart(app, "x", pool="inference", karpenter=KARPENTER)  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match=r"GpuPoolChart\.karpenter"):
        GpuPoolChart(app, "y", pool=INFERENCE, karpenter={})  # type: ignore[arg-type]


# -- the package as a whole --------------------------------------------------------------------


def test_k8s_package_does_not_import_aws_cdk() -> None:
    code = (
        "import sys, eks_gpu_sharing.k8s\n"
        "loaded = sorted(m for m in sys.modules if m == 'aws_cdk' or m.startswith('aws_cdk.'))\n"
        "assert not loaded, loaded\n"
    )
    root = Path(__file__).resolve().parents[1]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(root / "constructs"), str(root)])}
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=False
    )
    assert result.returncode == 0, result.stderr


def test_the_mps_control_daemon_gets_no_memory_limit_to_be_oom_killed_by() -> None:
    """The chart gives the MPS control daemon the plugin's `resources`; its OOM kill would end
    every MPS client on the node, so with an MPS pool the values set requests only."""
    plain = device_plugin_helm_values([POOL])
    assert plain["resources"]["limits"] == {"memory": "256Mi"}
    with_mps = device_plugin_helm_values([POOL, MPS])
    assert "limits" not in with_mps["resources"]
    assert with_mps["resources"]["requests"] == plain["resources"]["requests"]
