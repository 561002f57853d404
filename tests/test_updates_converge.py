"""Updates converge (cross-cutting: the CDK constructs and the plain-YAML renderer, both over
the same cluster model and the same table of changes): every change to the pools converges.

For each kind of change, the cluster after the update (what CloudFormation and aws-cdk-lib's
kubectl handler, or ``kubectl apply -f`` plus the commands ``synth`` prints, leave there: see
tests/cluster_model.py) must hold exactly the objects of a fresh deploy of the new
configuration, and Karpenter's own scheduler must launch the same nodes on both.

A control runs the same update on the layout of earlier releases (a pool's NodeOverlays in the
pool's manifest): the overlay of a pool switched to whole GPUs stays behind and Karpenter
packs four one-GPU pods onto each one-GPU node, so the model can tell a layout that leaks.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from eks_gpu_sharing import (
    ExistingKarpenter,
    GpuPool,
    GpuSharing,
    Mps,
    NoSharing,
    PodGuardrails,
    TimeSlicing,
)
from eks_gpu_sharing.render import (
    PRUNE_ALLOWLIST,
    PRUNE_SELECTOR,
    kubectl_apply_command,
    rendered_files,
    synth,
)
from eks_gpu_sharing.setup import GpuSharingSetup, SampleWorkloadSettings
from eks_gpu_sharing.simulation import (
    SimulationRun,
    karpenter_controller_env,
    run_simulation,
    simulation_input,
)
from eks_gpu_sharing.upstream import Upstream
from tests.cdk_helpers import imported_cluster
from tests.cluster_model import (
    AlreadyExistsError,
    Cluster,
    ManifestResource,
    default_pruned_kinds,
    object_key,
    template_manifests,
)

pytestmark = pytest.mark.slow

KARPENTER = ExistingKarpenter(
    node_role_name="KarpenterNodeRole-existing",
    discovery_tag_value="existing",
    version="1.14.1",
    node_overlay_enabled=True,
)
SHARED = GpuPool(
    "inference",
    sharing=TimeSlicing(replicas=4),
    gpu_names=["t4"],
    gpu_counts=[1, 4],
    gpu_limit=8,
)
OTHER = GpuPool("batch", sharing=TimeSlicing(replicas=2), gpu_names=["l4"], gpu_limit=4)

#: name -> (pools before, pools after)
CHANGES: dict[str, tuple[tuple[GpuPool, ...], tuple[GpuPool, ...]]] = {
    "replicas up": ((SHARED,), (dataclasses.replace(SHARED, sharing=TimeSlicing(replicas=8)),)),
    "replicas down": ((SHARED,), (dataclasses.replace(SHARED, sharing=TimeSlicing(replicas=2)),)),
    "time-slicing to MPS": ((SHARED,), (dataclasses.replace(SHARED, sharing=Mps(replicas=4)),)),
    "to whole GPUs": ((SHARED,), (dataclasses.replace(SHARED, sharing=NoSharing()),)),
    "renamed slices": (
        (SHARED,),
        (dataclasses.replace(SHARED, sharing=TimeSlicing(replicas=4, rename_by_default=True)),),
    ),
    "a GPU count removed": ((SHARED,), (dataclasses.replace(SHARED, gpu_counts=[4]),)),
    "a pool removed": ((SHARED, OTHER), (OTHER,)),
    "a pool renamed": ((SHARED, OTHER), (dataclasses.replace(SHARED, name="serving"), OTHER)),
}
PODS = 12


def cdk_manifests(pools: Sequence[GpuPool]) -> dict[str, ManifestResource]:
    _, stack, cluster = imported_cluster()
    GpuSharing(
        stack, "Gpu", cluster=cluster, karpenter=KARPENTER, pools=pools, sample_workload=False
    )
    from aws_cdk.assertions import Template

    return template_manifests(Template.from_stack(stack).to_json())


def yaml_config(
    pools: Sequence[GpuPool], *, sample: bool = False, guardrails: bool = False
) -> GpuSharingSetup:
    return GpuSharingSetup(
        cluster_name="existing",
        karpenter=KARPENTER,
        pools=tuple(pools),
        sample_workload=SampleWorkloadSettings(pool=pools[0].name) if sample else None,
        pod_guardrails=PodGuardrails() if guardrails else None,
    )


def schedule(harness: Upstream, objects: Sequence[Mapping[str, Any]], pools: Sequence[GpuPool]):
    """Karpenter's provisioning round for PODS one-slice pods per pool of the new config."""
    inputs = simulation_input(GpuSharingSetup.for_pools(pools))
    run = run_simulation(
        harness,
        label="day two",
        karpenter_objects=list(objects),
        pod_templates=inputs.pod_templates,
        resource_names=inputs.resource_names,
        pods={pool.name: PODS for pool in pools},
        controller_env=karpenter_controller_env(
            harness, cluster_name="existing", node_overlay_enabled=True
        ),
    )
    return summary(run)


