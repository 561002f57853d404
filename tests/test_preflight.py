"""`eks-gpu-sharing preflight` on cluster dumps built from real shapes: the device plugin
chart rendered by Helm as AWS documents installing it, the library's own release, overlays of
each weight, GPU workloads with and without a pool selector, Karpenter's Deployment, namespaces
and names. Each problem is found in a dump that has it, and nothing in a clean one."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml

from eks_gpu_sharing.cluster_dump import ClusterDump, read_cluster_dump
from eks_gpu_sharing.config import load_config, parse_config
from eks_gpu_sharing.labels import MANAGED_BY, MANAGED_BY_LABEL, POOL_LABEL
from eks_gpu_sharing.node_fit import selects_node, untolerated
from eks_gpu_sharing.plan import OVERLAY_WEIGHT, plan_pool
from eks_gpu_sharing.preflight import preflight
from eks_gpu_sharing.render import rendered_files
from eks_gpu_sharing.setup import GpuSharingSetup
from eks_gpu_sharing.simulation import (
    device_plugin_daemon_sets,
    karpenter_controller_env,
    run_simulation,
    simulation_input,
)
from eks_gpu_sharing.upstream import Upstream

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "gpu-sharing.yaml"
CLEAN_DUMP = ROOT / "examples" / "simulate" / "cluster.yaml"


@pytest.fixture(scope="module")
def setup() -> GpuSharingSetup:
    return load_config(CONFIG)


@pytest.fixture(scope="module")
def unisolated() -> GpuSharingSetup:
    """The reference setup with `isolated: false` on its pools (configs before isolation)."""
    document = yaml.safe_load(CONFIG.read_text())
    for pool in document["pools"]:
        pool["isolated"] = False
    return parse_config(document)


def dump_of(tmp_path: Path, *objects: Mapping[str, Any]) -> ClusterDump:
    """The example cluster plus ``objects``, read as `kubectl get -o yaml` would give them."""
    clean = read_cluster_dump([str(CLEAN_DUMP)])
    items = [*clean.nodes, *clean.node_claims, *clean.pods, *clean.daemon_sets, *objects]
    path = tmp_path / "dump.json"
    path.write_text(json.dumps({"apiVersion": "v1", "kind": "List", "items": items}))
    return read_cluster_dump([str(path)])


def subjects(setup: GpuSharingSetup, dump: ClusterDump) -> list[str]:
    return [f.subject for f in preflight(setup, dump).findings]


def test_a_clean_cluster_has_no_findings(setup: GpuSharingSetup) -> None:
    report = preflight(setup, read_cluster_dump([str(CLEAN_DUMP)]))
    assert report.clean, report.format_text()


# -- another device plugin ---------------------------------------------------------------------


def rendered_device_plugin(
    harness: Upstream, release: str, namespace: str, values: Mapping[str, Any]
) -> dict[str, Any]:
    return device_plugin_daemon_sets(harness, values, namespace, release=release)[0]


def test_the_documented_nvdp_release_is_found_on_our_nodes(
    harness: Upstream, setup: GpuSharingSetup, unisolated: GpuSharingSetup, tmp_path: Path
) -> None:
    """AWS's documented install (`helm install nvdp ... --namespace kube-system`, chart
    defaults): its affinity admits nodes labelled nvidia.com/gpu.present=true, which the AL2023
    NVIDIA AMI sets itself on Kubernetes 1.35+. The isolation taint keeps it off (the chart
    tolerates only nvidia.com/gpu and CriticalAddonsOnly); without it, it is a second plugin."""
    nvdp = rendered_device_plugin(harness, "nvdp", "kube-system", {})
    assert preflight(setup, dump_of(tmp_path, nvdp)).clean
    setup = unisolated
    report = preflight(setup, dump_of(tmp_path, nvdp))
    [finding] = report.findings
    assert finding.subject == "DaemonSet kube-system/nvdp-nvidia-device-plugin"
    assert "pools inference" in finding.problem  # batch is Bottlerocket: no gpu.present label
    assert f"{{key: {POOL_LABEL}, operator: DoesNotExist}}" in finding.fix
    # Fixed as the finding says, it is gone.
    fixed = copy.deepcopy(nvdp)
    terms = fixed["spec"]["template"]["spec"]["affinity"]["nodeAffinity"][
        "requiredDuringSchedulingIgnoredDuringExecution"
    ]["nodeSelectorTerms"]
    for term in terms:
        term["matchExpressions"].append({"key": POOL_LABEL, "operator": "DoesNotExist"})
    assert preflight(setup, dump_of(tmp_path, fixed)).clean


def test_on_kubernetes_134_only_nfd_draws_it(
    harness: Upstream, unisolated: GpuSharingSetup, tmp_path: Path
) -> None:
    old = GpuSharingSetup.from_options(
        error_owner="Yaml",
        cluster_name="c",
        karpenter=unisolated.karpenter,
        kubernetes_version="1.34",
        pools=list(unisolated.pools[:1]),
    )
    nvdp = rendered_device_plugin(harness, "nvdp", "kube-system", {})
    assert preflight(old, dump_of(tmp_path, nvdp)).clean
    nfd = {
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": {"name": "nfd-worker", "namespace": "node-feature-discovery"},
        "spec": {
            "selector": {"matchLabels": {"app": "nfd"}},
            "template": {
                "metadata": {"labels": {"app": "nfd"}},
                "spec": {
                    "containers": [
                        {
                            "name": "worker",
                            "image": "registry.k8s.io/nfd/node-feature-discovery:v0.17.3",
                        }
                    ],
                    "tolerations": [{"operator": "Exists"}],
                },
            },
        },
    }
    assert subjects(old, dump_of(tmp_path, nvdp, nfd)) == [
        "DaemonSet kube-system/nvdp-nvidia-device-plugin"
    ]


def test_the_librarys_own_release_is_not_a_finding(
    harness: Upstream, setup: GpuSharingSetup, tmp_path: Path
) -> None:
    inputs = simulation_input(setup)
    ours = device_plugin_daemon_sets(
        harness, inputs.device_plugin_values, setup.device_plugin_namespace
    )
    assert preflight(setup, dump_of(tmp_path, *ours)).clean


def test_the_affinity_rules_agree_with_karpenters(harness: Upstream) -> None:
    """node_fit's answer for DaemonSets on a pool's NodePool template is Karpenter's (its
    daemonSetFit, run by the simulator), on selectors, affinities and tolerations."""
    setup = load_config(CONFIG)
    pool = setup.pool("inference")
    gpu_toleration = [
        {"key": "nvidia.com/gpu", "operator": "Exists"},
        {"key": POOL_LABEL, "operator": "Exists"},
    ]

    def daemon_set(name: str, **spec: Any) -> dict[str, Any]:
        return {
            "apiVersion": "apps/v1",
            "kind": "DaemonSet",
            "metadata": {"name": name, "namespace": "t"},
            "spec": {
                "selector": {"matchLabels": {"app": name}},
                "template": {
                    "metadata": {"labels": {"app": name}},
                    "spec": {"containers": [{"name": "c", "image": "x"}], **spec},
                },
            },
        }

    def affinity(*expressions: dict[str, Any]) -> dict[str, Any]:
        terms = [{"matchExpressions": [e]} for e in expressions]
        return {
            "nodeAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": terms}
            }
        }

    cases = [
        daemon_set("no-toleration"),
        daemon_set("tolerates", tolerations=gpu_toleration),
        daemon_set("all", tolerations=[{"operator": "Exists"}]),
        daemon_set("pool", tolerations=gpu_toleration, nodeSelector={POOL_LABEL: "inference"}),
        daemon_set("other-pool", tolerations=gpu_toleration, nodeSelector={POOL_LABEL: "x"}),
        daemon_set(
            "not-in",
            tolerations=gpu_toleration,
            affinity=affinity({"key": POOL_LABEL, "operator": "NotIn", "values": ["inference"]}),
        ),
        daemon_set(
            "absent",
            tolerations=gpu_toleration,
            affinity=affinity({"key": POOL_LABEL, "operator": "DoesNotExist"}),
        ),
        daemon_set(
            "either",
            tolerations=gpu_toleration,
            affinity=affinity(
                {"key": "example.com/x", "operator": "Exists"},
                {"key": POOL_LABEL, "operator": "In", "values": ["inference"]},
            ),
        ),
    ]
    inputs = simulation_input(GpuSharingSetup.for_pools([pool]))
    run = run_simulation(
        harness,
        label="test",
        karpenter_objects=inputs.karpenter_objects,
        resource_names=inputs.resource_names,
        controller_env=karpenter_controller_env(
            harness, cluster_name="test", node_overlay_enabled=True
        ),
        daemon_sets=cases,
    )
    karpenters = {name.split("/")[1] for name in run.daemon_sets["inference"]}
    labels = {**plan_pool(pool).only().node_labels()}
    ours = {
        ds["metadata"]["name"]
        for ds in cases
        if selects_node(ds["spec"]["template"]["spec"], labels)
        and not untolerated(
            ds["spec"]["template"]["spec"].get("tolerations") or [], pool.node_taints()
        )
    }
    assert ours == karpenters == {"tolerates", "all", "pool", "either"}


# -- overlays ----------------------------------------------------------------------------------


def overlay(name: str, weight: int | None, *requirements: dict[str, Any]) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "requirements": list(requirements)
        or [{"key": "karpenter.k8s.aws/instance-gpu-count", "operator": "In", "values": ["1"]}],
        "capacity": {"nvidia.com/gpu": "4"},
    }
    if weight is not None:
        spec["weight"] = weight
    return {
        "apiVersion": "karpenter.sh/v1alpha1",
        "kind": "NodeOverlay",
        "metadata": {"name": name},
        "spec": spec,
    }


def test_overlays_that_override_or_conflict_are_found(
    setup: GpuSharingSetup, tmp_path: Path
) -> None:
    # karpenter-blueprints' cluster-wide time-slicing overlay (weight 10): ours win.
    assert preflight(setup, dump_of(tmp_path, overlay("blueprint", 10))).clean
    [conflict] = preflight(setup, dump_of(tmp_path, overlay("same", OVERLAY_WEIGHT))).findings
    assert "Karpenter applies neither" in conflict.problem
    [override] = preflight(setup, dump_of(tmp_path, overlay("above", 5000))).findings
    assert "overrides nvidia.com/gpu" in override.problem
    # Scoped off the pools, as the fix says, it is no finding.
    scoped = overlay(
        "scoped",
        5000,
        {"key": "karpenter.sh/nodepool", "operator": "NotIn", "values": ["inference", "batch"]},
    )
    assert preflight(setup, dump_of(tmp_path, scoped)).clean
    # One for 8-GPU types only does not touch pools of 1-GPU types.
    eight = overlay(
        "eight",
        5000,
        {"key": "karpenter.k8s.aws/instance-gpu-count", "operator": "In", "values": ["8"]},
    )
    assert preflight(setup, dump_of(tmp_path, eight)).clean


# -- workloads, Karpenter, namespaces, names -----------------------------------------------------


def gpu_deployment(name: str, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": "ml"},
        "spec": {
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {
                    "containers": [
                        {
                            "name": "c",
                            "image": "example.com/trainer:1",
                            "resources": {"limits": {"nvidia.com/gpu": 1}},
                        }
                    ],
                    "tolerations": [{"key": "nvidia.com/gpu", "operator": "Exists"}],
                    **spec,
                },
            },
        },
    }


def test_whole_gpu_workloads_without_a_pool_selector_are_found(
    setup: GpuSharingSetup, unisolated: GpuSharingSetup, tmp_path: Path
) -> None:
    loose = gpu_deployment("trainer")
    pinned = gpu_deployment("pinned", nodeSelector={POOL_LABEL: "inference"})
    elsewhere = gpu_deployment("elsewhere", nodeSelector={"example.com/gpus": "whole"})
    # Isolated pools: it does not tolerate their own taint.
    assert preflight(setup, dump_of(tmp_path, loose, pinned, elsewhere)).clean
    # A pod that tolerates every taint still can land there.
    anything = gpu_deployment("anything", tolerations=[{"operator": "Exists"}])
    assert subjects(setup, dump_of(tmp_path, anything)) == ["Deployment ml/anything"]
    found = preflight(unisolated, dump_of(tmp_path, loose, pinned, elsewhere)).findings
    assert [f.subject for f in found] == ["Deployment ml/trainer"]
    assert "shared pools batch, inference" in found[0].problem


def karpenter_deployment(image: str, gates: str) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "karpenter", "namespace": "kube-system"},
        "spec": {
            "selector": {"matchLabels": {"app": "karpenter"}},
            "template": {
                "metadata": {"labels": {"app": "karpenter"}},
                "spec": {
                    "containers": [
                        {
                            "name": "controller",
                            "image": image,
                            "env": [{"name": "FEATURE_GATES", "value": gates}],
                        }
                    ]
                },
            },
        },
    }


def test_karpenter_of_another_version_or_without_the_gate_is_found(
    setup: GpuSharingSetup, tmp_path: Path
) -> None:
    image = "public.ecr.aws/karpenter/controller:{}@sha256:" + "0" * 64
    running = setup.karpenter.version
    fits = karpenter_deployment(image.format(running), "NodeOverlay=true,StaticCapacity=false")
    assert preflight(setup, dump_of(tmp_path, fits)).clean
    old = karpenter_deployment(image.format("1.13.0"), "NodeOverlay=false")
    problems = [f.problem for f in preflight(setup, dump_of(tmp_path, old)).findings]
    assert len(problems) == 2
    assert "runs Karpenter 1.13.0" in problems[0] and "NodeOverlay feature gate" in problems[1]


def test_namespaces_and_names_we_would_take_over_are_found(
    setup: GpuSharingSetup, tmp_path: Path
) -> None:
    theirs = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "nvidia-device-plugin"}}
    ours = copy.deepcopy(theirs)
    ours["metadata"]["labels"] = {MANAGED_BY_LABEL: MANAGED_BY}
    their_pool = {
        "apiVersion": "karpenter.sh/v1",
        "kind": "NodePool",
        "metadata": {"name": "inference"},
        "spec": {"template": {"spec": {}}},
    }
    assert subjects(setup, dump_of(tmp_path, theirs, their_pool)) == [
        "Namespace nvidia-device-plugin",
        "NodePool inference",
    ]
    # What synth itself wrote, read back from a cluster, is ours.
    generated = [
        d
        for text in rendered_files(setup).values()
        for d in yaml.safe_load_all(text)
        if d and d.get("kind") in ("Namespace", "NodePool", "EC2NodeClass", "NodeOverlay")
    ]
    assert preflight(setup, dump_of(tmp_path, ours, *generated)).clean


def test_the_command_exits_0_clean_1_findings_2_bad_input(tmp_path: Path) -> None:
    def preflight_cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [
                *(sys.executable, "-m", "eks_gpu_sharing.cli", "preflight"),
                *("--config", str(CONFIG), *args),
            ],
            capture_output=True,
            text=True,
            check=False,
        )

    assert preflight_cli("--cluster", str(CLEAN_DUMP)).returncode == 0
    dirty = tmp_path / "dirty.json"
    hostile = gpu_deployment("t\x1b[2Jx", tolerations=[{"operator": "Exists"}])
    dirty.write_text(json.dumps({"kind": "List", "items": [hostile]}))
    node_dump = tmp_path / "nodes.json"
    clean = read_cluster_dump([str(CLEAN_DUMP)])
    node_dump.write_text(json.dumps({"kind": "List", "items": list(clean.nodes)}))
    done = preflight_cli("--cluster", str(node_dump), str(dirty), "--format", "text")
    assert done.returncode == 1
    assert "Deployment ml/t\\x1b[2Jx" in done.stdout and "\x1b" not in done.stdout
    missing = preflight_cli("--cluster", str(tmp_path / "none.yaml"))
    assert missing.returncode == 2 and "--cluster" in missing.stderr
