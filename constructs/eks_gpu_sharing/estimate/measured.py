"""Workloads measured by the NVIDIA DCGM exporter, read from Prometheus's HTTP API.

Per pod, over a window (default 7 days) ending at ``at``:

* GPU memory: p95 of ``DCGM_FI_DEV_FB_USED`` (MiB), ``quantile_over_time(0.95, ...)``;
* busy: p95 of ``DCGM_FI_PROF_GR_ENGINE_ACTIVE`` (0..1), or of ``DCGM_FI_DEV_GPU_UTIL`` / 100
  where the profiling metrics are off (they need DCGM's profiling module);
* the GPU model from the ``modelName`` label the exporter sets (``NVIDIA L4``, ``Tesla T4``).

Pods are grouped into workloads by their names (``<deployment>-<hash>-<id>``,
``<statefulset>-<n>``, ``<job>-<id>``): a workload's memory and busy share are the largest of its
pods', its replicas the pods that reported in the window's last hour. The exporter attributes a
GPU's metrics to the pod holding it, which is exact while each pod holds a whole GPU (the
situation before sharing); on shared GPUs it cannot split them per pod.
"""

from __future__ import annotations

import re
import urllib.parse
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final

from ..catalog import load_catalog
from ..errors import ConfigurationError
from .prometheus import Sample, query_vector
from .workloads import Workload

MEMORY_METRIC: Final = "DCGM_FI_DEV_FB_USED"
BUSY_METRIC: Final = "DCGM_FI_PROF_GR_ENGINE_ACTIVE"
BUSY_FALLBACK_METRIC: Final = "DCGM_FI_DEV_GPU_UTIL"
DEFAULT_WINDOW: Final = "7d"
_DURATION: Final = re.compile(r"[1-9][0-9]{0,5}[smhdwy]")
_POD_SUFFIXES: Final = (
    re.compile(r"(?P<name>.+)-[a-z0-9]{6,10}-[a-z0-9]{5}"),  # Deployment (ReplicaSet hash, id)
    re.compile(r"(?P<name>.+)-[0-9]+"),  # StatefulSet ordinal
    re.compile(r"(?P<name>.+)-[a-z0-9]{5}"),  # Job, DaemonSet
)
_BY: Final = "namespace, pod, modelName"
_POD: Final = '{pod!=""}'


@dataclass(frozen=True)
class PodMeasurement:
    """What one pod used over the window."""

    namespace: str
    pod: str
    gpu: str
    memory_mib: float
    busy: float
    busy_metric: str


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
    memory = query_vector(url, _p95(MEMORY_METRIC, window), at)
    # Per pod: the profiling metric where DCGM collects it, else the coarser utilisation.
    engine = {_key(s): s.value for s in query_vector(url, _p95(BUSY_METRIC, window), at)}
    utilisation = {
        _key(s): s.value
        for s in query_vector(url, f"{_p95(BUSY_FALLBACK_METRIC, window)} / 100", at)
    }
    alive = query_vector(url, f"max by ({_BY}) (last_over_time({MEMORY_METRIC}{_POD}[1h]))", at)
    if not memory:
        raise ConfigurationError(
            field="--prometheus",
            value=url,
            rule=f"holds no {MEMORY_METRIC} series with a pod label in the last {window}",
            fix="install the DCGM exporter with Kubernetes pod mapping (docs: Monitoring)",
        )
    pods = []
    skipped: Counter[str] = Counter()
    priced = load_catalog().priced_gpu_names
    for series in memory:
        labels = series.labels
        gpu = gpu_name(labels.get("modelName", ""))
        if gpu is None or gpu not in priced:
            skipped[labels.get("modelName", "(no modelName label)")] += 1
            continue
        key = _key(series)
        busy, metric = (
            (engine[key], BUSY_METRIC)
            if key in engine
            else (utilisation.get(key, 0.0), BUSY_FALLBACK_METRIC)
        )
        pods.append(
            PodMeasurement(
                labels.get("namespace", ""),
                labels.get("pod", ""),
                gpu,
                series.value,
                min(1.0, max(0.0, busy)),
                metric,
            )
        )
    if not pods:
        raise ConfigurationError(
            field="--prometheus",
            value=", ".join(sorted(skipped)),
            rule="every measured pod runs on a GPU model the instance catalog does not have (or "
            "has without a price)",
            fix="estimate those workloads from a declared --workloads file",
        )
    running = {(s.labels.get("namespace", ""), s.labels.get("pod", "")) for s in alive}
    workloads = _workloads(pods, running, set(latency_sensitive))
    return Measurement(tuple(pods), workloads, window, url, dict(sorted(skipped.items())))


def _workloads(
    pods: Sequence[PodMeasurement], running: set[tuple[str, str]], latency: set[str]
) -> tuple[Workload, ...]:
    groups: dict[tuple[str, str, str], list[PodMeasurement]] = {}
    for pod in pods:
        groups.setdefault((pod.namespace, workload_name(pod.pod), pod.gpu), []).append(pod)
    names = [name for _, name, _ in groups]
    namespaced = [(namespace, name) for namespace, name, _ in groups]
    workloads = []
    for (namespace, name, gpu), members in sorted(groups.items()):
        label = name if names.count(name) == 1 else f"{namespace}-{name}"
        if namespaced.count((namespace, name)) > 1:
            # One Deployment spread over two GPU models: one workload per model.
            label = f"{label}-{gpu}"
        label = re.sub(r"[^a-z0-9-]", "-", label.lower())[:40].strip("-") or "workload"
        replicas = sum(1 for p in members if (p.namespace, p.pod) in running) or len(members)
        workloads.append(
            Workload(
                label,
                replicas,
                max(p.memory_mib for p in members) / 1024,
                max(p.busy for p in members),
                latency_sensitive=label in latency or name in latency,
                gpu=gpu,
            )
        )
    return tuple(workloads)


def _p95(metric: str, window: str) -> str:
    """Per pod (and GPU model), the p95 of ``metric`` over ``window``."""
    return f"max by ({_BY}) (quantile_over_time(0.95, {metric}{_POD}[{window}]))"


def _key(series: Sample) -> tuple[str, str, str]:
    labels = series.labels
    return labels.get("namespace", ""), labels.get("pod", ""), labels.get("modelName", "")
