"""The sharing modes (sharing/), each through every consumer: MIG, MPS on Bottlerocket,
fractional-GPU instances and slices sized by memory. For each: the objects pass the API server's
create path, the device plugin loads its config (Bottlerocket's user data is valid TOML with the
documented keys), Karpenter's own scheduler launches the physical minimum of nodes for N pods, on
the cheapest node per slice, and the config file, plain YAML and CDK all take it. Bad
combinations are errors that name the fix; every profile label fits a label value.

The modes' value objects alone are in test_models.py; the seam a new mode plugs into is in
test_sharing_protocol.py."""

from __future__ import annotations

import math
import tomllib
from collections.abc import Mapping, Sequence
from typing import Any

import cdk8s
import pytest
import yaml

from eks_gpu_sharing import (
    AmiFamily,
    ConfigurationError,
    GpuPool,
    Mig,
    Mps,
    TimeSlicing,
)
from eks_gpu_sharing.k8s import GpuPoolChart, device_plugin_config_data
from eks_gpu_sharing.plan import plan_pool
from eks_gpu_sharing.setup import GpuSharingSetup
from eks_gpu_sharing.simulation import (
    SimulationRun,
    karpenter_controller_env,
    run_simulation,
    simulation_input,
)
from eks_gpu_sharing.upstream import Upstream
from tests.pools import KARPENTER
from tests.upstream_checks import admission_errors

MEMORY = GpuPool(
    "mem", sharing=TimeSlicing(memory_gib=8), gpu_names=["t4", "a10g", "l4"], gpu_limit=100
)
MIG = GpuPool(
    "mig",
    sharing=Mig("1g.18gb"),
    instance_families=["p5en"],
    gpu_counts=[8],
    ami_family=AmiFamily.BOTTLEROCKET,
    gpu_limit=64,
)
MPS_BR = GpuPool(
    "mpsbr",
    sharing=Mps(replicas=4),
    gpu_names=["l4"],
    ami_family=AmiFamily.BOTTLEROCKET,
    gpu_limit=100,
)
FRACTIONAL = GpuPool("frac", instance_families=["g6f"], gpu_counts=[0], gpu_limit=100)
PREFERS_FRACTIONS = GpuPool(
    "l4any", instance_families=["g6", "g6f"], gpu_counts=[0, 1], gpu_limit=100
)


def objects_of(pool: GpuPool) -> list[dict[str, Any]]:
    return GpuPoolChart(cdk8s.App(), pool.name, pool=pool, karpenter=KARPENTER).to_json()


def schedule(
    harness: Upstream, pool: GpuPool, pods: int, *, objects: Sequence[Mapping[str, Any]] = ()
) -> SimulationRun:
    inputs = simulation_input(GpuSharingSetup.for_pools([pool]))
    return run_simulation(
        harness,
        label="modes",
        karpenter_objects=list(objects or inputs.karpenter_objects),
        pod_templates=inputs.pod_templates,
        resource_names=inputs.resource_names,
        pods={pool.name: pods},
        controller_env=karpenter_controller_env(
            harness, cluster_name="test", node_overlay_enabled=True
        ),
    )


@pytest.mark.parametrize("pool", [MEMORY, MIG, MPS_BR, FRACTIONAL, PREFERS_FRACTIONS])
def test_every_mode_is_admitted_by_the_api_server(harness: Upstream, pool: GpuPool) -> None:
    assert admission_errors(harness, objects_of(pool)) == []


# -- slices sized by memory ---------------------------------------------------------------------


def test_memory_slices_are_one_node_pool_per_gpu_model() -> None:
    specs = {spec.name: spec for spec in plan_pool(MEMORY).node_pools}
    # EC2's memory per GPU (MiB, as Karpenter reports it) divided into 8 GiB slices.
    assert {name: spec.slices_per_gpu for name, spec in specs.items()} == {
        "mem-t4": 2,
        "mem-a10g": 2,
        "mem-l4": 2,
    }
    # The cheapest per slice is tried first: g4dn.xlarge $0.526 / 2 < g6.xlarge < g5.xlarge.
    assert specs["mem-t4"].weight == 3 and specs["mem-a10g"].weight == 1
    node_pools = {o["metadata"]["name"]: o for o in objects_of(MEMORY) if o["kind"] == "NodePool"}
    assert set(node_pools) == set(specs)
    labels = node_pools["mem-l4"]["spec"]["template"]["metadata"]["labels"]
    assert labels["eks-gpu-sharing.io/pool"] == "mem"
    assert labels["nvidia.com/device-plugin.config"] == "pool-mem-l4"
    requirement = {
        r["key"]: r["values"]
        for r in node_pools["mem-l4"]["spec"]["template"]["spec"]["requirements"]
    }
    assert requirement["karpenter.k8s.aws/instance-gpu-name"] == ["l4"]


