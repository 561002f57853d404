"""`simulate` on the user's world: their workloads (every kind, their requests, tolerations,
selectors, affinities, spreads and slice requests), their cluster (nodes with free slices,
their DaemonSets, their NodeOverlays) and what the device plugin would refuse. Karpenter's
scheduler decides; the tests check that what it decided reaches the report, pod by pod.
"""

from __future__ import annotations

import copy
import dataclasses
import io
import json
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from eks_gpu_sharing import GpuPool, Mps, NoSharing, TimeSlicing
from eks_gpu_sharing.cluster_dump import ClusterDump, ClusterObjects, read_cluster_dump
from eks_gpu_sharing.errors import ConfigurationError
from eks_gpu_sharing.labels import POOL_LABEL
from eks_gpu_sharing.setup import GpuSharingSetup
from eks_gpu_sharing.simulation import (
    EXISTING_NODES,
    SimulationRun,
    karpenter_controller_env,
    run_simulation,
    simulate,
    simulation_input,
    workload_pod_groups,
)
from eks_gpu_sharing.upstream import Upstream
from eks_gpu_sharing.workload_manifests import WorkloadManifests, read_workload_manifests

L4 = GpuPool("l4", sharing=TimeSlicing(replicas=4), gpu_names=["l4"], gpu_limit=100)
T4 = GpuPool("t4", sharing=TimeSlicing(replicas=4), gpu_names=["t4"], gpu_limit=100)
GPU_TOLERATION = {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}
#: Pods meant for a shared pool tolerate its isolation taint (eks-gpu-sharing.io/pool=<pool>).
SHARED_TOLERATION = {"key": POOL_LABEL, "operator": "Exists", "effect": "NoSchedule"}


def pod_spec(
    cpu: str = "250m", memory: str = "256Mi", gpu: int = 1, **extra: Any
) -> dict[str, Any]:
    return {
        "containers": [
            {
                "name": "app",
                "image": "example.com/app:1",
                "resources": {
                    "requests": {"cpu": cpu, "memory": memory},
                    "limits": {"nvidia.com/gpu": gpu},
                },
            }
        ],
        "tolerations": [GPU_TOLERATION, SHARED_TOLERATION],
        **extra,
    }


def deployment(name: str, replicas: int, namespace: str = "ml", **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {"metadata": {"labels": {"app": name}}, "spec": pod_spec(**spec)},
        },
    }


def manifests(*documents: Mapping[str, Any]) -> WorkloadManifests:
    return read_workload_manifests(
        ["-"], stdin=io.StringIO(json.dumps({"kind": "List", "items": documents}))
    )


def run(
    harness: Upstream,
    pools: Sequence[GpuPool],
    workloads: WorkloadManifests,
    *,
    cluster: ClusterDump | None = None,
    daemon_sets: Sequence[Mapping[str, Any]] = (),
) -> SimulationRun:
    inputs = simulation_input(GpuSharingSetup.for_pools(pools))
    theirs = ClusterObjects.of(cluster, inputs.karpenter_objects, ())
    result = run_simulation(
        harness,
        label="test",
        karpenter_objects=[*inputs.karpenter_objects, *theirs.karpenter_objects],
        resource_names=inputs.resource_names,
        pod_groups=workload_pod_groups(workloads.workloads),
        daemon_sets=[*daemon_sets, *theirs.daemon_sets],
        cluster=cluster,
        controller_env=karpenter_controller_env(
            harness, cluster_name="test", node_overlay_enabled=True
        ),
    )
    # Every pod of every workload is placed or refused with Karpenter's reason.
    assert result.complete
    for workload in result.workloads:
        assert workload.placed_pods + workload.unschedulable_pods == workload.pending_pods
    for pool in result.pools:
        placed = pool.scheduled_pods + pool.existing_node_pods
        assert placed + pool.unschedulable_pods == pool.pending_pods
    return result


def outcome(result: SimulationRun, label: str) -> Any:
    return next(w for w in result.workloads if w.label == label)


# -- workloads ----------------------------------------------------------------------------------


