"""Workloads measured by the NVIDIA DCGM exporter, read from Prometheus's HTTP API.

Per pod, over a window (default 7 days) ending at ``at``:

* GPU memory: the peak of ``DCGM_FI_DEV_FB_USED`` (MiB), ``max_over_time``: GPU memory is a
  hard limit, so a pod at 4 GiB for 96% of the window and 15 GiB for 4% needs 15 (its p95 is
  kept beside, ``PodMeasurement.memory_p95_mib``, to show how peaky it is);
* busy: p95 of ``DCGM_FI_PROF_GR_ENGINE_ACTIVE`` (0..1), or of ``DCGM_FI_DEV_GPU_UTIL`` / 100
  where the profiling metrics are off (they need DCGM's profiling module);
* for a latency-sensitive workload (recommended MPS, which runs kernels side by side), the p95 of
  ``DCGM_FI_PROF_SM_ACTIVE`` where DCGM collects it (not by default): the share of SMs it keeps
  busy;
* the GPU model from the ``modelName`` label the exporter sets (``NVIDIA L4``, ``Tesla T4``).

Pods are grouped into workloads by owner where kube-state-metrics is scraped into the same
Prometheus (``kube_pod_owner``, a ReplicaSet's Deployment from ``kube_replicaset_owner``), else
by their names (``<deployment>-<hash>-<id>``, ``<statefulset>-<n>``, ``<job>-<id>``; the report
says which): a workload's memory and busy share are the largest of its pods', its replicas the
pods that reported in the window's last 5 minutes.

On a GPU several pods already share, the exporter this library deploys
(``KUBERNETES_VIRTUAL_GPUS=true``, ``monitoring.exporter``) reports memory and utilisation per
pod from the pod's own processes, and every other metric as the GPU's value repeated per pod:
memory is then the pod's own, and busy is its own utilisation instead of the GPU's engine time.
Where every pod reads 0 while the GPUs' own series do not, the exporter could not match
processes to pods, and the measurement is refused rather than sized on 0 GiB. Series scraped
without ``honorLabels`` (``exported_pod``, ``exported_namespace``) are read by those labels.
Host CPU and memory requests come from kube-state-metrics where it is in the same Prometheus
(``kube_pod_container_resource_requests``, the largest pod's), else the sample pod's stand in.

"Today" counts the GPUs a workload's pods hold (distinct DCGM ``UUID``s): fewer than its pods
where they share already, more where a pod holds several. Pods on MIG slices (``GPU_I_PROFILE``)
are left out and counted (``Measurement.mig``): they are partitioned already.
"""

from __future__ import annotations

import math
import re
import urllib.parse
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final

from ..catalog import load_catalog
from ..errors import ConfigurationError
from .prometheus import Sample, query_vector
from .workloads import Workload, gpu_sizes

MEMORY_METRIC: Final = "DCGM_FI_DEV_FB_USED"
BUSY_METRIC: Final = "DCGM_FI_PROF_GR_ENGINE_ACTIVE"
BUSY_FALLBACK_METRIC: Final = "DCGM_FI_DEV_GPU_UTIL"
#: SM activity: the share of SMs busy, which is what MPS (side-by-side kernels) shares; not in
#: the exporter chart's default counters (templates/metrics-configmap.yaml 83 at 4.5.3-4.8.2).
SM_ACTIVE_METRIC: Final = "DCGM_FI_PROF_SM_ACTIVE"
DEFAULT_WINDOW: Final = "7d"
_DURATION: Final = re.compile(r"[1-9][0-9]{0,5}[smhdwy]")
_POD_SUFFIXES: Final = (
    re.compile(r"(?P<name>.+)-[a-z0-9]{6,10}-[a-z0-9]{5}"),  # Deployment (ReplicaSet hash, id)
    re.compile(r"(?P<name>.+)-[0-9]+"),  # StatefulSet ordinal
    re.compile(r"(?P<name>.+)-[a-z0-9]{5}"),  # Job, DaemonSet
)