def test_the_device_plugin_loads_each_models_slice_count(harness: Upstream) -> None:
    data = device_plugin_config_data([MEMORY])
    configs = harness.parse_device_plugin_configs(
        {k: v for k, v in data.items() if k.startswith("pool-")}
    )
    for key in ("pool-mem-t4", "pool-mem-a10g", "pool-mem-l4"):
        assert configs[key].get("error") in (None, ""), configs[key]
        replicas = yaml.safe_load(data[key])["sharing"]["timeSlicing"]["resources"][0]["replicas"]
        assert replicas == 2


@pytest.mark.parametrize("pods", [1, 7, 20])
def test_karpenter_picks_the_cheapest_node_per_slice(harness: Upstream, pods: int) -> None:
    outcome = schedule(harness, MEMORY, pods).pool("mem")
    assert outcome.nodes == math.ceil(pods / 2)
    assert {c.instance_type for c in outcome.node_claims} == {"g4dn.xlarge"}
    assert {c.node_pool for c in outcome.node_claims} == {"mem-t4"}
    assert outcome.unschedulable == ()


def test_control_karpenter_follows_the_weights_not_the_price(harness: Upstream) -> None:
    """The weights are what makes the cheapest per slice come first: Karpenter takes the
    heaviest NodePool that fits (equal weights: by name, descending), whatever it costs. With
    the weights reversed it launches g5.xlarge ($1.006/h for two slices)."""
    reversed_weights = []
    for obj in simulation_input(GpuSharingSetup.for_pools([MEMORY])).karpenter_objects:
        obj = {**obj, "spec": dict(obj["spec"])}
        if obj["kind"] == "NodePool":
            obj["spec"]["weight"] = 4 - obj["spec"]["weight"]
        reversed_weights.append(obj)
    outcome = schedule(harness, MEMORY, 6, objects=reversed_weights).pool("mem")
    assert {c.node_pool for c in outcome.node_claims} == {"mem-a10g"}
    assert {c.instance_type for c in outcome.node_claims} == {"g5.xlarge"}


def test_mps_memory_slices_cap_each_client_at_its_share() -> None:
    """The device plugin's MPS daemon caps each client at the GPU's memory / clients
    (cmd/mps-control-daemon/mps/daemon.go), so a client gets at least memory_gib."""
    pool = GpuPool("mpsmem", sharing=Mps(memory_gib=6), gpu_names=["l4"], gpu_limit=8)
    (spec,) = plan_pool(pool).node_pools
    assert spec.name == "mpsmem"  # one model: the pool keeps its name
    model = spec.instance_types[0].gpu_model
    assert spec.slices_per_gpu == model.memory_mib // (6 * 1024) == 3
    assert model.memory_mib / spec.slices_per_gpu >= 6 * 1024


# -- MIG ----------------------------------------------------------------------------------------


def test_mig_partitions_bottlerocket_nodes_per_gpu_model() -> None:
    (node_class,) = [o for o in objects_of(MIG) if o["kind"] == "EC2NodeClass"]
    settings = tomllib.loads(node_class["spec"]["userData"])
    nvidia = settings["settings"]["kubelet-device-plugins"]["nvidia"]
    assert nvidia["device-partitioning-strategy"] == "mig"
    assert nvidia["mig"]["profile"] == {"h200.141gb": "1g.18gb"}
    (overlay,) = [o for o in objects_of(MIG) if o["kind"] == "NodeOverlay"]
    assert overlay["spec"]["capacity"] == {"nvidia.com/gpu": str(8 * 7)}


