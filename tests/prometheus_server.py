"""A real Prometheus (Debian's package) on loopback over a TSDB backfilled with synthetic DCGM
exporter series whose percentiles are known: no mock of the HTTP API."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

#: One sample every 10 minutes over 7 days ending at the fixture's ``end``.
STEP_SECONDS = 600
WINDOW_SECONDS = 7 * 24 * 3600


@dataclass(frozen=True)
class SyntheticPod:
    """A pod's DCGM series: each metric ramps from ``low`` to ``high`` (shuffled in time), so its
    p95 over the window is exactly ``low + 0.95 (high - low)`` (Prometheus interpolates)."""

    namespace: str
    pod: str
    model_name: str
    memory_mib: tuple[float, float]
    engine_active: tuple[float, float] | None
    gpu_util: tuple[float, float]
    alive_at_end: bool = True
    #: The GPU index it runs on (pods with the same index share the GPU); default its own.
    gpu: int | None = None
    #: Extra labels as the exporter or the scrape adds them, e.g. ``vgpu="1",pod_uid="..."``.
    extra_labels: str = ""
    #: The label names its pod and namespace are under (``exported_pod`` when a scrape without
    #: honorLabels renamed them).
    pod_label: str = "pod"
    namespace_label: str = "namespace"

    @staticmethod
    def p95(bounds: tuple[float, float]) -> float:
        low, high = bounds
        return low + 0.95 * (high - low)


def openmetrics(
    pods: Sequence[SyntheticPod],
    end: int,
    constant: Sequence[tuple[str, str, float]] = (),
    counters: Sequence[tuple[str, str, float]] = (),
) -> str:
    """The pods' series in OpenMetrics text, grouped by metric family as promtool requires;
    ``constant`` adds (metric, labels, value) series that hold one value all window, and
    ``counters`` (metric, labels, increase per second) series that grow at that rate (written
    as gauges: OpenMetrics counters need a ``_total`` suffix the exporter's names lack, and
    PromQL's ``rate`` reads either)."""
    count = WINDOW_SECONDS // STEP_SECONDS
    times = [end - (count - 1 - i) * STEP_SECONDS for i in range(count)]
    # A fixed permutation of the ramp (step coprime with count): not monotonic in time.
    order = [(i * 5) % count for i in range(count)]
    assert sorted(order) == list(range(count)), "5 must be coprime with the sample count"
    families: dict[str, list[str]] = {
        "DCGM_FI_DEV_FB_USED": [],
        "DCGM_FI_PROF_GR_ENGINE_ACTIVE": [],
        "DCGM_FI_DEV_GPU_UTIL": [],
    }
    for index, pod in enumerate(pods):
        gpu = index if pod.gpu is None else pod.gpu
        labels = (
            f'gpu="{gpu % 8}",UUID="GPU-{gpu:08d}",modelName="{pod.model_name}",'
            f'Hostname="node-{gpu}",{pod.namespace_label}="{pod.namespace}",'
            f'{pod.pod_label}="{pod.pod}",container="main"'
            + (f",{pod.extra_labels}" if pod.extra_labels else "")
        )
        for name, bounds in (
            ("DCGM_FI_DEV_FB_USED", pod.memory_mib),
            ("DCGM_FI_PROF_GR_ENGINE_ACTIVE", pod.engine_active),
            ("DCGM_FI_DEV_GPU_UTIL", pod.gpu_util),
        ):
            if bounds is None:
                continue
            low, high = bounds
            last = count if pod.alive_at_end else count - 12  # gone for the last 2 hours
            for i in range(last):
                value = low + (high - low) * order[i] / (count - 1)
                families[name].append(f"{name}{{{labels}}} {value:.6f} {times[i]}")
    for name, labels, value in constant:
        families.setdefault(name, []).extend(f"{name}{{{labels}}} {value} {t}" for t in times)
    for name, labels, per_second in counters:
        families.setdefault(name, []).extend(
            f"{name}{{{labels}}} {per_second * (t - times[0]):.1f} {t}" for t in times
        )
    lines = []
    for name, samples in families.items():
        if samples:
            lines += [f"# TYPE {name} gauge", *samples]
    return "\n".join(lines) + "\n# EOF\n"


@dataclass(frozen=True)
class RunningPrometheus:
    url: str
    end: int


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_prometheus(
    pods: Sequence[SyntheticPod],
    workdir: Path,
    *,
    constant: Sequence[tuple[str, str, float]] = (),
    counters: Sequence[tuple[str, str, float]] = (),
    scrape_configs: str = "",
    extra_files: Mapping[str, str] = {},
) -> Iterator[RunningPrometheus]:
    """Backfill, start, wait until ready, yield, stop. Skips without Debian's prometheus."""
    prometheus, promtool = shutil.which("prometheus"), shutil.which("promtool")
    if not prometheus or not promtool:
        pytest.skip(
            "prometheus/promtool not installed (Debian package `prometheus`; .ci/run installs it)"
        )
    end = (int(time.time()) // STEP_SECONDS) * STEP_SECONDS - STEP_SECONDS
    workdir.mkdir(parents=True, exist_ok=True)
    data = workdir / "data"
    source = workdir / "dcgm.om.txt"
    source.write_text(openmetrics(pods, end, constant, counters))
    subprocess.run(
        [promtool, "tsdb", "create-blocks-from", "openmetrics", "-q", str(source), str(data)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    config = workdir / "prometheus.yml"
    config.write_text("global:\n  scrape_interval: 1m\n" + scrape_configs)
    for name, text in extra_files.items():
        (workdir / name).write_text(text)
    port = _free_port()
    process = subprocess.Popen(
        [
            prometheus,
            f"--config.file={config}",
            f"--storage.tsdb.path={data}",
            "--storage.tsdb.retention.time=30d",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=(workdir / "prometheus.log").open("w"),
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{url}/-/ready", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError((workdir / "prometheus.log").read_text()[-2000:])
            time.sleep(0.2)
        yield RunningPrometheus(url, end)
    finally:
        process.terminate()
        process.wait(timeout=30)
