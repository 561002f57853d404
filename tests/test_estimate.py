"""`eks-gpu-sharing estimate` (estimate/): the packing rules, the costs (Karpenter's scheduler
and the arithmetic agree), the reports, and measured input read from a real Prometheus."""

from __future__ import annotations

import dataclasses
import json
import math
import os
import subprocess
import sys
import xml.etree.ElementTree as ElementTree
from collections.abc import Iterator
from pathlib import Path

import pytest

from eks_gpu_sharing.catalog import load_catalog
from eks_gpu_sharing.config import load_yaml, parse_config
from eks_gpu_sharing.errors import ConfigurationError
from eks_gpu_sharing.estimate import (
    Workload,
    chart_svg,
    config_yaml,
    estimate,
    estimate_costs,
    format_json,
    format_markdown,
    format_text,
    measure,
    recommend,
)
from eks_gpu_sharing.estimate.measured import gpu_name, workload_name
from eks_gpu_sharing.estimate.plan import HOURS_PER_MONTH, karpenter_simulator
from eks_gpu_sharing.estimate.workloads import parse_workloads
from eks_gpu_sharing.render import synth
from eks_gpu_sharing.sharing import Mps, NoSharing, SharingMode, TimeSlicing
from eks_gpu_sharing.upstream import Upstream
from tests.prometheus_server import RunningPrometheus, SyntheticPod, start_prometheus

ROOT = Path(__file__).resolve().parents[1]
#: Prices from the catalog, not typed in: the figures move with the table.
G6_XLARGE = load_catalog().get("g6.xlarge")
G4DN_XLARGE = load_catalog().get("g4dn.xlarge")
assert G6_XLARGE and G4DN_XLARGE
L4_USABLE_GIB = 22888 / 1024 * 0.9  # EC2's L4 memory, 10% kept free

WORKLOADS = (
    Workload("chat-api", 6, 5, 0.15, latency_sensitive=True),
    Workload("batch", 10, 3, 0.05),
    Workload("embed", 4, 2, 0.10, gpu="t4"),
    Workload("big", 2, 20, 0.60),
)


# -- the packing rules ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("workload", "mode", "share", "bound"),
    [
        # floor(20.1 / (3 + 0.5)) = 5 by memory; floor(0.7 / 0.05) = 14 by compute.
        (Workload("a", 1, 3, 0.05), TimeSlicing, 5, "memory-bound"),
        # floor(20.1 / 1.5) = 13 by memory; floor(0.7 / 0.3) = 2 by compute.
        (Workload("a", 1, 1, 0.30), TimeSlicing, 2, "compute-bound"),
        # 40 by memory, 70 by compute: capped at 8 (one GPU fault stops them all).
        (Workload("a", 1, 0.001, 0.01), TimeSlicing, 8, "capped"),
        # 0 by memory: 20 GiB + a context does not fit twice.
        (Workload("a", 1, 20, 0.1), NoSharing, 1, "memory-bound"),
        # 5 by memory, 1 by compute.
        (Workload("a", 1, 3, 0.6), NoSharing, 1, "compute-bound"),
        # Latency-sensitive: MPS, never time-slicing.
        (Workload("a", 1, 5, 0.15, latency_sensitive=True), Mps, 3, "memory-bound"),
    ],
)
def test_packing_rules(workload: Workload, mode: type[SharingMode], share: int, bound: str) -> None:
    rec = recommend(workload)
    assert (rec.mode, rec.share) == (mode, share)
    assert rec.reason.startswith(bound), rec.reason
    assert rec.memory_factor == max(0, math.floor(L4_USABLE_GIB / (workload.gpu_memory_gib + 0.5)))


def test_risks_name_the_blast_radius() -> None:
    shared = recommend(Workload("a", 1, 3, 0.05))
    assert any("stops 5 pods" in r for r in shared.risks)
    assert any("no memory isolation" in r for r in shared.risks)
    mps = recommend(Workload("a", 1, 5, 0.15, latency_sensitive=True))
    assert any("experimental" in r for r in mps.risks)
    assert recommend(Workload("a", 1, 20, 0.1)).risks == ()


def test_max_share_lowers_the_cap() -> None:
    assert recommend(Workload("a", 1, 0.001, 0.01), max_share=4).share == 4


