"""The ``dra`` backend: what it generates, what it refuses, and Karpenter 1.15's scheduler packing
the NVIDIA DRA driver's consumable shares from zero nodes.

The objects go through the API server's create path (Kubernetes 1.37 registry strategies for
``resource.k8s.io/v1``, the pinned CRDs for Karpenter's kinds); the packing is Karpenter's own
``Provisioner.Schedule`` with its ``DRANVIDIAGPU`` gate, on claims made from the pool's
template as the resource-claim controller makes them.
"""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import cdk8s
import pytest
import yaml

from eks_gpu_sharing import AmiFamily, Backend, GpuPool, Mig, Mps, TimeSlicing
from eks_gpu_sharing.config import parse_config
from eks_gpu_sharing.dra import (
    CONSUMABLE_CAPACITY_ANNOTATION,
    DEVICE_MANAGER_LABEL,
    claim_template_name,
)
from eks_gpu_sharing.errors import ConfigurationError
from eks_gpu_sharing.k8s import SampleWorkloadChart, build_gpu_sharing_charts
from eks_gpu_sharing.karpenter_installation import ExistingKarpenter
from eks_gpu_sharing.render import (
    DRA_DRIVER_VALUES_FILE,
    PRUNE_ALLOWLIST,
    PRUNE_SELECTOR,
    rendered_files,
)
from eks_gpu_sharing.setup import GpuSharingSetup, SampleWorkloadSettings
from eks_gpu_sharing.simulation import simulate
from eks_gpu_sharing.upstream import Upstream
from tests.cluster_model import Cluster, object_key
from tests.upstream_checks import admission_errors

ROOT = Path(__file__).resolve().parents[1]
DRA_KARPENTER = ExistingKarpenter(
    node_role_name="KarpenterNodeRole-demo",
    discovery_tag_value="demo",
    version="1.15.2",
    node_overlay_enabled=True,
    dra_enabled=True,
)
SHARED = GpuPool(
    "shared", gpu_names=["t4"], sharing=TimeSlicing(replicas=4), backend=Backend.DRA, gpu_limit=50
)
PLUGIN = GpuPool("plugin", gpu_names=["l4"], sharing=TimeSlicing(replicas=4))


def _setup(*pools: GpuPool, **changes: Any) -> GpuSharingSetup:
    return GpuSharingSetup(cluster_name="demo", karpenter=DRA_KARPENTER, pools=pools, **changes)


def _objects(setup: GpuSharingSetup) -> list[dict[str, Any]]:
    app = cdk8s.App()
    charts = build_gpu_sharing_charts(app, setup)
    return [obj for chart in charts.pools.values() for obj in chart.to_json()]