@dataclass(frozen=True)
class _PodLabels:
    """The labels that name a series' pod: the exporter's ``pod`` and ``namespace``, or, where a
    ServiceMonitor without ``honorLabels`` scraped it, Prometheus's renamed ``exported_pod`` and
    ``exported_namespace`` (the scrape target's own ``pod`` is then the exporter's)."""

    pod: str = "pod"
    namespace: str = "namespace"

    @property
    def by(self) -> str:
        return f"{self.namespace}, {self.pod}, modelName"

    @property
    def selector(self) -> str:
        return f'{{{self.pod}!=""}}'

    def of(self, series: Sample) -> tuple[str, str]:
        return series.labels.get(self.namespace, ""), series.labels.get(self.pod, "")


_EXPORTED: Final = _PodLabels("exported_pod", "exported_namespace")


@dataclass(frozen=True)
class PodMeasurement:
    """What one pod used over the window."""

    namespace: str
    pod: str
    gpu: str
    memory_mib: float
    busy: float
    busy_metric: str
    #: The GPU's memory where its name comes in several sizes (``A100-SXM4-40GB``: 40).
    gpu_size_gib: int | None = None
    #: The p95 of its memory, beside the peak (``memory_mib``) the sizing uses.
    memory_p95_mib: float = 0.0
    #: p95 of SM activity where DCGM collects it (0..1), else None: the busy share a
    #: latency-sensitive workload (recommended MPS) is sized on.
    sm_active: float | None = None
    #: The GPUs (DCGM ``UUID``) it held over the window: several for a multi-GPU pod, and one
    #: that other pods share where it is time-sliced or MPS already.
    gpu_uuids: tuple[str, ...] = ()


@dataclass(frozen=True)
class Measurement:
    """The pods measured and the workloads they form."""

    pods: tuple[PodMeasurement, ...]
    workloads: tuple[Workload, ...]
    window: str
    source: str
    #: Pods left out, counted by DCGM ``modelName``: GPU models the instance catalog does not
    #: have, or has without a price. The others are estimated; these need a declared file.
    skipped: Mapping[str, int] = field(default_factory=dict)
    #: How pods were grouped into workloads: by owner (kube-state-metrics), or by pod name.
    grouping: str = ""
    #: Pods on MIG slices, counted by profile (``GPU_I_PROFILE``): already partitioned, left out
    #: (pricing them as whole GPUs would overstate today).
    mig: Mapping[str, int] = field(default_factory=dict)


def workload_name(pod: str) -> str:
    """The controller's name in a pod name: ``chat-api-7d9f8b6c5d-x2x9q`` -> ``chat-api``."""
    for pattern in _POD_SUFFIXES:
        if match := pattern.fullmatch(pod):
            return match["name"]
    return pod


def gpu_name(model_name: str) -> str | None:
    """The catalog GPU name in a DCGM ``modelName`` (``NVIDIA A100-SXM4-40GB`` -> ``a100``)."""
    words = re.split(r"[\s_-]+", model_name.lower())
    known = set(load_catalog().gpu_names)
    return next((w for w in words if w in known), None)


def gpu_size(model_name: str, gpu: str) -> int | None:
    """The GiB in a DCGM ``modelName`` where the catalog's ``gpu`` comes in several sizes
    (``NVIDIA A100-SXM4-40GB`` -> 40); None where it does not, or the name says no size (the
    workload is then sized on the largest)."""
    sizes = gpu_sizes().get(gpu, set())
    if len(sizes) < 2:
        return None
    found = [int(n) for n in re.findall(r"(\d+)\s*GB", model_name, flags=re.IGNORECASE)]
    return next((n for n in found if n in sizes), None)