def test_every_workload_kind_runs_its_pods(harness: Upstream) -> None:
    template = {"metadata": {"labels": {"app": "x"}}, "spec": pod_spec()}
    job_spec = {"parallelism": 3, "completions": 5, "template": copy.deepcopy(template)}
    documents = [
        deployment("chat", 2),
        {
            "apiVersion": "apps/v1",
            "kind": "StatefulSet",
            "metadata": {"name": "db", "namespace": "ml"},
            "spec": {"replicas": 2, "serviceName": "db", "template": template},
        },
        {
            "apiVersion": "apps/v1",
            "kind": "ReplicaSet",
            "metadata": {"name": "rs", "namespace": "ml"},
            "spec": {"replicas": 1, "template": template},
        },
        {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "j"}, "spec": job_spec},
        {
            "apiVersion": "batch/v1",
            "kind": "CronJob",
            "metadata": {"name": "nightly", "namespace": "ml"},
            "spec": {"schedule": "0 3 * * *", "jobTemplate": {"spec": job_spec}},
        },
        {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": pod_spec()},
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "svc"}, "spec": {}},
    ]
    listed = {"apiVersion": "v1", "kind": "List", "items": documents}
    workloads = read_workload_manifests(["-"], stdin=io.StringIO(json.dumps(listed)))
    assert workloads.skipped == {"Service": 1}
    result = run(harness, [L4], workloads)
    expected = {
        "Deployment ml/chat": 2,
        "StatefulSet ml/db": 2,
        "ReplicaSet ml/rs": 1,
        "Job default/j": 3,
        "CronJob ml/nightly": 3,
        "Pod default/p": 1,
    }
    assert {w.label: w.placed.get("l4", 0) for w in result.workloads} == expected
    # 12 one-slice pods on a 4-way pool: Karpenter's answer is ceil(12 / 4) nodes.
    assert result.pool("l4").nodes == 3 and result.pool("l4").pending_pods == 12


def test_sample_pods_and_workloads_in_one_round_are_each_accounted_for(
    harness: Upstream,
) -> None:
    inputs = simulation_input(GpuSharingSetup.for_pools([L4, T4]))
    result = run_simulation(
        harness,
        label="test",
        karpenter_objects=inputs.karpenter_objects,
        resource_names=inputs.resource_names,
        pod_templates=inputs.pod_templates,
        pods={"t4": 5},
        pod_groups=workload_pod_groups(manifests(deployment("w", 3)).workloads),
        controller_env=karpenter_controller_env(
            harness, cluster_name="test", node_overlay_enabled=True
        ),
    )
    assert result.complete
    assert outcome(result, "t4").placed == {"t4": 5}
    # The workload names no pool: Karpenter picks one, and that pool counts its pods too.
    placed = outcome(result, "Deployment ml/w").placed
    assert sum(placed.values()) == 3
    for pool in ("l4", "t4"):
        expected = placed.get(pool, 0) + (5 if pool == "t4" else 0)
        assert result.pool(pool).pending_pods == result.pool(pool).scheduled_pods == expected


def test_real_requests_change_the_instance_type(harness: Upstream) -> None:
    sample = run(harness, [L4], manifests(deployment("small", 4)))
    heavy = run(harness, [L4], manifests(deployment("heavy", 4, cpu="2", memory="8Gi")))
    assert {c.instance_type for c in sample.pool("l4").node_claims} == {"g6.xlarge"}
    # 8 vCPU and 32 GiB of requests do not fit a g6.xlarge (4 vCPU) beside 4 slices.
    assert heavy.pool("l4").price_per_hour > sample.pool("l4").price_per_hour
    assert "g6.xlarge" not in {c.instance_type for c in heavy.pool("l4").node_claims}


def test_a_zone_spread_spreads_nodes(harness: Upstream) -> None:
    spread = [
        {
            "maxSkew": 1,
            "topologyKey": "topology.kubernetes.io/zone",
            "whenUnsatisfiable": "DoNotSchedule",
            "labelSelector": {"matchLabels": {"app": "spread"}},
        }
    ]
    packed = run(harness, [L4], manifests(deployment("packed", 3)))
    spread_out = run(
        harness, [L4], manifests(deployment("spread", 3, topologySpreadConstraints=spread))
    )
    assert packed.pool("l4").nodes == 1
    assert spread_out.pool("l4").nodes == 3