def summary(run: SimulationRun) -> dict[str, tuple[int, list[tuple[str, int]], int]]:
    """Per pool: nodes, (instance type, slices) of each, pods not placed."""
    return {
        pool.pool: (
            pool.nodes,
            sorted((claim.instance_type, claim.slices) for claim in pool.node_claims),
            pool.unschedulable_pods,
        )
        for pool in run.pools
    }


def karpenter_keys(cluster: Cluster) -> set[tuple[str, str, str, str]]:
    return {object_key(obj) for obj in cluster.karpenter_objects()}


@pytest.fixture(scope="module")
def pruned_kinds(harness: Upstream) -> frozenset[tuple[str, str]]:
    kinds = default_pruned_kinds(harness)
    # kubectl's default allowlist: core and apps kinds, never a custom resource.
    assert ("", "ConfigMap") in kinds and ("apps", "Deployment") in kinds
    assert not {kind for group, kind in kinds if "karpenter" in group}
    return kinds


@pytest.mark.parametrize("change", CHANGES)
def test_a_cdk_update_converges_to_a_fresh_deploy(
    harness: Upstream, pruned_kinds: frozenset[tuple[str, str]], change: str
) -> None:
    before, after = CHANGES[change]
    old, new = cdk_manifests(before), cdk_manifests(after)
    updated = Cluster()
    updated.deploy_stack({}, old, pruned_kinds)
    updated.deploy_stack(old, new, pruned_kinds)
    fresh = Cluster()
    fresh.deploy_stack({}, new, pruned_kinds)
    assert karpenter_keys(updated) == karpenter_keys(fresh)
    assert updated.objects == fresh.objects
    assert schedule(harness, updated.karpenter_objects(), after) == schedule(
        harness, fresh.karpenter_objects(), after
    )


@pytest.mark.parametrize("change", CHANGES)
def test_a_plain_yaml_update_converges_with_the_printed_commands(
    harness: Upstream, tmp_path: Path, change: str
) -> None:
    before, after = CHANGES[change]
    out = tmp_path / "manifests"
    synth(yaml_config(before), out)
    old_files = rendered_files(yaml_config(before))
    result = synth(yaml_config(after), out)
    new_files = rendered_files(yaml_config(after))
    updated = Cluster()
    updated.apply_folder(old_files)
    updated.apply_folder(new_files)
    for command in result.leftovers:
        updated.kubectl_delete(command)
    fresh = Cluster()
    fresh.apply_folder(new_files)
    assert updated.objects == fresh.objects
    assert schedule(harness, updated.karpenter_objects(), after) == schedule(
        harness, fresh.karpenter_objects(), after
    )


@pytest.mark.parametrize("change", CHANGES)
def test_the_documented_prune_command_converges_too(harness: Upstream, change: str) -> None:
    """``kubectl apply --prune -l ... --prune-allowlist=...`` (kubectl_apply_command): kubectl
    parses the allowlist, and it covers every kind synth writes."""
    kinds = frozenset((k["group"], k["kind"]) for k in harness.prune_kinds(PRUNE_ALLOWLIST))
    before, after = CHANGES[change]
    old_files, new_files = (
        rendered_files(yaml_config(pools, sample=True)) for pools in (before, after)
    )
    written = {object_key(obj)[:2] for obj in Cluster.loaded(new_files).objects.values()}
    assert written <= kinds, written - kinds
    label = tuple(PRUNE_SELECTOR.split("="))
    updated = Cluster()
    updated.apply_folder(old_files)
    updated.apply_folder(new_files, prune_label=label, prune_kinds=kinds)
    assert updated.objects == Cluster.loaded(new_files).objects


def test_changes_that_remove_objects_print_their_delete_commands(tmp_path: Path) -> None:
    out = tmp_path / "manifests"
    synth(yaml_config((SHARED, OTHER)), out)
    assert synth(yaml_config((SHARED, OTHER)), out).leftovers == []
    # From one NodePool per count to one NodePool: the split ones go, the 4-GPU overlay stays
    # (named after the pool, it is rewritten in place).
    result = synth(yaml_config((dataclasses.replace(SHARED, gpu_counts=[4]), OTHER)), out)
    assert result.leftovers == [
        "kubectl delete ec2nodeclass.karpenter.k8s.aws/inference-1gpu",
        "kubectl delete ec2nodeclass.karpenter.k8s.aws/inference-4gpu",
        "kubectl delete nodeoverlay.karpenter.sh/inference-gpu-1",
        "kubectl delete nodepool.karpenter.sh/inference-1gpu",
        "kubectl delete nodepool.karpenter.sh/inference-4gpu",
    ]
    result = synth(yaml_config((OTHER,)), out)
    assert result.leftovers == [
        "kubectl delete ec2nodeclass.karpenter.k8s.aws/inference",
        "kubectl delete nodeoverlay.karpenter.sh/inference-gpu-4",
        "kubectl delete nodepool.karpenter.sh/inference",
    ]


