"""Tests of the ``Karpenter`` construct against the official Karpenter install.

The controller policies are compared with Karpenter 1.15's reference page, kept as test data
(``tests/data/karpenter-v1.15-controller-policies.json``, source inside). The node role, queue
and rules are compared with the official v1.14.1 CloudFormation template, unchanged in 1.15, read
from the shared reference folder (``../shared/reference`` beside the checkout); the tests that
need it are skipped, saying why, when it is absent. Two stacks are synthesized once per module:
one with a new ``eks.Cluster`` (cluster name a token: policies with the name in condition keys
stay ``Fn::Sub`` text, as the official template) and one with an imported cluster with a
concrete name (every policy becomes a JSON object).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
import yaml
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_eks as eks
from aws_cdk import aws_iam as iam
from aws_cdk.assertions import Template
from aws_cdk.lambda_layer_kubectl_v36 import KubectlV36Layer
from hypothesis import given, settings
from hypothesis import strategies as st

from eks_gpu_sharing.cdk import karpenter_policies
from eks_gpu_sharing.cdk.karpenter import (
    DISCOVERY_TAG_KEY,
    INTERRUPTION_RULES,
    NODE_ROLE_MANAGED_POLICIES,
    Karpenter,
    deep_merge,
)
from eks_gpu_sharing.cdk.validation import check_cluster_name
from eks_gpu_sharing.errors import ConfigurationError, shown
from eks_gpu_sharing.upstream import Upstream
from eks_gpu_sharing.versions import (
    KARPENTER_CHART_NAME,
    KARPENTER_CHART_REPOSITORY,
    KARPENTER_CRD_CHART_NAME,
    KARPENTER_CRD_CHART_REPOSITORY,
    KARPENTER_VERSION,
    KUBERNETES_VERSION,
)
from tests.cdk_helpers import acknowledgments, nag_violations
from tests.upstream_checks import admission_errors

REFERENCE = Path(__file__).parents[1].parent / "shared" / "reference" / "karpenter-v1.14.1"
IMPORTED_CLUSTER_NAME = "gpu-test"
IMPORTED_SUBNETS = ("subnet-0a1b2c3d4e5f60001", "subnet-0a1b2c3d4e5f60002")
IMPORTED_SECURITY_GROUP = "sg-0a1b2c3d4e5f60003"
PSEUDO = {
    "AWS::Partition": "aws",
    "AWS::Region": "us-test-1",
    "AWS::AccountId": "123456789012",
    "AWS::URLSuffix": "amazonaws.com",
}


# --- reading the official files ---------------------------------------------------------------


class _CfnLoader(yaml.SafeLoader):
    """A YAML loader that turns CloudFormation short tags (``!Sub``) into ``{"Fn::Sub": ...}``."""


def _short_tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    if suffix == "GetAtt" and isinstance(value, str):
        value = value.split(".", 1)
    return {"Ref" if suffix == "Ref" else f"Fn::{suffix}": value}


_CfnLoader.add_multi_constructor("!", _short_tag)


def _reference(name: str) -> Path:
    path = REFERENCE / name
    if not path.exists():
        pytest.skip(f"official Karpenter reference file {path} is absent (shared/reference)")
    return path


@pytest.fixture(scope="module")
def official() -> dict[str, Any]:
    """The official v1.14.1 CloudFormation template (Karpenter's getting-started guide): the
    node role, queue and rules, unchanged in 1.15's reference page."""
    return yaml.load(_reference("cloudformation.yaml").read_text(), Loader=_CfnLoader)


#: Karpenter 1.15's controller policies as its reference page lists them (source in the file).
OFFICIAL_1_15_POLICIES = Path(__file__).parent / "data" / "karpenter-v1.15-controller-policies.json"


@pytest.fixture(scope="module")
def official_policies() -> dict[str, Any]:
    """The six controller policies of Karpenter 1.15's official install (never skipped)."""
    resources: dict[str, Any] = json.loads(OFFICIAL_1_15_POLICIES.read_text())["Resources"]
    return resources


@pytest.fixture(scope="module")
def rendered(harness: Upstream) -> Callable[[Synth], dict[str, Any]]:
    """Helm's render of the pinned Karpenter chart with a stack's values (tokens as text)."""

    def render(synth: Synth) -> dict[str, Any]:
        _, properties, values = _chart(synth)
        # The chart at the module's tag still names the previous image release (the release
        # script rewrites it); the published chart we deploy names the pinned one.
        values = {
            **values,
            "controller": {
                **values.get("controller", {}),
                "image": {"tag": KARPENTER_VERSION, "digest": ""},
            },
        }
        result = harness.render_chart(
            "karpenter",
            release=properties["Release"],
            namespace=properties["Namespace"],
            values=values,
            kube_version=f"v{KUBERNETES_VERSION}.0",
        )
        assert not result.get("error"), result["error"]
        return result

    return render


@pytest.fixture(scope="module")
def chart_defaults(harness: Upstream) -> dict[str, Any]:
    """The pinned Karpenter chart's values.yaml, as Helm loads it from the Go module."""
    defaults: dict[str, Any] = harness.render_chart(
        "karpenter",
        release="karpenter",
        namespace="kube-system",
        values={"settings": {"clusterName": "x"}},
    )["defaults"]
    return defaults


# --- resolving CloudFormation intrinsics to comparable strings --------------------------------


def resolve(value: Any, names: Mapping[str, str] | None = None) -> Any:
    """Resolve intrinsics: pseudo parameters to fixed strings, other references to
    ``<Ref X>``/``<GetAtt X.Attr>``, ``Fn::Join``/``Fn::Sub`` to strings. ``names`` maps
    ``Fn::Sub`` names (``ClusterName``, ``KarpenterNodeRole.Arn``) not in a variable map."""
    names = names or {}
    if isinstance(value, dict) and len(value) == 1:
        ((key, arg),) = value.items()
        if key == "Ref":
            return PSEUDO.get(arg) or names.get(arg) or f"<Ref {arg}>"
        if key == "Fn::GetAtt":
            logical, attribute = arg if isinstance(arg, list) else arg.split(".", 1)
            return f"<GetAtt {logical}.{attribute}>"
        if key == "Fn::Join":
            separator, parts = arg
            return separator.join(resolve(part, names) for part in parts)
        if key == "Fn::Sub":
            body, variables = (arg, {}) if isinstance(arg, str) else arg
            local = {name: resolve(item, names) for name, item in variables.items()}

            def lookup(match: re.Match[str]) -> str:
                name = match.group(1)
                if name in local:
                    return local[name]
                if name in PSEUDO:
                    return PSEUDO[name]
                if name in names:
                    return names[name]
                if "." in name:
                    logical, attribute = name.split(".", 1)
                    return f"<GetAtt {logical}.{attribute}>"
                return f"<Ref {name}>"

            return re.sub(r"\$\{([^}]+)\}", lookup, body)
    if isinstance(value, dict):
        return {resolve(key, names): resolve(item, names) for key, item in value.items()}
    if isinstance(value, list):
        return [resolve(item, names) for item in value]
    return value


def document(value: Any, names: Mapping[str, str] | None = None) -> dict[str, Any]:
    """A policy document, resolved; a JSON string (the ``Fn::Sub`` form) is parsed."""
    resolved = resolve(value, names)
    return json.loads(resolved) if isinstance(resolved, str) else resolved


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def normalize(statement: Mapping[str, Any]) -> dict[str, Any]:
    """A statement in a form where equal permissions compare equal."""
    return {
        "Sid": statement.get("Sid"),
        "Effect": statement["Effect"],
        "Action": sorted(_as_list(statement["Action"])),
        "Resource": sorted(_as_list(statement["Resource"])),
        "Condition": {
            operator: {key: _as_list(item) for key, item in entries.items()}
            for operator, entries in statement.get("Condition", {}).items()
        },
    }


def depends_on(template: Mapping[str, Any], logical_id: str) -> set[str]:
    """Every resource ``logical_id`` waits for: ``DependsOn`` and references, transitively."""
    resources = template["Resources"]

    def direct(resource_id: str) -> set[str]:
        resource = resources[resource_id]
        found = set(_as_list(resource.get("DependsOn", [])))
        text = json.dumps(resource.get("Properties", {}))
        found |= set(re.findall(r'"Ref": "([^"]+)"', text))
        found |= set(re.findall(r'"Fn::GetAtt": \["([^"]+)"', text))
        return {item for item in found if item in resources}

    seen: set[str] = set()
    pending = [logical_id]
    while pending:
        for item in direct(pending.pop()) - seen:
            seen.add(item)
            pending.append(item)
    return seen


# --- the synthesized stacks -------------------------------------------------------------------


@dataclass
class Synth:
    stack: cdk.Stack
    karpenter: Karpenter
    template: Template
    json: dict[str, Any]
    cluster_name: str  # the resolved cluster name, e.g. "<Ref Cluster9EE0221C>"

    def logical_id(self, construct: Any) -> str:
        return self.stack.get_logical_id(construct.node.default_child)

    def resources(self, resource_type: str) -> dict[str, dict[str, Any]]:
        return {
            logical_id: resource
            for logical_id, resource in self.json["Resources"].items()
            if resource["Type"] == resource_type
        }

    def official_names(self) -> dict[str, str]:
        """What the official template's names stand for in this stack."""
        return {
            "ClusterName": self.cluster_name,
            "KarpenterNodeRole.Arn": f"<GetAtt {self.logical_id(self.karpenter.node_role)}.Arn>",
            "KarpenterInterruptionQueue.Arn": (
                f"<GetAtt {self.logical_id(self.karpenter.interruption_queue)}.Arn>"
            ),
        }


def _new_cluster_stack(app: cdk.App) -> tuple[cdk.Stack, eks.Cluster, Karpenter]:
    stack = cdk.Stack(app, "NewClusterStack")
    cluster = eks.Cluster(
        stack,
        "Cluster",
        version=eks.KubernetesVersion.of(KUBERNETES_VERSION),
        kubectl_layer=KubectlV36Layer(stack, "KubectlLayer"),
        default_capacity=0,
        authentication_mode=eks.AuthenticationMode.API,
    )
    return stack, cluster, Karpenter(stack, "Karpenter", cluster=cluster)


def _imported_cluster_stack(app: cdk.App) -> tuple[cdk.Stack, eks.ICluster, Karpenter]:
    stack = cdk.Stack(app, "ImportedClusterStack")
    cluster = eks.Cluster.from_cluster_attributes(
        stack,
        "Cluster",
        cluster_name=IMPORTED_CLUSTER_NAME,
        cluster_security_group_id=IMPORTED_SECURITY_GROUP,
        kubectl_role_arn="arn:aws:iam::123456789012:role/kubectl",
        kubectl_layer=KubectlV36Layer(stack, "KubectlLayer"),
    )
    karpenter = Karpenter(
        stack,
        "Karpenter",
        cluster=cluster,
        subnets=[
            ec2.Subnet.from_subnet_id(stack, f"Subnet{index}", subnet_id)
            for index, subnet_id in enumerate(IMPORTED_SUBNETS)
        ],
        helm_values={
            "settings": {"featureGates": {"spotToSpotConsolidation": True}},
            "controller": {"resources": {"requests": {"cpu": "2"}}},
            "replicas": 3,
        },
    )
    return stack, cluster, karpenter


def _synth(stack: cdk.Stack, karpenter: Karpenter, cluster: eks.ICluster) -> Synth:
    template = Template.from_stack(stack)
    body = template.to_json()
    return Synth(stack, karpenter, template, body, resolve(stack.resolve(cluster.cluster_name)))


@pytest.fixture(scope="module")
def new() -> Synth:
    """Karpenter on a new ``eks.Cluster`` (the cluster name is a ``Ref`` token)."""
    stack, cluster, karpenter = _new_cluster_stack(cdk.App())
    return _synth(stack, karpenter, cluster)


@pytest.fixture(scope="module")
def imported() -> Synth:
    """Karpenter on an imported cluster with a concrete name, imported subnets, helm_values."""
    stack, cluster, karpenter = _imported_cluster_stack(cdk.App())
    return _synth(stack, karpenter, cluster)


@pytest.fixture(params=["new", "imported"])
def synth(request: pytest.FixtureRequest) -> Synth:
    """Both stacks, for properties that must hold either way."""
    return request.getfixturevalue(request.param)


# --- node role and access entry ---------------------------------------------------------------


def test_node_role_trust_and_managed_policies_match_official(
    synth: Synth, official: dict[str, Any]
) -> None:
    role = synth.json["Resources"][synth.logical_id(synth.karpenter.node_role)]["Properties"]
    expected = official["Resources"]["KarpenterNodeRole"]["Properties"]
    assert resolve(role["AssumeRolePolicyDocument"]["Statement"]) == [
        {**statement, "Action": _as_list(statement["Action"])[0]}
        for statement in resolve(expected["AssumeRolePolicyDocument"]["Statement"])
    ]
    assert sorted(resolve(role["ManagedPolicyArns"])) == sorted(
        resolve(expected["ManagedPolicyArns"])
    )
    assert [arn.rsplit("/", 1)[-1] for arn in resolve(expected["ManagedPolicyArns"])] == list(
        NODE_ROLE_MANAGED_POLICIES
    )
    assert "RoleName" not in role, "a fixed role name collides across clusters and regions"


def test_node_role_has_ec2_linux_access_entry(synth: Synth) -> None:
    synth.template.has_resource_properties(
        "AWS::EKS::AccessEntry",
        {
            "ClusterName": synth.stack.resolve(synth.karpenter.node_access_entry.cluster_name),
            "PrincipalArn": {"Fn::GetAtt": [synth.logical_id(synth.karpenter.node_role), "Arn"]},
            "Type": "EC2_LINUX",
        },
    )
    assert resolve(synth.stack.resolve(synth.karpenter.node_access_entry.cluster_name)) == (
        synth.cluster_name
    )


# --- controller role, policies, Pod Identity ------------------------------------------------


def test_controller_role_trusts_eks_pod_identity(synth: Synth) -> None:
    role = synth.json["Resources"][synth.logical_id(synth.karpenter.controller_role)]
    assert role["Properties"]["AssumeRolePolicyDocument"]["Statement"] == [
        {
            "Action": ["sts:AssumeRole", "sts:TagSession"],
            "Effect": "Allow",
            "Principal": {"Service": "pods.eks.amazonaws.com"},
        }
    ]


def test_pod_identity_association_links_service_account_and_controller_role(
    synth: Synth,
) -> None:
    (association,) = synth.resources("AWS::EKS::PodIdentityAssociation").values()
    properties = association["Properties"]
    assert resolve(properties["ClusterName"]) == synth.cluster_name
    assert properties["Namespace"] == "kube-system"
    assert properties["ServiceAccount"] == "karpenter"
    assert properties["RoleArn"] == {
        "Fn::GetAtt": [synth.logical_id(synth.karpenter.controller_role), "Arn"]
    }


def test_controller_policies_match_official_statement_by_statement(
    synth: Synth, official_policies: dict[str, Any]
) -> None:
    assert list(synth.karpenter.controller_policies) == list(official_policies)
    controller_role = synth.logical_id(synth.karpenter.controller_role)
    for policy_id, policy in synth.karpenter.controller_policies.items():
        ours = synth.json["Resources"][synth.stack.get_logical_id(policy)]["Properties"]
        theirs = official_policies[policy_id]["Properties"]
        assert ours["Roles"] == [{"Ref": controller_role}], policy_id
        ours_document = document(ours["PolicyDocument"])
        theirs_document = document(theirs["PolicyDocument"], synth.official_names())
        assert ours_document["Version"] == theirs_document["Version"]
        ours_statements = [normalize(item) for item in ours_document["Statement"]]
        theirs_statements = [normalize(item) for item in theirs_document["Statement"]]
        assert [item["Sid"] for item in ours_statements] == [
            item["Sid"] for item in theirs_statements
        ], policy_id
        for mine, expected in zip(ours_statements, theirs_statements, strict=True):
            assert mine == expected, f"{policy_id} {expected['Sid']}"


def test_the_1_15_policy_data_is_1_14_1s_template_plus_reboot(
    official: dict[str, Any], official_policies: dict[str, Any]
) -> None:
    """The data file, written from the 1.15 reference page, checked against the one official
    file we hold (v1.14.1's template): the page's only change is ec2:RebootInstances."""
    names = {
        "ClusterName": "c",
        "KarpenterNodeRole.Arn": "node-role",
        "KarpenterInterruptionQueue.Arn": "queue",
    }
    for logical_id, resource in official_policies.items():
        theirs = document(resource["Properties"]["PolicyDocument"], names)
        older = document(official["Resources"][logical_id]["Properties"]["PolicyDocument"], names)
        if logical_id == "NodeLifecyclePolicy":
            deletion = next(s for s in theirs["Statement"] if s["Sid"] == "AllowScopedDeletion")
            assert deletion["Action"].pop(1) == "ec2:RebootInstances"
        assert theirs == older, logical_id


def test_policies_with_cluster_name_in_condition_keys_use_fn_sub_text(new: Synth) -> None:
    """With a token cluster name, only ``Fn::Sub`` text can hold it in a condition key."""
    forms = {
        policy_id: type(
            new.json["Resources"][new.stack.get_logical_id(policy)]["Properties"][
                "PolicyDocument"
            ].get("Fn::Sub")
        )
        for policy_id, policy in new.karpenter.controller_policies.items()
    }
    assert forms["NodeLifecyclePolicy"] is list
    assert forms["IAMIntegrationPolicy"] is list
    assert forms["ResourceDiscoveryPolicy"] is type(None)


def test_concrete_cluster_name_renders_every_policy_as_an_object(imported: Synth) -> None:
    for policy in imported.karpenter.controller_policies.values():
        rendered = imported.json["Resources"][imported.stack.get_logical_id(policy)]
        assert "Statement" in rendered["Properties"]["PolicyDocument"]
    lifecycle = imported.karpenter.controller_policies["NodeLifecyclePolicy"]
    text = json.dumps(imported.stack.resolve(lifecycle.policy_document))
    assert f"aws:ResourceTag/kubernetes.io/cluster/{IMPORTED_CLUSTER_NAME}" in text


def test_pass_role_names_only_the_node_role(synth: Synth) -> None:
    node_role_arn = f"<GetAtt {synth.logical_id(synth.karpenter.node_role)}.Arn>"
    pass_role_resources: list[str] = []
    for statement in _all_statements(synth):
        actions = _as_list(statement.get("Action", []))
        if any(action in ("iam:PassRole", "iam:*", "*") for action in actions):
            pass_role_resources.extend(_as_list(statement["Resource"]))
    assert pass_role_resources, "the controller must be able to pass the node role"
    assert "*" not in pass_role_resources
    karpenter_ones = [arn for arn in pass_role_resources if "Karpenter" in arn]
    assert karpenter_ones == [node_role_arn]


def _all_statements(synth: Synth) -> Iterator[dict[str, Any]]:
    for resource in synth.json["Resources"].values():
        properties = resource.get("Properties", {})
        if resource["Type"] in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
            yield from document(properties["PolicyDocument"])["Statement"]
        if resource["Type"] == "AWS::IAM::Role":
            for policy in properties.get("Policies", []):
                yield from document(policy["PolicyDocument"])["Statement"]


def test_policy_data_reasons_cover_every_wildcard_statement() -> None:
    for statements in karpenter_policies.CONTROLLER_POLICIES.values():
        for statement in statements:
            if any("*" in resource for resource in _as_list(statement["Resource"])):
                assert karpenter_policies.WILDCARD_REASONS.get(statement["Sid"])


# --- interruption queue and rules -------------------------------------------------------------


def test_interruption_queue_retention_sse_and_tls_only(
    synth: Synth, official: dict[str, Any]
) -> None:
    queue_id = synth.logical_id(synth.karpenter.interruption_queue)
    queue = synth.json["Resources"][queue_id]["Properties"]
    expected = official["Resources"]["KarpenterInterruptionQueue"]["Properties"]
    assert queue["MessageRetentionPeriod"] == expected["MessageRetentionPeriod"] == 300
    assert queue["SqsManagedSseEnabled"] is expected["SqsManagedSseEnabled"] is True
    assert "QueueName" not in queue, "CloudFormation names it: no collisions between stacks"

    (policy,) = synth.resources("AWS::SQS::QueuePolicy").values()
    assert policy["Properties"]["Queues"] == [{"Ref": queue_id}]
    statements = resolve(policy["Properties"]["PolicyDocument"]["Statement"])
    theirs = resolve(
        official["Resources"]["KarpenterInterruptionQueuePolicy"]["Properties"]["PolicyDocument"][
            "Statement"
        ],
        synth.official_names(),
    )
    queue_arn = f"<GetAtt {queue_id}.Arn>"
    theirs = json.loads(
        json.dumps(theirs).replace("<GetAtt KarpenterInterruptionQueue.Arn>", queue_arn)
    )
    (allow,) = [item for item in statements if item["Effect"] == "Allow"]
    (their_allow,) = [item for item in theirs if item["Effect"] == "Allow"]
    assert allow["Action"] == their_allow["Action"] == "sqs:SendMessage"
    assert sorted(allow["Principal"]["Service"]) == sorted(their_allow["Principal"]["Service"])
    assert allow["Resource"] == their_allow["Resource"] == queue_arn
    assert "Condition" not in allow
    (deny,) = [item for item in statements if item["Effect"] == "Deny"]
    (their_deny,) = [item for item in theirs if item["Effect"] == "Deny"]
    assert deny["Action"] == their_deny["Action"] == "sqs:*"
    assert deny["Principal"] in ({"AWS": "*"}, "*") and their_deny["Principal"] == "*"
    assert deny["Resource"] == queue_arn
    assert str(deny["Condition"]["Bool"]["aws:SecureTransport"]).lower() == "false"
    assert their_deny["Condition"]["Bool"]["aws:SecureTransport"] is False


def test_interruption_rules_match_official_event_patterns_and_target_the_queue(
    synth: Synth, official: dict[str, Any]
) -> None:
    theirs = {
        logical_id: resource["Properties"]
        for logical_id, resource in official["Resources"].items()
        if resource["Type"] == "AWS::Events::Rule"
    }
    assert set(theirs) == set(INTERRUPTION_RULES) == set(synth.karpenter.interruption_rules)
    assert len(theirs) == 5
    names = synth.official_names()
    for rule_id, rule in synth.karpenter.interruption_rules.items():
        ours = synth.json["Resources"][synth.stack.get_logical_id(rule)]["Properties"]
        assert ours["EventPattern"] == theirs[rule_id]["EventPattern"], rule_id
        assert resolve(ours["Targets"]) == [
            {**target, "Arn": names["KarpenterInterruptionQueue.Arn"]}
            for target in theirs[rule_id]["Targets"]
        ], rule_id
    detail_types = {pattern["EventPattern"]["detail-type"][0] for pattern in theirs.values()}
    assert "EC2 Instance State-change Notification" in detail_types
    assert len(synth.resources("AWS::Events::Rule")) == 5


# --- discovery tags ---------------------------------------------------------------------------


def _discovery_calls(synth: Synth) -> tuple[dict[str, Any], dict[str, Any]]:
    (resource,) = synth.resources("Custom::KarpenterDiscoveryTags").values()
    properties = resource["Properties"]
    assert properties["Create"] == properties["Update"]
    return json.loads(resolve(properties["Create"])), json.loads(resolve(properties["Delete"]))


def test_discovery_tags_on_private_subnets_and_cluster_security_group(new: Synth) -> None:
    cluster = new.karpenter.node.scope.node.find_child("Cluster")
    subnets = [f"<Ref {new.logical_id(subnet)}>" for subnet in cluster.vpc.private_subnets]
    security_group = resolve(new.stack.resolve(cluster.cluster_security_group_id))
    assert len(subnets) == 2 and security_group.startswith("<GetAtt ")
    create, delete = _discovery_calls(new)
    assert create["service"] == delete["service"] == "EC2"
    assert (create["action"], delete["action"]) == ("createTags", "deleteTags")
    for call in (create, delete):
        assert call["parameters"] == {
            "Resources": [*subnets, security_group],
            "Tags": [{"Key": DISCOVERY_TAG_KEY, "Value": new.cluster_name}],
        }
    assert new.karpenter.discovery_tag_key == "karpenter.sh/discovery"
    # CloudFormation tags holding the cluster's Ref on its own subnets would be circular.
    for subnet in new.resources("AWS::EC2::Subnet").values():
        keys = [tag["Key"] for tag in subnet["Properties"].get("Tags", [])]
        assert DISCOVERY_TAG_KEY not in keys


def test_discovery_tags_on_imported_subnets_with_custom_value(imported: Synth) -> None:
    create, _ = _discovery_calls(imported)
    assert create["parameters"]["Resources"] == [*IMPORTED_SUBNETS, IMPORTED_SECURITY_GROUP]
    assert create["parameters"]["Tags"] == [
        {"Key": DISCOVERY_TAG_KEY, "Value": IMPORTED_CLUSTER_NAME}
    ]
    assert imported.karpenter.discovery_tag_value == IMPORTED_CLUSTER_NAME


def test_discovery_tagging_is_allowed_on_exactly_those_resources(synth: Synth) -> None:
    create, _ = _discovery_calls(synth)
    tagged = create["parameters"]["Resources"]
    policies = [
        resource
        for logical_id, resource in synth.resources("AWS::IAM::Policy").items()
        if logical_id.startswith("KarpenterDiscoveryTags")
    ]
    (policy,) = policies
    statements = document(policy["Properties"]["PolicyDocument"])["Statement"]
    (statement,) = statements
    assert sorted(statement["Action"]) == ["ec2:CreateTags", "ec2:DeleteTags"]
    region, account = PSEUDO["AWS::Region"], PSEUDO["AWS::AccountId"]
    prefix = f"arn:aws:ec2:{region}:{account}"
    assert statement["Resource"] == [
        *(f"{prefix}:subnet/{subnet}" for subnet in tagged[:-1]),
        f"{prefix}:security-group/{tagged[-1]}",
    ]
    assert not any("*" in resource for resource in statement["Resource"])


# --- Helm chart -------------------------------------------------------------------------------


def _chart(
    synth: Synth, name: str = KARPENTER_CHART_NAME
) -> tuple[str, dict[str, Any], dict[str, Any]]:
    ((logical_id, resource),) = (
        (logical_id, resource)
        for logical_id, resource in synth.resources("Custom::AWSCDK-EKS-HelmChart").items()
        if resource["Properties"]["Chart"] == name
    )
    properties = resource["Properties"]
    return logical_id, properties, json.loads(resolve(properties.get("Values", "{}")))


def test_chart_release_settings(synth: Synth) -> None:
    _, properties, _ = _chart(synth)
    assert properties["Chart"] == KARPENTER_CHART_NAME
    assert properties["Repository"] == KARPENTER_CHART_REPOSITORY
    assert properties["Version"] == KARPENTER_VERSION == synth.karpenter.version
    assert properties["Release"] == "karpenter"
    assert properties["Namespace"] == "kube-system" == synth.karpenter.namespace
    assert properties["Wait"] is True
    # Below the kubectl Lambda's 15 minutes: Helm reports a stuck release, not a Lambda timeout.
    assert properties["Timeout"] == "600s"
    assert properties.get("CreateNamespace") in (None, False)
    assert properties["SkipCrds"] is True


def test_crds_come_from_their_own_chart_at_the_same_version(synth: Synth) -> None:
    """Helm installs a chart's crds/ only on first install; the karpenter-crd release upgrades
    them with every version bump (Karpenter's upgrade guide, "CRD Upgrades")."""
    crd_id, crd, _ = _chart(synth, KARPENTER_CRD_CHART_NAME)
    chart_id, chart, _ = _chart(synth)
    assert crd["Repository"] == KARPENTER_CRD_CHART_REPOSITORY
    assert crd["Version"] == chart["Version"] == KARPENTER_VERSION
    assert crd["Release"] == "karpenter-crd" and crd["Namespace"] == chart["Namespace"]
    assert crd["Wait"] is True and crd["Timeout"] == "600s"
    assert crd_id in synth.json["Resources"][chart_id]["DependsOn"]
    assert synth.karpenter.crd_chart is not None


def test_the_crd_chart_installs_the_crds_karpenter_is_built_against(harness: Upstream) -> None:
    """Helm's render of the pinned karpenter-crd chart holds every CRD the pinned Karpenter
    embeds (pkg/apis/crds), with identical specs, plus the capacity-buffer CRD of 1.14."""
    rendered = harness.render_chart(
        KARPENTER_CRD_CHART_NAME, release="karpenter-crd", namespace="kube-system", values={}
    )
    assert rendered.get("error") is None
    charted = {crd["metadata"]["name"]: crd["spec"] for crd in rendered["crds"]}
    embedded = {crd["metadata"]["name"]: crd["spec"] for crd in harness.karpenter_crds()}
    assert {"nodepools.karpenter.sh", "nodeoverlays.karpenter.sh"} <= set(embedded)
    assert set(charted) == set(embedded) | {"capacitybuffers.autoscaling.x-k8s.io"}
    for name, spec in embedded.items():
        assert charted[name] == spec, name


def test_chart_values(synth: Synth, chart_defaults: dict[str, Any]) -> None:
    _, _, values = _chart(synth)
    queue_id = synth.logical_id(synth.karpenter.interruption_queue)
    assert values["settings"]["clusterName"] == synth.cluster_name
    assert values["settings"]["interruptionQueue"] == f"<GetAtt {queue_id}.QueueName>"
    assert values["settings"]["featureGates"]["nodeOverlay"] is True
    assert synth.karpenter.node_overlay_enabled is True
    assert values["serviceAccount"] == {"create": True, "name": "karpenter"}
    terms = values["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"][
        "nodeSelectorTerms"
    ]
    assert {"key": "karpenter.sh/nodepool", "operator": "DoesNotExist"} in terms[0][
        "matchExpressions"
    ]
    # Everything else the chart does by default for availability is kept as it is.
    assert values["affinity"] == chart_defaults["affinity"]
    assert values["topologySpreadConstraints"] == chart_defaults["topologySpreadConstraints"]
    assert values["podDisruptionBudget"] == {"name": "karpenter", "maxUnavailable": 1}
    assert values["podDisruptionBudget"] == chart_defaults["podDisruptionBudget"]


def test_chart_values_only_use_keys_the_chart_has(
    synth: Synth, chart_defaults: dict[str, Any]
) -> None:
    """A misspelt key (``featureGate``, ``podDisruptionBudgets``) would be silently ignored."""

    def check(ours: Mapping[str, Any], theirs: Mapping[str, Any], path: str) -> None:
        for key, value in ours.items():
            assert key in theirs, f"{path}{key} is not a value of the Karpenter chart"
            if isinstance(value, Mapping) and isinstance(theirs[key], Mapping) and theirs[key]:
                check(value, theirs[key], f"{path}{key}.")

    _, _, values = _chart(synth)
    check(values, chart_defaults, "")


def _controller(rendered_chart: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    deployment = next(o for o in rendered_chart["objects"] if o["kind"] == "Deployment")
    container = next(
        c for c in deployment["spec"]["template"]["spec"]["containers"] if c["name"] == "controller"
    )
    return deployment, {e["name"]: e.get("value", "") for e in container["env"]}


def test_rendered_controller_runs_with_the_node_overlay_gate(
    synth: Synth, rendered: Callable[[Synth], dict[str, Any]]
) -> None:
    """Helm's own render of the pinned chart with our values: what the controller starts with."""
    deployment, env = _controller(rendered(synth))
    gates = dict(gate.split("=") for gate in env["FEATURE_GATES"].split(","))
    assert gates["NodeOverlay"] == "true"
    assert env["CLUSTER_NAME"] == synth.cluster_name
    queue_id = synth.logical_id(synth.karpenter.interruption_queue)
    assert env["INTERRUPTION_QUEUE"] == f"<GetAtt {queue_id}.QueueName>"
    assert deployment["metadata"]["namespace"] == "kube-system"
    spec = deployment["spec"]["template"]["spec"]
    assert spec["serviceAccountName"] == "karpenter"
    terms = spec["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
    assert {"key": "karpenter.sh/nodepool", "operator": "DoesNotExist"} in terms[
        "nodeSelectorTerms"
    ][0]["matchExpressions"]


def test_rendered_chart_objects_are_admitted(
    new: Synth, rendered: Callable[[Synth], dict[str, Any]], harness: Upstream
) -> None:
    chart = rendered(new)
    kinds = {o["kind"] for o in chart["objects"]}
    assert {"Deployment", "ServiceAccount", "PodDisruptionBudget", "ClusterRole"} <= kinds
    assert admission_errors(harness, chart["objects"]) == []


def test_new_cluster_chart_replicas_and_resources(new: Synth) -> None:
    _, _, values = _chart(new)
    assert values["replicas"] == 2
    # The official install's controller resources (getting started, step08-apply-helm-chart.sh).
    assert values["controller"] == {
        "resources": {
            "requests": {"cpu": "1", "memory": "1Gi"},
            "limits": {"cpu": "1", "memory": "1Gi"},
        }
    }


def test_helm_values_are_deep_merged_over_ours(imported: Synth) -> None:
    _, _, values = _chart(imported)
    assert values["replicas"] == 3
    assert values["settings"]["featureGates"] == {
        "nodeOverlay": True,
        "spotToSpotConsolidation": True,
    }
    assert values["settings"]["clusterName"] == IMPORTED_CLUSTER_NAME
    # The user's override replaces one value and keeps ours beside it.
    assert values["controller"]["resources"]["requests"] == {"cpu": "2", "memory": "1Gi"}
    assert values["controller"]["resources"]["limits"] == {"cpu": "1", "memory": "1Gi"}


def test_deep_merge_merges_maps_and_replaces_the_rest() -> None:
    base = {"a": {"b": 1, "c": [1, 2]}, "d": 1}
    merged = deep_merge(base, {"a": {"c": [3], "e": {"f": 1}}, "d": {"g": 2}})
    assert merged == {"a": {"b": 1, "c": [3], "e": {"f": 1}}, "d": {"g": 2}}
    assert base == {"a": {"b": 1, "c": [1, 2]}, "d": 1}


def test_chart_waits_for_iam_pod_identity_access_entry_and_tags(synth: Synth) -> None:
    chart_id, _, _ = _chart(synth)
    before = depends_on(synth.json, chart_id)
    karpenter = synth.karpenter
    required = {
        synth.stack.get_logical_id(karpenter.pod_identity_association),
        synth.stack.get_logical_id(karpenter.node_access_entry),
        *(synth.stack.get_logical_id(policy) for policy in karpenter.controller_policies.values()),
    }
    required.add(
        next(
            logical_id
            for logical_id in synth.resources("Custom::KarpenterDiscoveryTags")
            if logical_id.startswith("KarpenterDiscoveryTags")
        )
    )
    assert required <= before, sorted(required - before)
    # Directly, too: CloudFormation starts the chart only after each of them.
    direct = set(synth.json["Resources"][chart_id]["DependsOn"])
    assert required <= direct


def test_chart_is_the_dependency_handle(new: Synth) -> None:
    assert isinstance(new.karpenter.chart, eks.HelmChart)
    assert new.karpenter.node_role_name == new.karpenter.node_role.role_name
    assert isinstance(new.karpenter.controller_role, iam.Role)


# --- cdk-nag ----------------------------------------------------------------------------------


def test_cdk_nag_finds_nothing_unacknowledged_in_karpenter(tmp_path: Path) -> None:
    from cdk_nag import AwsSolutionsChecks

    app = cdk.App(outdir=str(tmp_path))
    stacks = [_new_cluster_stack(app), _imported_cluster_stack(app)]
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    try:
        app.synth()
    except Exception as error:  # the EKS module's own resources have findings
        assert "validation-report.json" in str(error)
    assert (tmp_path / "validation-report.json").exists(), "cdk-nag wrote no report"
    ours = [
        violation
        for violation in nag_violations(tmp_path)
        if "/Karpenter/" in violation or "/AWS679f53fac002430cb0da5b7982bd2287/" in violation
    ]
    assert ours == []
    # Every acknowledgment says why, specifically.
    roots = []
    for _, _, karpenter in stacks:
        # The construct itself and the AwsCustomResource singleton's role.
        roots += [karpenter, karpenter.discovery_tags.grant_principal]
    acknowledged = acknowledgments(*roots)
    assert acknowledged
    for _, rule, reason in acknowledged:
        assert rule.startswith("AwsSolutions-"), rule
        assert len(reason) > 80, (rule, reason)


# --- validation -------------------------------------------------------------------------------


def _bare_cluster(
    stack: cdk.Stack,
    name: str = IMPORTED_CLUSTER_NAME,
    *,
    with_security_group: bool = True,
    with_kubectl: bool = True,
) -> eks.ICluster:
    index = len(stack.node.children)
    return eks.Cluster.from_cluster_attributes(
        stack,
        f"Imported{index}",
        cluster_name=name,
        cluster_security_group_id=IMPORTED_SECURITY_GROUP if with_security_group else None,
        kubectl_role_arn="arn:aws:iam::123456789012:role/kubectl" if with_kubectl else None,
        kubectl_layer=KubectlV36Layer(stack, f"Layer{index}") if with_kubectl else None,
    )


def _fails(**kwargs: Any) -> ConfigurationError:
    stack = cdk.Stack(cdk.App(), "Validation")
    cluster = kwargs.pop("cluster", None) or _bare_cluster(stack)
    kwargs.setdefault("subnets", [])
    with pytest.raises(ConfigurationError) as caught:
        Karpenter(stack, "Karpenter", cluster=cluster, **kwargs)
    assert stack.node.try_find_child("Karpenter") is None, "nothing half-built"
    return caught.value


def _assert_message(error: ConfigurationError, field: str, value: str, *parts: str) -> None:
    message = str(error)
    assert field in message and shown(value) in message, message
    assert error.fix and error.fix in message
    for part in parts:
        assert part in message, message


def test_incompatible_kubernetes_and_karpenter_versions_are_rejected() -> None:
    error = _fails(version="1.12.0", kubernetes_version="1.36")
    _assert_message(
        error, "Karpenter.version", "1.12.0", "Kubernetes 1.36 needs Karpenter >= 1.13.0"
    )
    assert KARPENTER_VERSION in error.fix


def test_unknown_kubernetes_version_is_rejected() -> None:
    error = _fails(kubernetes_version="1.99")
    _assert_message(error, "Karpenter.kubernetes_version", "1.99", "1.36")


@pytest.mark.parametrize("version", ["v1.14.1", "latest", "1.14", "", "1.14.x"])
def test_unparseable_karpenter_version_is_rejected(version: str) -> None:
    _assert_message(_fails(version=version), "Karpenter.version", version, "MAJOR.MINOR.PATCH")


def test_karpenter_without_node_overlay_is_rejected() -> None:
    error = _fails(version="1.5.0", kubernetes_version="1.31")
    _assert_message(error, "Karpenter.version", "1.5.0", "NodeOverlay", ">= 1.7.0")


@pytest.mark.parametrize("name", ["-bad", "a" * 101, "bad name", "_bad", "bad.name"])
def test_invalid_cluster_name_is_rejected(name: str) -> None:
    stack = cdk.Stack(cdk.App(), "Validation")
    error = _fails(cluster=_bare_cluster(stack, name))
    _assert_message(error, "Karpenter.cluster.cluster_name", name, "1-100 characters")


@given(st.from_regex(r"[0-9A-Za-z][A-Za-z0-9\-_]{0,99}", fullmatch=True))
@settings(max_examples=50, deadline=None)
def test_every_valid_cluster_name_is_accepted(name: str) -> None:
    check_cluster_name(name, field="Karpenter.cluster.cluster_name", fix="unused")


def test_hundred_character_cluster_name_builds() -> None:
    stack = cdk.Stack(cdk.App(), "Validation")
    karpenter = Karpenter(stack, "Karpenter", cluster=_bare_cluster(stack, "a" * 100), subnets=[])
    assert karpenter.discovery_tag_value == "a" * 100


@pytest.mark.parametrize(
    ("field", "kwargs", "value"),
    [
        ("Karpenter.namespace", {"namespace": "Kube_System"}, "Kube_System"),
        ("Karpenter.service_account_name", {"service_account_name": "Karpenter"}, "Karpenter"),
        ("Karpenter.discovery_tag_value", {"discovery_tag_value": ""}, ""),
    ],
)
def test_invalid_names_are_rejected(field: str, kwargs: dict[str, Any], value: str) -> None:
    _assert_message(_fails(**kwargs), field, value)


def test_imported_cluster_without_vpc_needs_subnets() -> None:
    stack = cdk.Stack(cdk.App(), "Validation")
    error = _fails(cluster=_bare_cluster(stack), subnets=None)
    assert error.field == "Karpenter.subnets"
    assert "subnets=[...]" in str(error)


def test_imported_cluster_without_kubectl_access_is_rejected() -> None:
    stack = cdk.Stack(cdk.App(), "Validation")
    error = _fails(cluster=_bare_cluster(stack, with_kubectl=False))
    assert error.field == "Karpenter.cluster"
    assert "kubectl_role_arn" in str(error)


def test_imported_cluster_without_security_group_is_rejected() -> None:
    stack = cdk.Stack(cdk.App(), "Validation")
    error = _fails(cluster=_bare_cluster(stack, with_security_group=False))
    assert error.field == "Karpenter.cluster"
    assert "cluster_security_group_id" in str(error)