def _by_kind(objects: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {o["metadata"]["name"]: o for o in objects if o["kind"] == kind}


# --- what it generates ------------------------------------------------------------------------


def test_a_dra_pool_tells_karpenter_the_shares_and_keeps_the_device_plugin_away() -> None:
    setup = _setup(SHARED, PLUGIN)
    objects = _objects(setup)
    node_class = _by_kind(objects, "EC2NodeClass")["shared"]
    assert node_class["metadata"]["annotations"] == {CONSUMABLE_CAPACITY_ANNOTATION: "4"}
    assert "annotations" not in _by_kind(objects, "EC2NodeClass")["plugin"]["metadata"]
    node_pool = _by_kind(objects, "NodePool")["shared"]
    labels = node_pool["spec"]["template"]["metadata"]["labels"]
    assert labels[DEVICE_MANAGER_LABEL] == "dra"
    assert "nvidia.com/device-plugin.config" not in labels
    # No NodeOverlay: nodes keep the instance type's nvidia.com/gpu, so the limit counts GPUs.
    assert node_pool["spec"]["limits"] == {"nvidia.com/gpu": "50"}
    assert not [o for o in objects if o["kind"] == "NodeOverlay" and "shared" in str(o)]
    # The device plugin runs only on the device-plugin pool's nodes.
    values = build_gpu_sharing_charts(cdk8s.App(), setup).device_plugin_values
    assert values is not None and "shared" not in yaml.safe_dump(values["affinity"])
    assert "plugin" in yaml.safe_dump(values["affinity"])


def test_a_setup_of_dra_pools_only_has_no_device_plugin() -> None:
    charts = build_gpu_sharing_charts(cdk8s.App(), _setup(SHARED))
    assert charts.device_plugin_values is None and charts.device_plugin_config is None


def test_the_sample_asks_for_a_share_through_the_pools_claim_template() -> None:
    chart = SampleWorkloadChart(cdk8s.App(), "sample", pool=SHARED)
    objects = chart.to_json()
    (template,) = [o for o in objects if o["kind"] == "ResourceClaimTemplate"]
    assert template["metadata"]["name"] == claim_template_name("shared", SHARED.sharing)
    (request,) = template["spec"]["spec"]["devices"]["requests"]
    assert request["exactly"] == {"deviceClassName": "gpu.nvidia.com", "count": 1}
    (job,) = [o for o in objects if o["kind"] == "Job"]
    pod = job["spec"]["template"]["spec"]
    assert pod["resourceClaims"] == [{"name": "gpu", "resourceClaimTemplateName": "shared-gpu"}]
    (container,) = pod["containers"]
    assert container["resources"]["claims"] == [{"name": "gpu"}]
    assert "nvidia.com/gpu" not in container["resources"]["limits"]


def test_memory_shares_ask_for_the_pools_memory() -> None:
    pool = GpuPool(
        "bymemory", gpu_names=["t4"], sharing=TimeSlicing(memory_gib=4), backend=Backend.DRA
    )
    objects = _objects(_setup(pool))
    (node_class,) = _by_kind(objects, "EC2NodeClass").values()
    assert node_class["metadata"]["annotations"] == {CONSUMABLE_CAPACITY_ANNOTATION: "memory"}
    chart = SampleWorkloadChart(cdk8s.App(), "sample", pool=pool)
    (template,) = [o for o in chart.to_json() if o["kind"] == "ResourceClaimTemplate"]
    (request,) = template["spec"]["spec"]["devices"]["requests"]
    assert request["exactly"]["capacity"] == {"requests": {"memory": "4Gi"}}
    # A template's spec is immutable: another size is another template, so an update applies.
    assert template["metadata"]["name"] == "bymemory-gpu-4gib"
    assert claim_template_name("bymemory", TimeSlicing(memory_gib=6)) == "bymemory-gpu-6gib"
    assert claim_template_name("bymemory", TimeSlicing(replicas=6)) == "bymemory-gpu"


def test_plain_yaml_writes_the_dra_driver_values() -> None:
    files = rendered_files(_setup(SHARED, PLUGIN))
    text = files[DRA_DRIVER_VALUES_FILE].decode()
    values = yaml.safe_load(text)
    assert values["gpuResourcesEnabledOverride"] is True
    assert values["featureGates"] == {"ConsumableShares": True}
    assert values["consumableShares"] == "4"
    assert values["resources"]["computeDomains"] == {"enabled": False}
    assert values["kubeletPlugin"]["nodeSelector"] == {DEVICE_MANAGER_LABEL: "dra"}
    assert "not rendered" in text and "95932046" in text
    assert DRA_DRIVER_VALUES_FILE not in rendered_files(_setup(PLUGIN))


def test_the_config_file_takes_backend_dra() -> None:
    setup = parse_config(
        {
            "clusterName": "demo",
            "karpenter": {
                "nodeRoleName": "KarpenterNodeRole-demo",
                "version": "1.15.2",
                "nodeOverlayEnabled": True,
                "draEnabled": True,
            },
            "pools": [
                {
                    "name": "shared",
                    "gpuNames": ["t4"],
                    "backend": "dra",
                    "sharing": {"mode": "time-slicing", "replicas": 4},
                }
            ],
        }
    )
    assert setup.pools[0].uses_dra and setup.dra_consumable_shares == "4"


# --- what it refuses ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "field", "words"),
    [
        ({"sharing": Mps(replicas=4)}, "backend", "mps stays with the device plugin"),
        (
            {
                "sharing": Mig(profile="1g.10gb"),
                "gpu_names": ["a100"],
                "instance_categories": ["p"],
                "gpu_counts": [8],
                "ami_family": AmiFamily.BOTTLEROCKET,
            },
            "backend",
            "bottlerocket's gpus",
        ),
        ({"ami_family": AmiFamily.BOTTLEROCKET}, "backend", "al2023 nvidia ami"),
        (
            {"sharing": TimeSlicing(replicas=4, rename_by_default=True)},
            "sharing.rename_by_default",
            "resourceclaim",
        ),
    ],
)
def test_what_the_dra_driver_cannot_share_is_refused(
    changes: dict[str, Any], field: str, words: str
) -> None:
    arguments = {"gpu_names": ["t4"], "sharing": TimeSlicing(replicas=4), **changes}
    with pytest.raises(ConfigurationError) as info:
        GpuPool("p", backend=Backend.DRA, **arguments)
    messages = [(p.field, str(p).lower()) for p in info.value.problems]
    assert any(f.endswith(field) and words in m for f, m in messages), messages


