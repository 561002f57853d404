"""Karpenter on any ``aws_eks.ICluster``, equivalent to the official v1.15 install.

The official install is a CloudFormation template (node role, controller policies, interruption
queue and rules: aws/karpenter-provider-aws, ``website/content/en/v1.15/reference/
cloudformation.md`` lists every statement), an EKS Pod Identity association for the
``karpenter`` service account and ``helm install`` of ``oci://public.ecr.aws/karpenter/karpenter``.
:class:`Karpenter` builds the same pieces in one construct, in the order a deployment needs them.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final

from aws_cdk import Duration, Fn, Stack, Token
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_eks as eks
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_sqs as sqs
from aws_cdk import custom_resources as cr
from constructs import Construct

from ..aws_names import tag_value_error
from ..errors import ConfigurationError
from ..karpenter_compatibility import check_dra_support, check_karpenter_version
from ..karpenter_installation import DISCOVERY_TAG_KEY
from ..karpenter_values import KARPENTER_CRD_RELEASE, KARPENTER_RELEASE, karpenter_chart_values
from ..kubernetes_names import dns_label_error, dns_subdomain_error, require_name
from ..versions import (
    KARPENTER_CHART_NAME,
    KARPENTER_CHART_REPOSITORY,
    KARPENTER_CRD_CHART_NAME,
    KARPENTER_CRD_CHART_REPOSITORY,
    KARPENTER_VERSION,
    KUBERNETES_VERSION,
)
from . import karpenter_policies
from .validation import acknowledge, check_cluster_name

#: Managed policies of the official node role (``KarpenterNodeRole``).
#: How long Helm waits for a release. Below the kubectl Lambda's 15-minute limit, so a release
#: that does not get ready fails the deploy with Helm's message instead of a Lambda timeout
#: (which CloudFormation notices only after an hour).
HELM_TIMEOUT: Final = Duration.minutes(10)

NODE_ROLE_MANAGED_POLICIES: Final = (
    "AmazonEKS_CNI_Policy",
    "AmazonEKSWorkerNodePolicy",
    "AmazonEC2ContainerRegistryPullOnly",
    "AmazonSSMManagedInstanceCore",
)

#: The official interruption rules: logical ID -> (event source, detail-type).
INTERRUPTION_RULES: Final = {
    "ScheduledChangeRule": ("aws.health", "AWS Health Event"),
    "SpotInterruptionRule": ("aws.ec2", "EC2 Spot Instance Interruption Warning"),
    "RebalanceRule": ("aws.ec2", "EC2 Instance Rebalance Recommendation"),
    "InstanceStateChangeRule": ("aws.ec2", "EC2 Instance State-change Notification"),
    "CapacityReservationInterruptionRule": (
        "aws.ec2",
        "EC2 Capacity Reservation Instance Interruption Warning",
    ),
}

# EKS CreateCluster: "The name can contain only alphanumeric characters (case-sensitive), hyphens,
# and underscores. It must start with an alphanumeric character and can't be longer than 100".


class Karpenter(Construct):
    """Karpenter's AWS resources and Helm release on an existing EKS cluster.

    Creates, like the official v1.15 CloudFormation template and getting-started guide:

    * the **node role** (``ec2.amazonaws.com``; ``AmazonEKS_CNI_Policy``,
      ``AmazonEKSWorkerNodePolicy``, ``AmazonEC2ContainerRegistryPullOnly``,
      ``AmazonSSMManagedInstanceCore``) and an EKS **access entry** of type ``EC2_LINUX`` for it,
      so nodes Karpenter launches can join;
    * the **controller role** for EKS Pod Identity with the official controller policies
      (``NodeLifecycle``, ``IAMIntegration``, ``EKSIntegration``, ``Interruption``,
      ``ZonalShift``, ``ResourceDiscovery``), statement for statement, and the **Pod Identity
      association** for ``<namespace>/<service_account_name>``;
    * the **interruption queue** (retention 300 s, SQS-managed SSE, TLS only) and the five
      **EventBridge rules** that feed it;
    * **discovery tags** ``karpenter.sh/discovery=<discovery_tag_value>`` on the subnets and on
      the EKS-created cluster security group, for ``subnetSelectorTerms`` and
      ``securityGroupSelectorTerms``. One ``AwsCustomResource`` calls EC2 ``CreateTags`` (and
      ``DeleteTags`` on removal), allowed on exactly those resources: CloudFormation cannot tag
      the EKS-created security group, imported subnets cannot carry CloudFormation tags, and a
      CloudFormation tag holding the cluster name on the cluster's own subnets would make the
      subnets depend on the cluster that depends on them (a circular dependency);
    * the **Helm release** ``karpenter`` with ``settings.featureGates.nodeOverlay`` on, created
      after all of the above (``wait``: its CRDs exist when the release is done).

    Resources that use Karpenter's CRDs (``NodePool``, ``EC2NodeClass``, ``NodeOverlay``) must
    depend on :attr:`chart`: ``manifest.node.add_dependency(karpenter.chart)``. Deletion then runs
    in reverse, so node pools go while the controller and its permissions still exist.

    Requirements on the cluster: authentication mode ``API`` or ``API_AND_CONFIG_MAP`` (access
    entries) and the ``eks-pod-identity-agent`` add-on, which this construct does not install
    (declaring that add-on twice fails a deployment).

    IAM names are left to CloudFormation (the official template names them after the cluster),
    so two clusters with the same name in two regions of one account do not collide.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        cluster: eks.ICluster,
        version: str = KARPENTER_VERSION,
        kubernetes_version: str = KUBERNETES_VERSION,
        namespace: str = "kube-system",
        service_account_name: str = "karpenter",
        discovery_tag_value: str | None = None,
        subnets: Sequence[ec2.ISubnet] | None = None,
        helm_values: Mapping[str, Any] | None = None,
        dra_enabled: bool = False,
    ) -> None:
        """Install Karpenter on ``cluster``.

        :param scope: the construct's parent.
        :param id: the construct's ID.
        :param cluster: the EKS cluster (``aws_eks`` v1 module) to install Karpenter on. Its
            ``cluster_security_group_id`` is tagged for discovery, so an imported cluster must
            be imported with it, and with ``kubectl_role_arn`` and ``kubectl_layer`` (or a
            ``kubectl_provider``) for the Helm chart.
        :param version: Karpenter chart (and controller) version, without a leading ``v``.
            Must support ``kubernetes_version`` (the compatibility matrix in
            :data:`eks_gpu_sharing.versions.KARPENTER_MINIMUM_FOR_KUBERNETES`) and NodeOverlay.
            Default: :data:`eks_gpu_sharing.versions.KARPENTER_VERSION`.
        :param kubernetes_version: the cluster's Kubernetes version, ``"1.NN"``, checked against
            ``version``. Default: :data:`eks_gpu_sharing.versions.KUBERNETES_VERSION`.
        :param namespace: namespace of the Helm release and the controller's service account;
            it must exist. Default: ``"kube-system"`` (as the official guide).
        :param service_account_name: the controller's service account. Helm creates it; this
            construct only adds the Pod Identity association. Default: ``"karpenter"``.
        :param discovery_tag_value: value of the ``karpenter.sh/discovery`` tag on the subnets
            and the cluster security group; select them in an ``EC2NodeClass`` with the same
            value. Default: the cluster name.
        :param subnets: subnets to tag for Karpenter's subnet discovery (defined in this app or
            imported); ``[]`` tags none. A subnet dropped from this list later keeps its tag.
            Default: the cluster VPC's private subnets.
        :param helm_values: Helm values deep-merged over this construct's (maps merge, lists
            and scalars replace): an escape hatch, e.g. ``{"controller": {"resources": ...}}``.
            Default: none.
        :param dra_enabled: turn on Karpenter's ``DRANVIDIAGPU`` gate
            (``settings.awsFeatureGates.draNVIDIAGPU``, which also stops Karpenter ignoring
            pods' ResourceClaims), for ``Backend.DRA`` pools; needs ``version`` >= 1.15.0. Only
            the NVIDIA gate: ``settings.enableDRA`` would also model EFA claims for a driver
            this library does not install. Default: False.
        :raises ConfigurationError: for an unparseable or incompatible ``version``, an unknown
            ``kubernetes_version``, an invalid cluster name, namespace or service account name,
            or an imported cluster without kubectl access, a VPC (when ``subnets`` is not given)
            or its cluster security group.
        """
        _validate_versions(version, kubernetes_version)
        if not isinstance(dra_enabled, bool):
            raise ConfigurationError(
                field="Karpenter.dra_enabled",
                value=dra_enabled,
                rule="must be True or False",
                fix="pass dra_enabled=True for DRA pools",
            )
        if dra_enabled:
            _check_dra_support(version, dra_enabled)
        check_cluster_name(
            cluster.cluster_name,
            field="Karpenter.cluster.cluster_name",
            fix="pass the cluster exactly as EKS names it",
        )
        # A namespace is a DNS label, a service account name a DNS subdomain.
        _validate_kubernetes_name("Karpenter.namespace", namespace, dns_label_error)
        _validate_kubernetes_name(
            "Karpenter.service_account_name", service_account_name, dns_subdomain_error
        )
        tag_value = cluster.cluster_name if discovery_tag_value is None else discovery_tag_value
        _validate_tag_value(tag_value)
        subnets_to_tag = list(subnets) if subnets is not None else _private_subnets(cluster)
        security_group_id = _cluster_security_group_id(cluster)
        _validate_kubectl_access(cluster)

        super().__init__(scope, id)

        #: Tag key for subnet and security group discovery.
        self.discovery_tag_key: str = DISCOVERY_TAG_KEY
        #: Tag value for subnet and security group discovery (may be a token).
        self.discovery_tag_value: str = tag_value
        #: Karpenter chart and controller version.
        self.version: str = version
        #: The Kubernetes version ``version`` was checked against.
        self.kubernetes_version: str = kubernetes_version
        #: Namespace of the release and the controller's service account.
        self.namespace: str = namespace
        #: The controller's service account name.
        self.service_account_name: str = service_account_name
        #: Whether the ``NodeOverlay`` feature gate is on (always, for GPU slice counts).
        self.node_overlay_enabled: bool = True
        #: Whether the ``DRANVIDIAGPU`` gate is on (for ``Backend.DRA`` pools).
        self.dra_enabled: bool = dra_enabled

        stack = Stack.of(self)

        node_role = iam.Role(
            self,
            "NodeRole",
            assumed_by=iam.ServicePrincipal("ec2.amazonaws.com"),
            description="Karpenter node role (EC2 instances Karpenter launches)",
            managed_policies=[
                iam.ManagedPolicy.from_aws_managed_policy_name(name)
                for name in NODE_ROLE_MANAGED_POLICIES
            ],
        )
        #: Role of the nodes Karpenter launches (``EC2NodeClass.spec.role``).
        self.node_role: iam.IRole = node_role
        #: Name of :attr:`node_role` (a token): the value for ``EC2NodeClass.spec.role``.
        self.node_role_name: str = node_role.role_name
        #: EKS access entry (``EC2_LINUX``) that lets the nodes join the cluster.
        self.node_access_entry: eks.CfnAccessEntry = eks.CfnAccessEntry(
            self,
            "NodeAccessEntry",
            cluster_name=cluster.cluster_name,
            principal_arn=node_role.role_arn,
            type="EC2_LINUX",
        )

        queue = sqs.Queue(
            self,
            "InterruptionQueue",
            retention_period=Duration.seconds(300),
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
        )
        queue.add_to_resource_policy(
            iam.PolicyStatement(
                principals=[
                    iam.ServicePrincipal("events.amazonaws.com"),
                    iam.ServicePrincipal("sqs.amazonaws.com"),
                ],
                actions=["sqs:SendMessage"],
                resources=[queue.queue_arn],
            )
        )
        #: SQS queue for interruption events (``settings.interruptionQueue``).
        self.interruption_queue: sqs.IQueue = queue
        #: The EventBridge rules feeding :attr:`interruption_queue`, by official logical ID.
        self.interruption_rules: dict[str, events.CfnRule] = {
            rule_id: events.CfnRule(
                self,
                rule_id,
                description=f"Karpenter interruption handling: {detail_type}",
                event_pattern={"source": [source], "detail-type": [detail_type]},
                targets=[
                    events.CfnRule.TargetProperty(
                        id="KarpenterInterruptionQueueTarget", arn=queue.queue_arn
                    )
                ],
            )
            for rule_id, (source, detail_type) in INTERRUPTION_RULES.items()
        }

        controller_role = iam.Role(
            self,
            "ControllerRole",
            assumed_by=iam.SessionTagsPrincipal(iam.ServicePrincipal("pods.eks.amazonaws.com")),
            description="Karpenter controller (EKS Pod Identity)",
        )
        #: Role of the Karpenter controller, assumed through EKS Pod Identity.
        self.controller_role: iam.IRole = controller_role
        variables = {
            "AWS::Partition": stack.partition,
            "AWS::Region": stack.region,
            "AWS::AccountId": stack.account,
            karpenter_policies.CLUSTER_NAME_VARIABLE: cluster.cluster_name,
            karpenter_policies.NODE_ROLE_ARN_VARIABLE: node_role.role_arn,
            karpenter_policies.INTERRUPTION_QUEUE_ARN_VARIABLE: queue.queue_arn,
        }
        #: The official controller policies, by official logical ID, attached to the role.
        self.controller_policies: dict[str, iam.CfnManagedPolicy] = {
            policy_id: iam.CfnManagedPolicy(
                self,
                policy_id,
                description=f"Karpenter controller {policy_id} (official v1.15 policy)",
                path="/",
                policy_document=_policy_document(statements, variables),
                roles=[controller_role.role_name],
            )
            for policy_id, statements in karpenter_policies.CONTROLLER_POLICIES.items()
        }
        #: Pod Identity association of the controller's service account with its role.
        self.pod_identity_association: eks.CfnPodIdentityAssociation = (
            eks.CfnPodIdentityAssociation(
                self,
                "PodIdentityAssociation",
                cluster_name=cluster.cluster_name,
                namespace=namespace,
                service_account=service_account_name,
                role_arn=controller_role.role_arn,
            )
        )

        #: Custom resource that tags the subnets and the cluster security group for discovery.
        self.discovery_tags: cr.AwsCustomResource = self._tag_for_discovery(
            stack, [subnet.subnet_id for subnet in subnets_to_tag], security_group_id, tag_value
        )

        values = karpenter_chart_values(
            cluster_name=cluster.cluster_name,
            interruption_queue=queue.queue_name,
            service_account_name=service_account_name,
            dra=dra_enabled,
        )
        #: Karpenter's CRDs, their own Helm release at the same version, so a version bump
        #: upgrades them too (Helm never upgrades a chart's crds/ folder).
        self.crd_chart: eks.HelmChart = eks.HelmChart(
            self,
            "CrdChart",
            cluster=cluster,
            chart=KARPENTER_CRD_CHART_NAME,
            repository=KARPENTER_CRD_CHART_REPOSITORY,
            version=version,
            namespace=namespace,
            create_namespace=False,
            release=KARPENTER_CRD_RELEASE,
            wait=True,
            timeout=HELM_TIMEOUT,
        )
        chart = eks.HelmChart(
            self,
            "Chart",
            cluster=cluster,
            chart=KARPENTER_CHART_NAME,
            repository=KARPENTER_CHART_REPOSITORY,
            version=version,
            namespace=namespace,
            create_namespace=False,
            release=KARPENTER_RELEASE,
            wait=True,
            timeout=HELM_TIMEOUT,
            skip_crds=True,
            values=deep_merge(values, helm_values or {}),
        )
        chart.node.add_dependency(
            self.crd_chart,
            self.pod_identity_association,
            self.node_access_entry,
            self.discovery_tags,
            *self.controller_policies.values(),
        )
        #: The Helm release. Make anything that uses Karpenter's CRDs depend on it.
        self.chart: eks.HelmChart = chart

        self._acknowledge_nag_findings()

    def check_supports(
        self,
        *,
        needs_node_overlay: bool,
        kubernetes_version: str = KUBERNETES_VERSION,
        kubernetes_version_field: str = "GpuSharing.kubernetes_version",
        needs_dra: bool = False,
    ) -> None:
        """Raise ConfigurationError unless this installation serves pools on that Kubernetes.

        The construct checked its version when it was built and always turns the NodeOverlay
        gate on; a cluster of another Kubernetes version is checked again here, and DRA pools
        need ``dra_enabled``.
        """
        check_karpenter_version(
            self.version,
            kubernetes_version=kubernetes_version,
            needs_node_overlay=needs_node_overlay,
            version_field="Karpenter.version",
            kubernetes_version_field=kubernetes_version_field,
        )
        if needs_dra:
            _check_dra_support(self.version, self.dra_enabled)

    def _tag_for_discovery(
        self, stack: Stack, subnet_ids: list[str], security_group_id: str, tag_value: str
    ) -> cr.AwsCustomResource:
        """Tag the subnets and the cluster security group with EC2 ``CreateTags``.

        ``DeleteTags`` on removal deletes the tag only where it still has ``tag_value``. The
        Lambda may call both actions on these resources' ARNs only.
        """
        arns = [
            stack.format_arn(service="ec2", resource="subnet", resource_name=subnet_id)
            for subnet_id in subnet_ids
        ] + [
            stack.format_arn(
                service="ec2", resource="security-group", resource_name=security_group_id
            )
        ]
        parameters = {
            "Resources": [*subnet_ids, security_group_id],
            "Tags": [{"Key": DISCOVERY_TAG_KEY, "Value": tag_value}],
        }
        create = cr.AwsSdkCall(
            service="EC2",
            action="createTags",
            parameters=parameters,
            # Constant: a changed ID would make CloudFormation delete the "old" tags after
            # creating the new ones, untagging resources that are in both.
            physical_resource_id=cr.PhysicalResourceId.of(DISCOVERY_TAG_KEY),
        )
        return cr.AwsCustomResource(
            self,
            "DiscoveryTags",
            resource_type="Custom::KarpenterDiscoveryTags",
            install_latest_aws_sdk=False,
            on_create=create,
            on_update=create,
            on_delete=cr.AwsSdkCall(
                service="EC2",
                action="deleteTags",
                parameters=parameters,
                ignore_error_codes_matching=r"Invalid(Group|SubnetID)\.NotFound|InvalidID",
            ),
            policy=cr.AwsCustomResourcePolicy.from_statements(
                [iam.PolicyStatement(actions=["ec2:CreateTags", "ec2:DeleteTags"], resources=arns)]
            ),
        )

    def _acknowledge_nag_findings(self) -> None:
        """Acknowledge the cdk-nag AwsSolutions findings the official design implies, with reasons.

        Uses ``aws_cdk.Validations`` (what cdk-nag v3 reads), so the library needs no cdk-nag.
        """
        managed = "arn:<AWS::Partition>:iam::aws:policy"
        node_role_reason = (
            "The official Karpenter node role (KarpenterNodeRole) attaches this AWS managed "
            "policy: EKS worker nodes need it to join the cluster, run the VPC CNI, pull images "
            "and register with SSM, and AWS keeps it current with those services."
        )
        acknowledge(
            self.node_role,
            {
                f"AwsSolutions-IAM4[Policy::{managed}/{name}]": node_role_reason
                for name in NODE_ROLE_MANAGED_POLICIES
            },
        )
        for policy_id, policy in self.controller_policies.items():
            acknowledge(policy, _wildcard_findings(policy_id, policy))
        acknowledge(
            self.interruption_queue,
            {
                "AwsSolutions-SQS3": "Karpenter receives and deletes interruption events "
                "itself and, like the official template, keeps them 300 s because a late "
                "interruption notice is useless: a dead-letter queue would only collect "
                "expired events nobody acts on.",
            },
        )
        # aws-cdk-lib's AwsCustomResource runs one singleton Lambda per stack; its role is the
        # custom resource's grant principal.
        principal = self.discovery_tags.grant_principal
        if isinstance(principal, Construct):
            acknowledge(
                principal,
                {
                    f"AwsSolutions-IAM4[Policy::{managed}/service-role/"
                    "AWSLambdaBasicExecutionRole]": "aws-cdk-lib's AwsCustomResource singleton "
                    "Lambda uses AWSLambdaBasicExecutionRole only to write its own CloudWatch "
                    "logs; its EC2 permissions (CreateTags/DeleteTags) are scoped to the "
                    "ARNs of the discovery subnets and the cluster security group.",
                },
            )