@pytest.mark.parametrize("pods", [1, 56, 57, 120])
def test_mig_pods_get_the_physical_minimum_of_nodes(harness: Upstream, pods: int) -> None:
    outcome = schedule(harness, MIG, pods).pool("mig")
    assert outcome.nodes == math.ceil(pods / 56)
    assert {c.instance_type for c in outcome.node_claims} == {"p5en.48xlarge"}


@pytest.mark.parametrize(
    ("pool", "field", "fragment"),
    [
        (
            lambda: GpuPool("m", sharing=Mig("1g.18gb"), gpu_names=["h200"], gpu_counts=[8]),
            "ami_family",
            "Bottlerocket",
        ),
        (
            lambda: GpuPool(
                "m",
                sharing=Mig("1g.10gb"),
                gpu_names=["h200"],
                gpu_counts=[8],
                ami_family=AmiFamily.BOTTLEROCKET,
            ),
            "sharing.profile",
            "h200 141 GiB has 1g.18gb",
        ),
        (
            lambda: GpuPool(
                "m", sharing=Mig("1g.10gb"), gpu_names=["t4"], ami_family=AmiFamily.BOTTLEROCKET
            ),
            "sharing",
            "MIG is offered on a100",
        ),
        (
            lambda: GpuPool(
                "m",
                sharing=Mig("1g.10gb"),
                gpu_names=["b200"],
                gpu_counts=[8],
                ami_family=AmiFamily.BOTTLEROCKET,
            ),
            "sharing",
            "b200",
        ),
        (
            lambda: GpuPool("m", sharing=TimeSlicing(memory_gib=12), gpu_names=["t4"]),
            "sharing.memory_gib",
            "t4 (16.0 GiB): 1 slice(s)",
        ),
        (
            lambda: GpuPool("m", sharing=Mps(memory_gib=1), gpu_names=["h200"], gpu_counts=[8]),
            "sharing.memory_gib",
            "allowed 2..48",
        ),
        (
            lambda: GpuPool(
                "m", instance_families=["g6f"], gpu_counts=[0], ami_family=AmiFamily.BOTTLEROCKET
            ),
            "gpu_counts",
            "AL2023",
        ),
        (
            lambda: GpuPool(
                "m",
                sharing=Mps(replicas=4),
                gpu_names=["l4"],
                ami_family=AmiFamily.BOTTLEROCKET,
                ami_version="v1.59.0",
            ),
            "ami_version",
            "v1.60.0",
        ),
        (
            # Several models, one too small: the error names it (not a replicas=1 of nowhere).
            lambda: GpuPool(
                "m", sharing=TimeSlicing(memory_gib=12), gpu_names=["t4", "l4", "l40s"]
            ),
            "sharing.memory_gib",
            "t4 (16.0 GiB): 1 slice(s)",
        ),
        (
            lambda: GpuPool(
                "m", instance_families=["g6f"], gpu_counts=[0], sharing=TimeSlicing(replicas=4)
            ),
            "sharing",
            "not shared further",
        ),
        (
            lambda: GpuPool(
                "m", instance_families=["p3dn"], gpu_counts=[8], sharing=Mps(replicas=20)
            ),
            "sharing.replicas",
            "v100",
        ),
    ],
    ids=[
        "mig-on-al2023",
        "mig-profile-missing",
        "mig-without-mig",
        "mig-unkeyed-gpu",
        "memory-larger-than-gpu",
        "mps-too-many-clients",
        "fraction-on-bottlerocket",
        "mps-before-bottlerocket-1.60",
        "memory-slices-per-model",
        "fraction-shared",
        "mps-v100-by-family",
    ],
)
def test_bad_combinations_are_errors_that_name_the_fix(
    pool: Any, field: str, fragment: str
) -> None:
    with pytest.raises(ConfigurationError) as info:
        pool()
    fields = {p.field: p for p in info.value.problems}
    assert f"GpuPool('m').{field}" in fields, fields
    problem = fields[f"GpuPool('m').{field}"]
    assert fragment in problem.rule + problem.fix, problem
    assert problem.fix