# -- declared input ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("item", "field", "fragment"),
    [
        ({"busy": 15}, "workloads[0].busy", "divide a percentage by 100"),
        ({"gpu": "k9000"}, "workloads[0].gpu", "use one of"),
        ({"gpuMemoryGib": 30}, "workloads[0].gpuMemoryGib", "22.4 GiB"),
        ({"replicas": 0}, "workloads[0].replicas", "1..10000"),
        ({"name": "Chat_API"}, "workloads[0].name", "DNS label"),
        ({"bussy": 0.1}, "workloads[0].bussy", "did you mean busy"),
    ],
)
def test_bad_workloads_name_the_key(item: dict[str, object], field: str, fragment: str) -> None:
    base = {"name": "chat", "replicas": 2, "gpuMemoryGib": 4, "busy": 0.1}
    with pytest.raises(ConfigurationError) as info:
        parse_workloads({"workloads": [{**base, **item}]})
    problems = {p.field: p for p in info.value.problems}
    assert field in problems, problems
    assert fragment in f"{problems[field].rule} {problems[field].fix}"


def test_python_errors_use_python_names() -> None:
    with pytest.raises(ConfigurationError) as info:
        Workload("chat", 2, 4, 15)
    assert info.value.field == "Workload('chat').busy"


def test_duplicate_names_are_an_error() -> None:
    item = {"name": "chat", "replicas": 2, "gpuMemoryGib": 4, "busy": 0.1}
    with pytest.raises(ConfigurationError, match="two workloads have this name"):
        parse_workloads({"workloads": [item, item]})


# -- costs ------------------------------------------------------------------------------------


def test_arithmetic_costs() -> None:
    result = estimate(WORKLOADS, use_simulator=False)
    assert result.method.startswith("arithmetic")
    pools = {p.pool.name: p for p in result.pools}
    assert set(pools) == {"l4-mps3", "l4-ts5", "l4-whole", "t4-ts5"}
    batch = pools["l4-ts5"]
    assert (batch.today.nodes, batch.shared.nodes) == (10, 2)
    assert batch.shared.per_month == pytest.approx(2 * G6_XLARGE.on_demand_price_per_hour * 730)
    assert pools["t4-ts5"].shared.instance_types == ("g4dn.xlarge",)
    today = (
        6 + 10 + 2
    ) * G6_XLARGE.on_demand_price_per_hour + 4 * G4DN_XLARGE.on_demand_price_per_hour
    shared = (2 + 2 + 2) * G6_XLARGE.on_demand_price_per_hour + G4DN_XLARGE.on_demand_price_per_hour
    assert result.today.per_month == pytest.approx(today * HOURS_PER_MONTH)
    assert result.saving == pytest.approx(1 - shared / today)


def test_karpenters_scheduler_agrees_with_the_arithmetic(harness: Upstream) -> None:
    """On one-GPU types the physical minimum is the arithmetic's: Karpenter's scheduler must
    launch exactly that many nodes, of the same types, today and shared."""
    recommendations = [recommend(w) for w in WORKLOADS]
    simulated = estimate_costs(recommendations, simulator=karpenter_simulator(), method="karpenter")
    counted = estimate_costs(recommendations)
    for ours, theirs in zip(simulated.pools, counted.pools, strict=True):
        assert (ours.today.nodes, ours.shared.nodes) == (theirs.today.nodes, theirs.shared.nodes)
        assert ours.shared.instance_types == theirs.shared.instance_types
        assert ours.shared.price_per_hour == pytest.approx(theirs.shared.price_per_hour)
        assert ours.shared.unplaced_pods == ours.today.unplaced_pods == 0


def test_the_generated_config_loads_and_synthesizes(tmp_path: Path) -> None:
    result = estimate(WORKLOADS, use_simulator=False, spot=True)
    text = config_yaml(result, cluster_name="prod")
    config = parse_config(load_yaml(text))
    assert config.pools == tuple(p.pool for p in result.pools)
    assert all(p.capacity_types[0].value == "spot" for p in config.pools)
    # The limit leaves room for a rolling update: 2 GPUs needed -> 3.
    assert {p.name: p.gpu_limit for p in config.pools}["l4-ts5"] == 3
    written = synth(config, tmp_path / "manifests").written
    assert any(path.name.endswith("pool-l4-ts5.k8s.yaml") for path in written)


# -- reports ----------------------------------------------------------------------------------


def test_reports_carry_the_same_figures() -> None:
    result = estimate(WORKLOADS, use_simulator=False)
    data = json.loads(format_json(result))
    assert data["today"]["pricePerMonth"] == pytest.approx(result.today.per_month, abs=0.01)
    assert [w["mode"] for w in data["workloads"]] == [
        "mps",
        "time-slicing",
        "time-slicing",
        "whole GPU",
    ]
    total = f"{result.today.per_month:,.0f}"
    assert total in format_text(result) and total in format_markdown(result)
    # Every profile code of the tables is spelled out once, from the recommendation itself.
    legend = next(line for line in format_text(result).splitlines() if line.startswith("Profiles:"))
    for rec in result.recommendations:
        assert rec.profile + " = " in legend
    assert "MPS, 3 pods per GPU" in legend and "whole = whole GPUs, one pod each" in legend
    assert format_markdown(result).count("\n| l4-") == 3