def _wildcard_findings(policy_id: str, policy: iam.CfnManagedPolicy) -> dict[str, str]:
    """cdk-nag AwsSolutions-IAM5 findings of an official policy rendered as an object.

    A policy rendered as ``Fn::Sub`` text is opaque to cdk-nag and raises none.
    """
    document = policy.policy_document
    if not isinstance(document, Mapping):
        return {}
    stack = Stack.of(policy)
    # cdk-nag writes an unresolved pseudo parameter as <AWS::Name>.
    shown = {
        name: f"<{name}>" if Token.is_unresolved(value) else value
        for name, value in {
            "AWS::Partition": stack.partition,
            "AWS::Region": stack.region,
            "AWS::AccountId": stack.account,
        }.items()
    }
    sids: dict[str, list[str]] = {}
    for statement in karpenter_policies.CONTROLLER_POLICIES[policy_id]:
        resources = statement["Resource"]
        for resource in [resources] if isinstance(resources, str) else resources:
            if "*" not in resource:
                continue
            if resource != "*":
                resource = karpenter_policies.substitute(resource, shown)
            sids.setdefault(f"AwsSolutions-IAM5[Resource::{resource}]", []).append(statement["Sid"])
    return {
        finding: f"Official Karpenter v1.15 {policy_id}, unchanged: "
        + "; ".join(f"{sid}: {karpenter_policies.WILDCARD_REASONS[sid]}" for sid in statement_ids)
        for finding, statement_ids in sids.items()
    }