def test_selectors_and_affinities_pick_the_pool_and_type(harness: Upstream) -> None:
    affinity = {
        "nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {
                "nodeSelectorTerms": [
                    {
                        "matchExpressions": [
                            {
                                "key": "node.kubernetes.io/instance-type",
                                "operator": "In",
                                "values": ["g6.2xlarge"],
                            }
                        ]
                    }
                ]
            }
        }
    }
    result = run(
        harness,
        [L4, T4],
        manifests(
            deployment("on-t4", 2, nodeSelector={POOL_LABEL: "t4"}),
            deployment("on-g6-2xl", 2, affinity=affinity),
        ),
    )
    assert outcome(result, "Deployment ml/on-t4").placed == {"t4": 2}
    assert outcome(result, "Deployment ml/on-g6-2xl").placed == {"l4": 2}
    assert {c.instance_type for c in result.pool("l4").node_claims} == {"g6.2xlarge"}


def test_a_required_pod_anti_affinity_gives_each_replica_a_node(harness: Upstream) -> None:
    apart = {
        "podAntiAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": [
                {
                    "topologyKey": "kubernetes.io/hostname",
                    "labelSelector": {"matchLabels": {"app": "apart"}},
                }
            ]
        }
    }
    result = run(harness, [L4], manifests(deployment("apart", 3, affinity=apart)))
    # One slice used of four on each node: the spread undoes the sharing, and the report shows it.
    assert result.pool("l4").nodes == 3


def test_a_pod_without_the_gpu_toleration_is_refused_with_karpenters_reason(
    harness: Upstream,
) -> None:
    intolerant = deployment("intolerant", 2)
    intolerant["spec"]["template"]["spec"]["tolerations"] = []
    result = run(harness, [L4], manifests(intolerant))
    workload = outcome(result, "Deployment ml/intolerant")
    assert workload.placed == {} and workload.unschedulable_pods == 2
    assert any("taint" in reason for reason, _ in workload.unschedulable)


def test_two_whole_gpus_on_an_unshared_pool(harness: Upstream) -> None:
    whole = GpuPool("whole", sharing=NoSharing(), gpu_names=["a10g"], gpu_counts=[1, 4])
    result = run(harness, [whole], manifests(deployment("pair", 1, gpu=2)))
    assert outcome(result, "Deployment ml/pair").placed == {"whole": 1}
    assert result.pool("whole").node_claims[0].slices >= 2


def test_the_device_plugin_refusal_is_reported_and_not_scheduled(
    harness: Upstream, tmp_path: Path
) -> None:
    setup = GpuSharingSetup.for_pools([L4])
    report = simulate(
        setup, workloads=manifests(deployment("two-slices", 2, gpu=2), deployment("ok", 2))
    )
    assert [w for w, _ in report.refused] == ["Deployment ml/two-slices"]
    assert "failRequestsGreaterThanOne" in report.refused[0][1]
    assert [w.label for w in report.with_overlays.workloads] == ["Deployment ml/ok"]
    table = report.format_table()
    assert "Refused by the NVIDIA device plugin" in table and "two-slices" in table


# -- the cluster as it runs ---------------------------------------------------------------------


def l4_node(name: str, *, slices_used: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """A g6.xlarge of the l4 pool as `kubectl get -o yaml` prints it, its NodeClaim, and the
    one-slice pods it runs (plus a DaemonSet pod)."""
    provider_id = f"aws:///us-east-1a/i-{name}"
    labels = {
        "karpenter.sh/nodepool": "l4",
        "karpenter.sh/initialized": "true",
        "karpenter.sh/registered": "true",
        "karpenter.sh/capacity-type": "on-demand",
        "node.kubernetes.io/instance-type": "g6.xlarge",
        "topology.kubernetes.io/zone": "us-east-1a",
        "kubernetes.io/arch": "amd64",
        "kubernetes.io/os": "linux",
        "kubernetes.io/hostname": name,
        POOL_LABEL: "l4",
    }
    allocatable = {"cpu": "3920m", "memory": "14162Mi", "pods": "58", "nvidia.com/gpu": "4"}
    node = {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": name, "labels": labels, "resourceVersion": "7", "uid": "u-" + name},
        "spec": {
            "providerID": provider_id,
            "taints": [
                {"key": "nvidia.com/gpu", "effect": "NoSchedule"},
                {"key": POOL_LABEL, "value": "l4", "effect": "NoSchedule"},
            ],
        },
        "status": {"allocatable": allocatable, "capacity": allocatable},
    }
    claim = {
        "apiVersion": "karpenter.sh/v1",
        "kind": "NodeClaim",
        "metadata": {"name": f"l4-{name}", "labels": labels},
        "spec": {
            "nodeClassRef": {"group": "karpenter.k8s.aws", "kind": "EC2NodeClass", "name": "l4"},
            "requirements": [],
        },
        "status": {"providerID": provider_id, "nodeName": name, "allocatable": allocatable},
    }
    pods = [
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": f"running-{name}-{i}", "namespace": "ml", "uid": f"{name}-{i}"},
            "spec": {**pod_spec(), "nodeName": name},
            "status": {"phase": "Running"},
        }
        for i in range(slices_used)
    ]
    return [node, claim], pods