def test_the_chart_draws_each_pool_to_scale() -> None:
    result = estimate(WORKLOADS, use_simulator=False)
    svg = ElementTree.fromstring(chart_svg(result))
    bars = [e for e in svg.iter("{http://www.w3.org/2000/svg}rect")]
    assert len(bars) == 2 * len(result.pools)
    tallest = max(float(b.get("height", 0)) for b in bars)
    top = max(p.today.per_month for p in result.pools)
    for bar in bars:
        value = float(bar.get("data-value", "nan"))
        assert float(bar.get("height", 0)) == pytest.approx(tallest * value / top, abs=0.01)


# -- measured input: a real Prometheus --------------------------------------------------------

PODS = (
    SyntheticPod(
        "prod", "chat-api-7d9f8b6c5d-x2x9q", "NVIDIA L4", (3000, 5000), (0.05, 0.25), (0, 40)
    ),
    SyntheticPod(
        "prod", "chat-api-7d9f8b6c5d-k8s7p", "NVIDIA L4", (2000, 4000), (0.0, 0.10), (0, 20)
    ),
    # Gone before the window ended (a rollout): counts for usage, not for replicas.
    SyntheticPod(
        "prod",
        "chat-api-6c8b9d7f4e-old01",
        "NVIDIA L4",
        (1000, 2000),
        (0.0, 0.05),
        (0, 9),
        alive_at_end=False,
    ),
    # No profiling metrics on these (DCGM's profiling module off): utilisation instead.
    SyntheticPod("jobs", "batch-worker-0", "Tesla T4", (1000, 3000), None, (0, 20)),
    SyntheticPod("jobs", "batch-worker-1", "Tesla T4", (500, 1500), None, (0, 10)),
    # A model the catalog does not have: left out and said so, not fatal to the others.
    SyntheticPod("lab", "trial-0", "NVIDIA H20", (1000, 2000), None, (0, 10)),
)


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningPrometheus]:
    yield from start_prometheus(PODS, tmp_path_factory.mktemp("prometheus"))


def test_measured_workloads_are_the_peak_memory_and_p95_busy_of_their_pods(
    prometheus: RunningPrometheus,
) -> None:
    measured = measure(prometheus.url, at=prometheus.end, latency_sensitive=["chat-api"])
    by_name = {w.name: w for w in measured.workloads}
    assert set(by_name) == {"chat-api", "batch-worker"}
    chat, batch = by_name["chat-api"], by_name["batch-worker"]
    assert chat.replicas == 2 and chat.gpu == "l4" and chat.latency_sensitive
    # GPU memory is a hard limit: the peak (5000 MiB), with the p95 kept beside it.
    assert chat.gpu_memory_gib == pytest.approx(5000 / 1024, rel=1e-4)
    chat_peak = max(p.memory_mib for p in measured.pods if p.pod.startswith("chat"))
    chat_p95 = max(p.memory_p95_mib for p in measured.pods if p.pod.startswith("chat"))
    assert (chat_peak, chat_p95) == pytest.approx((5000, SyntheticPod.p95((3000, 5000))), rel=1e-4)
    assert chat.busy == pytest.approx(SyntheticPod.p95((0.05, 0.25)), rel=1e-4)
    assert batch.replicas == 2 and batch.gpu == "t4" and not batch.latency_sensitive
    assert batch.busy == pytest.approx(SyntheticPod.p95((0, 20)) / 100, rel=1e-4)
    assert {p.busy_metric for p in measured.pods if p.namespace == "jobs"} == {
        "DCGM_FI_DEV_GPU_UTIL"
    }
    assert measured.skipped == {"NVIDIA H20": 1}
    assert all(p.namespace != "lab" for p in measured.pods)
    # 4.64 GiB + 0.5 -> 3 per L4 by memory; 24% busy -> 2 by compute; latency -> MPS.
    assert (recommend(chat).mode, recommend(chat).share) == (Mps, 2)


def test_the_cli_estimates_from_prometheus(prometheus: RunningPrometheus, tmp_path: Path) -> None:
    config = tmp_path / "gpu-sharing.yaml"
    done = _cli(
        "estimate",
        "--prometheus",
        prometheus.url,
        "--at",
        str(prometheus.end),
        "--format",
        "json",
        "--arithmetic",
        "--write-config",
        str(config),
    )
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert {w["name"]: w["replicas"] for w in data["workloads"]} == {
        "batch-worker": 2,
        "chat-api": 2,
    }
    assert parse_config(load_yaml(config.read_text())).pools