def _earlier_layout(manifests: Mapping[str, ManifestResource]) -> dict[str, ManifestResource]:
    """The same objects with each pool's overlays in the pool's manifest, as releases before
    0.2 deployed them."""
    merged = {k: v for k, v in manifests.items() if "Overlay" not in k}
    for logical_id, resource in manifests.items():
        if "Overlay" not in logical_id:
            continue
        overlay = resource.documents()[0]
        pool = overlay["spec"]["requirements"][0]["values"][0]
        pool_id = next(k for k, v in merged.items() if _holds_node_pool(v, pool))
        holder = merged[pool_id]
        merged[pool_id] = dataclasses.replace(
            holder, objects=(*holder.objects, json.dumps(overlay, sort_keys=True))
        )
    return merged


def _holds_node_pool(resource: ManifestResource, pool: str) -> bool:
    return any(
        o["kind"] == "NodePool" and o["metadata"]["name"] == pool for o in resource.documents()
    )


def test_control_the_earlier_layout_leaves_an_overlay_that_changes_scheduling(
    harness: Upstream, pruned_kinds: frozenset[tuple[str, str]]
) -> None:
    before, after = CHANGES["to whole GPUs"]
    old, new = _earlier_layout(cdk_manifests(before)), _earlier_layout(cdk_manifests(after))
    updated = Cluster()
    updated.deploy_stack({}, old, pruned_kinds)
    updated.deploy_stack(old, new, pruned_kinds)
    fresh = Cluster()
    fresh.deploy_stack({}, new, pruned_kinds)
    leftovers = karpenter_keys(updated) - karpenter_keys(fresh)
    assert leftovers == {
        ("karpenter.sh", "NodeOverlay", "", "inference-gpu-1"),
        ("karpenter.sh", "NodeOverlay", "", "inference-gpu-4"),
    }
    stale, right = (
        schedule(harness, cluster.karpenter_objects(), after) for cluster in (updated, fresh)
    )
    # Whole GPUs on one NodePool per GPU count, each limited to 8 GPUs: eight 1-GPU nodes
    # (weighted first: cheaper per GPU), then one 4-GPU node for the other four pods.
    assert right == {"inference": (9, [("g4dn.12xlarge", 4)] + [("g4dn.xlarge", 1)] * 8, 0)}
    # With the leftover overlays Karpenter believes a 1-GPU g4dn.xlarge has 4 GPUs and plans
    # four pods on each (six of those eight would fail on the node: the device plugin offers one
    # GPU), and a 4-GPU node 16, over the 4-GPU NodePool's limit: four pods stay Pending.
    assert stale == {"inference": (2, [("g4dn.xlarge", 4)] * 2, PODS - 8)}


def test_upgrading_from_the_earlier_layout_adopts_the_overlays(
    pruned_kinds: frozenset[tuple[str, str]],
) -> None:
    """The overlays move from the pool's manifest to their own: the new resources take over the
    existing objects (``Overwrite``: ``kubectl apply`` on create) instead of failing with
    AlreadyExists, and nothing is lost or left behind."""
    current = cdk_manifests((SHARED, OTHER))
    earlier = _earlier_layout(current)
    updated = Cluster()
    updated.deploy_stack({}, earlier, pruned_kinds)
    updated.deploy_stack(earlier, current, pruned_kinds)
    fresh = Cluster()
    fresh.deploy_stack({}, current, pruned_kinds)
    assert updated.objects == fresh.objects
    without_overwrite = {k: dataclasses.replace(v, overwrite=False) for k, v in current.items()}
    with pytest.raises(AlreadyExistsError):
        _deploy_twice(earlier, without_overwrite, pruned_kinds)


def _deploy_twice(
    first: Mapping[str, ManifestResource],
    second: Mapping[str, ManifestResource],
    pruned_kinds: frozenset[tuple[str, str]],
) -> None:
    cluster = Cluster()
    cluster.deploy_stack({}, first, pruned_kinds)
    cluster.deploy_stack(first, second, pruned_kinds)


def test_the_guide_shows_the_command_synth_prints() -> None:
    guide = (Path(__file__).resolve().parents[1] / "docs" / "runbook.md").read_text()
    assert f"or apply with pruning instead: {kubectl_apply_command('manifests')}\n" in guide
