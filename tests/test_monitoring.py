"""Opt-in monitoring (monitoring/): DCGM exporter values on exactly the AL2023 pools, a scrape
configuration whose relabelling a real Prometheus applies, and a Grafana dashboard built with
Grafana's SDK whose every query a real Prometheus answers."""

from __future__ import annotations

import json
import re
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import aws_cdk as cdk
import cdk8s
import pytest
import yaml
from grafana_foundation_sdk.models.dashboard import Dashboard

from eks_gpu_sharing import (
    AmiFamily,
    ExistingKarpenter,
    GpuPool,
    GpuSharing,
    Monitoring,
    Mps,
    TimeSlicing,
)
from eks_gpu_sharing.config import load_yaml, parse_config
from eks_gpu_sharing.errors import ConfigurationError
from eks_gpu_sharing.estimate import measured
from eks_gpu_sharing.monitoring import (
    PANELS,
    MonitoringChart,
    dcgm_exporter_values,
    gpu_sharing_dashboard,
    prometheus_scrape_config,
    queries,
    resolved,
)
from eks_gpu_sharing.monitoring.exporter import CHART_DEFAULT_METRICS
from eks_gpu_sharing.pool import Taint, TaintEffect
from eks_gpu_sharing.render import rendered_files
from eks_gpu_sharing.upstream import Upstream
from tests.cdk_helpers import (
    HELM_TYPE,
    MANIFEST_TYPE,
    imported_cluster,
    manifest_objects,
    resources_of,
)
from tests.prometheus_server import RunningPrometheus, SyntheticPod, start_prometheus
from tests.upstream_checks import admission_errors

POOLS = (
    GpuPool(
        "inference",
        gpu_names=["l4"],
        sharing=TimeSlicing(replicas=4),
        taints=[Taint("team", "ml", TaintEffect.NO_SCHEDULE)],
    ),
    GpuPool(
        "br", gpu_names=["l4"], sharing=TimeSlicing(replicas=2), ami_family=AmiFamily.BOTTLEROCKET
    ),
    GpuPool("whole", gpu_names=["t4"]),
)