def test_a_window_without_data_is_an_error(prometheus: RunningPrometheus) -> None:
    with pytest.raises(ConfigurationError, match="holds no DCGM_FI_DEV_FB_USED"):
        measure(prometheus.url, at=prometheus.end - 30 * 86400, window="1d")


# -- series as dcgm-exporter 4.5.3-4.8.2 writes them in each mode ------------------------------
# KUBERNETES_VIRTUAL_GPUS=true on a shared GPU (internal/pkg/transformation/kubernetes.go
# 222-246, 360-397): FB_USED and GPU_UTIL per pod from its own processes, with pod_uid and vgpu,
# beside the GPU's own series without pod labels; GR_ENGINE_ACTIVE is the GPU's, repeated on
# each pod's series with vgpu. Two pods of one Deployment share GPU 0, a third pod of another
# shares it too.
_UID = "0f3c2b1e-1111-2222-3333-444455556666"
SHARED = (
    SyntheticPod(
        "prod",
        "ranker-6d9f8b6c5d-aaaaa",
        "NVIDIA L4",
        (2000, 4000),
        (0.5, 0.7),
        (5, 15),
        gpu=0,
        extra_labels=f'pod_uid="{_UID}",vgpu="0"',
    ),
    SyntheticPod(
        "prod",
        "ranker-6d9f8b6c5d-bbbbb",
        "NVIDIA L4",
        (1000, 3000),
        (0.5, 0.7),
        (10, 20),
        gpu=0,
        extra_labels=f'pod_uid="{_UID[:-1]}7",vgpu="1"',
    ),
)
# The GPU's own series (no pod label): the sum of its processes, and the device utilisation.
SHARED_DEVICE = (
    (
        "DCGM_FI_DEV_FB_USED",
        'gpu="0",UUID="GPU-00000000",modelName="NVIDIA L4",Hostname="node-0"',
        7000,
    ),
    (
        "DCGM_FI_DEV_GPU_UTIL",
        'gpu="0",UUID="GPU-00000000",modelName="NVIDIA L4",Hostname="node-0"',
        35,
    ),
)


def test_on_a_shared_gpu_each_pod_is_measured_by_its_own_processes(tmp_path: Path) -> None:
    for running in start_prometheus(SHARED, tmp_path, constant=SHARED_DEVICE):
        measured = measure(running.url, at=running.end)
        (ranker,) = measured.workloads
        # The pod's own memory, never the GPU's 7000 MiB total.
        assert ranker.gpu_memory_gib == pytest.approx(4000 / 1024, rel=1e-4)
        # Busy from the pod's own utilisation (20% at most), not the GPU's engine time (70%).
        assert ranker.busy == pytest.approx(SyntheticPod.p95((10, 20)) / 100, rel=1e-4)
        assert {p.busy_metric for p in measured.pods} == {"DCGM_FI_DEV_GPU_UTIL"}
        # Two pods on one GPU today: today's bill is one GPU, not two.
        assert ranker.gpus_today == 1
        assert recommend(ranker).pods_today == 1


def test_multi_gpu_pods_and_mig_slices_are_counted_as_what_they_hold(tmp_path: Path) -> None:
    """A pod with series on two GPU UUIDs holds two GPUs (and keeps them); a pod on a MIG slice
    (GPU_I_PROFILE, as the exporter labels MIG instances) is already partitioned: left out and
    counted, never priced as a whole A100."""
    pods = (
        SyntheticPod("ml", "trainer-0", "NVIDIA L4", (9000, 12000), None, (40, 60), gpu=3),
        SyntheticPod("ml", "trainer-0", "NVIDIA L4", (9000, 12000), None, (40, 60), gpu=4),
        SyntheticPod(
            "ml",
            "tiny-0",
            "NVIDIA A100-SXM4-80GB",
            (1000, 2000),
            None,
            (1, 5),
            gpu=5,
            extra_labels='GPU_I_PROFILE="1g.10gb",GPU_I_ID="7"',
        ),
    )
    for running in start_prometheus(pods, tmp_path):
        measured = measure(running.url, at=running.end)
        (trainer,) = measured.workloads
        assert (trainer.name, trainer.replicas, trainer.gpus_today) == ("trainer", 1, 2)
        rec = recommend(trainer)
        assert rec.mode is NoSharing and (rec.pods_today, rec.gpus) == (2, 2)
        assert "hold 2 GPUs" in rec.reason
        assert measured.mig == {"1g.10gb": 1}


