"""Beside an existing NVIDIA device plugin release (issue 10, item 5).

An existing release with the chart's default affinity selects nodes labelled
``nvidia.com/gpu.present=true`` or, where NFD runs, ``feature.node.kubernetes.io/pci-10de.present``.
On a pool node it would be a second plugin registering ``nvidia.com/gpu``. Karpenter's own
DaemonSet fit (which DaemonSets it expects on a pool's new nodes) and Helm's render of the pinned
chart decide here, on the pool's NodePool template:

* the pools no longer carry ``nvidia.com/gpu.present``, so the default release stays off them
  where no NFD runs;
* where NFD labels the node, only the exclusion values the guide gives the existing release
  keep it off; they keep it on every other GPU node.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
import yaml

from eks_gpu_sharing import GpuPool, TimeSlicing
from eks_gpu_sharing.setup import GpuSharingSetup
from eks_gpu_sharing.simulation import (
    device_plugin_daemon_sets,
    karpenter_controller_env,
    run_simulation,
    simulation_input,
)
from eks_gpu_sharing.upstream import Upstream

ROOT = Path(__file__).resolve().parents[1]
GUIDE = ROOT / "docs" / "gpu-sharing-on-eks.md"
POOL = GpuPool("inference", sharing=TimeSlicing(replicas=4), gpu_names=["t4"], gpu_limit=8)
NFD_LABEL = "feature.node.kubernetes.io/pci-10de.present"
EXISTING_RELEASE = "existing-plugin"


def guide_exclusion_values() -> dict[str, Any]:
    """The ```yaml block under the guide's "Beside an existing device plugin release"."""
    text = GUIDE.read_text()
    section = text[text.index("### Beside an existing device plugin release") :]
    block = re.search(r"```yaml\n(.*?)```", section, re.DOTALL)
    assert block, "the guide lost its exclusion values"
    values: dict[str, Any] = yaml.safe_load(block.group(1))
    return values


def expected_daemon_sets(
    harness: Upstream,
    existing_values: Mapping[str, Any],
    *,
    node_labels: Mapping[str, str] = {},
    pools: Sequence[GpuPool] = (POOL,),
) -> dict[str, tuple[str, ...]]:
    """Per pool, the DaemonSets Karpenter expects on a new node, with an existing release of the
    device plugin chart (rendered by Helm with ``existing_values``) in kube-system."""
    inputs = simulation_input(GpuSharingSetup.for_pools(pools))
    objects = copy.deepcopy(list(inputs.karpenter_objects))
    for obj in objects:
        if obj["kind"] == "NodePool":
            obj["spec"]["template"]["metadata"]["labels"].update(node_labels)
    existing = device_plugin_daemon_sets(harness, existing_values, "kube-system", EXISTING_RELEASE)
    ours = device_plugin_daemon_sets(harness, inputs.device_plugin_values, "nvidia-device-plugin")
    run = run_simulation(
        harness,
        label="coexistence",
        karpenter_objects=objects,
        pod_templates=inputs.pod_templates,
        resource_names=inputs.resource_names,
        pods={pool.name: 1 for pool in pools},
        controller_env=karpenter_controller_env(
            harness, cluster_name="test", node_overlay_enabled=True
        ),
        daemon_sets=[*existing, *ours],
    )
    return dict(run.daemon_sets)


def existing(daemon_sets: Mapping[str, tuple[str, ...]]) -> set[str]:
    return {name for names in daemon_sets.values() for name in names if "kube-system/" in name}


def test_a_default_release_stays_off_the_pools_without_nfd(harness: Upstream) -> None:
    fit = expected_daemon_sets(harness, {})
    assert existing(fit) == set()
    # Ours is there: the pool label selects it.
    assert any(name.startswith("nvidia-device-plugin/") for name in fit["inference"])


def test_control_with_the_label_earlier_releases_set_it_is_a_second_plugin(
    harness: Upstream, existing_name: str
) -> None:
    fit = expected_daemon_sets(harness, {}, node_labels={"nvidia.com/gpu.present": "true"})
    assert existing(fit) == {f"kube-system/{existing_name}"}


def test_the_guides_exclusion_values_keep_it_off_where_nfd_runs(
    harness: Upstream, existing_name: str
) -> None:
    assert existing(expected_daemon_sets(harness, {}, node_labels={NFD_LABEL: "true"})) == {
        f"kube-system/{existing_name}"
    }
    values = guide_exclusion_values()
    for labels in ({NFD_LABEL: "true"}, {"nvidia.com/gpu.present": "true"}, {}):
        assert existing(expected_daemon_sets(harness, values, node_labels=labels)) == set()


def test_the_exclusion_values_keep_every_selector_of_the_chart(harness: Upstream) -> None:
    """The values add `eks-gpu-sharing.io/pool DoesNotExist` to each of the chart's default
    terms and change nothing else, so the existing release still runs on its own GPU nodes."""
    defaults = harness.render_chart(
        "nvidia-device-plugin", release="x", namespace="kube-system", values={}
    )["defaults"]
    chart_terms = defaults["affinity"]["nodeAffinity"][
        "requiredDuringSchedulingIgnoredDuringExecution"
    ]["nodeSelectorTerms"]
    ours = guide_exclusion_values()["affinity"]["nodeAffinity"][
        "requiredDuringSchedulingIgnoredDuringExecution"
    ]["nodeSelectorTerms"]
    exclusion = {"key": "eks-gpu-sharing.io/pool", "operator": "DoesNotExist"}
    assert ours == [
        {"matchExpressions": [*term["matchExpressions"], exclusion]} for term in chart_terms
    ]


@pytest.fixture
def existing_name(harness: Upstream) -> str:
    """The existing release's DaemonSet, as Helm names it (not the library's)."""
    rendered = device_plugin_daemon_sets(harness, {}, "kube-system", EXISTING_RELEASE)
    names = [d["metadata"]["name"] for d in rendered]
    # The plugin, and the MPS control daemon, which runs only on nodes GFD marks MPS-capable.
    assert names == [f"{EXISTING_RELEASE}-nvidia-device-plugin", *names[1:]]
    return str(names[0])