def test_the_exporter_runs_on_the_al2023_pools_only() -> None:
    values = dcgm_exporter_values(POOLS, service_monitor=False)
    terms = values["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
    (expression,) = terms["nodeSelectorTerms"][0]["matchExpressions"]
    assert expression == {
        "key": "eks-gpu-sharing.io/pool",
        "operator": "In",
        "values": ["inference", "whole"],
    }
    assert {(t["key"], t["effect"]) for t in values["tolerations"]} == {
        ("nvidia.com/gpu", "NoSchedule"),
        ("eks-gpu-sharing.io/pool", "NoSchedule"),  # the shared pool's isolation taint
        ("team", "NoSchedule"),
    }
    assert {"name": "KUBERNETES_VIRTUAL_GPUS", "value": "true"} in values["extraEnv"]
    # The chart's default (true) fails without the Prometheus Operator's CRDs.
    assert values["serviceMonitor"]["enabled"] is False
    assert dcgm_exporter_values(POOLS, service_monitor=True)["serviceMonitor"]["enabled"] is True


def test_the_exporter_can_map_each_process_to_its_pod() -> None:
    """KUBERNETES_VIRTUAL_GPUS makes memory and utilisation per process, matched to pods through
    /proc/<pid>/cgroup and the pod informer's UIDs (dcgm-exporter 4.5.3-4.8.2 pidmapper.go,
    kubernetes.go 926-934): without the host's PIDs or the informer every pod reads 0."""
    values = dcgm_exporter_values(POOLS, service_monitor=False)
    assert values["hostPID"] is True
    # The chart mounts the token and creates the pod-reading RBAC only with this set.
    assert values["kubernetes"] == {"enablePodUID": True}
    # No pool renames its resource: nothing to add to the exporter's own names.
    assert "NVIDIA_RESOURCE_NAMES" not in {e["name"] for e in values["extraEnv"]}


def test_the_exporter_collects_every_field_the_dashboard_and_estimate_read() -> None:
    """customMetrics replaces the chart's list: it keeps the chart's fields and adds SM activity
    and the two throttling counters, which the chart leaves commented out."""
    csv = dcgm_exporter_values(POOLS, service_monitor=False)["customMetrics"]
    rows = [line.split(", ", 2) for line in csv.splitlines()]
    assert all(len(row) == 3 and row[1] in ("gauge", "counter") for row in rows), rows
    collected = [field for field, _, _ in rows]
    assert len(collected) == len(set(collected))
    read = {name for expr in queries() for name in re.findall(r"\bDCGM_FI_\w+", expr)}
    read |= {v for k, v in vars(measured).items() if k.endswith("_METRIC")}
    assert {"DCGM_FI_PROF_SM_ACTIVE", "DCGM_FI_DEV_POWER_VIOLATION"} <= read
    assert read <= set(collected), read - set(collected)
    assert collected[: len(CHART_DEFAULT_METRICS)] == [f for f, _, _ in CHART_DEFAULT_METRICS]


def test_renamed_slices_are_mapped_to_pods_too() -> None:
    renamed = GpuPool("renamed", sharing=TimeSlicing(replicas=4, rename_by_default=True))
    mps = GpuPool("mps", sharing=Mps(replicas=2))
    values = dcgm_exporter_values([*POOLS, renamed, mps], service_monitor=False)
    names = {e["name"]: e["value"] for e in values["extraEnv"]}
    # Comma-separated (the exporter's StringSliceFlag); only served pools' renamed resources.
    assert names["NVIDIA_RESOURCE_NAMES"] == "nvidia.com/gpu.shared"


def test_the_service_monitor_keeps_the_exporters_pod_label_and_is_selected() -> None:
    values = dcgm_exporter_values(
        POOLS, service_monitor=True, service_monitor_labels={"release": "prometheus"}
    )["serviceMonitor"]
    # Without honorLabels, Prometheus renames pod/namespace to exported_pod/exported_namespace.
    assert values["honorLabels"] is True
    assert values["additionalLabels"] == {"release": "prometheus"}
    assert Monitoring().service_monitor_labels == {"release": "kube-prometheus-stack"}
    with pytest.raises(ConfigurationError, match="service_monitor_labels"):
        Monitoring(service_monitor_labels={"bad key!": "x"})


def test_the_dashboard_can_go_where_grafanas_sidecar_looks(harness: Upstream) -> None:
    """Grafana's dashboard sidecar watches its own namespace by default."""
    chart = MonitoringChart(
        cdk8s.App(), "m", monitoring=Monitoring(dashboard_namespace="monitoring")
    )
    objects = chart.to_json()
    dashboard = next(o for o in objects if o["kind"] == "ConfigMap")
    assert dashboard["metadata"]["namespace"] == "monitoring"
    assert dashboard["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert admission_errors(harness, objects) == []
    default = MonitoringChart(cdk8s.App(), "d", monitoring=Monitoring()).to_json()
    assert next(o for o in default if o["kind"] == "ConfigMap")["metadata"]["namespace"] == (
        "gpu-monitoring"
    )
    with pytest.raises(ConfigurationError, match="dashboard_namespace"):
        Monitoring(dashboard_namespace="Not A Namespace")


def test_the_monitoring_objects_pass_the_api_server(harness: Upstream) -> None:
    chart = MonitoringChart(cdk8s.App(), "m", monitoring=Monitoring())
    objects = chart.to_json()
    assert admission_errors(harness, objects) == []
    namespace = next(o for o in objects if o["kind"] == "Namespace")
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "privileged"
    config_map = next(o for o in objects if o["kind"] == "ConfigMap")
    assert config_map["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert json.loads(config_map["data"]["gpu-sharing-dashboard.json"])["uid"] == "eks-gpu-sharing"


def test_the_config_file_turns_monitoring_on() -> None:
    text = """
clusterName: c1
karpenter: {nodeRoleName: KarpenterNodeRole-c1, nodeOverlayEnabled: true}
monitoring: {namespace: gpu-mon}
pools: [{name: inference, gpuNames: [l4], sharing: {mode: time-slicing, replicas: 4}}]
"""
    files = rendered_files(parse_config(load_yaml(text)))
    assert {
        "70-monitoring.k8s.yaml",
        "helm/dcgm-exporter-values.yaml",
        "monitoring/prometheus-scrape-config.yaml",
        "monitoring/gpu-sharing-dashboard.json",
    } <= set(files)
    assert b"--namespace gpu-mon" in files["helm/dcgm-exporter-values.yaml"]
    with pytest.raises(ConfigurationError) as info:
        parse_config(load_yaml(text.replace("gpu-mon", "GPU_mon")))
    assert info.value.field == "monitoring.namespace"
    assert "70-monitoring.k8s.yaml" not in rendered_files(
        parse_config(load_yaml(text.replace("monitoring: {namespace: gpu-mon}\n", "")))
    )


def test_cdk_installs_the_pinned_exporter_chart() -> None:
    _, stack, cluster = imported_cluster()
    sharing = GpuSharing(
        stack,
        "Gpu",
        cluster=cluster,
        pools=POOLS,
        karpenter=ExistingKarpenter(
            node_role_name="KarpenterNodeRole-x",
            discovery_tag_value="x",
            version="1.14.1",
            node_overlay_enabled=True,
        ),
        monitoring=Monitoring(service_monitor=True),
    )
    template = cdk.assertions.Template.from_stack(stack).to_json()
    charts = [
        r["Properties"]
        for r in resources_of(template, HELM_TYPE).values()
        if r["Properties"]["Chart"] == "dcgm-exporter"
    ]
    (chart,) = charts
    assert (chart["Version"], chart["Namespace"], chart["Repository"]) == (
        "4.8.2",
        "gpu-monitoring",
        "https://nvidia.github.io/dcgm-exporter/helm-charts",
    )
    assert json.loads(chart["Values"])["serviceMonitor"]["enabled"] is True
    assert sharing.monitoring_manifest is not None
    kinds = {
        o["kind"]
        for r in resources_of(template, MANIFEST_TYPE).values()
        for o in manifest_objects(r)
        if o["metadata"].get("name") in ("gpu-monitoring", "gpu-sharing-dashboard")
    }
    assert kinds == {"Namespace", "ConfigMap"}


def test_the_dashboard_loads_in_grafanas_model() -> None:
    document = gpu_sharing_dashboard()
    model = Dashboard.from_json(document)
    assert model.uid == "eks-gpu-sharing"
    # What the model reads back is what we wrote: no field lost or renamed.
    assert json.loads(json.dumps(model.to_json(), default=lambda o: o.to_json())) == document
    titles = [p["title"] for p in document["panels"]]
    assert titles[0] == "What DCGM can and cannot tell"
    assert len(queries()) == sum(len(p.get("targets", [])) for p in document["panels"])


# -- a real Prometheus: the dashboard's queries and the scrape config's relabelling ------------

NODE = "ip-10-0-1-2.ec2.internal"
_GPU0 = 'gpu="0",UUID="GPU-00000000",modelName="NVIDIA L4",Hostname="node-0"'
#: Series shaped as dcgm-exporter 4.5.3-4.8.2 writes them with KUBERNETES_VIRTUAL_GPUS=true for
#: two pods sharing GPU 0 (internal/pkg/transformation/kubernetes.go 222-246, 360-397): the
#: per-process metrics per pod (with pod_uid and vgpu) and the GPU's own series without a pod
#: label; the other metrics the GPU's value (here: the constants without pod labels, which is
#: what an unused GPU's look like and what max by (Hostname, gpu) reads either way).
CONSTANT = (
    ("DCGM_FI_DEV_FB_USED", _GPU0, 7000),
    ("DCGM_FI_DEV_GPU_UTIL", _GPU0, 3),
    ("DCGM_FI_DEV_GPU_TEMP", _GPU0, 54),
    ("DCGM_FI_DEV_POWER_USAGE", _GPU0, 41.5),
    (
        "DCGM_FI_DEV_FB_FREE",
        'gpu="0",UUID="GPU-00000000",modelName="NVIDIA L4",Hostname="node-0"',
        18000,
    ),
    (
        "DCGM_FI_DEV_XID_ERRORS",
        'gpu="0",UUID="GPU-00000000",modelName="NVIDIA L4",Hostname="node-0"',
        0,
    ),
    ("kube_node_status_allocatable", f'node="{NODE}",resource="nvidia_com_gpu",unit="integer"', 4),
    (
        "kube_pod_container_resource_requests",
        f'node="{NODE}",namespace="prod",pod="chat-0",container="main",resource="nvidia_com_gpu",unit="integer"',
        1,
    ),
    ("kube_pod_status_phase", 'namespace="prod",pod="chat-0",phase="Running"', 1),
)
#: A shared GPU's other metrics, as the exporter writes them for a GPU pods use: one series
#: per pod with the pod's labels and the GPU's value, and no device-level series
#: (kubernetes.go 371-397: the device series is kept only for GPUs no pod uses).
_SHARING_PODS = (
    'pod="chat-0",namespace="prod",container="main",pod_uid="0f3c2b1e-1111-2222-3333-444455556666",vgpu="0"',
    'pod="chat-1",namespace="prod",container="main",pod_uid="0f3c2b1e-1111-2222-3333-444455556667",vgpu="1"',
)
SM_ACTIVE = 0.42
CONSTANT += tuple(("DCGM_FI_PROF_SM_ACTIVE", f"{_GPU0},{pod}", SM_ACTIVE) for pod in _SHARING_PODS)
#: Nanoseconds held back per second: 5% of the time by power, 1% by heat.
THROTTLED = {"DCGM_FI_DEV_POWER_VIOLATION": 0.05e9, "DCGM_FI_DEV_THERMAL_VIOLATION": 0.01e9}
COUNTERS = tuple(
    (name, f"{_GPU0},{pod}", per_second)
    for name, per_second in THROTTLED.items()
    for pod in _SHARING_PODS
)
#: Grafana's $__rate_interval for the backfill: at least four of its 10-minute sample steps.
RATE_INTERVAL = "40m"
PODS = (
    SyntheticPod(
        "prod",
        "chat-0",
        "NVIDIA L4",
        (3000, 5000),
        (0.1, 0.3),
        (1, 2),
        gpu=0,
        extra_labels='pod_uid="0f3c2b1e-1111-2222-3333-444455556666",vgpu="0"',
    ),
    SyntheticPod(
        "prod",
        "chat-1",
        "NVIDIA L4",
        (1000, 2000),
        (0.1, 0.3),
        (0, 1),
        gpu=0,
        extra_labels='pod_uid="0f3c2b1e-1111-2222-3333-444455556667",vgpu="1"',
    ),
)
EXPORTER_TEXT = (
    '# TYPE DCGM_FI_DEV_FB_USED gauge\nDCGM_FI_DEV_FB_USED{gpu="0",modelName="NVIDIA L4"} 4096\n'
)


class _Exporter(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = EXPORTER_TEXT.encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; version=0.0.4")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RunningPrometheus, int]]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Exporter)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = server.server_address[1]
    workdir = tmp_path_factory.mktemp("prometheus-monitoring")
    # Debian's Prometheus is built without Kubernetes service discovery, so the job's
    # kubernetes_sd_configs become file_sd_configs with the same __meta_kubernetes_* labels
    # Kubernetes SD would set: the relabelling under test is unchanged.
    job = prometheus_scrape_config("gpu-monitoring")
    job.pop("kubernetes_sd_configs")
    job["file_sd_configs"] = [{"files": [str(workdir / "targets.json")], "refresh_interval": "1s"}]
    job["scrape_interval"] = "1s"
    meta = "__meta_kubernetes_"
    targets = [
        {
            "targets": [f"127.0.0.1:{port}"],
            "labels": {
                f"{meta}service_label_app_kubernetes_io_name": "dcgm-exporter",
                f"{meta}endpoint_port_name": "metrics",
                f"{meta}pod_node_name": NODE,
            },
        },
        {
            "targets": ["127.0.0.1:1"],
            "labels": {
                f"{meta}service_label_app_kubernetes_io_name": "kube-state-metrics",
                f"{meta}endpoint_port_name": "metrics",
            },
        },
        {
            "targets": ["127.0.0.1:2"],
            "labels": {
                f"{meta}service_label_app_kubernetes_io_name": "dcgm-exporter",
                f"{meta}endpoint_port_name": "debug",
            },
        },
    ]
    try:
        yield from (
            (running, port)
            for running in start_prometheus(
                PODS,
                workdir,
                constant=CONSTANT,
                counters=COUNTERS,
                scrape_configs=yaml.safe_dump({"scrape_configs": [job]}),
                extra_files={"targets.json": json.dumps(targets)},
            )
        )
    finally:
        server.shutdown()


def _get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.load(response)


@pytest.mark.parametrize("expr", queries())
def test_every_dashboard_query_returns_data(
    prometheus: tuple[RunningPrometheus, int], expr: str
) -> None:
    running, _ = prometheus
    # As Grafana sends it with every variable at "All".
    query = urllib.parse.urlencode(
        {"query": resolved(expr, rate_interval=RATE_INTERVAL), "time": running.end}
    )
    answer = _get(f"{running.url}/api/v1/query?{query}")
    assert answer["status"] == "success"
    assert answer["data"]["result"], f"no data for {expr}"


def _values(
    running: RunningPrometheus, expr: str, **variables: str
) -> dict[tuple[str, ...], float]:
    query = urllib.parse.urlencode(
        {
            "query": resolved(expr, rate_interval=RATE_INTERVAL, **variables),
            "time": running.end,
        }
    )
    answer = _get(f"{running.url}/api/v1/query?{query}")
    return {
        tuple(sorted(r["metric"].values())): float(r["value"][1]) for r in answer["data"]["result"]
    }


def test_the_dashboard_reads_a_shared_gpu_as_the_exporter_reports_it(
    prometheus: tuple[RunningPrometheus, int],
) -> None:
    running, _ = prometheus
    panels = {panel.title: dict(panel.queries) for panel in PANELS}
    memory = panels["GPU memory used vs total"]
    # The GPU's own total (7000 MiB), not the sum or mean of it and its pods' series.
    assert list(_values(running, memory["{{Hostname}} GPU {{gpu}} used"]).values()) == [7000]
    assert list(_values(running, memory["{{Hostname}} GPU {{gpu}} total"]).values()) == [25000]
    assert list(_values(running, panels["Pods per GPU"]["{{Hostname}} GPU {{gpu}}"]).values()) == [
        2
    ]
    per_pod = _values(running, panels["GPU memory per pod"]["{{namespace}}/{{pod}}"])
    assert len(per_pod) == 2 and max(per_pod.values()) <= 5000
    idle = _values(running, panels["Allocated GPUs under 5% busy"]["{{Hostname}} GPU {{gpu}}"])
    assert list(idle.values()) == [3]
    # SM activity is the GPU's, repeated on each sharing pod's series: read once, not summed.
    sm = _values(running, panels["SM activity"]["{{Hostname}} GPU {{gpu}}"])
    assert list(sm.values()) == [SM_ACTIVE]
    throttled = panels["Time throttled by power or heat"]
    for cause, name in (
        ("power", "DCGM_FI_DEV_POWER_VIOLATION"),
        ("heat", "DCGM_FI_DEV_THERMAL_VIOLATION"),
    ):
        (share,) = _values(running, throttled[f"{{{{Hostname}}}} GPU {{{{gpu}}}} {cause}"]).values()
        assert share == pytest.approx(THROTTLED[name] / 1e9)
    # The variables filter: another node or namespace shows nothing, this one everything.
    used = memory["{{Hostname}} GPU {{gpu}} used"]
    assert _values(running, used, node="node-0") and not _values(running, used, node="node-9")
    per_pod_query = panels["GPU memory per pod"]["{{namespace}}/{{pod}}"]
    assert len(_values(running, per_pod_query, namespace="prod")) == 2
    assert _values(running, per_pod_query, namespace="other") == {}


def test_the_dashboard_variables_list_pools_nodes_and_namespaces() -> None:
    variables = {v["name"]: v for v in gpu_sharing_dashboard()["templating"]["list"]}
    assert {"datasource", "pool", "node", "namespace"} <= set(variables)
    for name in ("pool", "node", "namespace"):
        assert variables[name]["includeAll"] and variables[name]["allValue"] == ".*"
    # Every query uses the node variable; the pod-level ones the namespace variable.
    assert all("$node" in expr for expr in queries())


def test_the_scrape_config_keeps_only_the_exporters_metrics_port(
    prometheus: tuple[RunningPrometheus, int],
) -> None:
    running, port = prometheus
    deadline = time.monotonic() + 30
    while True:
        targets = _get(f"{running.url}/api/v1/targets")["data"]
        active = [t for t in targets["activeTargets"] if t["scrapePool"] == "dcgm-exporter"]
        if (active and active[0]["health"] == "up") or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert [t["labels"]["instance"] for t in active] == [f"127.0.0.1:{port}"]
    assert active[0]["labels"]["node"] == NODE and active[0]["health"] == "up"
    assert (
        len(
            [
                t
                for t in targets["droppedTargets"]
                if t["discoveredLabels"]["job"] == "dcgm-exporter"
            ]
        )
        == 2
    )


def test_monitoring_needs_an_al2023_pool() -> None:
    bottlerocket_only = [p for p in POOLS if p.ami_family is AmiFamily.BOTTLEROCKET]
    _, stack, cluster = imported_cluster()
    with pytest.raises(ConfigurationError) as info:
        GpuSharing(stack, "Gpu", cluster=cluster, pools=bottlerocket_only, monitoring=Monitoring())
    assert info.value.field == "GpuSharing.monitoring" and "AL2023" in info.value.rule
    text = """
clusterName: c1
karpenter: {nodeRoleName: KarpenterNodeRole-c1, nodeOverlayEnabled: true}
monitoring: {}
pools:
  - {name: br, gpuNames: [l4], amiFamily: Bottlerocket,
     sharing: {mode: time-slicing, replicas: 2}}
"""
    with pytest.raises(ConfigurationError) as info:
        parse_config(load_yaml(text))
    assert info.value.field == "monitoring"
