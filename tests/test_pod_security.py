"""Pod Security Standards on the namespaces the library creates (issue 10, item 9), decided by the
Pod Security admission's own evaluator (k8s.io/pod-security-admission, pinned) on the pods that
run there: the sample Job's, and every pod template Helm renders from the device plugin chart
with the library's values. Each namespace gets the strictest level its pods pass."""

from __future__ import annotations

from typing import Any

import cdk8s
import pytest

from eks_gpu_sharing import GpuPool, Mps, TimeSlicing
from eks_gpu_sharing.k8s import DevicePluginConfigChart, SampleWorkloadChart
from eks_gpu_sharing.k8s.device_plugin import device_plugin_helm_values
from eks_gpu_sharing.upstream import Upstream
from eks_gpu_sharing.versions import KUBERNETES_VERSION

POOLS = [
    GpuPool("inference", sharing=TimeSlicing(replicas=4)),
    GpuPool("mps", sharing=Mps(replicas=4), gpu_names=["l4"]),
]


def namespace_labels(objects: list[dict[str, Any]]) -> dict[str, str]:
    (namespace,) = [o for o in objects if o["kind"] == "Namespace"]
    labels: dict[str, str] = namespace["metadata"]["labels"]
    return labels


def pod_templates(objects: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {
        f"{o['kind']}/{o['metadata']['name']}": o["spec"]["template"]
        for o in objects
        if o["kind"] in ("DaemonSet", "Deployment", "Job")
    }


def test_the_sample_namespace_enforces_baseline_and_the_job_passes(harness: Upstream) -> None:
    chart = SampleWorkloadChart(cdk8s.App(), "sample", pool=POOLS[0])
    objects = chart.to_json()
    answer = harness.pod_security(namespace_labels(objects), pod_templates(objects))
    version = f"v{KUBERNETES_VERSION}"
    assert answer["errors"] == []
    assert answer["policy"] == {
        "enforce": f"baseline:{version}",
        "warn": f"baseline:{version}",
        "audit": f"restricted:{version}",
    }
    (verdict,) = answer["verdicts"]
    # Allowed and no warning; restricted (audit only) refuses it for running as root, the one
    # thing the CUDA sample image needs.
    assert set(verdict["forbidden"]) == {"audit"}
    assert "runAsNonRoot" in verdict["forbidden"]["audit"]


@pytest.mark.parametrize("pools", [POOLS[:1], POOLS], ids=["time-slicing", "with-mps"])
def test_the_device_plugin_namespace_is_privileged_because_its_pods_need_it(
    harness: Upstream, pools: list[GpuPool]
) -> None:
    chart = DevicePluginConfigChart(cdk8s.App(), "config", pools=pools)
    labels = namespace_labels(chart.to_json())
    rendered = harness.render_chart(
        "nvidia-device-plugin",
        release="nvidia-device-plugin",
        namespace=chart.namespace,
        values=device_plugin_helm_values(pools),
    )
    pods = pod_templates(rendered["objects"])
    assert "DaemonSet/nvidia-device-plugin" in pods
    answer = harness.pod_security(labels, pods)
    assert answer["errors"] == []
    assert answer["policy"]["enforce"] == f"privileged:v{KUBERNETES_VERSION}"
    assert all(v["forbidden"] == {} for v in answer["verdicts"])
    # No lower level would do: baseline refuses the plugin (it mounts the kubelet's
    # device-plugin folder from the host).
    baseline = harness.pod_security({"pod-security.kubernetes.io/enforce": "baseline"}, pods)
    refused = {v["name"]: v["forbidden"].get("enforce", "") for v in baseline["verdicts"]}
    assert "hostPath" in refused["DaemonSet/nvidia-device-plugin"]
