"""The NVIDIA DCGM exporter on the GPU pools, and how a Prometheus finds it.

Values for the ``dcgm-exporter`` chart (``versions.DCGM_EXPORTER_CHART_VERSION``; keys as in
its ``deployment/values.yaml`` at tag 4.5.3-4.8.2):

* ``affinity``/``tolerations``: exactly the AL2023 pools' nodes (the ones the device plugin
  DaemonSet serves), with the ``nvidia.com/gpu`` taint and the pools' own taints tolerated.
  Bottlerocket pools are left out: whether the exporter's container sees the GPUs there depends
  on Bottlerocket's container runtime, which this project could not check.
* ``extraEnv``: ``KUBERNETES_VIRTUAL_GPUS=true``, so every pod sharing a GPU gets its own
  series (dcgm-exporter 4.5.3-4.8.2 ``internal/pkg/transformation/kubernetes.go`` 318-322). Two
  metrics become the pod's own, per process: ``DCGM_FI_DEV_FB_USED`` (its compute processes'
  memory) and ``DCGM_FI_DEV_GPU_UTIL`` (their SM utilisation), beside the GPU's own series
  without a pod label (``process_metrics.go`` 30-32, ``kubernetes.go`` 360-368); every other
  metric is the GPU's value repeated per pod (371-397). Processes are matched to pods through
  ``/proc/<pid>/cgroup`` and the pod UID (``pidmapper.go`` 45-97); a pod not matched reads 0
  (``buildIdlePodValues``, ``kubernetes.go`` 271-279). Hence:
* ``hostPID: true``: the exporter must see the host's PIDs to read other pods' cgroups (the
  chart's default is false, ``deployment/values.yaml`` 52-54);
* ``kubernetes.enablePodUID: true``: the chart mounts the service account token and creates the
  RBAC for the pod informer only then (``templates/daemonset.yaml`` 61, ``clusterrole.yaml`` 1);
  without it every pod UID is empty and every sharing pod reads 0 (``kubernetes.go`` 926-934);
* ``NVIDIA_RESOURCE_NAMES`` where a pool renames its resource (``nvidia.com/gpu.shared``): the
  exporter maps only ``nvidia.com/gpu``, ``nvidia.com/mig-*`` and the names listed there,
  comma-separated (``kubernetes.go`` 772-784, ``pkg/cmd/app.go`` 293-298).
* ``customMetrics``: the chart's default list (``templates/metrics-configmap.yaml`` 19-91, the
  lines not commented out), plus three fields it leaves commented out: ``DCGM_FI_PROF_SM_ACTIVE``
  (83), which MPS sharing is judged by, and ``DCGM_FI_DEV_POWER_VIOLATION`` and
  ``DCGM_FI_DEV_THERMAL_VIOLATION`` (43-44), the nanoseconds the GPU was held back by power or
  heat. The value replaces the whole list (``deployment/values.yaml`` 266-267), so the chart's
  fields are repeated here.
* ``serviceMonitor``: opt-in (the chart's default is true, which fails on clusters without the
  Prometheus Operator's CRDs), with ``honorLabels: true`` (without it Prometheus renames the
  exporter's ``pod`` and ``namespace`` to ``exported_pod`` and ``exported_namespace``) and
  ``additionalLabels`` the operator's selector matches (``templates/service-monitor.yaml``
  21-25, 33-42).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

from ..errors import ConfigurationError
from ..labels import GPU_TAINT_KEY, POOL_LABEL
from ..pool import GpuPool
from ..sharing import GPU_RESOURCE

#: The release name, also the chart's ``app.kubernetes.io/name`` label on its Service.
DCGM_EXPORTER_RELEASE: Final = "dcgm-exporter"
#: The port of the exporter's Service (chart default).
DCGM_EXPORTER_PORT: Final = 9400


#: The chart's default fields at 4.5.3-4.8.2, as (field, Prometheus type), in its order
#: (``deployment/templates/metrics-configmap.yaml`` 19-91).
CHART_DEFAULT_METRICS: Final = (
    ("DCGM_FI_DEV_SM_CLOCK", "gauge", "SM clock frequency (MHz)."),
    ("DCGM_FI_DEV_MEM_CLOCK", "gauge", "Memory clock frequency (MHz)."),
    ("DCGM_FI_DEV_MEMORY_TEMP", "gauge", "Memory temperature (C)."),
    ("DCGM_FI_DEV_GPU_TEMP", "gauge", "GPU temperature (C)."),
    ("DCGM_FI_DEV_POWER_USAGE", "gauge", "Power draw (W)."),
    ("DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION", "counter", "Energy since boot (mJ)."),
    ("DCGM_FI_DEV_PCIE_REPLAY_COUNTER", "counter", "PCIe retries."),
    ("DCGM_FI_DEV_GPU_UTIL", "gauge", "GPU utilization (%)."),
    ("DCGM_FI_DEV_MEM_COPY_UTIL", "gauge", "Memory utilization (%)."),
    ("DCGM_FI_DEV_ENC_UTIL", "gauge", "Encoder utilization (%)."),
    ("DCGM_FI_DEV_DEC_UTIL", "gauge", "Decoder utilization (%)."),
    ("DCGM_FI_DEV_XID_ERRORS", "gauge", "Last Xid error."),
    ("DCGM_FI_DEV_FB_FREE", "gauge", "Framebuffer memory free (MiB)."),
    ("DCGM_FI_DEV_FB_USED", "gauge", "Framebuffer memory used (MiB)."),
    ("DCGM_FI_DEV_NVLINK_BANDWIDTH_TOTAL", "counter", "NVLink bandwidth counters, all lanes."),
    ("DCGM_FI_DEV_VGPU_LICENSE_STATUS", "gauge", "vGPU license status."),
    ("DCGM_FI_DEV_UNCORRECTABLE_REMAPPED_ROWS", "counter", "Rows remapped, uncorrectable errors."),
    ("DCGM_FI_DEV_CORRECTABLE_REMAPPED_ROWS", "counter", "Rows remapped, correctable errors."),
    ("DCGM_FI_DEV_ROW_REMAP_FAILURE", "gauge", "Whether row remapping failed."),
    ("DCGM_FI_PROF_GR_ENGINE_ACTIVE", "gauge", "Ratio of time the graphics engine is active."),
    ("DCGM_FI_PROF_PIPE_TENSOR_ACTIVE", "gauge", "Ratio of cycles the tensor pipe is active."),
    ("DCGM_FI_PROF_DRAM_ACTIVE", "gauge", "Ratio of cycles device memory is active."),
    ("DCGM_FI_PROF_PCIE_TX_BYTES", "gauge", "PCIe transmit rate (bytes/s)."),
    ("DCGM_FI_PROF_PCIE_RX_BYTES", "gauge", "PCIe receive rate (bytes/s)."),
)
#: Fields the chart's list leaves commented out (lines 43-44 and 83) that the dashboard charts
#: and ``estimate`` reads for MPS.
ADDED_METRICS: Final = (
    ("DCGM_FI_PROF_SM_ACTIVE", "gauge", "Ratio of cycles an SM has at least one warp assigned."),
    ("DCGM_FI_DEV_POWER_VIOLATION", "counter", "Time held back by power constraints (ns)."),
    ("DCGM_FI_DEV_THERMAL_VIOLATION", "counter", "Time held back by thermal constraints (ns)."),
)


def exporter_metrics() -> str:
    """The exporter's field list (the chart's ``customMetrics`` CSV: field, type, help)."""
    rows = (*CHART_DEFAULT_METRICS, *ADDED_METRICS)
    return "".join(f"{field}, {kind}, {help_text}\n" for field, kind, help_text in rows)


def check_monitored_pools(pools: Sequence[GpuPool], *, field: str) -> None:
    """Monitoring needs an AL2023 pool to run the exporter on (``field`` names the setting)."""
    if not any(_monitored(p) for p in pools):
        raise ConfigurationError(
            field=field,
            value=[p.name for p in pools],
            rule="the DCGM exporter runs on AL2023 pools and every pool is Bottlerocket",
            fix="add an AL2023 pool, or leave monitoring out",
        )


def _monitored(pool: GpuPool) -> bool:
    """AL2023 pools, whose GPUs the library's device plugin or the NVIDIA DRA driver serves
    (Bottlerocket's plugin exposes no pod-resources mapping the exporter reads here)."""
    return pool.uses_device_plugin_daemonset or pool.uses_dra


def dcgm_exporter_values(
    pools: Sequence[GpuPool],
    *,
    service_monitor: bool,
    service_monitor_labels: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """Chart values that run the exporter on the AL2023 GPU pools of ``pools``."""
    check_monitored_pools(pools, field="monitoring")
    served = sorted(p.name for p in pools if _monitored(p))
    tolerations: list[dict[str, str]] = [
        {"key": GPU_TAINT_KEY, "operator": "Exists", "effect": "NoSchedule"}
    ]
    for pool in pools:
        if pool.name not in served:
            continue
        for taint in pool.node_taints():
            toleration = {"key": taint["key"], "operator": "Exists", "effect": taint["effect"]}
            if toleration not in tolerations:
                tolerations.append(toleration)
    environment = [{"name": "KUBERNETES_VIRTUAL_GPUS", "value": "true"}]
    renamed = sorted(
        {p.resource_name for p in pools if p.name in served and p.resource_name != GPU_RESOURCE}
    )
    if renamed:
        environment.append({"name": "NVIDIA_RESOURCE_NAMES", "value": ",".join(renamed)})
    return {
        "affinity": {
            "nodeAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": {
                    "nodeSelectorTerms": [
                        {
                            "matchExpressions": [
                                {"key": POOL_LABEL, "operator": "In", "values": served}
                            ]
                        }
                    ]
                }
            }
        },
        "tolerations": tolerations,
        "hostPID": True,
        "kubernetes": {"enablePodUID": True},
        "extraEnv": environment,
        "customMetrics": exporter_metrics(),
        "serviceMonitor": {
            "enabled": service_monitor,
            "interval": "30s",
            "honorLabels": True,
            "additionalLabels": dict(service_monitor_labels or {}),
        },
        # DRA pods hold their GPU through a claim, not a resource request: the exporter maps
        # them to GPUs from the kubelet's dynamic resources and the driver's ResourceSlices
        # only with this on (dcgm-exporter 4.5.3-4.8.2 deployment/values.yaml kubernetesDRA,
        # internal/pkg/transformation/kubernetes.go toDeviceToPodsDRA, several pods per GPU).
        **({"kubernetesDRA": {"enabled": True}} if any(p.uses_dra for p in pools) else {}),
    }


def prometheus_scrape_config(namespace: str) -> dict[str, Any]:
    """A ``scrape_configs`` entry for a plain Prometheus in the cluster (Kubernetes service
    discovery): the exporter Service's endpoints in ``namespace``, with node, pod and namespace
    labels kept as the exporter writes them."""
    return {
        "job_name": "dcgm-exporter",
        "scrape_interval": "30s",
        "kubernetes_sd_configs": [{"role": "endpoints", "namespaces": {"names": [namespace]}}],
        "relabel_configs": [
            {
                "source_labels": ["__meta_kubernetes_service_label_app_kubernetes_io_name"],
                "regex": DCGM_EXPORTER_RELEASE,
                "action": "keep",
            },
            {
                "source_labels": ["__meta_kubernetes_endpoint_port_name"],
                "regex": "metrics",
                "action": "keep",
            },
            {
                "source_labels": ["__meta_kubernetes_pod_node_name"],
                "target_label": "node",
            },
        ],
    }
