"""The value objects: sharing modes and GPU pools, their validation and derived values, and the
names every API takes (pools, taints, Karpenter, the reference cluster) matched whole."""

from __future__ import annotations

import aws_cdk as cdk
import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from eks_gpu_sharing import (
    AmiFamily,
    CapacityType,
    ConfigurationError,
    Disruption,
    ExistingKarpenter,
    GpuPool,
    Mps,
    NoSharing,
    ReferenceCluster,
    Taint,
    TimeSlicing,
)
from eks_gpu_sharing.backends import DEVICE_PLUGIN_CONFIG_LABEL
from eks_gpu_sharing.labels import POOL_LABEL, SHARING_LABEL
from eks_gpu_sharing.plan import plan_pool
from eks_gpu_sharing.setup import GpuSharingSetup
from eks_gpu_sharing.sharing import (
    GPU_RESOURCE,
    MPS_CAPABLE_LABEL,
    SHARED_GPU_RESOURCE,
    Mig,
)


def _error(call) -> ConfigurationError:
    with pytest.raises(ConfigurationError) as info:
        call()
    return info.value


# -- sharing ---------------------------------------------------------------------------------


@pytest.mark.parametrize("replicas", [1, 0, -3])
def test_time_slicing_rejects_fewer_than_two_replicas(replicas: int) -> None:
    error = _error(lambda: TimeSlicing(replicas=replicas))
    assert error.field == "TimeSlicing.replicas"
    assert error.value == replicas
    assert ">= 2" in error.rule
    assert "NoSharing()" in error.fix


@pytest.mark.parametrize("replicas", [2.5, "4", True, 10**60])
def test_time_slicing_rejects_non_integer_replicas(replicas: object) -> None:
    error = _error(lambda: TimeSlicing(replicas=replicas))  # type: ignore[arg-type]
    assert "whole number" in error.rule or "at most 256" in error.rule


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({}, "neither given"),
        ({"replicas": 4, "memory_gib": 8}, "both given"),
        ({"memory_gib": 0}, "1..1024"),
        ({"memory_gib": 8.5}, "whole number of GiB"),
    ],
)
def test_a_slice_is_a_count_or_a_memory_size(kwargs: dict[str, object], fragment: str) -> None:
    for mode in (TimeSlicing, Mps):
        assert fragment in _error(lambda mode=mode: mode(**kwargs)).rule  # type: ignore[misc]


def test_mps_replica_bounds_follow_the_device_plugin() -> None:
    assert Mps(replicas=48).replicas == 48
    error = _error(lambda: Mps(replicas=49))
    assert "at most 48" in error.rule
    assert _error(lambda: Mps(replicas=1)).field == "Mps.replicas"


def test_flags_must_be_booleans() -> None:
    error = _error(lambda: TimeSlicing(replicas=4, rename_by_default="yes"))  # type: ignore[arg-type]
    assert error.field == "TimeSlicing.rename_by_default"


def test_time_slicing_config_is_a_valid_v1_document() -> None:
    config = TimeSlicing(replicas=4).device_plugin_config()
    assert config["version"] == "v1"
    time_slicing = config["sharing"]["timeSlicing"]
    assert time_slicing["resources"] == [{"name": GPU_RESOURCE, "replicas": 4}]
    assert time_slicing["failRequestsGreaterThanOne"] is True
    assert time_slicing["renameByDefault"] is False
    assert "mps" not in config["sharing"]


def test_mps_config_and_no_sharing_config() -> None:
    assert Mps(replicas=8).device_plugin_config()["sharing"]["mps"]["resources"] == [
        {"name": GPU_RESOURCE, "replicas": 8}
    ]
    assert "sharing" not in NoSharing().device_plugin_config()