def measure(
    url: str,
    *,
    window: str = DEFAULT_WINDOW,
    at: float | None = None,
    latency_sensitive: Sequence[str] = (),
) -> Measurement:
    """Workloads from the DCGM metrics in the Prometheus at ``url``.

    :raises ConfigurationError: for a bad URL or window, a Prometheus that cannot be reached or
        answers an error, no DCGM metrics with pod labels, or a GPU model not in the catalog.
    """
    if not _DURATION.fullmatch(window):
        raise ConfigurationError(
            field="--window", value=window, rule="a Prometheus duration", fix="e.g. 7d, 24h or 30d"
        )
    parsed = urllib.parse.urlparse(url)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise ConfigurationError(
            field="--prometheus",
            value=url,
            rule="an http(s) URL of Prometheus",
            fix="e.g. http://localhost:9090 (kubectl port-forward svc/prometheus 9090)",
        )
    # Renamed labels win: then `pod` is the scrape target's, the exporter's own pod.
    names = _EXPORTED
    memory = query_vector(url, _peak(MEMORY_METRIC, window, names), at)
    if not memory:
        names = _PodLabels()
        memory = query_vector(url, _peak(MEMORY_METRIC, window, names), at)

    def per_pod(expr: str) -> dict[tuple[str, str, str], float]:
        return {_key(s, names): s.value for s in query_vector(url, expr, at)}

    memory_p95 = per_pod(_p95(MEMORY_METRIC, window, names))
    # Per pod: the profiling metric where DCGM collects it, else the coarser utilisation. On a
    # shared GPU (KUBERNETES_VIRTUAL_GPUS, series with a `vgpu` label) the profiling metric is
    # the GPU's, repeated per pod, and the utilisation is the pod's own processes' (dcgm-exporter
    # 4.5.3-4.8.2 process_metrics.go 30-32, kubernetes.go 360-397): the pod's own, then.
    engine = per_pod(_p95(BUSY_METRIC, window, names))
    utilisation = per_pod(f"{_p95(BUSY_FALLBACK_METRIC, window, names)} / 100")
    sm_active = per_pod(_p95(SM_ACTIVE_METRIC, window, names))
    shared = {
        _key(s, names)
        for s in query_vector(
            url,
            f"max by ({names.by}) (last_over_time("
            f'{MEMORY_METRIC}{{{names.pod}!="",vgpu!=""}}[{window}]))',
            at,
        )
    }
    # Pods reporting in the last 5 minutes: a finished rolling update's old pods are gone (an
    # hour counted both generations); the exporter is scraped every 30 s.
    alive = query_vector(
        url, f"max by ({names.by}) (last_over_time({MEMORY_METRIC}{names.selector}[5m]))", at
    )
    if not memory:
        raise ConfigurationError(
            field="--prometheus",
            value=url,
            rule=f"holds no {MEMORY_METRIC} series with a pod label in the last {window}",
            fix="install the DCGM exporter with Kubernetes pod mapping (docs: Monitoring)",
        )
    uuids: dict[tuple[str, str, str], set[str]] = {}
    for series in query_vector(
        url,
        f"max by ({names.by}, UUID) (last_over_time({MEMORY_METRIC}{names.selector}[{window}]))",
        at,
    ):
        uuids.setdefault(_key(series, names), set()).add(series.labels.get("UUID", ""))
    on_mig = {
        _key(s, names): s.labels.get("GPU_I_PROFILE", "")
        for s in query_vector(
            url,
            f"max by ({names.by}, GPU_I_PROFILE) (last_over_time("
            f'{MEMORY_METRIC}{{{names.pod}!="",GPU_I_PROFILE!=""}}[{window}]))',
            at,
        )
    }
    pods = []
    skipped: Counter[str] = Counter()
    mig: Counter[str] = Counter()
    priced = load_catalog().priced_gpu_names
    for series in memory:
        labels = series.labels
        if _key(series, names) in on_mig:
            mig[on_mig[_key(series, names)]] += 1
            continue
        gpu = gpu_name(labels.get("modelName", ""))
        if gpu is None or gpu not in priced:
            skipped[labels.get("modelName", "(no modelName label)")] += 1
            continue
        key = _key(series, names)
        busy, metric = (
            (engine[key], BUSY_METRIC)
            if key in engine and key not in shared
            else (utilisation.get(key, 0.0), BUSY_FALLBACK_METRIC)
        )
        namespace, pod = names.of(series)
        pods.append(
            PodMeasurement(
                namespace,
                pod,
                gpu,
                series.value,
                min(1.0, max(0.0, busy)),
                metric,
                gpu_size(labels.get("modelName", ""), gpu),
                memory_p95.get(key, series.value),
                sm_active.get(key),
                tuple(sorted(uuids.get(key, ()))),
            )
        )
    if not pods:
        raise ConfigurationError(
            field="--prometheus",
            value=", ".join([*sorted(skipped), *(f"MIG {m}" for m in sorted(mig))]),
            rule="every measured pod runs on a MIG slice (partitioned already) or on a GPU model "
            "the instance catalog does not have (or has without a price)",
            fix="estimate those workloads from a declared --workloads file",
        )
    if all(p.memory_mib == 0 for p in pods):
        _refuse_unmapped_processes(url, window, at)
    running = {names.of(s) for s in alive}
    owners = _owners(url, window, at)
    requests = _host_requests(url, window, at)
    workloads = _workloads(pods, running, set(latency_sensitive), owners, requests)
    grouping = (
        "by owner (kube-state-metrics kube_pod_owner and kube_replicaset_owner)"
        if owners
        else "by pod name (no kube_pod_owner series: <deployment>-<hash>-<id>, "
        "<statefulset>-<n>, <job>-<id>)"
    )
    return Measurement(
        tuple(pods),
        workloads,
        window,
        url,
        dict(sorted(skipped.items())),
        grouping,
        dict(sorted(mig.items())),
    )


