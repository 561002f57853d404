"""Admission guardrails (guardrails.py, and the chart in k8s/guardrails.py): the
ValidatingAdmissionPolicy is admitted by kube-apiserver's own validation (which compiles its
CEL), and its validations, compiled and evaluated the way the API server's policy plugin does,
decide as documented on sample pods."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import cdk8s
import pytest
import yaml

from eks_gpu_sharing import (
    ConfigurationError,
    GpuPool,
    Mps,
    NoSharing,
    PodGuardrails,
    TimeSlicing,
)
from eks_gpu_sharing.config import parse_config
from eks_gpu_sharing.k8s import GuardrailsChart
from eks_gpu_sharing.render import rendered_files
from eks_gpu_sharing.upstream import Upstream
from tests.upstream_checks import admission_errors

ROOT = Path(__file__).resolve().parents[1]
POOLS = [
    GpuPool("inference", sharing=TimeSlicing(replicas=4), gpu_names=["t4"]),
    GpuPool("renamed", sharing=TimeSlicing(replicas=4, rename_by_default=True)),
    GpuPool("multi", sharing=TimeSlicing(replicas=4, fail_requests_greater_than_one=False)),
    GpuPool("mps", sharing=Mps(replicas=4), gpu_names=["l4"]),
    GpuPool("training", sharing=NoSharing(), instance_families=["p5"], gpu_counts=[8]),
]


def chart_objects(guardrails: PodGuardrails | None = None) -> dict[str, dict[str, Any]]:
    chart = GuardrailsChart(
        cdk8s.App(),
        "guardrails",
        pools=POOLS,
        guardrails=guardrails or PodGuardrails(),
        device_plugin_namespace="nvidia-device-plugin",
    )
    return {o["kind"]: o for o in chart.to_json()}


def pod(
    name: str,
    *,
    pool: str | None = None,
    limits: dict[str, str] | None = None,
    gpu_toleration: bool = False,
    daemon: bool = False,
    init_limits: dict[str, str] | None = None,
) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "containers": [{"name": "main", "image": "busybox:1.36", "resources": {}}],
    }
    if limits:
        spec["containers"][0]["resources"]["limits"] = limits
    if init_limits:
        spec["initContainers"] = [
            {"name": "init", "image": "busybox:1.36", "resources": {"limits": init_limits}}
        ]
    if pool:
        spec["nodeSelector"] = {"eks-gpu-sharing.io/pool": pool}
    if gpu_toleration:
        spec["tolerations"] = [{"key": "nvidia.com/gpu", "operator": "Exists"}]
    metadata: dict[str, Any] = {"name": name, "namespace": "team-a"}
    if daemon:
        metadata["ownerReferences"] = [
            {"apiVersion": "apps/v1", "kind": "DaemonSet", "name": "d", "uid": "1"}
        ]
    return {"apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": spec}


GPU = "nvidia.com/gpu"
SHARED = "nvidia.com/gpu.shared"
CASES = [
    # (pod, denied by rule: None, "slice" or "gpu")
    (pod("one-slice", pool="inference", limits={GPU: "1"}), None),
    (pod("two-slices", pool="inference", limits={GPU: "2"}), "slice"),
    (pod("init-two", pool="inference", limits={GPU: "1"}, init_limits={GPU: "2"}), "slice"),
    (pod("two-mps-shares", pool="mps", limits={GPU: "2"}), "slice"),
    (pod("multi-allowed", pool="multi", limits={GPU: "3"}), None),
    (pod("whole-gpus", pool="training", limits={GPU: "8"}), None),
    # No pool chosen: nvidia.com/gpu is also whole GPUs elsewhere, gpu.shared only shared.
    (pod("no-pool-gpus", limits={GPU: "2"}, gpu_toleration=True), None),
    (pod("no-pool-shared", limits={SHARED: "2"}, gpu_toleration=True), "slice"),
    (pod("cpu-on-gpu-pool", pool="inference"), "gpu"),
    (pod("cpu-tolerating-gpu", gpu_toleration=True), "gpu"),
    (pod("gpu-daemon", gpu_toleration=True, daemon=True), None),
    (pod("plain-cpu"), None),
    (pod("renamed-one", pool="renamed", limits={SHARED: "1"}), None),
    (pod("renamed-asks-whole", pool="renamed", limits={GPU: "1"}), None),
]  # fmt: skip


def test_the_policy_and_binding_are_admitted_by_the_api_server(harness: Upstream) -> None:
    objects = chart_objects()
    assert set(objects) == {"ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding"}
    assert admission_errors(harness, list(objects.values())) == []
    # The API server compiles the CEL: a broken expression is refused.
    broken = copy.deepcopy(objects["ValidatingAdmissionPolicy"])
    broken["spec"]["validations"][0]["expression"] = "variables.containers.all(c, c.gpus > )"
    assert any("expression" in e for e in admission_errors(harness, [broken]))


def test_each_rule_decides_as_documented(harness: Upstream) -> None:
    policy = chart_objects()["ValidatingAdmissionPolicy"]
    verdicts = harness.evaluate_policy(policy, [case for case, _ in CASES])
    for case, rule in CASES:
        denied = verdicts[case["metadata"]["name"]]
        if rule is None:
            assert denied == [], (case["metadata"]["name"], denied)
        else:
            assert len(denied) == 1, (case["metadata"]["name"], denied)
            expected = "more than one slice" if rule == "slice" else "must request a GPU"
            assert expected in denied[0], denied


def test_the_binding_exempts_system_namespaces_and_takes_the_actions() -> None:
    binding = chart_objects(PodGuardrails(validation_actions=["Warn", "Audit"]))[
        "ValidatingAdmissionPolicyBinding"
    ]
    assert binding["spec"]["validationActions"] == ["Warn", "Audit"]
    (expression,) = binding["spec"]["matchResources"]["namespaceSelector"]["matchExpressions"]
    assert expression["operator"] == "NotIn"
    assert expression["values"] == ["kube-system", "nvidia-device-plugin"]


@pytest.mark.parametrize("actions", [[], ["Deny", "Warn"], ["Deny", "Deny"], ["Block"], "Deny"])
def test_bad_actions_are_refused(actions: Any) -> None:
    with pytest.raises(ConfigurationError, match="validation_actions"):
        PodGuardrails(validation_actions=actions)


def test_the_config_file_turns_them_on_for_plain_yaml() -> None:
    document = yaml.safe_load((ROOT / "gpu-sharing.yaml").read_text())
    assert "60-guardrails.k8s.yaml" not in rendered_files(parse_config(document))
    document["podGuardrails"] = {"validationActions": ["Warn"]}
    files = rendered_files(parse_config(document))
    objects = list(yaml.safe_load_all(files["60-guardrails.k8s.yaml"]))
    assert {o["kind"] for o in objects} == {
        "ValidatingAdmissionPolicy",
        "ValidatingAdmissionPolicyBinding",
    }
    document["podGuardrails"] = {"validationActions": ["Deny", "Warn"]}
    with pytest.raises(ConfigurationError) as info:
        parse_config(document)
    assert info.value.field == "podGuardrails.validationActions"


RESOURCE_QUOTA_SECTION = "### Quotas count slices"


def test_the_guides_resource_quota_is_admitted(harness: Upstream) -> None:
    """The ResourceQuota example of the guide passes kube-apiserver's validation."""
    text = (ROOT / "docs" / "reference.md").read_text()
    section = text[text.index(RESOURCE_QUOTA_SECTION) :]
    block = section[
        section.index("```yaml\n") + 8 : section.index("```\n", section.index("```yaml"))
    ]
    quota = yaml.safe_load(block)
    assert quota["kind"] == "ResourceQuota"
    assert "requests.nvidia.com/gpu" in quota["spec"]["hard"]
    assert admission_errors(harness, [quota]) == []
