"""Every object the library emits passes the API server's own create path.

Karpenter objects: the API server's custom resource code (k8s.io/apiextensions-apiserver, the
version the pinned Karpenter builds with) with the pinned provider's CRDs: pruning, defaulting,
structural schema, metadata and list-type checks and every x-kubernetes-validations CEL rule.
Built-in objects: kube-apiserver's registry strategies plus the Kubernetes 1.36 schema. The
negative tests show each layer refusing what the real API server refuses.
"""

from __future__ import annotations

import copy
import stat
from pathlib import Path
from typing import Any

import cdk8s
import pytest

from eks_gpu_sharing import GpuPool, TimeSlicing
from eks_gpu_sharing.k8s import (
    DevicePluginConfigChart,
    GpuPoolChart,
    SampleWorkloadChart,
)
from eks_gpu_sharing.upstream import Upstream
from eks_gpu_sharing.versions import KARPENTER_VERSION
from tests.pools import ALL_POOLS, INFERENCE, KARPENTER
from tests.upstream_checks import admission_errors, manifest_objects, stored


def scenario_objects() -> list[dict[str, Any]]:
    app = cdk8s.App()
    objects: list[dict[str, Any]] = []
    for pool in ALL_POOLS:
        objects += GpuPoolChart(app, f"pool-{pool.name}", pool=pool, karpenter=KARPENTER).to_json()
        objects += SampleWorkloadChart(
            app, f"sample-{pool.name}", pool=pool, create_namespace=pool is INFERENCE
        ).to_json()
    objects += DevicePluginConfigChart(app, "device-plugin", pools=ALL_POOLS).to_json()
    objects += GpuPoolChart(
        app,
        "tagged",
        pool=GpuPool("tagged", sharing=TimeSlicing(replicas=2)),
        karpenter=KARPENTER,
        instance_tags={"team": "ml"},
    ).to_json()
    return objects


def of_kind(objects: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    return copy.deepcopy(next(o for o in objects if o["kind"] == kind))


def test_committed_manifests_are_admitted(harness: Upstream) -> None:
    objects = manifest_objects()
    assert {o["kind"] for o in objects} == {
        "EC2NodeClass",
        "NodePool",
        "NodeOverlay",
        "Namespace",
        "ConfigMap",
        "Job",
    }
    assert admission_errors(harness, objects) == []


def test_every_scenario_pool_is_admitted(harness: Upstream) -> None:
    objects = scenario_objects()
    assert len([o for o in objects if o["kind"] == "NodeOverlay"]) == 8
    assert admission_errors(harness, objects) == []


def test_the_stored_objects_keep_what_we_wrote(harness: Upstream) -> None:
    """Pruning drops nothing we emit: the stored spec contains ours unchanged (defaults may
    add fields, never change ours)."""

    def contains(big: Any, small: Any) -> bool:
        if isinstance(small, dict):
            return isinstance(big, dict) and all(
                k in big and contains(big[k], v) for k, v in small.items()
            )
        return big == small

    for obj in scenario_objects():
        if obj["apiVersion"].startswith(("karpenter.sh/", "karpenter.k8s.aws/")):
            assert contains(stored(harness, obj)["spec"], obj["spec"]), obj["metadata"]["name"]


# -- each layer refuses what the API server refuses --------------------------------------------


def test_unknown_fields_are_refused(harness: Upstream) -> None:
    node_pool = of_kind(manifest_objects(), "NodePool")
    node_pool["spec"]["template"]["spec"]["gpuSlices"] = 4
    job = of_kind(manifest_objects(), "Job")
    job["spec"]["template"]["spec"]["containers"][0]["gpus"] = 1
    errors = admission_errors(harness, [node_pool, job])
    assert any("spec.template.spec.gpuSlices: unknown field" in e for e in errors), errors
    assert any('unknown field "spec.template.spec.containers[0].gpus"' in e for e in errors)


def test_cel_rules_run(harness: Upstream) -> None:
    overlay = of_kind(manifest_objects(), "NodeOverlay")
    overlay["spec"]["capacity"]["cpu"] = "4"  # the CRD's rule: only extended resources
    node_pool = of_kind(manifest_objects(), "NodePool")
    node_pool["spec"]["template"]["metadata"]["labels"]["karpenter.sh/team"] = "ml"
    node_class = of_kind(manifest_objects(), "EC2NodeClass")
    node_class["spec"]["instanceProfile"] = "profile"  # role and instanceProfile are exclusive
    errors = admission_errors(harness, [overlay, node_pool, node_class])
    assert any("NodeOverlay" in e and "invalid resource restricted" in e for e in errors), errors
    assert any("NodePool" in e and "karpenter.sh" in e for e in errors), errors
    assert any("EC2NodeClass" in e and "instanceProfile" in e for e in errors), errors


def test_openapi_schema_runs(harness: Upstream) -> None:
    node_pool = of_kind(manifest_objects(), "NodePool")
    node_pool["spec"]["weight"] = 1000  # maximum 100
    errors = admission_errors(harness, [node_pool])
    assert any("spec.weight" in e and "100" in e for e in errors), errors


def test_builtin_kinds_are_checked_by_kube_apiserver_code(harness: Upstream) -> None:
    namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "NVIDIA"}}
    job = of_kind(manifest_objects(), "Job")
    job["spec"]["template"]["spec"]["restartPolicy"] = "Always"  # a Job's pods must end
    config_map = of_kind(manifest_objects(), "ConfigMap")
    config_map["data"]["bad key!"] = "x"
    errors = admission_errors(harness, [namespace, job, config_map])
    assert any("Namespace/NVIDIA" in e and "RFC 1123" in e for e in errors), errors
    assert any("restartPolicy" in e and "OnFailure" in e for e in errors), errors
    assert any("ConfigMap" in e and "bad key!" in e for e in errors), errors