def cluster_dump(tmp_path: Path, *documents: Mapping[str, Any]) -> ClusterDump:
    path = tmp_path / "cluster.yaml"
    # JSON: kubectl writes no YAML aliases, and the reader refuses them.
    path.write_text(json.dumps({"apiVersion": "v1", "kind": "List", "items": documents}))
    return read_cluster_dump([str(path)])


def test_existing_nodes_with_free_slices_are_used_first(harness: Upstream, tmp_path: Path) -> None:
    objects, pods = l4_node("ip-10-0-0-1", slices_used=1)
    finished = {**pods[0], "metadata": {"name": "done", "namespace": "ml"}}
    finished["status"] = {"phase": "Succeeded"}
    cluster = cluster_dump(tmp_path, *objects, *pods, finished)
    assert len(cluster.pods) == 1 and cluster.finished_pods == 1
    fits = run(harness, [L4], manifests(deployment("fits", 3)), cluster=cluster)
    assert fits.pool("l4").nodes == 0
    assert outcome(fits, "Deployment ml/fits").placed == {"l4": 3}
    assert [(n.name, n.pods) for n in fits.existing_nodes] == [("ip-10-0-0-1", 3)]
    # Two more than the free slices: those two get a new node.
    more = run(harness, [L4], manifests(deployment("more", 5)), cluster=cluster)
    assert more.pool("l4").nodes == 1 and more.pool("l4").scheduled_pods == 2
    assert more.pool("l4").existing_node_pods == 3


def test_a_node_outside_any_nodepool_counts_as_existing(harness: Upstream, tmp_path: Path) -> None:
    (node, _), _ = l4_node("mng-1", slices_used=0)
    del node["metadata"]["labels"]["karpenter.sh/nodepool"]
    del node["metadata"]["labels"][POOL_LABEL]
    result = run(harness, [L4], manifests(deployment("w", 2)), cluster=cluster_dump(tmp_path, node))
    assert outcome(result, "Deployment ml/w").placed == {EXISTING_NODES: 2}
    assert result.pool("l4").nodes == 0


def test_their_daemonsets_are_overhead_on_new_nodes(harness: Upstream, tmp_path: Path) -> None:
    agent = {
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": {"name": "log-agent", "namespace": "observability", "uid": "x"},
        "spec": {
            "selector": {"matchLabels": {"app": "log-agent"}},
            "template": {
                "metadata": {"labels": {"app": "log-agent"}},
                "spec": {
                    "containers": [
                        {
                            "name": "agent",
                            "image": "example.com/agent:1",
                            "resources": {"requests": {"cpu": "3", "memory": "1Gi"}},
                        }
                    ],
                    "tolerations": [{"operator": "Exists"}],
                },
            },
        },
        "status": {"numberReady": 3},
    }
    (node, _), _ = l4_node("other", slices_used=0)
    node["metadata"]["labels"]["karpenter.sh/nodepool"] = "general"
    cluster = cluster_dump(tmp_path, agent, node)
    without = run(harness, [L4], manifests(deployment("one-cpu", 1, cpu="1")))
    with_agent = run(harness, [L4], manifests(deployment("one-cpu", 1, cpu="1")), cluster=cluster)
    assert "observability/log-agent" in with_agent.daemon_sets["l4"]
    # 1 vCPU beside the agent's 3 does not fit a g6.xlarge's 3.92 allocatable.
    assert {c.instance_type for c in without.pool("l4").node_claims} == {"g6.xlarge"}
    assert {c.instance_type for c in with_agent.pool("l4").node_claims} != {"g6.xlarge"}