def test_dra_needs_kubernetes_1_36() -> None:
    with pytest.raises(ConfigurationError) as info:
        _setup(SHARED, kubernetes_version="1.35")
    assert "1.36" in str(info.value) and "consumable capacity" in str(info.value)


@pytest.mark.parametrize(
    ("version", "enabled", "words"),
    [("1.14.1", True, "need karpenter >= 1.15.0"), ("1.15.2", False, "draNVIDIAGPU=true")],
)
def test_dra_needs_karpenter_1_15_with_its_gate(version: str, enabled: bool, words: str) -> None:
    karpenter = dataclasses.replace(DRA_KARPENTER, version=version, dra_enabled=enabled)
    with pytest.raises(ConfigurationError) as info:
        GpuSharingSetup(cluster_name="demo", karpenter=karpenter, pools=(SHARED,))
    assert words.lower() in str(info.value).lower()
    # The device-plugin backend keeps working on a 1.14 LTS Karpenter without the gate.
    GpuSharingSetup(
        cluster_name="demo",
        karpenter=dataclasses.replace(karpenter, dra_enabled=False),
        pools=(PLUGIN,),
    )


def test_dra_pools_share_the_drivers_one_setting() -> None:
    other = GpuPool("whole", gpu_names=["l4"], backend=Backend.DRA)
    with pytest.raises(ConfigurationError) as info:
        _setup(SHARED, other)
    assert "pools[1].sharing" in str(info.value) and "consumableShares" in str(info.value)


# --- proven by the API server and Karpenter's scheduler -----------------------------------------


def test_the_api_server_admits_every_dra_object(harness: Upstream) -> None:
    setup = _setup(SHARED, PLUGIN)
    sample = SampleWorkloadChart(cdk8s.App(), "sample", pool=SHARED).to_json()
    memory = GpuPool("m", gpu_names=["t4"], sharing=TimeSlicing(memory_gib=4), backend=Backend.DRA)
    memory_sample = SampleWorkloadChart(cdk8s.App(), "sample", pool=memory).to_json()
    objects = [*_objects(setup), *sample, *memory_sample]
    assert {o["kind"] for o in objects} >= {"ResourceClaimTemplate", "Job", "EC2NodeClass"}
    assert admission_errors(harness, objects) == []


def test_a_claim_template_the_api_server_refuses_is_an_input_error(harness: Upstream) -> None:
    """The simulator admits templates like any object: a bad one is not silently scheduled."""
    from eks_gpu_sharing.simulation import (
        karpenter_controller_env,
        run_simulation,
        simulation_input,
    )

    inputs = simulation_input(GpuSharingSetup.for_pools([SHARED]))
    bad = [dict(o) for o in inputs.dra_objects]
    template = next(o for o in bad if o["kind"] == "ResourceClaimTemplate")
    template["spec"] = {"spec": {"devices": {"requests": [{"name": "gpu", "exactly": {}}]}}}
    with pytest.raises(ConfigurationError) as info:
        run_simulation(
            harness,
            label="bad",
            karpenter_objects=inputs.karpenter_objects,
            resource_names=inputs.resource_names,
            controller_env=karpenter_controller_env(
                harness, cluster_name="demo", node_overlay_enabled=True, dra_enabled=True
            ),
            pod_templates=inputs.pod_templates,
            pods={"shared": 2},
            dra_objects=bad,
        )
    assert "ResourceClaimTemplate" in str(info.value)