def _host_requests(
    url: str, window: str, at: float | None
) -> dict[tuple[str, str], dict[str, float]]:
    """Per (namespace, pod), its CPU (cores) and memory (bytes) requests, summed over its
    containers, from kube-state-metrics (``kube_pod_container_resource_requests``). Empty where
    it is not scraped: the sample pod's requests stand in, and the report says so."""
    found: dict[tuple[str, str], dict[str, float]] = {}
    for s in query_vector(
        url,
        "sum by (namespace, pod, resource) (max by (namespace, pod, container, resource) "
        f'(last_over_time(kube_pod_container_resource_requests{{resource=~"cpu|memory"}}'
        f"[{window}])))",
        at,
    ):
        key = (s.labels.get("namespace", ""), s.labels.get("pod", ""))
        found.setdefault(key, {})[s.labels.get("resource", "")] = s.value
    return found


def _quantity(resource: str, amount: float) -> str:
    """A request as a Kubernetes quantity: millicores, or MiB rounded up."""
    if resource == "cpu":
        return f"{max(1, math.ceil(amount * 1000))}m"
    return f"{max(1, math.ceil(amount / 2**20))}Mi"


def _owners(url: str, window: str, at: float | None) -> dict[tuple[str, str], str]:
    """Per (namespace, pod), the name of the workload that owns it, from kube-state-metrics:
    a ReplicaSet's Deployment where it has one, else the owner itself (StatefulSet, Job,
    DaemonSet, a bare ReplicaSet). Empty where kube-state-metrics is not scraped."""
    replica_sets = {
        (s.labels.get("namespace", ""), s.labels.get("replicaset", "")): s.labels["owner_name"]
        for s in query_vector(
            url,
            f"max by (namespace, replicaset, owner_name) (last_over_time("
            f'kube_replicaset_owner{{owner_kind="Deployment"}}[{window}]))',
            at,
        )
        if s.labels.get("owner_name")
    }
    owners = {}
    for s in query_vector(
        url,
        f"max by (namespace, pod, owner_kind, owner_name) (last_over_time("
        f'kube_pod_owner{{owner_name!="<none>"}}[{window}]))',
        at,
    ):
        namespace, owner = s.labels.get("namespace", ""), s.labels.get("owner_name", "")
        if not owner:
            continue
        if s.labels.get("owner_kind") == "ReplicaSet":
            owner = replica_sets.get((namespace, owner), owner)
        owners[(namespace, s.labels.get("pod", ""))] = owner
    return owners


