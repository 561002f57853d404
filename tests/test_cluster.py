"""``ReferenceCluster`` and the kubectl layer helper: template, cfn-lint, cdk-nag, validation.

Each configuration is synthesized once per module (a synth takes seconds) with cdk-nag's
AwsSolutions pack registered as a CDK validation plugin (cdk-nag 3): a finding that is not
acknowledged makes ``app.synth()`` raise, and the report lands in ``validation-report.json``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_eks as eks
from aws_cdk.assertions import Match, Template
from cdk_nag import AwsSolutionsChecks
from cfnlint.api import ManualArgs, lint_file

from eks_gpu_sharing.cdk.cluster import SYSTEM_NODE_LABEL, ReferenceCluster
from eks_gpu_sharing.cdk.kubectl import (
    kubectl_layer,
    kubectl_layer_module_name,
    kubernetes_version,
)
from eks_gpu_sharing.cdk.nag import EksInternalsAcknowledgments
from eks_gpu_sharing.cdk.zoned_stack import ZonedStack
from eks_gpu_sharing.errors import ConfigurationError, shown
from eks_gpu_sharing.versions import KUBERNETES_VERSION
from tests.cdk_helpers import acknowledgments, resources_of

pytestmark = pytest.mark.slow

ADMIN_ROLE_ARN = "arn:aws:iam::123456789012:role/PlatformAdmin"
ACCOUNT, REGION = "123456789012", "eu-west-1"
ADDONS = ("vpc-cni", "kube-proxy", "coredns", "eks-pod-identity-agent")


@dataclass(frozen=True)
class Synthesized:
    """One synthesized app holding a single ``ReferenceCluster``."""

    app: cdk.App
    stack: cdk.Stack
    construct: ReferenceCluster
    outdir: Path

    @property
    def template(self) -> Template:
        return Template.from_json(self.raw)

    @property
    def raw(self) -> dict[str, Any]:
        return json.loads((self.outdir / f"{self.stack.artifact_id}.template.json").read_text())

    def templates(self) -> list[Path]:
        """The parent template and the nested stacks' templates."""
        return sorted(self.outdir.glob("*.template.json"))

    def of_type(self, resource_type: str) -> dict[str, dict[str, Any]]:
        return resources_of(self.raw, resource_type)

    def one(self, resource_type: str) -> tuple[str, dict[str, Any]]:
        (item,) = self.of_type(resource_type).items()
        return item

    def cluster_config(self) -> dict[str, Any]:
        return self.one("Custom::AWSCDK-EKS-Cluster")[1]["Properties"]["Config"]


def _synth(
    outdir: Path,
    *,
    construct_id: str = "Reference",
    env: bool = False,
    omitted_log_types: tuple[str, ...] = (),
    **props: Any,
) -> Synthesized:
    context = {}
    if env:
        # What `cdk synth` would cache in cdk.context.json; nothing here calls AWS.
        context[f"availability-zones:account={ACCOUNT}:region={REGION}"] = [
            f"{REGION}a",
            f"{REGION}b",
            f"{REGION}c",
        ]
    app = cdk.App(outdir=str(outdir), context=context)
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app, verbose=True))
    cdk.Aspects.of(app).add(EksInternalsAcknowledgments())
    stack = cdk.Stack(
        app,
        "ClusterTest",
        env=cdk.Environment(account=ACCOUNT, region=REGION) if env else None,
    )
    construct = ReferenceCluster(stack, construct_id, **props)
    for log_type in omitted_log_types:
        # Fewer log types is the caller's decision, so the caller acknowledges it, as a user would.
        cdk.Validations.of(construct.cluster).acknowledge(
            cdk.Acknowledgment(
                id=f"AwsSolutions-EKS2[LogExport::{log_type}]",
                reason="Test stack: only api and audit logs are kept to show logging is a prop.",
            )
        )
    app.synth()  # raises ValidationFailed on any unacknowledged cdk-nag finding
    return Synthesized(app, stack, construct, outdir)