def test_the_136_schema_is_checked_too(harness: Upstream) -> None:
    namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "a"}, "x": 1}
    errors = admission_errors(harness, [namespace])
    assert any("1.36 schema" in e for e in errors), errors


def test_an_unknown_kind_is_an_error_not_a_pass(harness: Upstream) -> None:
    obj = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}}
    (result,) = harness.validate([obj])
    assert "neither a pinned Karpenter CRD" in result["errors"][0]


def test_versions_are_the_pinned_ones(harness: Upstream) -> None:
    modules = harness.call("versions")["modules"]
    assert modules["github.com/aws/karpenter-provider-aws"] == f"v{KARPENTER_VERSION}"
    # Core v1.15.1, which provider v1.15.2 names, is refused by the module proxy (go.mod says why).
    assert modules["sigs.k8s.io/karpenter"] == "v1.15.0"
    assert modules["k8s.io/kubernetes"].startswith("v1.37.")
    assert modules["helm.sh/helm/v3"].startswith("v3.20.")
    assert modules["github.com/NVIDIA/k8s-device-plugin"] == "v0.19.3"


@pytest.mark.parametrize("version", ["1.36"])
def test_validation_targets_the_reference_kubernetes(version: str) -> None:
    from eks_gpu_sharing.versions import KUBERNETES_VERSION

    assert version == KUBERNETES_VERSION


def test_a_binary_planted_in_the_cache_never_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The cache folder may be shared; only bytes this installation built (their hash kept in
    the virtualenv, not beside the binary) run, and from a private copy."""
    from eks_gpu_sharing.upstream import harness

    monkeypatch.setattr(harness, "_trust_file", lambda: tmp_path / "venv" / "trusted.json")
    binary = tmp_path / "cache" / "upstream-0123456789abcdef0123"
    binary.parent.mkdir()
    binary.write_bytes(b"#!/bin/sh\necho built\n")
    assert harness._verified_copy(binary) is None  # planted: never trusted
    harness._trust(binary)
    copy = harness._verified_copy(binary)
    assert copy is not None and copy.read_bytes() == binary.read_bytes()
    assert copy.parent != binary.parent and stat.S_IMODE(copy.parent.stat().st_mode) == 0o700
    binary.write_bytes(b"#!/bin/sh\necho planted\n")  # swapped after the build
    assert harness._verified_copy(binary) is None


def test_a_long_build_step_says_it_is_still_working(monkeypatch: pytest.MonkeyPatch) -> None:
    """The first build downloads and compiles for minutes: it reports every _HEARTBEAT_S."""
    import threading

    from eks_gpu_sharing.upstream import harness as harness_module

    monkeypatch.setattr(harness_module, "_HEARTBEAT_S", 0.05)
    lines: list[str] = []
    finished = threading.Event()
    with harness_module._heartbeat(lines.append, "compiling"):
        finished.wait(0.3)
    assert len(lines) >= 3 and lines[0].startswith("  ... compiling: ")
    assert lines[-1].startswith("  compiling: done in ")
    before = threading.active_count()
    with harness_module._heartbeat(None, "compiling"):  # no log: nothing to say, no thread
        assert threading.active_count() == before