def test_pods_the_exporter_could_not_map_are_refused_not_sized_on_zero(tmp_path: Path) -> None:
    """Without the host's PIDs or the pod informer, every sharing pod reads 0 (buildIdlePodValues,
    kubernetes.go 271-279) while the GPU's own series carries the real total."""
    unmapped = tuple(
        dataclasses.replace(pod, memory_mib=(0, 0), gpu_util=(0, 0), engine_active=None)
        for pod in SHARED
    )
    for running in start_prometheus(unmapped, tmp_path, constant=SHARED_DEVICE):
        with pytest.raises(ConfigurationError) as raised:
            measure(running.url, at=running.end)
        text = str(raised.value)
        assert "7,000 MiB" in text and "hostPID: true" in text and "enablePodUID" in text


def test_series_scraped_without_honor_labels_are_read_by_their_exported_labels(
    tmp_path: Path,
) -> None:
    """A ServiceMonitor without honorLabels: Prometheus keeps the exporter pod's own name in
    `pod` (a target label) and renames the exporter's to exported_pod / exported_namespace."""
    scraped = tuple(
        dataclasses.replace(
            pod,
            pod_label="exported_pod",
            namespace_label="exported_namespace",
            extra_labels=pod.extra_labels + ',pod="dcgm-exporter-x7k2p",namespace="gpu-monitoring"',
        )
        for pod in SHARED
    )
    for running in start_prometheus(scraped, tmp_path, constant=SHARED_DEVICE):
        measured = measure(running.url, at=running.end)
        assert [w.name for w in measured.workloads] == ["ranker"]
        assert {p.namespace for p in measured.pods} == {"prod"}


def test_pods_are_grouped_by_their_owner_where_kube_state_metrics_is_scraped(
    tmp_path: Path,
) -> None:
    """Two Deployments whose pods share a name prefix (whisper-large and whisper-small both run
    pods named asr-<hash>-<id>): the suffix rule merges them, kube_pod_owner does not."""
    pods = (
        SyntheticPod("ml", "asr-7d9f8b6c5d-aaaaa", "NVIDIA L4", (2000, 8000), None, (10, 20)),
        SyntheticPod("ml", "asr-5c6d7e8f9a-bbbbb", "NVIDIA L4", (500, 1000), None, (1, 2)),
    )
    owners = (
        (
            "kube_pod_owner",
            'namespace="ml",pod="asr-7d9f8b6c5d-aaaaa",owner_kind="ReplicaSet",'
            'owner_name="asr-7d9f8b6c5d",owner_is_controller="true"',
            1,
        ),
        (
            "kube_pod_owner",
            'namespace="ml",pod="asr-5c6d7e8f9a-bbbbb",owner_kind="ReplicaSet",'
            'owner_name="asr-5c6d7e8f9a",owner_is_controller="true"',
            1,
        ),
        (
            "kube_replicaset_owner",
            'namespace="ml",replicaset="asr-7d9f8b6c5d",owner_kind="Deployment",'
            'owner_name="whisper-large",owner_is_controller="true"',
            1,
        ),
        (
            "kube_replicaset_owner",
            'namespace="ml",replicaset="asr-5c6d7e8f9a",owner_kind="Deployment",'
            'owner_name="whisper-small",owner_is_controller="true"',
            1,
        ),
    )
    requests = (
        (
            "kube_pod_container_resource_requests",
            f'namespace="ml",pod="asr-7d9f8b6c5d-aaaaa",container="{container}",'
            f'resource="{resource}",unit="{unit}",node="n1"',
            amount,
        )
        for container, resource, unit, amount in (
            ("server", "cpu", "core", 1.5),
            ("sidecar", "cpu", "core", 0.25),
            ("server", "memory", "byte", 6 * 2**30),
        )
    )
    for running in start_prometheus(pods, tmp_path / "ksm", constant=(*owners, *requests)):
        measured = measure(running.url, at=running.end)
        by_name = {w.name: w for w in measured.workloads}
        assert set(by_name) == {"whisper-large", "whisper-small"}
        assert by_name["whisper-large"].gpu_memory_gib == pytest.approx(8000 / 1024)
        assert measured.grouping.startswith("by owner")
        # Its pod's requests, summed over containers (kube-state-metrics); none for the other.
        assert by_name["whisper-large"].host_requests == {"cpu": "1750m", "memory": "6144Mi"}
        assert by_name["whisper-small"].host_requests == {}
    for running in start_prometheus(pods, tmp_path / "no-ksm"):
        measured = measure(running.url, at=running.end)
        assert [w.name for w in measured.workloads] == ["asr"]
        assert measured.grouping.startswith("by pod name")


