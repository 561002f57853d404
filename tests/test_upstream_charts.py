"""The NVIDIA device plugin chart, rendered by Helm's own code with the values we generate.

The chart comes from the pinned device plugin module. The proxy refuses v0.20.0 (deployed), so
this is v0.19.3's chart; its templates differ from 0.20.0's only by an opt-in
``enableHostNetwork`` this library does not set, and its NFD subchart is 0.17.3 instead of
0.19.0 (same ``worker.tolerations`` value). Where a DaemonSet's pods land is decided by
Karpenter's own scheduling code (the simulator's DaemonSet fit), not by reading the affinity.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
import yaml

from eks_gpu_sharing import GpuPool
from eks_gpu_sharing.backends import DEVICE_PLUGIN_CONFIG_LABEL
from eks_gpu_sharing.k8s import (
    CONFIG_HASH_ANNOTATION,
    DEVICE_PLUGIN_CONFIG_MAP,
    DEVICE_PLUGIN_NAMESPACE,
    DEVICE_PLUGIN_RELEASE,
    device_plugin_helm_values,
)
from eks_gpu_sharing.render import DEVICE_PLUGIN_VALUES_FILE
from eks_gpu_sharing.setup import GpuSharingSetup
from eks_gpu_sharing.simulation import (
    karpenter_controller_env,
    run_simulation,
    simulation_input,
)
from eks_gpu_sharing.upstream import Upstream
from tests.pools import ALL_POOLS, BATCH, DEDICATED, INFERENCE, MPS
from tests.upstream_checks import admission_errors

ROOT = Path(__file__).resolve().parents[1]

PLUGIN = f"{DEVICE_PLUGIN_NAMESPACE}/{DEVICE_PLUGIN_RELEASE}"
GFD = f"{PLUGIN}-gpu-feature-discovery"
NFD_WORKER = f"{PLUGIN}-node-feature-discovery-worker"
MPS_DAEMON = f"{PLUGIN}-mps-control-daemon"


def render(harness: Upstream, values: dict[str, Any]) -> dict[str, Any]:
    result = harness.render_chart(
        "nvidia-device-plugin",
        release=DEVICE_PLUGIN_RELEASE,
        namespace=DEVICE_PLUGIN_NAMESPACE,
        values=values,
        kube_version="v1.36.0",
    )
    assert not result.get("error"), result["error"]
    return result


def objects_named(chart: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {
        f"{o['metadata']['namespace']}/{o['metadata']['name']}": o
        for o in chart["objects"]
        if o["kind"] == kind
    }


def daemon_set_fit(harness: Upstream, pools: Sequence[GpuPool]) -> dict[str, tuple[str, ...]]:
    """Per pool, the DaemonSets whose pods Karpenter's scheduling code puts on its nodes."""
    inputs = simulation_input(GpuSharingSetup.for_pools(pools))
    chart = render(harness, dict(inputs.device_plugin_values or {}))
    run = run_simulation(
        harness,
        label="daemon sets",
        karpenter_objects=inputs.karpenter_objects,
        pod_templates=inputs.pod_templates,
        resource_names=inputs.resource_names,
        pods={},
        controller_env=karpenter_controller_env(
            harness, cluster_name="demo", node_overlay_enabled=True
        ),
        daemon_sets=list(objects_named(chart, "DaemonSet").values()),
    )
    return dict(run.daemon_sets)


@pytest.fixture(scope="module")
def fit(harness: Upstream) -> dict[str, tuple[str, ...]]:
    return daemon_set_fit(harness, ALL_POOLS)


def test_the_plugin_runs_on_exactly_the_al2023_pools(fit: dict[str, tuple[str, ...]]) -> None:
    for pool in ALL_POOLS:
        assert (PLUGIN in fit[pool.name]) is pool.uses_device_plugin_daemonset, pool.name
    assert PLUGIN not in fit[BATCH.name]  # Bottlerocket runs its own plugin
    assert PLUGIN in fit[DEDICATED.name]  # extra taints are tolerated


def test_gfd_and_nfd_run_on_gpu_pools_only_with_an_mps_pool(
    harness: Upstream, fit: dict[str, tuple[str, ...]]
) -> None:
    assert GFD in fit[MPS.name] and NFD_WORKER in fit[MPS.name]
    assert NFD_WORKER in fit[DEDICATED.name]  # NFD tolerates the extra taints as well
    without_mps = daemon_set_fit(harness, [INFERENCE, BATCH])
    assert all(GFD not in names and NFD_WORKER not in names for names in without_mps.values())


def test_the_mps_daemon_waits_for_the_mps_capable_label(harness: Upstream) -> None:
    """The chart always renders the MPS control daemon; it selects nvidia.com/mps.capable,
    which GFD sets only on nodes whose config uses MPS, so no other pool ever runs it."""
    chart = render(harness, device_plugin_helm_values([INFERENCE, MPS]))
    daemon = objects_named(chart, "DaemonSet")[MPS_DAEMON]
    assert daemon["spec"]["template"]["spec"]["nodeSelector"] == {"nvidia.com/mps.capable": "true"}


def test_config_manager_reads_the_pool_label_and_our_config_map(harness: Upstream) -> None:
    chart = render(harness, device_plugin_helm_values(ALL_POOLS, config_hash="ab" * 32))
    plugin = objects_named(chart, "DaemonSet")[PLUGIN]
    template = plugin["spec"]["template"]
    managers = [
        c
        for c in template["spec"]["initContainers"] + template["spec"]["containers"]
        if c["command"] == ["config-manager"]
    ]
    assert len(managers) == 2  # the init container writes the config, the sidecar follows it
    for manager in managers:
        env = {e["name"]: e.get("value") for e in manager["env"]}
        assert env["NODE_LABEL"] == DEVICE_PLUGIN_CONFIG_LABEL
        assert env["DEFAULT_CONFIG"] == "exclusive"
    volumes = {v["name"]: v for v in template["spec"]["volumes"]}
    assert volumes["available-configs"]["configMap"]["name"] == DEVICE_PLUGIN_CONFIG_MAP
    assert template["metadata"]["annotations"][CONFIG_HASH_ANNOTATION] == "ab" * 32


def test_committed_values_render_to_admitted_objects(harness: Upstream) -> None:
    values = yaml.safe_load((ROOT / "manifests" / DEVICE_PLUGIN_VALUES_FILE).read_text())
    chart = render(harness, values)
    assert set(objects_named(chart, "DaemonSet")) == {PLUGIN, MPS_DAEMON}
    assert admission_errors(harness, chart["objects"]) == []


def test_mps_values_render_to_admitted_objects(harness: Upstream) -> None:
    chart = render(harness, device_plugin_helm_values(ALL_POOLS))
    assert {GFD, NFD_WORKER} <= set(objects_named(chart, "DaemonSet"))
    assert admission_errors(harness, chart["objects"]) == []