def test_their_overlay_of_equal_weight_conflicts_and_the_report_says_so(
    harness: Upstream, tmp_path: Path
) -> None:
    inputs = simulation_input(GpuSharingSetup.for_pools([L4]))
    ours = next(o for o in inputs.karpenter_objects if o["kind"] == "NodeOverlay")
    theirs = copy.deepcopy(ours)
    theirs["metadata"] = {"name": "blueprint-gpu", "resourceVersion": "3", "uid": "u"}
    theirs["spec"]["capacity"] = {"nvidia.com/gpu": "2"}
    theirs["status"] = {"conditions": []}
    cluster = cluster_dump(tmp_path, theirs, *l4_node("n", slices_used=0)[0])
    result = run(harness, [L4], manifests(deployment("w", 1)), cluster=cluster)
    refused = [
        (name, message) for name, _, status, message in result.conditions if status != "True"
    ]
    assert any("conflict" in message for _, message in refused), refused


def test_their_objects_of_our_names_are_replaced(tmp_path: Path) -> None:
    inputs = simulation_input(GpuSharingSetup.for_pools([L4]))
    node_pool = next(o for o in inputs.karpenter_objects if o["kind"] == "NodePool")
    theirs = {**node_pool, "status": {"conditions": []}}
    other = {**node_pool, "metadata": {**node_pool["metadata"], "name": "general"}}
    dump = cluster_dump(tmp_path, theirs, other)
    taking_part = ClusterObjects.of(dump, inputs.karpenter_objects, ())
    assert [o["metadata"]["name"] for o in taking_part.karpenter_objects] == ["general"]
    assert "status" not in taking_part.karpenter_objects[0]
    assert taking_part.notes == (
        "Replaced by this config's objects of the same name: NodePool l4.",
    )


def test_the_mps_control_daemon_counts_on_new_mps_nodes(harness: Upstream) -> None:
    """GFD labels MPS nodes nvidia.com/mps.capable=true; the NodePool template carries it, so
    Karpenter counts the daemon that selects it."""
    mps = GpuPool("mps", sharing=Mps(replicas=4), gpu_names=["l4"], gpu_limit=100)
    report = simulate(GpuSharingSetup.for_pools([mps]), {"mps": 4})
    assert any("mps-control-daemon" in name for name in report.with_overlays.daemon_sets["mps"])


# -- the dump reader ----------------------------------------------------------------------------