@pytest.fixture(scope="module")
def cluster_default(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    """All defaults, environment-agnostic stack."""
    return _synth(tmp_path_factory.mktemp("cluster-default"))


@pytest.fixture(scope="module")
def cluster_configured(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    """Every prop changed, in a stack with an explicit account and region."""
    return _synth(
        tmp_path_factory.mktemp("cluster-configured"),
        construct_id="Platform",
        env=True,
        cluster_name="team_a-gpu",
        max_azs=3,
        nat_gateways=2,
        vpc_cidr="10.20.0.0/16",
        system_node_instance_types=("m7i.xlarge", "m6i.xlarge"),
        system_node_count=3,
        system_node_max_size=5,
        admin_role_arn=ADMIN_ROLE_ARN,
        logging=[eks.ClusterLoggingTypes.API, eks.ClusterLoggingTypes.AUDIT],
        omitted_log_types=("authenticator", "controllerManager", "scheduler"),
    )


@pytest.fixture(scope="module")
def cluster_private(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    """Private API endpoint only."""
    return _synth(
        tmp_path_factory.mktemp("cluster-private"), endpoint_access=eks.EndpointAccess.PRIVATE
    )


@pytest.fixture(params=["cluster_default", "cluster_configured", "cluster_private"])
def cluster_any(request: pytest.FixtureRequest) -> Synthesized:
    return request.getfixturevalue(request.param)


# -- VPC -------------------------------------------------------------------------------------


def test_one_nat_gateway_by_default(cluster_default: Synthesized) -> None:
    cluster_default.template.resource_count_is("AWS::EC2::NatGateway", 1)
    cluster_default.template.resource_count_is("AWS::EC2::Subnet", 4)  # 2 AZs x public/private


def test_nat_gateways_and_azs_are_configurable(cluster_configured: Synthesized) -> None:
    template = cluster_configured.template
    template.resource_count_is("AWS::EC2::NatGateway", 2)
    template.resource_count_is("AWS::EC2::Subnet", 6)  # 3 AZs x public/private
    template.has_resource_properties("AWS::EC2::VPC", {"CidrBlock": "10.20.0.0/16"})


def test_control_plane_and_nodes_use_private_subnets_only(cluster_any: Synthesized) -> None:
    subnets = cluster_any.of_type("AWS::EC2::Subnet")
    private = {
        logical_id
        for logical_id, subnet in subnets.items()
        if {"Key": "aws-cdk:subnet-type", "Value": "Private"} in subnet["Properties"]["Tags"]
    }
    assert private and len(private) == len(subnets) // 2
    for logical_id in private:
        assert subnets[logical_id]["Properties"]["MapPublicIpOnLaunch"] is False

    def refs(items: list[dict[str, str]]) -> set[str]:
        return {item["Ref"] for item in items}

    assert refs(cluster_any.cluster_config()["resourcesVpcConfig"]["subnetIds"]) == private
    _, nodegroup = cluster_any.one("AWS::EKS::Nodegroup")
    assert refs(nodegroup["Properties"]["Subnets"]) == private


def test_vpc_flow_logs_go_to_cloudwatch(cluster_default: Synthesized) -> None:
    cluster_default.template.has_resource_properties(
        "AWS::EC2::FlowLog",
        {
            "ResourceType": "VPC",
            "TrafficType": "ALL",
            "LogDestinationType": "cloud-watch-logs",
            "LogGroupName": {"Ref": Match.any_value()},
        },
    )
    cluster_default.template.has_resource_properties("AWS::Logs::LogGroup", {"RetentionInDays": 30})


def test_existing_vpc_is_used_as_given() -> None:
    app = cdk.App()
    stack = cdk.Stack(app, "ExistingVpc")
    vpc = ec2.Vpc(stack, "Shared", max_azs=2, nat_gateways=1)
    # The NAT/AZ props describe a new VPC: with a given VPC they are ignored, not validated.
    reference = ReferenceCluster(stack, "Reference", vpc=vpc, nat_gateways=0, max_azs=1)
    assert reference.vpc is vpc
    assert reference.node.try_find_child("Vpc") is None
    assert reference.node.try_find_child("FlowLogs") is None


# -- control plane ---------------------------------------------------------------------------


def test_kubernetes_version_and_access_entry_authentication(cluster_any: Synthesized) -> None:
    config = cluster_any.cluster_config()
    assert config["version"] == KUBERNETES_VERSION == "1.36"
    assert config["accessConfig"] == {"authenticationMode": "API"}


def test_control_plane_logs_every_type_by_default(cluster_default: Synthesized) -> None:
    assert cluster_default.cluster_config()["logging"] == {
        "clusterLogging": [
            {
                "enabled": True,
                "types": ["api", "audit", "authenticator", "controllerManager", "scheduler"],
            }
        ]
    }


def test_control_plane_log_types_are_configurable(cluster_configured: Synthesized) -> None:
    logging = cluster_configured.cluster_config()["logging"]
    assert logging == {"clusterLogging": [{"enabled": True, "types": ["api", "audit"]}]}


def test_secrets_are_encrypted_with_a_rotating_kms_key(cluster_default: Synthesized) -> None:
    (encryption,) = cluster_default.cluster_config()["encryptionConfig"]
    assert encryption["resources"] == ["secrets"]
    key_id, _ = encryption["provider"]["keyArn"]["Fn::GetAtt"]
    key = cluster_default.raw["Resources"][key_id]
    assert key["Type"] == "AWS::KMS::Key"
    assert key["Properties"]["EnableKeyRotation"] is True


def test_endpoint_access(cluster_default: Synthesized, cluster_private: Synthesized) -> None:
    public = cluster_default.cluster_config()["resourcesVpcConfig"]
    assert (public["endpointPublicAccess"], public["endpointPrivateAccess"]) == (True, True)
    private = cluster_private.cluster_config()["resourcesVpcConfig"]
    assert (private["endpointPublicAccess"], private["endpointPrivateAccess"]) == (False, True)


def test_cluster_name(cluster_default: Synthesized, cluster_configured: Synthesized) -> None:
    assert cluster_default.cluster_config()["name"] == "gpu-slicing"
    assert cluster_default.construct.cluster_name == "gpu-slicing"
    assert cluster_configured.cluster_config()["name"] == "team_a-gpu"


# -- system nodes and add-ons ----------------------------------------------------------------


def test_system_nodegroup_defaults(cluster_default: Synthesized) -> None:
    cluster_default.template.has_resource_properties(
        "AWS::EKS::Nodegroup",
        {
            "InstanceTypes": ["m7i.large"],
            "CapacityType": "ON_DEMAND",
            "AmiType": "AL2023_x86_64_STANDARD",
            "ScalingConfig": {"MinSize": 2, "DesiredSize": 2, "MaxSize": 3},
            "Labels": {SYSTEM_NODE_LABEL: "true"},
        },
    )
    _, nodegroup = cluster_default.one("AWS::EKS::Nodegroup")
    assert "Taints" not in nodegroup["Properties"]


def test_system_nodegroup_is_configurable(cluster_configured: Synthesized) -> None:
    cluster_configured.template.has_resource_properties(
        "AWS::EKS::Nodegroup",
        {
            "InstanceTypes": ["m7i.xlarge", "m6i.xlarge"],
            "ScalingConfig": {"MinSize": 3, "DesiredSize": 3, "MaxSize": 5},
        },
    )


def test_each_addon_is_declared_exactly_once(cluster_any: Synthesized) -> None:
    addons = [r["Properties"] for r in cluster_any.of_type("AWS::EKS::Addon").values()]
    assert sorted(a["AddonName"] for a in addons) == sorted(ADDONS)
    for addon in addons:
        assert addon["ResolveConflicts"] == "OVERWRITE"
        assert "AddonVersion" not in addon  # EKS picks the default for the cluster version
    assert set(cluster_any.construct.addons) == set(ADDONS)


def test_coredns_waits_for_the_system_nodes(cluster_default: Synthesized) -> None:
    nodegroup_id, _ = cluster_default.one("AWS::EKS::Nodegroup")
    (coredns,) = [
        r
        for r in cluster_default.of_type("AWS::EKS::Addon").values()
        if r["Properties"]["AddonName"] == "coredns"
    ]
    assert nodegroup_id in coredns["DependsOn"]


def test_pod_identity_service_account_reuses_the_agent_addon() -> None:
    """aws-cdk-lib adds its own agent add-on for Pod Identity service accounts (aws-cdk#32580)."""
    app = cdk.App()
    stack = cdk.Stack(app, "PodIdentity")
    reference = ReferenceCluster(stack, "Reference", admin_role_arn=ADMIN_ROLE_ARN)
    reference.cluster.add_service_account(
        "Workload", name="workload", identity_type=eks.IdentityType.POD_IDENTITY
    )
    addons = Template.from_stack(stack).find_resources(
        "AWS::EKS::Addon", {"Properties": {"AddonName": "eks-pod-identity-agent"}}
    )
    assert len(addons) == 1


# -- access and outputs ----------------------------------------------------------------------


def test_no_access_entry_without_admin_role(cluster_default: Synthesized) -> None:
    cluster_default.template.resource_count_is("AWS::EKS::AccessEntry", 0)


def test_admin_role_gets_cluster_admin_access_entry(cluster_configured: Synthesized) -> None:
    cluster_configured.template.resource_count_is("AWS::EKS::AccessEntry", 1)
    (entry,) = cluster_configured.of_type("AWS::EKS::AccessEntry").values()
    (policy,) = entry["Properties"]["AccessPolicies"]
    assert json.dumps(policy["PolicyArn"]).endswith(
        ':eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy"]]}'
    )
    cluster_configured.template.has_resource_properties(
        "AWS::EKS::AccessEntry",
        {
            "PrincipalArn": ADMIN_ROLE_ARN,
            "AccessPolicies": [
                {
                    "AccessScope": {"Type": "cluster"},
                    "PolicyArn": Match.any_value(),
                }
            ],
        },
    )


def test_missing_admin_role_is_a_synth_warning(
    cluster_default: Synthesized, cluster_configured: Synthesized
) -> None:
    def warnings(synthesized: Synthesized) -> list[str]:
        metadata = json.loads(
            (synthesized.outdir / f"{synthesized.stack.artifact_id}.metadata.json").read_text()
        )
        return [
            str(entry["data"])
            for entries in metadata.values()
            for entry in entries
            if entry["type"] == "aws:cdk:warning"
        ]

    assert any("admin_role_arn is not set" in w for w in warnings(cluster_default))
    assert not any("admin_role_arn" in w for w in warnings(cluster_configured))


def test_outputs_name_and_update_kubeconfig(cluster_default: Synthesized) -> None:
    outputs = cluster_default.raw["Outputs"]
    values = [json.dumps(o["Value"]) for o in outputs.values()]
    cluster_id, _ = cluster_default.one("Custom::AWSCDK-EKS-Cluster")
    assert json.dumps({"Ref": cluster_id}) in values
    (command,) = [o["Value"] for o in outputs.values() if "update-kubeconfig" in json.dumps(o)]
    assert command == {
        "Fn::Join": [
            " ",
            [
                "aws eks update-kubeconfig --name",
                {"Ref": cluster_id},
                "--region",
                {"Ref": "AWS::Region"},
            ],
        ]
    }


def test_update_kubeconfig_uses_a_literal_region_when_known(
    cluster_configured: Synthesized,
) -> None:
    outputs = cluster_configured.raw["Outputs"].values()
    (command,) = [o["Value"] for o in outputs if "update-kubeconfig" in json.dumps(o)]
    assert command["Fn::Join"][1][-1].endswith(f"--region {REGION}")


# -- cfn-lint and cdk-nag --------------------------------------------------------------------


def test_cfn_lint_finds_no_errors_in_parent_or_nested_templates(cluster_any: Synthesized) -> None:
    templates = cluster_any.templates()
    assert len(templates) == 3  # parent + ClusterResourceProvider + KubectlProvider
    problems = [
        f"{template.name}: {match}"
        for template in templates
        for match in lint_file(template, ManualArgs(regions=[REGION]))
        # Errors only: W/I findings (e.g. W3005 redundant DependsOn that aws-cdk-lib writes into
        # its own provider stacks) are advisory and not ours to change.
        if match.rule.id.startswith("E")
    ]
    assert not problems, "\n".join(problems)


def test_cdk_nag_reports_no_violations(cluster_any: Synthesized) -> None:
    report = json.loads((cluster_any.outdir / "validation-report.json").read_text())
    # Passing plugins may be listed (CDK's own CloudFormation Validate is, for env-bound stacks);
    # the fixture's synth would have raised on any violation.
    for plugin in report["pluginReports"]:
        assert (plugin["conclusion"], plugin["violations"]) == ("success", []), plugin


def test_nag_acknowledgments_are_specific_and_explained(cluster_any: Synthesized) -> None:
    ours = [a for a in acknowledgments(cluster_any.app) if "AwsSolutions-" in a[1]]
    assert ours
    stack_path = cluster_any.stack.node.path
    generic = {"suppressed", "not applicable", "n/a", "false positive", "ok", "ignore", "todo"}
    for path, rule_id, reason in ours:
        # On a resource-owning construct, never the whole app or stack.
        assert path not in ("", stack_path), (path, rule_id)
        # IAM4/IAM5 name the exact policy or wildcard they accept, not the whole rule.
        if rule_id.startswith(("AwsSolutions-IAM4", "AwsSolutions-IAM5")):
            assert rule_id.endswith("]") and "[" in rule_id, rule_id
        assert len(reason) >= 60, (rule_id, reason)
        assert reason.strip().lower().rstrip(".") not in generic, (rule_id, reason)
    # A public endpoint is explained together with how to turn it off.
    for _, rule_id, reason in ours:
        if rule_id == "AwsSolutions-EKS1":
            assert "EndpointAccess.PRIVATE" in reason


def test_private_endpoint_needs_no_eks1_acknowledgment(cluster_private: Synthesized) -> None:
    rules = {rule_id for _, rule_id, _ in acknowledgments(cluster_private.app)}
    assert "AwsSolutions-EKS1" not in rules


def test_only_eks_managed_policies_are_accepted(cluster_default: Synthesized) -> None:
    accepted = {
        rule_id.split("iam::aws:policy/")[-1].rstrip("]")
        for _, rule_id, _ in acknowledgments(cluster_default.app)
        if rule_id.startswith("AwsSolutions-IAM4[Policy::arn:")
    }
    assert accepted == {
        "AmazonEKSClusterPolicy",
        "AmazonEKSWorkerNodePolicy",
        "AmazonEKS_CNI_Policy",
        "AmazonEC2ContainerRegistryReadOnly",
        "AmazonEC2ContainerRegistryPullOnly",
        "service-role/AWSLambdaBasicExecutionRole",
        "service-role/AWSLambdaVPCAccessExecutionRole",
    }


# -- validation ------------------------------------------------------------------------------

INVALID_PROPS = [
    ("cluster_name", "", "ReferenceCluster.cluster_name", "gpu-slicing"),
    ("cluster_name", "-starts-with-dash", "ReferenceCluster.cluster_name", "gpu-slicing"),
    ("cluster_name", "has space", "ReferenceCluster.cluster_name", "gpu-slicing"),
    ("cluster_name", "x" * 101, "ReferenceCluster.cluster_name", "gpu-slicing"),
    ("max_azs", 1, "ReferenceCluster.max_azs", "max_azs=2"),
    ("nat_gateways", 0, "ReferenceCluster.nat_gateways", "nat_gateways=1"),
    ("nat_gateways", 3, "ReferenceCluster.nat_gateways", "nat_gateways=1"),
    ("system_node_count", 0, "ReferenceCluster.system_node_count", "use 1 or more"),
    ("system_node_max_size", 1, "ReferenceCluster.system_node_max_size", "use 3"),
    ("system_node_instance_types", (), "ReferenceCluster.system_node_instance_types", "m7i"),
    ("system_node_instance_types", "m7i.large", "ReferenceCluster.system_node_instance_types",
     "('m7i.large',)"),
    ("system_node_instance_types", ("m7i large",), "ReferenceCluster.system_node_instance_types",
     "m7i.large"),
    ("admin_role_arn", "PlatformAdmin", "ReferenceCluster.admin_role_arn", "role ARN"),
    ("admin_role_arn", "arn:aws:iam::123456789012:user/alice", "ReferenceCluster.admin_role_arn",
     "role ARN"),
]  # fmt: skip


@pytest.mark.parametrize(("prop", "value", "field", "fix"), INVALID_PROPS)
def test_invalid_props_raise_configuration_error(
    prop: str, value: Any, field: str, fix: str
) -> None:
    stack = cdk.Stack(cdk.App(), "Invalid")
    with pytest.raises(ConfigurationError) as raised:
        ReferenceCluster(stack, "Reference", **{prop: value})
    message = str(raised.value)
    assert raised.value.field == field
    assert message.startswith(f"{field}=")
    # The offending value: the prop itself, or the one bad item of a sequence.
    offending = raised.value.value
    assert offending == value or (isinstance(value, tuple) and offending in value)
    assert shown(offending) in message
    assert fix in message and raised.value.fix in message
    assert stack.node.try_find_child("Reference") is None  # nothing half-built


def test_token_admin_role_arn_is_accepted() -> None:
    stack = cdk.Stack(cdk.App(), "Token")
    role_arn = cdk.CfnParameter(stack, "AdminRoleArn").value_as_string
    ReferenceCluster(stack, "Reference", admin_role_arn=role_arn)


# -- kubectl layer ---------------------------------------------------------------------------


def test_kubectl_layer_matches_the_kubernetes_version() -> None:
    assert kubectl_layer_module_name() == "aws_cdk.lambda_layer_kubectl_v36"
    assert kubernetes_version().version == KUBERNETES_VERSION
    stack = cdk.Stack(cdk.App(), "Layer")
    layer = kubectl_layer(stack)
    assert type(layer).__name__ == "KubectlV36Layer"
    assert layer.node.id == "KubectlLayer"


def test_missing_kubectl_layer_package_names_the_pip_package() -> None:
    stack = cdk.Stack(cdk.App(), "Layer")
    with pytest.raises(ConfigurationError) as raised:
        kubectl_layer(stack, version="1.99")
    assert raised.value.field == "KUBERNETES_VERSION"
    assert "pip install aws-cdk.lambda-layer-kubectl-v99" in str(raised.value)


def test_nag_aspect_tolerates_missing_aws_cdk_lib_children(tmp_path: Path) -> None:
    """The aspect finds aws-cdk-lib's internals by private ids: where they are absent (an
    imported cluster, a stack without EKS, a future aws-cdk-lib that renames them) it must
    leave the synth alone and acknowledge nothing."""
    from eks_gpu_sharing.cdk import nag

    app = cdk.App(outdir=str(tmp_path))
    stack = cdk.Stack(app, "NoEks")
    eks.Cluster.from_cluster_attributes(stack, "Imported", cluster_name="x")
    cdk.Aspects.of(app).add(EksInternalsAcknowledgments())
    app.synth()
    assert acknowledgments(app) == []
    assert nag._child(stack, "@aws-cdk/aws-eks.KubectlProvider", "Handler") is None


# -- offline synth with an explicit env --------------------------------------------------------


def _missing_context(app: cdk.App) -> list[str]:
    manifest = json.loads((Path(app.synth().directory) / "manifest.json").read_text())
    return [missing["provider"] for missing in manifest.get("missing", [])]


def test_an_env_specific_stack_needs_a_zone_lookup_unless_it_is_zoned() -> None:
    """With account and region known, a new VPC asks for the region's zones, which `cdk synth`
    answers by calling AWS (credentials). A ZonedStack knows them."""
    env = cdk.Environment(account="123456789012", region="us-east-1")
    looked_up = cdk.App()
    ReferenceCluster(cdk.Stack(looked_up, "Env", env=env), "Reference")
    assert "availability-zones" in _missing_context(looked_up)
    zoned = cdk.App()
    stack = ZonedStack(zoned, "Env", env=env, availability_zones=["us-east-1a", "us-east-1c"])
    reference = ReferenceCluster(stack, "Reference")
    assert _missing_context(zoned) == []
    assert reference.vpc.availability_zones == ["us-east-1a", "us-east-1c"]


@pytest.mark.parametrize(
    ("zones", "fragment"),
    [
        (["us-east-1a"], "at least two"),
        ("us-east-1a,us-east-1b", "at least two"),
        (["us-east-1a", "use1-az1"], "region and a letter"),
        (["us-east-1a", "us-west-2a"], "one region"),
        (["us-west-2a", "us-west-2b"], "stack's region, us-east-1"),
    ],
)
def test_zoned_stack_checks_the_zones(zones: Any, fragment: str) -> None:
    env = cdk.Environment(account="123456789012", region="us-east-1")
    with pytest.raises(ConfigurationError, match=fragment) as info:
        ZonedStack(cdk.App(), "Env", env=env, availability_zones=zones)
    assert info.value.field == "ZonedStack.availability_zones"