@pytest.mark.parametrize(("pods", "nodes"), [(8, 2), (40, 10), (3, 1)])
def test_karpenter_packs_four_shares_per_gpu_from_zero(
    harness: Upstream, pods: int, nodes: int
) -> None:
    report = simulate(GpuSharingSetup.for_pools([SHARED]), {"shared": pods}, harness=harness)
    ours = report.with_overlays.pool("shared")
    assert ours.scheduled_pods == pods and ours.unschedulable_pods == 0
    assert ours.nodes == nodes
    assert {c.instance_type for c in ours.node_claims} == {"g4dn.xlarge"}
    assert all(c.pods <= 4 for c in ours.node_claims)
    # Without the consumable-capacity annotation each GPU serves one claim.
    assert report.without_overlays.pool("shared").nodes == pods
    assert report.with_overlays.dra_claims_modelled


def test_memory_shares_pack_on_the_memory_the_driver_publishes(harness: Upstream) -> None:
    """Karpenter's DRA table gives a T4 15Gi (karpenter-provider-aws v1.15.2,
    pkg/providers/drametadata/zz_generated_gpu_metadata.go, as the driver reports it), so 4 GiB
    claims fit three per GPU; the device-plugin backend counts 4 GiB slices of the 16 GiB EC2
    reports, four per GPU. The same pool costs a third more nodes through DRA here."""
    pool = GpuPool("m", gpu_names=["t4"], sharing=TimeSlicing(memory_gib=4), backend=Backend.DRA)
    dra = simulate(GpuSharingSetup.for_pools([pool]), {"m": 12}, harness=harness)
    plugin = dataclasses.replace(pool, backend=Backend.DEVICE_PLUGIN)
    dp = simulate(GpuSharingSetup.for_pools([plugin]), {"m": 12}, harness=harness)
    assert dra.with_overlays.pool("m").scheduled_pods == 12
    assert [c.pods for c in dra.with_overlays.pool("m").node_claims] == [3, 3, 3, 3]
    assert dp.with_overlays.pool("m").nodes == 3
    # No oracle for memory shares (per-GPU memory packing is not a sum): no ratio claimed.
    assert dra.with_overlays.pool("m").cheapest is None


def test_both_backends_launch_the_cheapest_fleet_on_mixed_types(harness: Upstream) -> None:
    """One pool of T4, L4 and A10G with 1- and 4-GPU types: the same fleet either way, and it is
    the cheapest one Karpenter's own figures allow."""
    results = {}
    for backend in Backend:
        pool = GpuPool(
            "mixed",
            gpu_names=["t4", "l4", "a10g"],
            gpu_counts=[1, 4],
            sharing=TimeSlicing(replicas=4),
            backend=backend,
            gpu_limit=100,
        )
        report = simulate(GpuSharingSetup.for_pools([pool]), {"mixed": 40}, harness=harness)
        outcome = report.with_overlays.pool("mixed")
        assert outcome.scheduled_pods == 40, backend
        results[backend] = (outcome.nodes, outcome.price_per_hour)
        # The exact optimum over Karpenter's own figures (for DRA: GPUs x 4 shares per node).
        assert outcome.cheapest is not None and outcome.cost_ratio == pytest.approx(1.0)
    assert results[Backend.DRA] == results[Backend.DEVICE_PLUGIN]