def deep_merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """Return ``base`` with ``override`` merged in: maps merge recursively, others replace."""
    merged: dict[str, Any] = copy.deepcopy(dict(base))
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def _policy_document(statements: list[dict[str, Any]], variables: Mapping[str, str]) -> Any:
    """Render an official policy document for CloudFormation.

    A document whose condition *keys* hold a token (the cluster name, usually a ``Ref``) becomes,
    as in the official template, ``Fn::Sub`` of its JSON text: a key cannot hold a token any
    other way, and CloudFormation substitutes the pseudo parameters itself. Any other document
    becomes a JSON object with its values substituted, which validators and cdk-nag can read.
    """
    document = karpenter_policies.policy_document(statements)
    rendered = karpenter_policies.substitute(document, variables)
    if not any(Token.is_unresolved(key) for key in karpenter_policies.mapping_keys(rendered)):
        return rendered
    used = karpenter_policies.placeholders(document)
    return Fn.sub(
        karpenter_policies.policy_document_template(statements),
        {
            name: value
            for name, value in variables.items()
            if name in used and not name.startswith("AWS::")
        },
    )


def _validate_versions(version: str, kubernetes_version: str) -> None:
    # Karpenter's OCI chart tags have no leading "v" since v0.35. This construct always turns
    # the NodeOverlay gate on, so it needs a version that has it.
    check_karpenter_version(
        version,
        kubernetes_version=kubernetes_version,
        needs_node_overlay=True,
        version_field="Karpenter.version",
        kubernetes_version_field="Karpenter.kubernetes_version",
        release_fix=f"write it like {KARPENTER_VERSION!r}",
    )