def test_an_unreachable_prometheus_is_exit_2(tmp_path: Path) -> None:
    done = _cli("estimate", "--prometheus", "http://127.0.0.1:9", "--arithmetic")
    assert done.returncode == 2
    assert "--prometheus" in done.stderr and "cannot be reached" in done.stderr


def test_existing_outputs_are_never_replaced(tmp_path: Path) -> None:
    workloads = tmp_path / "workloads.yaml"
    workloads.write_text("workloads:\n  - {name: a, replicas: 4, gpuMemoryGib: 2, busy: 0.1}\n")
    chart = tmp_path / "chart.svg"
    chart.write_text("mine")
    config = tmp_path / "new.yaml"
    done = _cli(
        "estimate",
        "--workloads",
        str(workloads),
        "--arithmetic",
        "--write-config",
        str(config),
        "--chart",
        str(chart),
    )
    assert done.returncode == 2 and "--chart" in done.stderr
    assert chart.read_text() == "mine" and not config.exists()  # nothing half-written
    assert sorted(p.name for p in tmp_path.iterdir()) == ["chart.svg", "workloads.yaml"]


def test_pod_names_and_gpu_models() -> None:
    assert workload_name("chat-api-7d9f8b6c5d-x2x9q") == "chat-api"
    assert workload_name("batch-worker-12") == "batch-worker"
    assert workload_name("nightly-job-abcde") == "nightly-job"
    assert gpu_name("NVIDIA A100-SXM4-40GB") == "a100"
    assert gpu_name("NVIDIA H100 80GB HBM3") == "h100"
    assert gpu_name("Tesla T4") == "t4"
    assert gpu_name("Quadro RTX 8000") is None


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "eks_gpu_sharing.cli", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_the_guides_figures_are_current(harness: Upstream) -> None:
    """The guide's summary quotes examples/workloads.yaml's estimate, counted by Karpenter's
    scheduler with the workloads' CPU and memory, and shows its chart."""
    from eks_gpu_sharing.estimate import read_workloads

    result = estimate(read_workloads(ROOT / "examples" / "workloads.yaml"))
    assert result.method.startswith("Karpenter")
    assert result.sample_pod_saving is not None
    # The decision page, with its line breaks and table cells read as spaces.
    guide = " ".join((ROOT / "docs" / "gpu-sharing-on-eks.md").read_text().split())
    assert f"the example would read {result.sample_pod_saving:.0%}" in guide
    chart = ROOT / "docs" / "measurements" / "estimate-example.svg"
    assert chart.read_text() == chart_svg(result), "regenerate: see the guide's summary"
    today, shared = result.today, result.shared
    quoted = (
        f"${today.per_month:,.0f} -> ${shared.per_month:,.0f} a month "
        f"({result.saving:.0%} less, {today.nodes} -> {shared.nodes} nodes)"
    )
    assert quoted in guide


def test_host_requests_decide_the_node_and_the_saving(harness: Upstream) -> None:
    """2 vCPU / 8 GiB pods on l4 at five per GPU: a g6.xlarge (4 vCPU) holds one, a g6.2xlarge
    (8 vCPU) three, a g6.4xlarge ($1.3232/h, 16 vCPU) all five, so ten pods need two g6.4xlarge
    (hand arithmetic), where the sample pod's 250m fit five per g6.xlarge ($0.8048/h)."""
    declared = Workload("svc", replicas=10, gpu_memory_gib=3, busy=0.05, cpu="2", memory="8Gi")
    sample = dataclasses.replace(declared, cpu=None, memory=None)
    with_requests = estimate([declared])
    without = estimate([sample])
    (pool,) = with_requests.pools
    assert (pool.share, pool.shared.nodes, pool.shared.instance_types) == (5, 2, ("g6.4xlarge",))
    assert pool.shared.price_per_hour == pytest.approx(2 * 1.3232)
    (plain,) = without.pools
    assert (plain.shared.nodes, plain.shared.instance_types) == (2, ("g6.xlarge",))
    assert with_requests.saving < without.saving
    assert with_requests.sample_pod_saving == pytest.approx(without.saving)
    assert without.sample_pod_saving is None
    assert "with the sample pod's everywhere the saving would read" in format_text(with_requests)
    # The arithmetic cannot count them, and says so.
    assert "cpu and memory are not counted" in estimate([declared], use_simulator=False).method


@pytest.mark.parametrize("value", ["two", "-1", "0", "8GB", "1.5 cores"])
def test_a_bad_host_request_names_the_field(value: object) -> None:
    with pytest.raises(ConfigurationError) as raised:
        parse_workloads(
            {
                "workloads": [
                    {"name": "a", "replicas": 1, "gpuMemoryGib": 1, "busy": 0.1, "cpu": value}
                ]
            }
        )
    assert "workloads[0].cpu" in str(raised.value) and "Kubernetes quantity" in str(raised.value)


