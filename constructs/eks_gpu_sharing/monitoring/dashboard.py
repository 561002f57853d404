"""A Grafana dashboard for shared GPUs, built with Grafana's own Foundation SDK.

Panels (PromQL over DCGM exporter and kube-state-metrics series; every query is evaluated by a
real Prometheus in the tests):

* slices per node and slices in use (kube-state-metrics: allocatable and requested
  ``nvidia.com/gpu``);
* framebuffer used vs total per GPU (the GPU's own ``DCGM_FI_DEV_FB_USED``, no pod label, and
  ``+ DCGM_FI_DEV_FB_FREE``) and per pod (its processes' memory, ``pod!=""``);
* busy time per GPU (``DCGM_FI_PROF_GR_ENGINE_ACTIVE``, else the GPU's ``DCGM_FI_DEV_GPU_UTIL``
  / 100);
* pods per GPU, and GPUs pods hold under 5% busy;
* temperature and power per GPU; the last Xid error per GPU (a fault that stops every pod on it).

* SM activity per GPU (``DCGM_FI_PROF_SM_ACTIVE``), which MPS sharing is judged by, and the
  share of time power or heat held the GPU back (``rate`` of ``DCGM_FI_DEV_POWER_VIOLATION`` and
  ``DCGM_FI_DEV_THERMAL_VIOLATION``, nanoseconds per second / 1e9): the chart leaves all three
  commented out, so the library's exporter values add them (``exporter.ADDED_METRICS``).

Variables filter every panel by pool, node and namespace ("All" is ``.*``); rates use Grafana's
``$__rate_interval``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Final

from grafana_foundation_sdk.builders import dashboard, prometheus, text, timeseries
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models.dashboard import DataSourceRef, VariableRefresh

#: The dashboard's uid (stable: a re-import replaces it rather than adding a copy).
DASHBOARD_UID: Final = "eks-gpu-sharing"
#: Grafana's ``datasource`` variable: the user picks their Prometheus.
_DATASOURCE: Final = DataSourceRef(type_val="prometheus", uid="${datasource}")

ATTRIBUTION_NOTE: Final = (
    "With `KUBERNETES_VIRTUAL_GPUS=true` the exporter reports GPU memory used and utilisation "
    "per pod, from the pod's own processes, beside the GPU's own series (no pod label); busy "
    "time, temperature, power and Xid errors are the GPU's, repeated on every pod sharing it. "
    "A pod's memory is not capped under time-slicing: keep each pod's own cap (framework "
    "settings) below its share."
)
#: A GPU's own series of the per-process metrics (no pod label; dcgm-exporter 4.5.3-4.8.2
#: internal/pkg/transformation/kubernetes.go 360-368).
#: Every DCGM series is filtered by the node variable (the exporter's Hostname is the node's
#: name: the chart sets NODE_NAME from spec.nodeName), pods' series by the namespace variable.
_NODE: Final = 'Hostname=~"$node"'
_GPU_OWN: Final = f'{{pod="",{_NODE}}}'
_PER_POD: Final = f'{{pod!="",namespace=~"$namespace",{_NODE}}}'
_ANY_GPU: Final = f"{{{_NODE}}}"
#: Grafana's range for rate(): at least four scrape intervals, whatever the dashboard's step.
RATE_INTERVAL: Final = "$__rate_interval"
#: The value of a variable's "All" option: a regex every label value matches.
ALL_VALUE: Final = ".*"
#: The dashboard's variables: (name, label, query). Pools come from the node label that
#: kube-state-metrics exports only when allowed (``--metric-labels-allowlist=nodes=[eks-gpu-
#: sharing.io/pool]``); without it the pool list is empty and "All" still matches every node.
VARIABLES: Final = (
    ("pool", "Pool", "label_values(kube_node_labels, label_eks_gpu_sharing_io_pool)"),
    (
        "node",
        "Node",
        'label_values(kube_node_labels{label_eks_gpu_sharing_io_pool=~"$pool"}, node)',
    ),
    ("namespace", "Namespace", 'label_values(DCGM_FI_DEV_FB_USED{pod!=""}, namespace)'),
)


@dataclass(frozen=True)
class Panel:
    """One time-series panel: its title, unit and PromQL queries (legend -> expression)."""

    title: str
    unit: str
    queries: tuple[tuple[str, str], ...]
    description: str = ""


#: Engine time is the GPU's on every series (max of equal values); utilisation is per process
#: on pods' series, so the GPU's own series (averaging both read 1/(N+1) of the truth).
BUSY: Final = (
    f"max by (Hostname, gpu) (DCGM_FI_PROF_GR_ENGINE_ACTIVE{_ANY_GPU}) "
    f"or max by (Hostname, gpu) (DCGM_FI_DEV_GPU_UTIL{_GPU_OWN}) / 100"
)

PANELS: Final = (
    Panel(
        "Slices per node and in use",
        "short",
        (
            (
                "{{node}} slices",
                "sum by (node) (kube_node_status_allocatable"
                '{resource=~"nvidia_com_gpu.*",node=~"$node"})',
            ),
            (
                "{{node}} in use",
                "sum by (node) (kube_pod_container_resource_requests"
                '{resource=~"nvidia_com_gpu.*",node=~"$node",namespace=~"$namespace"} '
                "* on (namespace, pod) group_left() "
                '(max by (namespace, pod) (kube_pod_status_phase{phase="Running"} == 1)))',
            ),
        ),
        "Allocatable and requested nvidia.com/gpu(.shared) per node (kube-state-metrics).",
    ),
    Panel(
        "GPU memory used vs total",
        "decmbytes",
        (
            (
                "{{Hostname}} GPU {{gpu}} used",
                f"max by (Hostname, gpu) (DCGM_FI_DEV_FB_USED{_GPU_OWN})",
            ),
            (
                "{{Hostname}} GPU {{gpu}} total",
                f"max by (Hostname, gpu) (DCGM_FI_DEV_FB_USED{_GPU_OWN}) "
                f"+ max by (Hostname, gpu) (DCGM_FI_DEV_FB_FREE{_ANY_GPU})",
            ),
        ),
        "Framebuffer per physical GPU (its own series), shared by every pod on it.",
    ),
    Panel(
        "GPU memory per pod",
        "decmbytes",
        (
            (
                "{{namespace}}/{{pod}}",
                f"max by (namespace, pod) (DCGM_FI_DEV_FB_USED{_PER_POD})",
            ),
        ),
        "Memory of each pod's own processes on the GPU it shares.",
    ),
    Panel(
        "GPU busy time",
        "percentunit",
        (("{{Hostname}} GPU {{gpu}}", BUSY),),
        "Graphics engine active ratio (profiling metric), else the GPU's utilization.",
    ),
    Panel(
        "Pods per GPU",
        "short",
        (
            (
                "{{Hostname}} GPU {{gpu}}",
                "count by (Hostname, gpu) "
                f"(count by (Hostname, gpu, namespace, pod) (DCGM_FI_DEV_FB_USED{_PER_POD}))",
            ),
        ),
        "Pods holding a slice of each GPU (the exporter's per-pod series).",
    ),
    Panel(
        "Allocated GPUs under 5% busy",
        "percent",
        (
            (
                "{{Hostname}} GPU {{gpu}}",
                f"(max by (Hostname, gpu) (DCGM_FI_DEV_GPU_UTIL{_GPU_OWN}) < 5) "
                "and on (Hostname, gpu) "
                f"(count by (Hostname, gpu) (DCGM_FI_DEV_FB_USED{_PER_POD}))",
            ),
        ),
        "GPUs that pods hold while they stay nearly idle: candidates for more sharing.",
    ),
    Panel(
        "SM activity",
        "percentunit",
        (
            (
                "{{Hostname}} GPU {{gpu}}",
                f"max by (Hostname, gpu) (DCGM_FI_PROF_SM_ACTIVE{_ANY_GPU})",
            ),
        ),
        "Share of SM cycles with work assigned, per physical GPU: what MPS clients fill side "
        "by side (busy time above counts time, not SMs).",
    ),
    Panel(
        "Time throttled by power or heat",
        "percentunit",
        tuple(
            (
                f"{{{{Hostname}}}} GPU {{{{gpu}}}} {cause}",
                f"max by (Hostname, gpu) (rate(DCGM_FI_DEV_{field}_VIOLATION{_ANY_GPU}"
                f"[{RATE_INTERVAL}])) / 1e9",
            )
            for cause, field in (("power", "POWER"), ("heat", "THERMAL"))
        ),
        "Share of time the GPU ran below its clocks because of its power limit or temperature: "
        "every pod sharing it slows down.",
    ),
    Panel(
        "GPU temperature",
        "celsius",
        (("{{Hostname}} GPU {{gpu}}", f"max by (Hostname, gpu) (DCGM_FI_DEV_GPU_TEMP{_ANY_GPU})"),),
        "Per physical GPU.",
    ),
    Panel(
        "GPU power",
        "watt",
        (
            (
                "{{Hostname}} GPU {{gpu}}",
                f"max by (Hostname, gpu) (DCGM_FI_DEV_POWER_USAGE{_ANY_GPU})",
            ),
        ),
        "Per physical GPU.",
    ),
    Panel(
        "Last Xid error per GPU",
        "short",
        (
            (
                "{{Hostname}} GPU {{gpu}}",
                f"max by (Hostname, gpu) (DCGM_FI_DEV_XID_ERRORS{_ANY_GPU})",
            ),
        ),
        "Non-zero: a GPU fault; every pod sharing that GPU is affected.",
    ),
)


def queries() -> list[str]:
    """Every PromQL expression of the dashboard, with its ``$pool``, ``$node`` and
    ``$namespace`` variables."""
    return [expr for panel in PANELS for _, expr in panel.queries]


def resolved(expr: str, *, rate_interval: str = "5m", **values: str) -> str:
    """``expr`` as Grafana sends it: each variable replaced by ``values`` or "All" (``.*``), and
    ``$__rate_interval`` by ``rate_interval``."""
    expr = expr.replace(RATE_INTERVAL, rate_interval)
    for name, _, _ in VARIABLES:
        expr = expr.replace(f"${name}", values.get(name, ALL_VALUE))
    return expr


def gpu_sharing_dashboard() -> dict[str, Any]:
    """The dashboard as Grafana's JSON model (import it, or mount it with a sidecar)."""
    builder = (
        dashboard.Dashboard("GPU sharing")
        .uid(DASHBOARD_UID)
        .tags(["gpu", "eks-gpu-sharing"])
        .time("now-24h", "now")
        .refresh("1m")
        .with_variable(
            dashboard.DatasourceVariable("datasource").label("Prometheus").type("prometheus")
        )
        .with_panel(
            text.Panel()
            .title("What DCGM can and cannot tell")
            .content(ATTRIBUTION_NOTE)
            .height(4)
            .span(24)
        )
    )
    for name, label, query in VARIABLES:
        builder = builder.with_variable(
            dashboard.QueryVariable(name)
            .label(label)
            .datasource(_DATASOURCE)
            .query(query)
            .refresh(VariableRefresh.ON_TIME_RANGE_CHANGED)
            .include_all(True)
            .all_value(ALL_VALUE)
            .multi(True)
        )
    for panel in PANELS:
        chart = (
            timeseries.Panel()
            .title(panel.title)
            .description(panel.description)
            .unit(panel.unit)
            .datasource(_DATASOURCE)
            .height(8)
            .span(12)
        )
        for index, (legend, expr) in enumerate(panel.queries):
            chart = chart.with_target(
                prometheus.Dataquery()
                .expr(expr)
                .legend_format(legend)
                .ref_id("ABCDEFGH"[index])
                .datasource(_DATASOURCE)
            )
        builder = builder.with_panel(chart)
    document: dict[str, Any] = json.loads(json.dumps(builder.build(), cls=JSONEncoder))
    return document


def dashboard_json() -> str:
    """The dashboard as the JSON text Grafana imports (the ConfigMap's data; ``synth``'s file
    adds a final newline)."""
    return json.dumps(gpu_sharing_dashboard(), indent=2, sort_keys=True)