def test_profile_names_distinguish_every_setting() -> None:
    profiles = {
        TimeSlicing(replicas=4).profile_name,
        TimeSlicing(replicas=4, rename_by_default=True).profile_name,
        TimeSlicing(replicas=4, fail_requests_greater_than_one=False).profile_name,
        TimeSlicing(replicas=2).profile_name,
        Mps(replicas=4).profile_name,
        NoSharing().profile_name,
    }
    assert len(profiles) == 6


def test_bottlerocket_toml_matches_the_bottlerocket_settings() -> None:
    toml = TimeSlicing(replicas=3, rename_by_default=True).bottlerocket_settings()
    assert (
        '[settings.kubelet-device-plugins.nvidia]\ndevice-sharing-strategy = "time-slicing"' in toml
    )
    assert "[settings.kubelet-device-plugins.nvidia.time-slicing]\nreplicas = 3\n" in toml
    assert "rename-by-default = true" in toml
    assert "fail-requests-greater-than-one = true" in toml
    assert 'device-sharing-strategy = "none"' in NoSharing().bottlerocket_settings()


def test_renamed_slices_use_the_shared_resource() -> None:
    assert TimeSlicing(replicas=2, rename_by_default=True).resource_name == SHARED_GPU_RESOURCE
    assert TimeSlicing(replicas=2).resource_name == GPU_RESOURCE


# -- pools -----------------------------------------------------------------------------------


def test_pool_derives_labels_requirements_and_limits() -> None:
    pool = GpuPool(
        "inference", gpu_names=["l4", "t4"], sharing=TimeSlicing(replicas=4), gpu_limit=3
    )
    assert plan_pool(pool).only().node_labels()[DEVICE_PLUGIN_CONFIG_LABEL] == "pool-inference"
    assert plan_pool(pool).only().node_labels()[SHARING_LABEL] == "time-slicing-4"
    assert plan_pool(pool).only().node_labels()[POOL_LABEL] == "inference"
    assert plan_pool(pool).slice_limit == 12
    requirements = {r.key: r for r in pool.requirements()}
    assert requirements["karpenter.k8s.aws/instance-gpu-name"].values == ("l4", "t4")
    assert requirements["karpenter.k8s.aws/instance-gpu-manufacturer"].values == ("nvidia",)
    assert requirements["karpenter.k8s.aws/instance-gpu-count"].values == ("1",)
    assert "karpenter.k8s.aws/instance-category" not in requirements
    assert pool.node_taints()[0] == {"key": "nvidia.com/gpu", "effect": "NoSchedule"}


def test_only_mps_pools_on_al2023_carry_gfds_mps_label() -> None:
    """GFD sets nvidia.com/mps.capable=true on MPS nodes; on the template, Karpenter counts the
    MPS control daemon that selects it. Nowhere else may it appear (the daemon would follow)."""
    mps = GpuPool("m", sharing=Mps(replicas=4), gpu_names=["l4"])
    assert plan_pool(mps).only().node_labels()[MPS_CAPABLE_LABEL] == "true"
    for other in (
        GpuPool("t", sharing=TimeSlicing(replicas=4), gpu_names=["l4"]),
        GpuPool("b", sharing=Mps(replicas=4), gpu_names=["l4"], ami_family=AmiFamily.BOTTLEROCKET),
    ):
        assert MPS_CAPABLE_LABEL not in plan_pool(other).only().node_labels()
    with pytest.raises(ConfigurationError, match="reserved"):
        GpuPool("t", gpu_names=["l4"], labels={MPS_CAPABLE_LABEL: "true"})


def test_pool_without_selection_admits_the_g_category() -> None:
    requirements = {r.key: r for r in GpuPool("any").requirements()}
    assert requirements["karpenter.k8s.aws/instance-category"].values == ("g",)


def test_bottlerocket_pool_has_no_device_plugin_label() -> None:
    pool = GpuPool("br", ami_family=AmiFamily.BOTTLEROCKET, sharing=TimeSlicing(replicas=2))
    assert DEVICE_PLUGIN_CONFIG_LABEL not in plan_pool(pool).only().node_labels()
    assert not pool.uses_device_plugin_daemonset
    assert pool.ami_alias.startswith("bottlerocket@v")
    assert pool.ami_family.root_device_name == "/dev/xvdb"