def test_a_whole_number_of_cpus_is_quoted_in_yaml_and_a_quantity_in_python() -> None:
    with pytest.raises(ConfigurationError, match='quote it: cpu: "2"'):
        parse_workloads(
            {"workloads": [{"name": "a", "replicas": 1, "gpuMemoryGib": 1, "busy": 0.1, "cpu": 2}]}
        )
    workload = Workload("a", 1, 1, 0.1, cpu=2, memory="4Gi")  # type: ignore[arg-type]
    assert workload.cpu == "2" and workload.host_requests == {"cpu": "2", "memory": "4Gi"}


def test_an_a100_is_sized_for_its_memory_and_its_pool_admits_only_that_size(
    harness: Upstream,
) -> None:
    """The a100 comes as 40 GiB (p4d) and 80 GiB (p4de). A 30 GiB workload: 2 per 80 GiB GPU,
    1 per 40 GiB; each pool admits only its size, so Karpenter cannot launch the cheaper p4d
    for pods sized on 80 GiB."""
    large = Workload("big", replicas=4, gpu_memory_gib=30, busy=0.1, gpu="a100")
    small = dataclasses.replace(large, name="small", gpu_size_gib=40)
    assert (recommend(large).share, recommend(small).share) == (2, 1)
    result = estimate([large, small])
    pools = {p.pool.name: p for p in result.pools}
    assert set(pools) == {"a100-80g-ts2", "a100-40g-whole"}
    assert list(pools["a100-80g-ts2"].pool.instance_families) == ["p4de"]
    assert pools["a100-80g-ts2"].shared.instance_types == ("p4de.24xlarge",)
    assert pools["a100-40g-whole"].shared.instance_types == ("p4d.24xlarge",)
    with pytest.raises(ConfigurationError, match=r"gpu_size_gib.*40 GiB or 80 GiB"):
        dataclasses.replace(large, gpu_size_gib=48)


def test_a_measured_gpu_names_its_size() -> None:
    from eks_gpu_sharing.estimate.measured import gpu_size

    assert gpu_size("NVIDIA A100-SXM4-40GB", "a100") == 40
    assert gpu_size("NVIDIA A100 80GB PCIe", "a100") == 80
    assert gpu_size("NVIDIA A100-SXM4", "a100") is None  # the largest, as declared
    assert gpu_size("NVIDIA L4", "l4") is None  # one size only


def test_the_report_says_why_the_scheduler_did_not_run() -> None:
    assert "asked for: --arithmetic" in estimate(WORKLOADS, use_simulator=False).method