def _simulate(*args: str) -> subprocess.CompletedProcess[str]:
    """``eks-gpu-sharing simulate --config gpu-sharing.yaml ARGS``."""
    command = [sys.executable, "-m", "eks_gpu_sharing.cli", "simulate"]
    return subprocess.run(
        [*command, "--config", str(ROOT / "gpu-sharing.yaml"), *args],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def test_simulate_backend_compares_the_same_pods_on_the_other_backend(harness: Upstream) -> None:
    """`simulate --backend dra` moves every pool the driver can share (the reference config's
    Bottlerocket pool stays, saying why) and runs Karpenter with its DRA gate."""
    runs = {}
    for backend in ("device-plugin", "dra"):
        done = _simulate("--pods", "inference=8", "--backend", backend, "--format", "json")
        assert done.returncode == 0, done.stderr
        runs[backend] = (json.loads(done.stdout), done.stderr)
    dra, notes = runs["dra"]
    assert "pool batch stays as it is" in notes and "AL2023" in notes
    (inference,) = [p for p in dra["withOverlays"]["pools"] if p["pool"] == "inference"]
    (plugin,) = [
        p for p in runs["device-plugin"][0]["withOverlays"]["pools"] if p["pool"] == "inference"
    ]
    assert inference["nodes"] == plugin["nodes"] == 2
    assert [c["slices"] for c in inference["nodeClaims"]] == [4, 4]


def test_simulate_backend_is_refused_with_manifests() -> None:
    done = _simulate("--workloads", str(ROOT / "examples"), "--backend", "dra")
    assert done.returncode == 2 and "--backend='dra'" in done.stderr


def test_the_backend_benchmark_runs_and_both_backends_place_every_pod() -> None:
    """docs/simulation.md's table comes from this script (quick: 8 pods, one round)."""
    done = subprocess.run(
        [sys.executable, "scripts/benchmark_simulation.py", "--backends", "--quick"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    rows = [line for line in done.stdout.splitlines() if line.startswith("| 1-")]
    assert len(rows) == 4
    for row in rows:
        plugin, dra = row.split("|")[4:6]
        # Same nodes and price, each at the cheapest fleet's ratio or above.
        assert plugin.split("(")[0] == dra.split("(")[0], row


def test_monitoring_maps_dra_pods_to_their_gpus() -> None:
    """The exporter runs on DRA pools too, with its DRA pod mapping on (dcgm-exporter
    4.5.3-4.8.2 ``kubernetesDRA.enabled``); without DRA pools the value is not set."""
    from eks_gpu_sharing.monitoring import dcgm_exporter_values

    values = dcgm_exporter_values([SHARED, PLUGIN], service_monitor=False)
    terms = values["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
    (expression,) = terms["nodeSelectorTerms"][0]["matchExpressions"]
    assert expression["values"] == ["plugin", "shared"]
    assert values["kubernetesDRA"] == {"enabled": True}
    assert "kubernetesDRA" not in dcgm_exporter_values([PLUGIN], service_monitor=False)


@pytest.mark.slow
def test_cdk_installs_karpenter_with_the_dra_gate_and_admitted_dra_objects(
    harness: Upstream,
) -> None:
    """GpuSharing on an imported cluster, Karpenter installed by it: the chart gets the NVIDIA
    DRA gate, the pools' manifests carry the DRA objects, and the API server admits them."""
    import aws_cdk as cdk

    from eks_gpu_sharing import GpuSharing
    from tests.cdk_helpers import (
        HELM_TYPE,
        MANIFEST_TYPE,
        imported_cluster,
        manifest_objects,
        resources_of,
    )

    _, stack, cluster = imported_cluster()
    construct = GpuSharing(stack, "Gpu", cluster=cluster, pools=[SHARED, PLUGIN])
    template = cdk.assertions.Template.from_stack(stack).to_json()
    charts = {r["Properties"]["Chart"]: r for r in resources_of(template, HELM_TYPE).values()}
    values = str(charts["karpenter"]["Properties"]["Values"]).replace(" ", "")
    assert '"awsFeatureGates":{"draNVIDIAGPU":true}' in values
    assert construct.dra_driver_values is not None
    assert construct.dra_driver_values["consumableShares"] == "4"
    objects = [
        obj
        for resource in resources_of(template, MANIFEST_TYPE).values()
        for obj in manifest_objects(resource)
    ]
    node_classes = {o["metadata"]["name"]: o for o in objects if o["kind"] == "EC2NodeClass"}
    assert node_classes["shared"]["metadata"]["annotations"] == {
        CONSUMABLE_CAPACITY_ANNOTATION: "4"
    }
    # Tokens (the role name, the cluster name) are text here; the API server still checks the
    # shape of every object.
    assert admission_errors(harness, [o for o in objects if "Fn::" not in json.dumps(o)]) == []


def test_simulate_workloads_takes_dra_manifests_with_their_claim_templates(
    tmp_path: Path, harness: Upstream
) -> None:
    """A Deployment of 8 replicas asking through its own ResourceClaimTemplate (Karpenter's DRA
    page's "Requesting a timesliced GPU" example, aimed at the pool) with 1 vCPU and 4 GiB: 4
    shares per T4 from zero, as the pool's own sample pods."""
    from eks_gpu_sharing.simulation import simulate
    from eks_gpu_sharing.workload_manifests import read_workload_manifests

    manifests = tmp_path / "app.yaml"
    template = {
        "apiVersion": "resource.k8s.io/v1",
        "kind": "ResourceClaimTemplate",
        "metadata": {"name": "gpu-share", "namespace": "team"},
        "spec": {
            "spec": {
                "devices": {
                    "requests": [{"name": "gpu", "exactly": {"deviceClassName": "gpu.nvidia.com"}}]
                }
            }
        },
    }
    pod = {
        "metadata": {"labels": {"app": "shared-inference"}},
        "spec": {
            "nodeSelector": {"eks-gpu-sharing.io/pool": "shared"},
            "tolerations": [
                {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"},
                {"key": "eks-gpu-sharing.io/pool", "operator": "Exists", "effect": "NoSchedule"},
            ],
            "resourceClaims": [{"name": "gpu", "resourceClaimTemplateName": "gpu-share"}],
            "containers": [
                {
                    "name": "model",
                    "image": "public.ecr.aws/amazonlinux/amazonlinux:2023-minimal",
                    "resources": {
                        "requests": {"cpu": "1", "memory": "4Gi"},
                        "claims": [{"name": "gpu"}],
                    },
                }
            ],
        },
    }
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "shared-inference", "namespace": "team"},
        "spec": {
            "replicas": 8,
            "selector": {"matchLabels": {"app": "shared-inference"}},
            "template": pod,
        },
    }
    manifests.write_text(yaml.safe_dump_all([template, deployment]))
    workloads = read_workload_manifests([str(manifests)])
    assert len(workloads.claim_templates) == 1 and "ResourceClaimTemplate" not in workloads.skipped
    report = simulate(GpuSharingSetup.for_pools([SHARED]), {}, workloads=workloads, harness=harness)
    (outcome,) = report.with_overlays.workloads
    assert outcome.placed == {"shared": 8}
    claims = report.with_overlays.pool("shared").node_claims
    assert [c.pods for c in claims] == [4, 4]


def test_a_whole_gpu_dra_pool_is_one_claim_per_gpu_and_at_the_optimum(harness: Upstream) -> None:
    """Without consumable capacity each GPU serves one claim: 3 pods, 3 T4 nodes, and the oracle
    counts one claim per GPU too (the pods request no extended resource it could count)."""
    pool = GpuPool("whole", gpu_names=["t4"], backend=Backend.DRA)
    report = simulate(GpuSharingSetup.for_pools([pool]), {"whole": 3}, harness=harness)
    outcome = report.with_overlays.pool("whole")
    assert outcome.nodes == 3 and outcome.scheduled_pods == 3
    assert outcome.cheapest is not None and outcome.cost_ratio == pytest.approx(1.0)


def test_the_printed_prune_command_removes_a_replaced_claim_template(harness: Upstream) -> None:
    """A new memory share is a new ResourceClaimTemplate (its spec is immutable): `kubectl
    apply --prune` with the allowlist synth prints deletes the old one, as kubectl parses it."""
    kinds = frozenset((k["group"], k["kind"]) for k in harness.prune_kinds(PRUNE_ALLOWLIST))
    assert ("resource.k8s.io", "ResourceClaimTemplate") in kinds
    sample = SampleWorkloadSettings(pool="m")
    before, after = (
        rendered_files(
            _setup(
                GpuPool(
                    "m", gpu_names=["t4"], sharing=TimeSlicing(memory_gib=gib), backend=Backend.DRA
                ),
                sample_workload=sample,
            )
        )
        for gib in (4, 8)
    )
    new = Cluster.loaded(after)
    assert {object_key(o)[:2] for o in new.objects.values()} <= kinds
    cluster = Cluster.loaded(before)
    cluster.apply_folder(after, prune_label=tuple(PRUNE_SELECTOR.split("=")), prune_kinds=kinds)
    assert cluster.objects == new.objects
    templates = [k for k in cluster.objects if "ResourceClaimTemplate" in k]
    assert len(templates) == 1 and "m-gpu-8gib" in str(templates[0]), templates