def test_pool_is_an_immutable_value() -> None:
    names = ["l4"]
    labels = {"team": "ml"}
    pool = GpuPool("p", gpu_names=names, labels=labels)
    names.append("t4")
    labels["team"] = "other"
    assert pool.gpu_names == ("l4",)
    assert pool.labels["team"] == "ml"
    with pytest.raises(TypeError):
        pool.labels["x"] = "y"  # type: ignore[index]
    assert hash(pool) == hash(GpuPool("p", gpu_names=["l4"], labels={"team": "ml"}))


@pytest.mark.parametrize(
    ("kwargs", "field", "fix_fragment"),
    [
        ({"name": "Inference"}, "GpuPool('Inference').name", "inference"),
        ({"name": "x" * 41}, f"GpuPool('{'x' * 41}').name", "inference"),
        ({"name": "ok", "gpu_names": "l4"}, "GpuPool('ok').gpu_names", 'gpu_names=["l4"]'),
        ({"name": "ok", "gpu_names": ["l5"]}, "GpuPool('ok').gpu_names", "did you mean l4?"),
        ({"name": "ok", "gpu_names": ["a100x"]}, "GpuPool('ok').gpu_names", "a100, a10g"),
        ({"name": "ok", "instance_families": ["m5"]}, "GpuPool('ok').instance_families", "g4dn"),
        ({"name": "ok", "instance_families": ["inf2"]}, "GpuPool('ok').instance_families", "p5"),
        ({"name": "ok", "instance_categories": ["m"]}, "GpuPool('ok').instance_categories", "gr"),
        (
            {"name": "ok", "gpu_names": ["a100"], "instance_families": ["g5"]},
            "GpuPool('ok').gpu_names",
            "possible with the rest of the selection: a10g",
        ),
        (
            {"name": "ok", "gpu_names": ["l4"], "architectures": ["arm64"]},
            "GpuPool('ok').gpu_names",
            "possible with the rest of the selection: t4g",
        ),
        ({"name": "ok", "gpu_counts": []}, "GpuPool('ok').gpu_counts", "gpu_counts=[1]"),
        ({"name": "ok", "gpu_counts": [1, 1]}, "GpuPool('ok').gpu_counts", "duplicates"),
        ({"name": "ok", "gpu_counts": [32]}, "GpuPool('ok').gpu_counts", "1, 2, 4, 8"),
        ({"name": "ok", "gpu_counts": [3]}, "GpuPool('ok').gpu_counts", "1, 2, 4, 8"),
        (
            {"name": "ok", "capacity_types": []},
            "GpuPool('ok').capacity_types",
            "CapacityType.ON_DEMAND",
        ),
        (
            {"name": "ok", "capacity_types": ["spot"]},
            "GpuPool('ok').capacity_types",
            "CapacityType.ON_DEMAND",
        ),
        ({"name": "ok", "architectures": ["x86"]}, "GpuPool('ok').architectures", "amd64"),
        ({"name": "ok", "architectures": [["amd64"]]}, "GpuPool('ok').architectures", "amd64"),
        ({"name": "ok", "gpu_limit": 0}, "GpuPool('ok').gpu_limit", "gpu_limit=8"),
        ({"name": "ok", "gpu_limit": 10**60}, "GpuPool('ok').gpu_limit", "gpu_limit=8"),
        (
            {"name": "ok", "gpu_limit": 2, "gpu_counts": [4]},
            "GpuPool('ok').gpu_limit",
            "at least 4",
        ),
        ({"name": "ok", "root_volume_gib": 20}, "GpuPool('ok').root_volume_gib", "100"),
        ({"name": "ok", "weight": 0}, "GpuPool('ok').weight", "1 to 100"),
        ({"name": "ok", "labels": {"karpenter.sh/x": "y"}}, "GpuPool('ok').labels", "own domain"),
        (
            {"name": "ok", "labels": {DEVICE_PLUGIN_CONFIG_LABEL: "x"}},
            "GpuPool('ok').labels",
            "own domain",
        ),
        ({"name": "ok", "labels": {"bad key!": "y"}}, "GpuPool('ok').labels", "example.com"),
        ({"name": "ok", "labels": {"team": "a b"}}, "GpuPool('ok').labels", "ml-team"),
        ({"name": "ok", "labels": {"team": "ml\n"}}, "GpuPool('ok').labels", "ml-team"),
        ({"name": "ok", "taints": [Taint("nvidia.com/gpu")]}, "GpuPool('ok').taints", "remove"),
        ({"name": "ok", "sharing": 4}, "GpuPool('ok').sharing", "TimeSlicing(replicas=4)"),
        (
            {"name": "ok", "sharing": Mig("1g.18gb"), "gpu_names": ["h200"], "gpu_counts": [8]},
            "GpuPool('ok').ami_family",
            "AmiFamily.BOTTLEROCKET",
        ),
        (
            {
                "name": "ok",
                "sharing": Mps(replicas=32),
                "gpu_names": ["v100"],
                "gpu_counts": [8],
            },
            "GpuPool('ok').sharing.replicas",
            "16 or fewer",
        ),
    ],
)
def test_pool_validation_names_field_value_rule_and_fix(
    kwargs: dict, field: str, fix_fragment: str
) -> None:
    name = kwargs.pop("name")
    error = _error(lambda: GpuPool(name, **kwargs))
    assert error.field == field
    assert fix_fragment in error.fix
    assert str(error).startswith(f"{field}=")
    assert error.rule in str(error)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"consolidate_after": "5 minutes"}, "Disruption.consolidate_after"),
        ({"expire_after": "30d"}, "Disruption.expire_after"),
        ({"max_disrupted_nodes": "150%"}, "Disruption.max_disrupted_nodes"),
        ({"consolidation_policy": "WhenEmpty"}, "Disruption.consolidation_policy"),
    ],
)
def test_disruption_validation(kwargs: dict, field: str) -> None:
    assert _error(lambda: Disruption(**kwargs)).field == field