def _workloads(
    pods: Sequence[PodMeasurement],
    running: set[tuple[str, str]],
    latency: set[str],
    owners: Mapping[tuple[str, str], str],
    requests: Mapping[tuple[str, str], Mapping[str, float]] | None = None,
) -> tuple[Workload, ...]:
    groups: dict[tuple[str, str, str, int], list[PodMeasurement]] = {}
    for pod in pods:
        owner = owners.get((pod.namespace, pod.pod)) or workload_name(pod.pod)
        key = (pod.namespace, owner, pod.gpu, pod.gpu_size_gib or 0)
        groups.setdefault(key, []).append(pod)
    names = [name for _, name, _, _ in groups]
    namespaced = [(namespace, name) for namespace, name, _, _ in groups]
    workloads = []
    for (namespace, name, gpu, size), members in sorted(groups.items()):
        label = name if names.count(name) == 1 else f"{namespace}-{name}"
        if namespaced.count((namespace, name)) > 1:
            # One Deployment spread over two GPU models: one workload per model.
            label = f"{label}-{gpu}" + (f"-{size}g" if size else "")
        label = re.sub(r"[^a-z0-9-]", "-", label.lower())[:40].strip("-") or "workload"
        current = [p for p in members if (p.namespace, p.pod) in running] or members
        replicas = len(current)
        held = len({uuid for p in current for uuid in p.gpu_uuids}) or replicas
        # The largest request among its pods, per resource (kube-state-metrics).
        host = {
            resource: _quantity(resource, amount)
            for resource in ("cpu", "memory")
            if (
                amount := max(
                    (requests or {}).get((p.namespace, p.pod), {}).get(resource, 0.0)
                    for p in members
                )
            )
            > 0
        }
        waits = label in latency or name in latency
        busy = max(p.busy for p in members)
        sm = [p.sm_active for p in members]
        if waits and all(value is not None for value in sm):
            # Shared through MPS, side by side: SM activity is its share, not engine time.
            busy = max(value for value in sm if value is not None)
        workloads.append(
            Workload(
                label,
                replicas,
                max(p.memory_mib for p in members) / 1024,
                min(1.0, max(0.0, busy)),
                latency_sensitive=waits,
                gpu=gpu,
                gpu_size_gib=size or None,
                gpus_today=None if held == replicas else held,
                cpu=host.get("cpu"),
                memory=host.get("memory"),
            )
        )
    return tuple(workloads)


def _refuse_unmapped_processes(url: str, window: str, at: float | None) -> None:
    """Every pod reads 0 GiB while the GPUs' own series show memory in use: the exporter runs
    with KUBERNETES_VIRTUAL_GPUS but cannot match processes to pods, and gives each pod 0
    (dcgm-exporter 4.5.3-4.8.2 ``buildIdlePodValues``, kubernetes.go 271-279). Sizing on 0 GiB
    would pack any number of pods per GPU."""
    used = query_vector(url, f'max(max_over_time({MEMORY_METRIC}{{pod=""}}[{window}]))', at)
    if used and used[0].value > 0:
        raise ConfigurationError(
            field="--prometheus",
            value=url,
            rule=f"every pod's {MEMORY_METRIC} reads 0 while the GPUs' own series (no pod "
            f"label) show up to {used[0].value:,.0f} MiB in use: the exporter cannot match GPU "
            "processes to pods (KUBERNETES_VIRTUAL_GPUS without the host's PIDs or its pod "
            "informer)",
            fix="run the exporter with hostPID: true and kubernetes.enablePodUID: true (this "
            "library's Monitoring() does), wait for a window of data, or declare --workloads",
        )


def _peak(metric: str, window: str, names: _PodLabels) -> str:
    """Per pod (and GPU model), the largest value of ``metric`` over ``window``."""
    return f"max by ({names.by}) (max_over_time({metric}{names.selector}[{window}]))"


def _p95(metric: str, window: str, names: _PodLabels) -> str:
    """Per pod (and GPU model), the p95 of ``metric`` over ``window``."""
    return f"max by ({names.by}) (quantile_over_time(0.95, {metric}{names.selector}[{window}]))"


def _key(series: Sample, names: _PodLabels) -> tuple[str, str, str]:
    return (*names.of(series), series.labels.get("modelName", ""))