def _validate_kubernetes_name(field: str, value: str, rule: Callable[[object], str | None]) -> None:
    if isinstance(value, str) and Token.is_unresolved(value):
        return
    require_name(field, value, rule, fix="use a valid name such as 'karpenter' or 'kube-system'")


def _validate_tag_value(value: str) -> None:
    if Token.is_unresolved(value):
        return
    if reason := tag_value_error(value, allow_empty=False):
        raise ConfigurationError(
            field="Karpenter.discovery_tag_value",
            value=value,
            rule=reason,
            fix="leave it unset (the cluster name) or give a non-empty value",
        )


def _validate_kubectl_access(cluster: eks.ICluster) -> None:
    if isinstance(cluster, eks.Cluster):
        return
    if cluster.kubectl_role is None and cluster.kubectl_provider is None:
        raise ConfigurationError(
            field="Karpenter.cluster",
            value=cluster.node.path,
            rule="installing the Helm chart needs kubectl access to the imported cluster",
            fix="import it with kubectl_role_arn=... (and kubectl_layer=...) or "
            "kubectl_provider=...",
        )


def _private_subnets(cluster: eks.ICluster) -> list[ec2.ISubnet]:
    try:
        subnets = list(cluster.vpc.private_subnets)
    except Exception as error:  # jsii raises when an imported cluster has no VPC
        raise ConfigurationError(
            field="Karpenter.subnets",
            value=None,
            rule=f"the cluster has no VPC to take private subnets from ({error})",
            fix="pass subnets=[...] or import the cluster with vpc=...",
        ) from error
    if not subnets:
        raise ConfigurationError(
            field="Karpenter.subnets",
            value=None,
            rule="the cluster's VPC has no private subnets for Karpenter's nodes",
            fix="pass the subnets for Karpenter's nodes as subnets=[...]",
        )
    return subnets


def _cluster_security_group_id(cluster: eks.ICluster) -> str:
    try:
        return cluster.cluster_security_group_id
    except Exception as error:  # jsii raises when an imported cluster lacks it
        raise ConfigurationError(
            field="Karpenter.cluster",
            value=cluster.node.path,
            rule=f"the cluster security group must be known to tag it for discovery ({error})",
            fix="import the cluster with cluster_security_group_id=...",
        ) from error


def _check_dra_support(version: str, dra_enabled: bool) -> None:
    """DRA pools need this Karpenter at 1.15+ with its gate on, in the construct's words."""
    check_dra_support(
        version,
        enabled=dra_enabled,
        version_field="Karpenter.version",
        enabled_field="Karpenter.dra_enabled",
        then="pass dra_enabled=True",
    )