def test_mig_with_mps_in_the_file_is_an_error_naming_the_key() -> None:
    """One sharing mode per pool: MIG and MPS cannot be combined (Bottlerocket's device plugin
    would not start), so the file's MIG section has no MPS keys."""
    from eks_gpu_sharing.config import load_yaml, parse_config

    text = MODES_FILE.replace(
        "{mode: mig, profile: 1g.18gb}", "{mode: mig, profile: 1g.18gb, replicas: 4}"
    )
    with pytest.raises(ConfigurationError) as info:
        parse_config(load_yaml(text))
    fields = {p.field: p for p in info.value.problems}
    assert "pools[1].sharing.replicas" in fields, fields
    assert "profile" in fields["pools[1].sharing.replicas"].fix


def test_mig_profiles_match_the_gpu_itself() -> None:
    """The catalog's H200 profiles are what `nvidia-smi mig -lgip` printed on an H200
    (docs/measurements/h200-mig-profiles.txt, recorded on the project's GPU machine)."""
    from pathlib import Path

    from eks_gpu_sharing.catalog import GpuModel, load_mig_catalog

    text = (
        Path(__file__).resolve().parents[1] / "docs/measurements/h200-mig-profiles.txt"
    ).read_text()
    measured = {}
    for line in text.splitlines():
        parts = line.split()
        # |   0  MIG 1g.18gb         19     7/7        16.00      No ...
        if len(parts) > 6 and parts[2] == "MIG" and "+me" not in parts[3]:
            measured[parts[3]] = int(parts[5].split("/")[1])
    h200 = load_mig_catalog().get(GpuModel("h200", 144384))
    assert h200 is not None and dict(h200.profiles) == measured


# -- MPS on Bottlerocket --------------------------------------------------------------------


def test_mps_on_bottlerocket_writes_every_setting() -> None:
    (node_class,) = [o for o in objects_of(MPS_BR) if o["kind"] == "EC2NodeClass"]
    nvidia = tomllib.loads(node_class["spec"]["userData"])["settings"]["kubelet-device-plugins"][
        "nvidia"
    ]
    assert nvidia["device-sharing-strategy"] == "mps"
    # Bottlerocket's own default for rename-by-default is true: written out either way.
    assert nvidia["mps"] == {"replicas": 4, "rename-by-default": False}


def test_mps_on_bottlerocket_packs_four_clients_per_gpu(harness: Upstream) -> None:
    outcome = schedule(harness, MPS_BR, 8).pool("mpsbr")
    assert outcome.nodes == 2 and {c.slices for c in outcome.node_claims} == {4}


# -- fractional GPUs ----------------------------------------------------------------------------


def test_fractional_types_get_one_device_from_an_overlay(harness: Upstream) -> None:
    (overlay,) = [o for o in objects_of(FRACTIONAL) if o["kind"] == "NodeOverlay"]
    assert overlay["spec"]["capacity"] == {"nvidia.com/gpu": "1"}
    run = schedule(harness, FRACTIONAL, 3)
    assert run.capacities["frac"] == {
        "g6f.large": 1,
        "g6f.xlarge": 1,
        "g6f.2xlarge": 1,
        "g6f.4xlarge": 1,
    }
    outcome = run.pool("frac")
    assert outcome.nodes == 3 and {c.instance_type for c in outcome.node_claims} == {"g6f.large"}


def test_without_the_overlay_karpenter_never_launches_a_fraction(harness: Upstream) -> None:
    objects = [
        o
        for o in simulation_input(GpuSharingSetup.for_pools([FRACTIONAL])).karpenter_objects
        if o["kind"] != "NodeOverlay"
    ]
    outcome = schedule(harness, FRACTIONAL, 2, objects=objects).pool("frac")
    assert outcome.nodes == 0 and outcome.unschedulable_pods == 2


def test_a_pool_with_fractions_prefers_them_by_price(harness: Upstream) -> None:
    """g6f.large (1/8 L4, $0.202/h) before g6.xlarge (a whole L4, $0.805/h)."""
    outcome = schedule(harness, PREFERS_FRACTIONS, 2).pool("l4any")
    assert {c.instance_type for c in outcome.node_claims} == {"g6f.large"}


# -- every mode through the three ways in -------------------------------------------------------