def test_the_dump_reader_sorts_kinds_and_counts_the_rest(tmp_path: Path) -> None:
    objects, pods = l4_node("n1", slices_used=2)
    pending = {**pods[0], "metadata": {"name": "pending", "namespace": "ml"}}
    pending["spec"] = pod_spec()
    objects[0]["metadata"]["managedFields"] = [{"manager": "kubelet"}]
    dump = cluster_dump(
        tmp_path, *objects, *pods, pending, {"apiVersion": "v1", "kind": "Secret", "metadata": {}}
    )
    assert (len(dump.nodes), len(dump.node_claims), len(dump.pods)) == (1, 1, 2)
    assert dump.unbound_pods == 1 and dump.skipped == {"Secret": 1}
    assert "managedFields" not in dump.nodes[0]["metadata"]
    assert "1 pending pod (not simulated" in dump.summary()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n", "not a dump of a cluster"),
        ("apiVersion: v1\nkind: Node\nmetadata: {}\n", "metadata.name"),
        ("kind: [\n", "not valid YAML"),
    ],
)
def test_a_bad_dump_names_the_file_and_the_fix(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "dump.yaml"
    path.write_text(content)
    with pytest.raises(ConfigurationError, match=message) as caught:
        read_cluster_dump([str(path)])
    assert caught.value.field.startswith("--cluster")


# -- the command --------------------------------------------------------------------------------

ROOT = Path(__file__).resolve().parents[1]


def test_the_documented_example_accounts_for_every_pod(harness: Upstream) -> None:
    """docs/simulation.md's worked example, as JSON: the refused workload named, the existing
    node used, every other pod placed."""
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "eks_gpu_sharing.cli",
            "simulate",
            "--config",
            "gpu-sharing.yaml",
            "--workloads",
            "examples/simulate/workloads.yaml",
            "--cluster",
            "examples/simulate/cluster.yaml",
            "--format",
            "json",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert [r["workload"] for r in report["refused"]] == ["Deployment ml/two-slice-model"]
    ours = report["withOverlays"]
    assert [(n["name"], n["pods"]) for n in ours["existingNodes"]] == [
        ("ip-10-0-1-17.ec2.internal", 2)
    ]
    assert {w["label"]: w["placedPods"] for w in ours["workloads"]} == {
        "Deployment ml/chat-api": 6,
        "Deployment ml/reranker": 4,
        "CronJob ml/nightly-embeddings": 3,
    }
    assert report["complete"] and "observability" not in json.dumps(ours["daemonSets"])
    assert "logging/fluent-bit" in ours["daemonSets"]["inference"]


def test_a_template_the_api_server_would_refuse_names_its_workload(harness: Upstream) -> None:
    bad = deployment("typo", 1)
    bad["spec"]["template"]["spec"]["containers"][0]["resourcez"] = {}
    with pytest.raises(ConfigurationError, match="resourcez") as caught:
        run(harness, [L4], manifests(bad))
    assert caught.value.field == "Deployment ml/typo"


def test_one_round_takes_at_most_4000_pods() -> None:
    """Checked before Go starts: a larger round would hit Karpenter's deadline."""
    setup = GpuSharingSetup.for_pools([L4, T4])
    with pytest.raises(ConfigurationError, match="at most 4000 pods"):
        simulate(setup, {"l4": 2000, "t4": 2001})
    with pytest.raises(ConfigurationError, match="at most 4000 pods") as caught:
        simulate(setup, workloads=manifests(deployment("big", 4000), deployment("more", 1)))
    assert caught.value.field == "--workloads"


def test_standard_input_is_read_once(tmp_path: Path) -> None:
    config = tmp_path / "gpu-sharing.yaml"
    config.write_text((ROOT / "gpu-sharing.yaml").read_text())
    done = subprocess.run(
        [
            *(sys.executable, "-m", "eks_gpu_sharing.cli", "simulate", "--config", str(config)),
            *("--workloads", "-", "--cluster", "-"),
        ],
        input="",
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 2 and "standard input can be read once" in done.stderr


def test_the_pod_shape_benchmark_runs(harness: Upstream) -> None:
    """docs/simulation.md's pod-shape table comes from this script; its quick mode must work."""
    done = subprocess.run(
        [sys.executable, "scripts/benchmark_workloads.py", "--quick"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "| 8 | sample (250m / 256Mi) | 2 | 2 x g4dn.xlarge | 1.05 | 1.00x |" in done.stdout
    assert "| 8 | 2 vCPU / 8 GiB | 2 | 2 x g4dn.4xlarge | 2.41 | 2.29x |" in done.stdout


def test_a_whole_gpu_pod_without_a_pool_selector_stays_off_shared_nodes(
    harness: Upstream,
) -> None:
    """The pod most clusters already run: one whole GPU, the generic nvidia.com/gpu
    toleration, no pool selector. Karpenter tries NodePools by weight, then name; the shared
    pool's isolation taint is what keeps it off the time-sliced nodes."""
    whole = GpuPool("whole", sharing=NoSharing(), gpu_names=["t4"], gpu_limit=100)
    # Equal weights go by name, descending: the shared pool is tried first.
    tried_first = dataclasses.replace(L4, name="xl4")
    trainer = deployment("trainer", 2)
    trainer["spec"]["template"]["spec"]["tolerations"] = [GPU_TOLERATION]
    for shared in (tried_first, dataclasses.replace(tried_first, isolated=False)):
        result = run(harness, [shared, whole], manifests(trainer))
        where = outcome(result, "Deployment ml/trainer").placed
        assert where == ({"whole": 2} if shared.isolated else {"xl4": 2}), where