def test_disruption_accepts_never_and_compound_durations() -> None:
    disruption = Disruption(consolidate_after="Never", expire_after="1h30m")
    assert disruption.to_dict()["consolidateAfter"] == "Never"


def test_pools_need_unique_names() -> None:
    error = _error(lambda: GpuSharingSetup.for_pools([GpuPool("a"), GpuPool("a")]))
    assert error.field == "GpuSharingSetup.pools" and error.value == "a"
    assert _error(lambda: GpuSharingSetup.for_pools([])).field == "GpuSharingSetup.pools"


def test_renamed_overlay_zeroes_whole_gpus() -> None:
    pool = GpuPool("r", sharing=TimeSlicing(replicas=2, rename_by_default=True))
    assert plan_pool(pool).only().overlay_capacities() == {
        1: {SHARED_GPU_RESOURCE: "2", GPU_RESOURCE: "0"}
    }


@given(
    replicas=st.integers(min_value=2, max_value=128),
    counts=st.sets(st.sampled_from([1, 2, 4, 8]), min_size=1),
    gpu_limit=st.integers(min_value=8, max_value=512),
    capacity=st.lists(
        st.sampled_from([CapacityType.ON_DEMAND, CapacityType.SPOT]),
        min_size=1,
        max_size=2,
        unique=True,
    ),
)
def test_overlay_capacity_and_limit_are_slices(
    replicas: int, counts: set[int], gpu_limit: int, capacity: list[CapacityType]
) -> None:
    pool = GpuPool(
        "prop",
        sharing=TimeSlicing(replicas=replicas),
        gpu_counts=sorted(counts),
        gpu_limit=gpu_limit,
        capacity_types=capacity,
    )
    plan = plan_pool(pool)
    # One NodePool per GPU count, each with the overlay of its count and the pool's limit.
    assert [node_pool.gpu_counts for node_pool in plan.node_pools] == [(c,) for c in sorted(counts)]
    overlays = {
        count: capacity
        for node_pool in plan.node_pools
        for count, capacity in node_pool.overlay_capacities().items()
    }
    assert set(overlays) == counts
    for count, overlay in overlays.items():
        assert overlay == {GPU_RESOURCE: str(count * replicas)}
    assert {node_pool.slice_limit for node_pool in plan.node_pools} == {gpu_limit * replicas}
    assert plan.slice_limit == gpu_limit * replicas
    admitted = {r.key: r.values for r in pool.requirements()}
    assert {int(v) for v in admitted["karpenter.k8s.aws/instance-gpu-count"]} == counts
    assert set(admitted["karpenter.sh/capacity-type"]) == {c.value for c in capacity}


