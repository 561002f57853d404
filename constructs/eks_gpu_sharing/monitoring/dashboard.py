"""A Grafana dashboard for shared GPUs, built with Grafana's own Foundation SDK.

Panels (PromQL over DCGM exporter and kube-state-metrics series; every query is evaluated by a
real Prometheus in the tests):

* slices per node and slices in use (kube-state-metrics: allocatable and requested
  ``nvidia.com/gpu``);
* framebuffer used vs total per GPU (``DCGM_FI_DEV_FB_USED`` / ``+ DCGM_FI_DEV_FB_FREE``);
* busy time per GPU (``DCGM_FI_PROF_GR_ENGINE_ACTIVE``, else ``DCGM_FI_DEV_GPU_UTIL`` / 100);
* pods per GPU (the exporter's per-pod series with ``KUBERNETES_VIRTUAL_GPUS``);
* the last Xid error per GPU (a fault that stops every pod on it).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Final

from grafana_foundation_sdk.builders import dashboard, prometheus, text, timeseries
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models.dashboard import DataSourceRef

#: The dashboard's uid (stable: a re-import replaces it rather than adding a copy).
DASHBOARD_UID: Final = "eks-gpu-sharing"
#: Grafana's ``datasource`` variable: the user picks their Prometheus.
_DATASOURCE: Final = DataSourceRef(type_val="prometheus", uid="${datasource}")

ATTRIBUTION_NOTE: Final = (
    "DCGM measures GPUs, not pods. With time-slicing or MPS the exporter "
    "(`KUBERNETES_VIRTUAL_GPUS=true`) gives each pod sharing a GPU its own series, but every "
    "value is the whole GPU's: memory used, busy time and Xid errors cannot be split per pod. "
    "Watch the GPU, and keep each pod's own memory cap (framework settings) below its share."
)


@dataclass(frozen=True)
class Panel:
    """One time-series panel: its title, unit and PromQL queries (legend -> expression)."""

    title: str
    unit: str
    queries: tuple[tuple[str, str], ...]
    description: str = ""


BUSY: Final = (
    "avg by (Hostname, gpu) (DCGM_FI_PROF_GR_ENGINE_ACTIVE) "
    "or avg by (Hostname, gpu) (DCGM_FI_DEV_GPU_UTIL) / 100"
)

PANELS: Final = (
    Panel(
        "Slices per node and in use",
        "short",
        (
            (
                "{{node}} slices",
                'sum by (node) (kube_node_status_allocatable{resource=~"nvidia_com_gpu.*"})',
            ),
            (
                "{{node}} in use",
                "sum by (node) (kube_pod_container_resource_requests"
                '{resource=~"nvidia_com_gpu.*"} '
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
            ("{{Hostname}} GPU {{gpu}} used", "max by (Hostname, gpu) (DCGM_FI_DEV_FB_USED)"),
            (
                "{{Hostname}} GPU {{gpu}} total",
                "max by (Hostname, gpu) (DCGM_FI_DEV_FB_USED) "
                "+ max by (Hostname, gpu) (DCGM_FI_DEV_FB_FREE)",
            ),
        ),
        "Framebuffer per physical GPU; shared by every pod on it.",
    ),
    Panel(
        "GPU busy time",
        "percentunit",
        (("{{Hostname}} GPU {{gpu}}", BUSY),),
        "Graphics engine active ratio (profiling metric), else GPU utilization.",
    ),
    Panel(
        "Pods per GPU",
        "short",
        (
            (
                "{{Hostname}} GPU {{gpu}}",
                'count by (Hostname, gpu) (DCGM_FI_DEV_FB_USED{pod!=""})',
            ),
        ),
        "Pods holding a slice of each GPU (one series per pod from the exporter).",
    ),
    Panel(
        "Last Xid error per GPU",
        "short",
        (("{{Hostname}} GPU {{gpu}}", "max by (Hostname, gpu) (DCGM_FI_DEV_XID_ERRORS)"),),
        "Non-zero: a GPU fault; every pod sharing that GPU is affected.",
    ),
)


def queries() -> list[str]:
    """Every PromQL expression of the dashboard."""
    return [expr for panel in PANELS for _, expr in panel.queries]


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
