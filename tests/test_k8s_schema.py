"""The Kubernetes 1.36 / Karpenter v1.14.1 validator in k8s_schema catches what the API server
would reject: every invalid variant below asserts the exact path and message it must produce."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from tests import k8s_schema
from tests.k8s_schema import (
    CEL_BLOCKED,
    DOCUMENTED_UNSUPPORTED_RULES,
    KUBERNETES_VERSION,
    UNSUPPORTED_RULES,
    CelError,
    CrdSchemaValidator,
    ValidationReport,
    cel_errors,
    crd_rule_inventory,
    evaluate_cel,
    load_crd_schemas,
    to_json_schema,
    validate_objects,
    validate_report,
    validate_yaml_documents,
)

DELETE = object()

# --------------------------------------------------------------------------------------------
# Hand-made valid objects
# --------------------------------------------------------------------------------------------


def node_pool() -> dict[str, Any]:
    """A GPU NodePool using most of the v1 spec."""
    return {
        "apiVersion": "karpenter.sh/v1",
        "kind": "NodePool",
        "metadata": {"name": "gpu-shared", "labels": {"app.kubernetes.io/part-of": "gpu"}},
        "spec": {
            "template": {
                "metadata": {
                    "labels": {
                        "gpu-sharing/mode": "time-slicing",
                        "karpenter.sh/capacity-type": "spot",
                    }
                },
                "spec": {
                    "nodeClassRef": {
                        "group": "karpenter.k8s.aws",
                        "kind": "EC2NodeClass",
                        "name": "gpu",
                    },
                    "requirements": [
                        {
                            "key": "karpenter.k8s.aws/instance-family",
                            "operator": "In",
                            "values": ["g5", "g6"],
                            "minValues": 2,
                        },
                        {"key": "karpenter.sh/capacity-type", "operator": "In", "values": ["spot"]},
                        {
                            "key": "karpenter.k8s.aws/instance-gpu-count",
                            "operator": "Gt",
                            "values": ["0"],
                        },
                        {"key": "kubernetes.io/arch", "operator": "In", "values": ["amd64"]},
                    ],
                    "taints": [{"key": "nvidia.com/gpu", "value": "true", "effect": "NoSchedule"}],
                    "expireAfter": "336h",
                },
            },
            "limits": {"cpu": 256, "memory": "1Ti", "nvidia.com/gpu": "16"},
            "disruption": {
                "consolidationPolicy": "WhenEmpty",
                "consolidateAfter": "10m",
                "budgets": [
                    {"nodes": "20%"},
                    {"nodes": "0", "schedule": "0 9 * * mon-fri", "duration": "8h"},
                ],
            },
            "weight": 50,
        },
    }


def ec2_node_class() -> dict[str, Any]:
    """An AL2023 EC2NodeClass selecting subnets and security groups by tag."""
    return {
        "apiVersion": "karpenter.k8s.aws/v1",
        "kind": "EC2NodeClass",
        "metadata": {"name": "gpu"},
        "spec": {
            "amiSelectorTerms": [{"alias": "al2023@v20260828"}],
            "role": "KarpenterNodeRole-demo",
            "subnetSelectorTerms": [{"tags": {"karpenter.sh/discovery": "demo"}}],
            "securityGroupSelectorTerms": [{"tags": {"karpenter.sh/discovery": "demo"}}],
            "metadataOptions": {
                "httpEndpoint": "enabled",
                "httpProtocolIPv6": "disabled",
                "httpPutResponseHopLimit": 2,
                "httpTokens": "required",
            },
            "blockDeviceMappings": [
                {
                    "deviceName": "/dev/xvda",
                    "rootVolume": True,
                    "ebs": {
                        "volumeSize": "200Gi",
                        "volumeType": "gp3",
                        "encrypted": True,
                        "deleteOnTermination": True,
                    },
                }
            ],
            "tags": {"team": "ml"},
        },
    }


def node_overlay() -> dict[str, Any]:
    """A NodeOverlay advertising 4 shared GPUs per physical one on g5 instances."""
    return {
        "apiVersion": "karpenter.sh/v1alpha1",
        "kind": "NodeOverlay",
        "metadata": {"name": "gpu-time-slicing"},
        "spec": {
            "requirements": [
                {"key": "karpenter.k8s.aws/instance-family", "operator": "In", "values": ["g5"]}
            ],
            "capacity": {"nvidia.com/gpu": "4"},
            "weight": 10,
        },
    }


def config_map() -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "time-slicing-config", "namespace": "kube-system"},
        "data": {"any": "version: v1\nsharing:\n  timeSlicing:\n    resources: []\n"},
    }


def deployment() -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "gpu-burn", "namespace": "default", "labels": {"app": "gpu-burn"}},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": "gpu-burn"}},
            "template": {
                "metadata": {"labels": {"app": "gpu-burn"}},
                "spec": {
                    "containers": [
                        {
                            "name": "burn",
                            "image": "public.ecr.aws/docker/library/busybox:1.37",
                            "resources": {"limits": {"nvidia.com/gpu": 1}},
                            "ports": [{"containerPort": 8080}],
                        }
                    ],
                    "tolerations": [
                        {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}
                    ],
                },
            },
            "strategy": {"rollingUpdate": {"maxSurge": "25%", "maxUnavailable": 0}},
        },
    }


def other_core_objects() -> list[dict[str, Any]]:
    """Namespace, ServiceAccount and DaemonSet, the other kinds the library synthesizes."""
    labels = {"app": "device-plugin"}
    return [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "gpu-sharing"}},
        {
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": {"name": "device-plugin", "namespace": "gpu-sharing"},
        },
        {
            "apiVersion": "apps/v1",
            "kind": "DaemonSet",
            "metadata": {"name": "device-plugin", "namespace": "gpu-sharing"},
            "spec": {
                "selector": {"matchExpressions": [{"key": "app", "operator": "Exists"}]},
                "template": {
                    "metadata": {"labels": labels},
                    "spec": {
                        "serviceAccountName": "device-plugin",
                        "containers": [
                            {"name": "plugin", "image": "nvcr.io/nvidia/k8s-device-plugin:v0.17.0"}
                        ],
                    },
                },
            },
        },
    ]


# --------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------


def changed(obj: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    """A copy of ``obj`` with each dotted path ("spec.requirements.0.key") set, or deleted when
    the value is DELETE. Path parts that are digits index lists."""
    result = copy.deepcopy(obj)
    for path, value in changes.items():
        *parents, last = [int(p) if p.isdigit() else p for p in path.split(".")]
        target: Any = result
        for part in parents:
            target = target[part]
        if value is DELETE:
            del target[last]
        elif isinstance(target, list) and last == len(target):
            target.append(value)
        else:
            target[last] = value
    return result


def assert_rejected(obj: dict[str, Any], path: str, message: str) -> list[str]:
    """``obj`` must produce an error at exactly ``path`` whose message contains ``message``."""
    errors = validate_objects([obj])
    prefix = f"{obj['kind']}/{obj['metadata'].get('name')}: {path}: "
    matching = [e for e in errors if e.startswith(prefix) and message in e[len(prefix) :]]
    assert matching, f"expected {prefix}...{message}... in {errors}"
    return errors


# --------------------------------------------------------------------------------------------
# Valid objects pass, and CEL really ran on them
# --------------------------------------------------------------------------------------------


def test_valid_karpenter_objects_pass_and_cel_rules_ran() -> None:
    report = validate_report([node_pool(), ec2_node_class(), node_overlay()])
    assert report.errors == []
    assert report.cel_evaluated > 40
    # nodeClassRef group/kind immutability and the static/dynamic switch only run on update
    assert report.cel_skipped_transition == 3
    assert report.cel_unsupported == 0


def test_valid_core_objects_pass() -> None:
    assert validate_objects([config_map(), deployment(), *other_core_objects()]) == []


def test_no_crd_rule_is_unsupported() -> None:
    load_crd_schemas()
    assert {r.rule for r in UNSUPPORTED_RULES} <= set(DOCUMENTED_UNSUPPORTED_RULES)
    assert UNSUPPORTED_RULES == []
    assert crd_rule_inventory() == k8s_schema.RuleInventory(
        total=92, transition=4, evaluable=88, unsupported=0
    )


def test_defaults_are_applied_before_validation() -> None:
    # spec.disruption defaults to {consolidateAfter: 0s}; budget nodes default to 10%
    pool = changed(node_pool(), {"spec.disruption": DELETE})
    assert validate_objects([pool]) == []
    pool = changed(node_pool(), {"spec.disruption.budgets": [{"reasons": ["Empty"]}]})
    assert validate_objects([pool]) == []


def test_nulls_are_pruned_like_the_api_server() -> None:
    assert validate_objects([changed(node_pool(), {"spec.weight": None})]) == []


# --------------------------------------------------------------------------------------------
# NodePool
# --------------------------------------------------------------------------------------------

REQ = "spec.template.spec.requirements"

NODE_POOL_CASES: list[tuple[dict[str, Any], str, str]] = [
    # CEL-only: restricted requirement keys
    (
        {f"{REQ}.1.key": "karpenter.sh/nodepool"},
        f"{REQ}[1].key",
        'label "karpenter.sh/nodepool" is restricted',
    ),
    (
        {f"{REQ}.3.key": "kubernetes.io/hostname"},
        f"{REQ}[3].key",
        'label "kubernetes.io/hostname" is restricted',
    ),
    (
        {f"{REQ}.3.key": "karpenter.sh/pool"},
        f"{REQ}[3].key",
        'label domain "karpenter.sh" is restricted',
    ),
    (
        {f"{REQ}.3.key": "team.karpenter.k8s.aws/gpu"},
        f"{REQ}[3].key",
        'label domain "karpenter.k8s.aws" is restricted',
    ),
    # CEL-only: restricted template labels
    (
        {"spec.template.metadata.labels": {"karpenter.sh/custom": "x"}},
        "spec.template.metadata.labels",
        'label domain "karpenter.sh" is restricted',
    ),
    (
        {"spec.template.metadata.labels": {"karpenter.sh/nodepool": "x"}},
        "spec.template.metadata.labels",
        'label "karpenter.sh/nodepool" is restricted',
    ),
    # CEL-only: requirement operators and values
    ({f"{REQ}.3.values": []}, REQ, "requirements with operator 'In' must have a value defined"),
    ({f"{REQ}.3.values": DELETE}, REQ, "'In' must have a value defined: rule evaluation error"),
    ({f"{REQ}.2.values": ["many"]}, REQ, "must have a single positive integer value"),
    ({f"{REQ}.2.values": ["1", "2"]}, REQ, "must have a single positive integer value"),
    ({f"{REQ}.2.values": ["1_0"]}, REQ, "must have a single positive integer value"),
    ({f"{REQ}.0.minValues": 3}, REQ, "'minValues' must have at least that many values"),
    # CEL-only: disruption, static pools, nodeClassRef
    (
        {"spec.disruption.budgets.1.duration": DELETE},
        "spec.disruption.budgets",
        "'schedule' must be set with 'duration'",
    ),
    ({"spec.replicas": 3}, "spec", "'weight' is not supported on static NodePools"),
    (
        {"spec.replicas": 3, "spec.weight": DELETE},
        "spec",
        "only 'limits.nodes' is supported on static NodePools",
    ),
    (
        {"spec.template.spec.nodeClassRef.name": ""},
        "spec.template.spec.nodeClassRef.name",
        "name may not be empty",
    ),
    # structural
    (
        {"spec.template.spec.requirement": []},
        "spec.template.spec.requirement",
        'unknown field "requirement"',
    ),
    (
        {"spec.template.spec.nodeClassRef": DELETE},
        "spec.template.spec.nodeClassRef",
        "Required value",
    ),
    ({f"{REQ}.0.operator": "Equals"}, f"{REQ}[0].operator", "'Equals' is not one of"),
    ({"spec.weight": "50"}, "spec.weight", "'50' is not of type 'integer'"),
    ({"spec.weight": 101}, "spec.weight", "101 is greater than the maximum of 100"),
    ({"spec.limits.cpu": "lots"}, "spec.limits.cpu", "'lots' does not match"),
    (
        {"spec.disruption.consolidateAfter": "10 minutes"},
        "spec.disruption.consolidateAfter",
        "does not match",
    ),
    (
        {"spec.disruption.consolidateAfter": DELETE},
        "spec.disruption.consolidateAfter",
        "Required value",
    ),
    (
        {"spec.template.spec.taints.0.effect": "NoRun"},
        "spec.template.spec.taints[0].effect",
        "is not one of",
    ),
    (
        {"spec.template.spec.expireAfter": "2 weeks"},
        "spec.template.spec.expireAfter",
        "does not match",
    ),
    (
        {"spec.disruption.budgets.0.reasons": ["Empty", "Empty"]},
        "spec.disruption.budgets[0].reasons",
        "Duplicate value",
    ),
    # metadata
    ({"metadata.name": "GPU_Shared"}, "metadata.name", "RFC 1123 subdomain"),
    ({"metadata.labelz": {}}, "metadata.labelz", 'unknown field "labelz"'),
    ({"metadata.labels": {"bad key!": "x"}}, "metadata.labels[bad key!]", "Invalid value"),
]


@pytest.mark.parametrize(("changes", "path", "message"), NODE_POOL_CASES)
def test_invalid_node_pool_is_rejected(changes: dict[str, Any], path: str, message: str) -> None:
    assert_rejected(changed(node_pool(), changes), path, message)


def test_missing_name_is_rejected() -> None:
    pool = changed(node_pool(), {"metadata.name": DELETE})
    assert (
        "NodePool/<no name>: metadata.name: Required value: name is required"
        in validate_objects([pool])
    )


# --------------------------------------------------------------------------------------------
# EC2NodeClass
# --------------------------------------------------------------------------------------------

AMI = "spec.amiSelectorTerms"

EC2_NODE_CLASS_CASES: list[tuple[dict[str, Any], str, str]] = [
    # CEL-only: AMI selection
    (
        {f"{AMI}.0.tags": {"team": "ml"}},
        AMI,
        "'alias' is mutually exclusive, cannot be set with a combination of other fields",
    ),
    (
        {f"{AMI}.1": {"id": "ami-0123456789abcdef0"}},
        AMI,
        "'alias' is mutually exclusive, cannot be set with a combination of other amiSelectorTerms",
    ),
    ({f"{AMI}.0.alias": "ubuntu@latest"}, f"{AMI}[0].alias", "family is not supported"),
    ({f"{AMI}.0.alias": "al2023"}, f"{AMI}[0].alias", "'alias' is improperly formatted"),
    ({f"{AMI}.0.alias": "windows2022@v1"}, f"{AMI}[0].alias", "windows families may only specify"),
    (
        {"spec.amiFamily": "Bottlerocket"},
        "spec",
        "if set, amiFamily must be 'AL2023' or 'Custom' when using an AL2023 alias",
    ),
    (
        {AMI: [{"tags": {"image": "gpu"}}]},
        "spec",
        "must specify amiFamily if amiSelectorTerms does not contain an alias",
    ),
    ({AMI: [{"owner": "self"}]}, AMI, "expected at least one, got none"),
    # CEL-only: subnets and security groups
    (
        {"spec.subnetSelectorTerms": [{}]},
        "spec.subnetSelectorTerms",
        "expected at least one, got none, ['tags', 'id']",
    ),
    (
        {"spec.subnetSelectorTerms": []},
        "spec.subnetSelectorTerms",
        "subnetSelectorTerms cannot be empty",
    ),
    (
        {"spec.subnetSelectorTerms.0.id": "subnet-0abc"},
        "spec.subnetSelectorTerms",
        "'id' is mutually exclusive",
    ),
    (
        {"spec.securityGroupSelectorTerms.0.tags": {"karpenter.sh/discovery": ""}},
        "spec.securityGroupSelectorTerms[0].tags",
        "empty tag keys or values aren't supported",
    ),
    # CEL-only: role, tags, block devices, kubelet
    (
        {"spec.instanceProfile": "KarpenterNodeInstanceProfile"},
        "spec",
        "must specify exactly one of ['role', 'instanceProfile']",
    ),
    ({"spec.role": DELETE}, "spec", "must specify exactly one of ['role', 'instanceProfile']"),
    ({"spec.role": ""}, "spec.role", "role cannot be empty"),
    (
        {"spec.tags": {"kubernetes.io/cluster/demo": "owned"}},
        "spec.tags",
        "restricted tag matching kubernetes.io/cluster/",
    ),
    (
        {
            "spec.blockDeviceMappings.1": {
                "deviceName": "/dev/xvdb",
                "rootVolume": True,
                "ebs": {"volumeSize": "50Gi"},
            }
        },
        "spec.blockDeviceMappings",
        "must have only one blockDeviceMappings with rootVolume",
    ),
    (
        {"spec.blockDeviceMappings.0.ebs.volumeSize": DELETE},
        "spec.blockDeviceMappings[0].ebs",
        "snapshotID or volumeSize must be defined",
    ),
    (
        {"spec.kubelet": {"kubeReserved": {"gpu": "1"}}},
        "spec.kubelet.kubeReserved",
        "valid keys for kubeReserved",
    ),
    (
        {"spec.kubelet": {"imageGCHighThresholdPercent": 50, "imageGCLowThresholdPercent": 60}},
        "spec.kubelet",
        "imageGCHighThresholdPercent must be greater than imageGCLowThresholdPercent",
    ),
    (
        {"spec.kubelet": {"evictionSoft": {"memory.available": "5%"}}},
        "spec.kubelet",
        "evictionSoft OwnerKey does not have a matching evictionSoftGracePeriod",
    ),
    # structural
    (
        {"spec.metadataOptions.httpTokens": "sometimes"},
        "spec.metadataOptions.httpTokens",
        "'sometimes' is not one of ['required', 'optional']",
    ),
    (
        {"spec.metadataOptions.httpToken": "required"},
        "spec.metadataOptions.httpToken",
        'unknown field "httpToken"',
    ),
    (
        {"spec.metadataOptions.httpPutResponseHopLimit": "2"},
        "spec.metadataOptions.httpPutResponseHopLimit",
        "is not of type 'integer'",
    ),
    (
        {"spec.blockDeviceMappings.0.ebs.volumeSize": "200GB"},
        "spec.blockDeviceMappings[0].ebs.volumeSize",
        "does not match",
    ),
    (
        {"spec.blockDeviceMappings.0.ebs.volumeType": "gp4"},
        "spec.blockDeviceMappings[0].ebs.volumeType",
        "is not one of",
    ),
    ({"spec.subnetSelectorTerms": DELETE}, "spec.subnetSelectorTerms", "Required value"),
    ({AMI: []}, AMI, "[] should be non-empty"),
    ({f"{AMI}.0.alias": "al2023@" + "v" * 30}, f"{AMI}[0].alias", "is too long"),
]


@pytest.mark.parametrize(("changes", "path", "message"), EC2_NODE_CLASS_CASES)
def test_invalid_ec2_node_class_is_rejected(
    changes: dict[str, Any], path: str, message: str
) -> None:
    assert_rejected(changed(ec2_node_class(), changes), path, message)


# --------------------------------------------------------------------------------------------
# NodeOverlay
# --------------------------------------------------------------------------------------------

NODE_OVERLAY_CASES: list[tuple[dict[str, Any], str, str]] = [
    ({"spec.capacity": {"cpu": "4"}}, "spec.capacity", "invalid resource restricted"),
    ({"spec.capacity": {"pods": "110"}}, "spec.capacity", "invalid resource restricted"),
    (
        {"spec.price": "1.5", "spec.priceAdjustment": "-10%"},
        "spec",
        "cannot set both 'price' and 'priceAdjustment'",
    ),
    (
        {"spec.requirements.0.operator": "NotIn", "spec.requirements.0.values": []},
        "spec.requirements",
        "requirements with operator 'NotIn' must have a value defined",
    ),
    (
        {"spec.requirements.0.key": "karpenter.sh/stuff"},
        "spec.requirements[0].key",
        'label domain "karpenter.sh" is restricted',
    ),
    (
        {"spec.capacity": {"nvidia.com/gpu": "four"}},
        "spec.capacity[nvidia.com/gpu]",
        "does not match",
    ),
    ({"spec.priceAdjustment": "ten percent"}, "spec.priceAdjustment", "does not match"),
    ({"spec.weight": 0}, "spec.weight", "0 is less than the minimum of 1"),
    ({"spec.requirements": DELETE}, "spec.requirements", "Required value"),
    ({"spec.capacities": {}}, "spec.capacities", 'unknown field "capacities"'),
]


@pytest.mark.parametrize(("changes", "path", "message"), NODE_OVERLAY_CASES)
def test_invalid_node_overlay_is_rejected(changes: dict[str, Any], path: str, message: str) -> None:
    assert_rejected(changed(node_overlay(), changes), path, message)


def test_blocking_schema_errors_skip_cel_like_the_api_server() -> None:
    """A type error stops CEL (strategy.go hasBlockingErr); a pattern error does not."""
    overlay = changed(node_overlay(), {"spec.weight": "ten", "spec.capacity": {"cpu": "4"}})
    report = validate_report([overlay])
    assert report.cel_evaluated == 0
    assert f"NodeOverlay/gpu-time-slicing: <root>: {CEL_BLOCKED}" in report.errors
    assert not any("invalid resource restricted" in e for e in report.errors)

    overlay = changed(node_overlay(), {"spec.priceAdjustment": "x", "spec.capacity": {"cpu": "4"}})
    report = validate_report([overlay])
    assert any("invalid resource restricted" in e for e in report.errors)


def test_node_claim() -> None:
    """NodeClaims are created by Karpenter, but the CRD is loaded and checked all the same."""
    claim = {
        "apiVersion": "karpenter.sh/v1",
        "kind": "NodeClaim",
        "metadata": {"name": "gpu-shared-x7k2p"},
        "spec": node_pool()["spec"]["template"]["spec"],
    }
    report = validate_report([claim])
    assert report.errors == []
    assert report.cel_skipped_transition == 1  # "spec is immutable"
    claim = changed(claim, {"spec.requirements.0.key": "karpenter.k8s.aws/made-up"})
    assert_rejected(claim, "spec.requirements[0].key", 'label domain "karpenter.k8s.aws"')


# --------------------------------------------------------------------------------------------
# Built-in kinds
# --------------------------------------------------------------------------------------------


def test_core_schemas_agree_with_kubernetes_validate() -> None:
    """The cached validators read the same strict 1.36 schema files kubernetes_validate.validate
    uses (which stops at the first error): same verdicts on a valid and an invalid object."""
    for obj in [config_map(), deployment(), *other_core_objects()]:
        assert kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True) == "1.36"
    typo = changed(deployment(), {"spec.replica": 2})
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(typo, KUBERNETES_VERSION, strict=True)
    assert validate_objects([typo]) == [
        'Deployment/gpu-burn: spec.replica: unknown field "replica"'
    ]


CONTAINER = "spec.template.spec.containers[0]"

DEPLOYMENT_CASES: list[tuple[dict[str, Any], str, str]] = [
    (
        {"spec.template.spec.containers.0.imagePullPolice": "Always"},
        f"{CONTAINER}.imagePullPolice",
        'unknown field "imagePullPolice"',
    ),
    ({"spec.replica": 2}, "spec.replica", 'unknown field "replica"'),
    ({"spec.template.spec.containers.0.image": DELETE}, f"{CONTAINER}.image", "Required value"),
    ({"spec.template.spec.containers.0.name": DELETE}, f"{CONTAINER}.name", "Required value"),
    ({"spec.template.spec.containers.0.name": "Burn_1"}, f"{CONTAINER}.name", "RFC 1123 label"),
    ({"spec.replicas": "2"}, "spec.replicas", "is not of type 'integer', 'null'"),
    (
        {"spec.selector.matchLabels.app": "other"},
        "spec.template.metadata.labels",
        "selector does not match template labels",
    ),
    ({"spec.selector": DELETE}, "spec.selector", "Required value"),
    ({"metadata.labels.app": "x" * 64}, "metadata.labels.app", "a label value must be"),
]


@pytest.mark.parametrize(("changes", "path", "message"), DEPLOYMENT_CASES)
def test_invalid_deployment_is_rejected(changes: dict[str, Any], path: str, message: str) -> None:
    assert_rejected(changed(deployment(), changes), path, message)


def test_invalid_config_map_and_namespace_are_rejected() -> None:
    assert_rejected(changed(config_map(), {"data": {"a/b": "x"}}), "data[a/b]", "valid config key")
    assert_rejected(
        changed(config_map(), {"data": {"replicas": 4}}), "data.replicas", "not of type"
    )
    namespace = other_core_objects()[0]
    assert_rejected(
        changed(namespace, {"metadata.name": "gpu.sharing"}), "metadata.name", "RFC 1123 label"
    )


@pytest.mark.parametrize(
    ("obj", "expected"),
    [
        (
            {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}},
            "no schema for example.com/v1 Widget",
        ),
        (
            {"apiVersion": "v1", "kind": "Container", "metadata": {"name": "c"}},
            "no schema for v1 Container",
        ),
        (
            {"apiVersion": "extensions/v1beta1", "kind": "Deployment", "metadata": {"name": "d"}},
            "no schema for",
        ),
        (
            {"apiVersion": "karpenter.sh/v1beta1", "kind": "NodePool", "metadata": {"name": "p"}},
            "no schema for",
        ),
        (
            {"apiVersion": "karpenter.sh/v1", "kind": "Widget", "metadata": {"name": "p"}},
            "no schema for",
        ),
        ({"kind": "ConfigMap", "metadata": {"name": "p"}}, "apiVersion and kind must be strings"),
    ],
)
def test_unknown_kinds_never_pass(obj: dict[str, Any], expected: str) -> None:
    errors = validate_objects([obj])
    assert len(errors) == 1 and expected in errors[0], errors


# --------------------------------------------------------------------------------------------
# YAML streams
# --------------------------------------------------------------------------------------------


def test_yaml_documents() -> None:
    text = yaml.safe_dump_all([node_pool(), None, config_map()])
    assert validate_yaml_documents(text) == []
    bad = changed(node_overlay(), {"spec.capacity": {"memory": "1Gi"}})
    errors = validate_yaml_documents(text + "---\n" + yaml.safe_dump(bad) + "---\n- a list\n")
    assert errors == [
        "<document 4>: <root>: expected a mapping, got list",
        "NodeOverlay/gpu-time-slicing: spec.capacity: invalid resource restricted",
    ]
    assert validate_yaml_documents("a: [")[0].startswith("<yaml>: <root>: cannot parse YAML")


# --------------------------------------------------------------------------------------------
# CRD folder handling
# --------------------------------------------------------------------------------------------


def test_missing_crd_folder_skips(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    missing = tmp_path / "absent" / "crds"
    monkeypatch.setattr(k8s_schema, "CRD_DIR", missing)
    with pytest.raises(pytest.skip.Exception, match=str(missing)):
        validate_objects([node_pool()])
    assert validate_objects([config_map()]) == []  # built-in kinds need no CRDs


def test_version_not_served_is_rejected(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    schema = {"type": "object", "properties": {"spec": {"type": "object"}}}
    crd = {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "widgets.karpenter.sh"},
        "spec": {
            "group": "karpenter.sh",
            "names": {"kind": "Widget", "plural": "widgets"},
            "scope": "Cluster",
            "versions": [
                {
                    "name": v,
                    "served": v == "v2",
                    "storage": v == "v2",
                    "schema": {"openAPIV3Schema": schema},
                }
                for v in ("v1", "v2")
            ],
        },
    }
    (tmp_path / "widgets.yaml").write_text(yaml.safe_dump(crd))
    monkeypatch.setattr(k8s_schema, "CRD_DIR", tmp_path)
    widget = {
        "apiVersion": "karpenter.sh/v1",
        "kind": "Widget",
        "metadata": {"name": "w"},
        "spec": {},
    }
    assert validate_objects([widget]) == [
        "Widget/w: apiVersion: karpenter.sh/v1 Widget is not served by widgets.karpenter.sh"
    ]
    assert validate_objects([{**widget, "apiVersion": "karpenter.sh/v2"}]) == []


# --------------------------------------------------------------------------------------------
# Structural-schema translation and CEL machinery, on small hand-written schemas
# --------------------------------------------------------------------------------------------


def schema_errors(schema: dict[str, Any], value: Any) -> list[str]:
    validator = CrdSchemaValidator(to_json_schema(schema))
    return [error.message for error in validator.iter_errors(value)]


def test_structural_extensions_are_translated() -> None:
    int_or_string = {
        "x-kubernetes-int-or-string": True,
        "anyOf": [{"type": "integer"}, {"type": "string"}],
    }
    assert schema_errors(int_or_string, 3) == schema_errors(int_or_string, "3") == []
    assert schema_errors(int_or_string, 1.5) == ["1.5 is not of type 'integer', 'string'"]

    closed = {"type": "object", "properties": {"a": {"type": "string"}}}
    assert schema_errors(closed, {"a": "x", "b": 1}) != []
    open_ = {**closed, "x-kubernetes-preserve-unknown-fields": True}
    assert schema_errors(open_, {"a": "x", "b": 1}) == []

    nullable = {"type": "string", "nullable": True, "enum": ["x"]}
    assert schema_errors(nullable, None) == []
    assert schema_errors({"type": "string"}, None) != []

    keyed = {
        "type": "array",
        "items": {"type": "object", "properties": {"name": {"type": "string"}}},
        "x-kubernetes-list-type": "map",
        "x-kubernetes-list-map-keys": ["name"],
    }
    assert schema_errors(keyed, [{"name": "a"}, {"name": "a"}]) == [
        'Duplicate value: {"name": "a"}'
    ]
    assert schema_errors({"type": "string", "format": "date-time"}, "yesterday") != []


def test_cel_message_expression_field_path_and_transition_rules() -> None:
    schema = {
        "type": "object",
        "properties": {"size": {"type": "integer"}},
        "x-kubernetes-validations": [
            {
                "rule": "self.size < 10",
                "messageExpression": "'size ' + string(self.size) + ' too big'",
            },
            {"rule": "self.size % 2 == 0", "fieldPath": ".size"},
            {"rule": "self.size == oldSelf.size", "message": "immutable"},
        ],
    }
    report = ValidationReport()
    assert cel_errors(schema, {"size": 11}, report) == [
        ("<root>", "size 11 too big"),
        ("size", "failed rule: self.size % 2 == 0"),
    ]
    assert (report.cel_evaluated, report.cel_skipped_transition) == (2, 1)


def test_unsupported_rules_fail_instead_of_passing() -> None:
    schema = {"type": "string", "x-kubernetes-validations": [{"rule": "isURL(self)"}]}
    report = ValidationReport()
    [(path, message)] = cel_errors(schema, "https://example.com", report)
    assert path == "<root>"
    assert "cel-python lacks: isURL" in message
    assert report.cel_unsupported == 1


CEL_CASES: list[tuple[str, Any, Any]] = [
    ("self.split('@')", "al2023@v1", ["al2023", "v1"]),
    ("self.split('@', 2)", "a@b@c", ["a", "b@c"]),
    ("self.split('@', 0)", "a@b", []),
    ("self.split('', 2)", "abc", ["a", "bc"]),
    ("self.find('^[^@]+')", "al2@latest", "al2"),
    ("self.find('[0-9]+')", "abc", ""),
    ("self.findAll('[0-9]')", "a1b2c3", ["1", "2", "3"]),
    ("self.findAll('[0-9]', 2)", "a1b2c3", ["1", "2"]),
    ("self.lowerAscii()", "ÀBc", "Àbc"),
    ("self.upperAscii()", "àbC", "àBC"),
    ("self.join(', ')", ["a", "b"], "a, b"),
    ("self.indexOf('b', 2)", "abcb", 3),
    ("self.indexOf('z')", "abc", -1),
    ("self.indexOf(3)", [1, 2, 3], 2),
    ("self.replace('a', 'o', 1)", "banana", "bonana"),
    ("self.trim()", "  gpu \n", "gpu"),
    ("int(self) + 1", "41", 42),
    ("self.matches('^g[0-9]+$')", "g5", True),
    ("self.exists_one(x, x.startsWith('g'))", ["g5", "p4"], True),
    ("self.filter(x, x.endsWith('xl')).size()", ["2xl", "xl", "large"], 2),
    ("self.map(k, self[k]).size() == size(self)", {"a": "1"}, True),
    ("has(self.a) && !has(self.b)", {"a": 1}, True),
]


@pytest.mark.parametrize(("expression", "value", "expected"), CEL_CASES)
def test_cel_functions(expression: str, value: Any, expected: Any) -> None:
    assert evaluate_cel(expression, value) == expected


@pytest.mark.parametrize(
    ("expression", "value"),
    [("int(self)", "1_0"), ("int(self)", " 1"), ("self.indexOf('a', 5)", "abc"), ("self.x", {})],
)
def test_cel_errors_are_errors(expression: str, value: Any) -> None:
    with pytest.raises(CelError):
        evaluate_cel(expression, value)


@given(st.text(), st.text(min_size=1))
def test_split_then_join_round_trips(text: str, separator: str) -> None:
    assert evaluate_cel("self[0].split(self[1]).join(self[1])", [text, separator]) == text


def test_rule_programs_are_compiled_once() -> None:
    compile_rule: Callable[[str], Any] = k8s_schema._compile
    validate_objects([node_pool()])
    before = compile_rule.cache_info().misses  # type: ignore[attr-defined]
    validate_objects([node_pool(), node_pool()])
    assert compile_rule.cache_info().misses == before  # type: ignore[attr-defined]