@given(replicas=st.integers(min_value=2, max_value=48))
def test_every_sharing_config_round_trips_through_yaml(replicas: int) -> None:
    for sharing in (TimeSlicing(replicas=replicas), Mps(replicas=replicas)):
        text = yaml.safe_dump(sharing.device_plugin_config())
        assert yaml.safe_load(text) == sharing.device_plugin_config()


def test_every_problem_of_a_pool_is_reported_at_once() -> None:
    error = _error(lambda: GpuPool("Bad", gpu_limit=0, weight=500, root_volume_gib=1))
    assert [p.field.split(".")[-1] for p in error.problems] == [
        "name",
        "gpu_limit",
        "root_volume_gib",
        "weight",
    ]
    assert str(error).startswith("4 problems:")


def test_names_and_labels_are_matched_whole() -> None:
    """A trailing newline passes a ^...$ regex with re.match: never here."""
    for bad in ("batch\n", "batch\r\n"):
        assert _error(lambda: GpuPool(bad)).field.endswith(".name")  # noqa: B023
    assert _error(lambda: Taint("team\n")).field == "Taint.key"
    assert _error(lambda: Disruption(consolidate_after="5m\n")).field == (
        "Disruption.consolidate_after"
    )


def test_5_a_trailing_newline_passes_no_pattern_in_the_api() -> None:
    for build, field in [
        (lambda: GpuPool("batch\n"), ".name"),
        (lambda: GpuPool("a", labels={"team": "ml\n"}), "GpuPool('a').labels"),
        (lambda: Taint(key="gpu\n"), "Taint.key"),
        (lambda: Disruption(consolidate_after="5m\n"), "Disruption.consolidate_after"),
        (
            lambda: ExistingKarpenter(
                node_role_name="r", discovery_tag_value="demo\n", version="1.14.1"
            ),
            "discovery_tag_value",
        ),
        (lambda: ReferenceCluster(cdk.Stack(), "C", cluster_name="demo\n"), "cluster_name"),
        (
            lambda: ReferenceCluster(
                cdk.Stack(), "C", admin_role_arn="arn:aws:iam::123456789012:role/Admin\n"
            ),
            "admin_role_arn",
        ),
        (
            lambda: ReferenceCluster(cdk.Stack(), "C", system_node_instance_types=["m7i.large\n"]),
            "system_node_instance_types",
        ),
    ]:
        with pytest.raises(ConfigurationError) as info:
            build()
        assert field in info.value.field, (field, info.value.field)


def test_names_never_published_left_without_an_alias() -> None:
    import importlib

    import eks_gpu_sharing

    with pytest.raises(ModuleNotFoundError):
        importlib.import_module("eks_gpu_sharing.compat")
    assert "GpuSlicingCluster" not in eks_gpu_sharing.__all__
    with pytest.raises(AttributeError):
        eks_gpu_sharing.GpuSlicingCluster  # noqa: B018