MODES_FILE = """
clusterName: modes
karpenter: {nodeRoleName: KarpenterNodeRole-modes, version: "1.14.1", nodeOverlayEnabled: true}
pools:
  - {name: mem, gpuNames: [t4, a10g, l4], gpuLimit: 100,
     sharing: {mode: time-slicing, memoryGib: 8}}
  - {name: mig, instanceFamilies: [p5en], gpuCounts: [8], amiFamily: Bottlerocket, gpuLimit: 64,
     sharing: {mode: mig, profile: 1g.18gb}}
  - {name: mpsbr, gpuNames: [l4], amiFamily: Bottlerocket, gpuLimit: 100,
     sharing: {mode: mps, replicas: 4}}
  - {name: frac, instanceFamilies: [g6f], gpuCounts: [0], gpuLimit: 100}
  - {name: l4any, instanceFamilies: [g6, g6f], gpuCounts: [0, 1], gpuLimit: 100}
"""
ALL_MODES = (MEMORY, MIG, MPS_BR, FRACTIONAL, PREFERS_FRACTIONS)


def test_every_mode_reads_from_the_config_file_as_declared_in_python() -> None:
    from eks_gpu_sharing.config import load_yaml, parse_config

    config = parse_config(load_yaml(MODES_FILE))
    assert config.pools == ALL_MODES


def test_every_mode_renders_as_plain_yaml_with_a_node_pool_per_gpu_model(tmp_path: Any) -> None:
    from eks_gpu_sharing.config import load_yaml, parse_config
    from eks_gpu_sharing.render import synth

    synth(parse_config(load_yaml(MODES_FILE)), tmp_path)
    node_pools = {
        document["metadata"]["name"]
        for path in tmp_path.glob("*.k8s.yaml")
        for document in yaml.safe_load_all(path.read_text())
        if document and document["kind"] == "NodePool"
    }
    expected = {spec.name for pool in ALL_MODES for spec in plan_pool(pool).node_pools}
    assert node_pools == expected
    assert {"mem-t4", "mem-a10g", "mem-l4", "mig", "mpsbr", "frac", "l4any-1gpu"} <= node_pools


def test_every_mode_deploys_with_cdk_and_runs_the_sample() -> None:
    import aws_cdk as cdk

    from eks_gpu_sharing import ExistingKarpenter, GpuSharing
    from tests.cdk_helpers import MANIFEST_TYPE, imported_cluster, manifest_objects, resources_of

    _, stack, cluster = imported_cluster()
    sharing = GpuSharing(
        stack,
        "Gpu",
        cluster=cluster,
        pools=ALL_MODES,
        karpenter=ExistingKarpenter(
            node_role_name="KarpenterNodeRole-existing",
            discovery_tag_value="existing",
            version="1.14.1",
            node_overlay_enabled=True,
        ),
    )
    for pool in ALL_MODES:
        sharing.add_sample_workload(pool)
    template = cdk.assertions.Template.from_stack(stack).to_json()
    applied = [
        obj
        for resource in resources_of(template, MANIFEST_TYPE).values()
        for obj in manifest_objects(resource)
    ]
    node_pools = {o["metadata"]["name"] for o in applied if o["kind"] == "NodePool"}
    assert node_pools == {spec.name for pool in ALL_MODES for spec in plan_pool(pool).node_pools}
    jobs = {o["metadata"]["name"].rsplit("-", 1)[0]: o for o in applied if o["kind"] == "Job"}
    assert set(jobs) == {f"{pool.name}-sample" for pool in ALL_MODES}
    # The MIG sample asks for one MIG instance (nvidia.com/gpu): one pod per instance of a node.
    mig_job = jobs["mig-sample"]["spec"]
    assert mig_job["parallelism"] == 8 * 7
    limits = mig_job["template"]["spec"]["containers"][0]["resources"]["limits"]
    assert limits["nvidia.com/gpu"] == "1"


# -- profile labels ----------------------------------------------------------------------------


def test_6_profile_labels_fit_a_label_value_at_every_bound() -> None:
    for sharing in (
        TimeSlicing(replicas=256, rename_by_default=True, fail_requests_greater_than_one=True),
        Mps(replicas=48),
    ):
        assert len(sharing.profile_name) <= 63, sharing.profile_name