@pytest.mark.parametrize("seed", ["0", "1", "2", "3"])
def test_the_memory_rule_does_not_depend_on_the_hash_seed(seed: str) -> None:
    """a100 comes in 40 and 80 GB: 60 GiB fits the larger, with any PYTHONHASHSEED."""
    code = (
        "from eks_gpu_sharing.estimate.workloads import Workload\n"
        "Workload('w', replicas=1, gpu_memory_gib=60, busy=0.5, gpu='a100')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        env={**os.environ, "PYTHONHASHSEED": seed},
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr


def test_a_gpu_without_a_price_in_the_region_is_refused(tmp_path: Path) -> None:
    """g7's rtx-pro-4500 is priced in us-east-1 but not in us-gov-west-1 (Karpenter v1.15.2's
    static tables): a clear error naming the region, not "$0/month today -> $0/month"."""
    workloads = tmp_path / "workloads.yaml"
    workloads.write_text(
        "workloads:\n  - {name: a, replicas: 4, gpuMemoryGib: 2, busy: 0.1, gpu: rtx-pro-4500}\n"
    )
    done = _cli("estimate", "--workloads", str(workloads), "--region", "us-gov-west-1")
    assert done.returncode == 2, done.stderr
    assert "--region='us-gov-west-1'" in done.stderr and "none of the 4 pods" in done.stderr
    assert "$0/month" not in done.stdout
    priced = _cli("estimate", "--workloads", str(workloads), "--arithmetic")
    assert priced.returncode == 0, priced.stderr


def test_a_deployment_on_two_gpu_models_is_one_workload_per_model() -> None:
    """It failed with "rename one" (two workloads of one name)."""
    from eks_gpu_sharing.estimate.measured import PodMeasurement, _workloads

    pods = [
        PodMeasurement("prod", "chat-api-7d9f8b6c5d-x2x9q", "l4", 4096, 0.2, "m"),
        PodMeasurement("prod", "chat-api-7d9f8b6c5d-k8s7p", "t4", 2048, 0.1, "m"),
        PodMeasurement("jobs", "chat-api-5f4d3c2b1a-aaaaa", "l4", 1024, 0.1, "m"),
    ]
    workloads = _workloads(pods, set(), set(), {})
    assert sorted((w.name, w.gpu, w.replicas) for w in workloads) == [
        ("jobs-chat-api", "l4", 1),
        ("prod-chat-api-l4", "l4", 1),
        ("prod-chat-api-t4", "t4", 1),
    ]


def test_a_discount_lowers_both_sides_and_is_in_the_headline() -> None:
    plain = estimate(WORKLOADS, use_simulator=False)
    discounted = estimate(WORKLOADS, use_simulator=False, discount=0.28)
    assert discounted.today.per_month == pytest.approx(plain.today.per_month * 0.72)
    assert discounted.shared.per_month == pytest.approx(plain.shared.per_month * 0.72)
    assert discounted.saving == pytest.approx(plain.saving)
    text = format_text(discounted)
    assert "less 28% (Savings Plans or Reserved Instances" in text
    assert f"${discounted.today.per_month:,.0f}/month today" in text.splitlines()[0]
    assert "on-demand less 28%)" in text.splitlines()[0]
    with pytest.raises(ConfigurationError, match="discount"):
        estimate(WORKLOADS, use_simulator=False, discount=1.0)


@pytest.mark.parametrize("given", ["100", "-5", "lots", "nan"])
def test_a_bad_discount_is_refused_before_anything_runs(given: str) -> None:
    done = _cli("estimate", "--workloads", "examples/workloads.yaml", "--discount", given)
    assert done.returncode == 2
    assert "--discount" in done.stderr and "0 to below 100" in done.stderr


def test_a_region_prices_with_karpenters_own_table_or_is_refused(harness: Upstream) -> None:
    """Karpenter v1.14.1 carries static on-demand prices for us-east-1, us-gov-east-1,
    us-gov-west-1 and cn-north-1 (pkg/providers/pricing/zz_generated.pricing_aws*.go) and falls
    back to us-east-1's elsewhere (pricing.go Reset): a figure for eu-west-1 would be us-east-1's
    under another name, so it is refused."""
    workloads = [Workload("svc", replicas=8, gpu_memory_gib=2, busy=0.05, gpu="t4")]
    east = estimate(workloads)
    gov = estimate(workloads, region="us-gov-west-1")
    assert gov.today.per_month > east.today.per_month
    assert gov.prices.startswith("on-demand us-gov-west-1, Karpenter's static price table")
    with pytest.raises(ConfigurationError, match="falls back to us-east-1"):
        estimate(workloads, region="eu-west-1")
    with pytest.raises(ConfigurationError, match="--arithmetic knows"):
        estimate(workloads, region="us-gov-west-1", use_simulator=False)
    done = _cli("estimate", "--workloads", "examples/workloads.yaml", "--region", "Mars")
    assert done.returncode == 2 and "--region" in done.stderr


def test_a_latency_sensitive_workload_is_sized_on_sm_activity_where_collected(
    tmp_path: Path,
) -> None:
    """MPS runs kernels side by side: the share of SMs a pod keeps busy (SM_ACTIVE), not the
    share of time the engine is busy (GR_ENGINE_ACTIVE), is what it takes from its neighbours."""
    pods = (
        SyntheticPod(
            "prod", "chat-7d9f8b6c5d-aaaaa", "NVIDIA L4", (2000, 3000), (0.5, 0.7), (5, 9)
        ),
        SyntheticPod(
            "prod", "batch-7d9f8b6c5d-bbbbb", "NVIDIA L4", (2000, 3000), (0.5, 0.7), (5, 9)
        ),
    )
    labels = 'gpu="{gpu}",UUID="GPU-0000000{gpu}",modelName="NVIDIA L4",Hostname="node-{gpu}",'
    sm = tuple(
        (
            "DCGM_FI_PROF_SM_ACTIVE",
            labels.format(gpu=gpu) + f'namespace="prod",pod="{pod.pod}",container="main"',
            0.2,
        )
        for gpu, pod in enumerate(pods)
    )
    for running in start_prometheus(pods, tmp_path, constant=sm):
        measured = measure(running.url, at=running.end, latency_sensitive=["chat"])
        by_name = {w.name: w for w in measured.workloads}
        assert by_name["chat"].busy == pytest.approx(0.2)
        assert by_name["batch"].busy == pytest.approx(SyntheticPod.p95((0.5, 0.7)), rel=1e-4)
