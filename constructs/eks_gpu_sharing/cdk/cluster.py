"""``ReferenceCluster``: VPC + EKS control plane + system nodes + core add-ons.

The cluster the GPU-sharing constructs are installed on in the reference app. It is deliberately
small: two AZs, one NAT gateway, two on-demand system nodes for CoreDNS and the Karpenter
controller. GPU nodes are not created here: Karpenter launches them from the GPU pools.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import aws_cdk as cdk
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_eks as eks
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from constructs import Construct

from ..errors import ConfigurationError
from .kubectl import kubectl_layer, kubernetes_version
from .validation import acknowledge_finding, check_cluster_name

__all__ = ["DEFAULT_CLUSTER_NAME", "SYSTEM_NODE_LABEL", "ReferenceCluster"]

#: Default EKS cluster name of the reference cluster.
DEFAULT_CLUSTER_NAME = "gpu-slicing"
#: Label every system node carries (``{SYSTEM_NODE_LABEL: "true"}``); pin controllers to it.
SYSTEM_NODE_LABEL = "node-role/system"

_ROLE_ARN_PATTERN = re.compile(r"arn:aws[a-zA-Z-]*:iam::\d{12}:role/[\w+=,.@/-]{1,512}", re.ASCII)
_INSTANCE_TYPE_PATTERN = re.compile(r"[a-z][a-z0-9-]{0,31}\.[a-z0-9-]{1,32}")

_ALL_LOG_TYPES: tuple[eks.ClusterLoggingTypes, ...] = (
    eks.ClusterLoggingTypes.API,
    eks.ClusterLoggingTypes.AUDIT,
    eks.ClusterLoggingTypes.AUTHENTICATOR,
    eks.ClusterLoggingTypes.CONTROLLER_MANAGER,
    eks.ClusterLoggingTypes.SCHEDULER,
)


class ReferenceCluster(Construct):
    """An EKS cluster ready for Karpenter and GPU time-slicing.

    Creates (unless ``vpc`` is given) a VPC with public and private-with-egress subnets and VPC
    flow logs; an EKS control plane in the private subnets with access-entry authentication,
    control-plane logging and KMS envelope encryption of Kubernetes secrets; an on-demand managed
    node group for system pods; and the managed add-ons every node needs (``vpc-cni``,
    ``kube-proxy``, ``coredns``, ``eks-pod-identity-agent``), each declared exactly once.

    Only one ``ReferenceCluster`` (like any ``eks.Cluster``) fits in a stack.

    Attributes: ``cluster`` (the ``eks.Cluster``), ``cluster_name``, ``vpc``,
    ``system_nodegroup``, ``secrets_key`` and ``addons`` (the ``CfnAddon`` of each add-on, by name).
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        cluster_name: str = DEFAULT_CLUSTER_NAME,
        vpc: ec2.IVpc | None = None,
        max_azs: int = 2,
        nat_gateways: int = 1,
        vpc_cidr: str = "10.0.0.0/16",
        system_node_instance_types: Sequence[str] = ("m7i.large",),
        system_node_count: int = 2,
        system_node_max_size: int | None = None,
        admin_role_arn: str | None = None,
        endpoint_access: eks.EndpointAccess | None = None,
        logging: Sequence[eks.ClusterLoggingTypes] = _ALL_LOG_TYPES,
    ) -> None:
        """Define the cluster.

        :param scope: parent construct (a ``Stack`` or a construct inside one).
        :param id: construct id.
        :param cluster_name: EKS cluster name, 1-100 characters, letters, digits, ``-`` and ``_``,
            starting with a letter or digit. Default: ``"gpu-slicing"``.
        :param vpc: an existing VPC with private subnets that have egress (NAT). Default: a new
            VPC (``vpc_cidr``, ``max_azs``, ``nat_gateways`` apply only then).
        :param max_azs: availability zones of the new VPC; EKS needs at least two. Default: ``2``.
            A stack without an explicit account/region can only see two AZs.
        :param nat_gateways: NAT gateways of the new VPC, 1..``max_azs``. One is cheapest; one per
            AZ survives the loss of an AZ. Default: ``1``.
        :param vpc_cidr: IPv4 CIDR of the new VPC. Default: ``"10.0.0.0/16"``.
        :param system_node_instance_types: instance types of the system node group (x86_64, no
            GPU: it runs the AL2023 standard AMI). Default: ``("m7i.large",)``.
        :param system_node_count: minimum and desired size of the system node group.
            Default: ``2`` (CoreDNS and the Karpenter controller run two replicas each).
        :param system_node_max_size: maximum size of the system node group, >= the count.
            Default: ``system_node_count + 1`` (room for a rolling AMI update).
        :param admin_role_arn: IAM role given ``AmazonEKSClusterAdminPolicy`` (cluster scope)
            through an EKS access entry, e.g. the role you deploy with. Default: none; then only
            aws-cdk-lib's own kubectl handler can reach the API (a synth warning says so) and
            you add access entries yourself.
        :param endpoint_access: API server endpoint access. Default:
            ``eks.EndpointAccess.PUBLIC_AND_PRIVATE`` so that ``kubectl`` works from a laptop
            (still authenticated by IAM). Use ``PUBLIC_AND_PRIVATE.only_from("203.0.113.0/24")``
            to restrict the public endpoint, or ``PRIVATE`` and reach it over VPN/SSM.
        :param logging: control-plane log types sent to CloudWatch Logs (empty: none). Default:
            all five (api, audit, authenticator, controllerManager, scheduler). Leaving types out
            is your decision, so cdk-nag's ``AwsSolutions-EKS2[LogExport::<type>]`` stays yours
            to acknowledge: ``Validations.of(reference.cluster).acknowledge(...)``.
        :raises ConfigurationError: when a value breaks one of the rules above.
        """
        default_endpoint = endpoint_access is None
        endpoint_access = endpoint_access or eks.EndpointAccess.PUBLIC_AND_PRIVATE
        max_size = system_node_count + 1 if system_node_max_size is None else system_node_max_size
        # Validate before adding anything to the tree: a bad prop leaves nothing half-built.
        _validate(
            cluster_name=cluster_name,
            new_vpc=vpc is None,
            max_azs=max_azs,
            nat_gateways=nat_gateways,
            system_node_instance_types=system_node_instance_types,
            system_node_count=system_node_count,
            system_node_max_size=max_size,
            admin_role_arn=admin_role_arn,
        )
        super().__init__(scope, id)
        self.cluster_name: str = cluster_name
        self.vpc: ec2.IVpc = vpc or self._new_vpc(
            cidr=vpc_cidr, max_azs=max_azs, nat_gateways=nat_gateways
        )
        private = ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS)

        self.secrets_key: kms.Key = kms.Key(
            self,
            "SecretsKey",
            description=f"EKS envelope encryption of Kubernetes secrets ({cluster_name})",
            enable_key_rotation=True,
            # A lab cluster is created and destroyed often; a retained key per deploy would bill
            # $1/month each. The key encrypts only this cluster's etcd, deleted with it.
            removal_policy=cdk.RemovalPolicy.DESTROY,
            pending_window=cdk.Duration.days(7),
        )
        self.cluster: eks.Cluster = eks.Cluster(
            self,
            "Cluster",
            cluster_name=cluster_name,
            version=kubernetes_version(),
            kubectl_layer=kubectl_layer(self),
            authentication_mode=eks.AuthenticationMode.API,
            default_capacity=0,
            vpc=self.vpc,
            vpc_subnets=[private],
            endpoint_access=endpoint_access,
            cluster_logging=list(logging) or None,
            secrets_encryption_key=self.secrets_key,
            output_cluster_name=False,
            output_config_command=False,
        )
        if admin_role_arn is not None:
            self.cluster.grant_access(
                "AdminAccess",
                admin_role_arn,
                [
                    eks.AccessPolicy.from_access_policy_name(
                        "AmazonEKSClusterAdminPolicy",
                        access_scope_type=eks.AccessScopeType.CLUSTER,
                    )
                ],
            )

        self.system_nodegroup: eks.Nodegroup = self.cluster.add_nodegroup_capacity(
            "System",
            instance_types=[ec2.InstanceType(t) for t in system_node_instance_types],
            min_size=system_node_count,
            desired_size=system_node_count,
            max_size=max_size,
            ami_type=eks.NodegroupAmiType.AL2023_X86_64_STANDARD,
            capacity_type=eks.CapacityType.ON_DEMAND,
            subnets=private,
            labels={SYSTEM_NODE_LABEL: "true"},
        )
        self.addons: dict[str, eks.CfnAddon] = self._add_addons()
        self._outputs(admin_role_arn)
        self._acknowledge_nag_findings(default_endpoint=default_endpoint)

    # -- construction steps ---------------------------------------------------------------------

    def _new_vpc(self, *, cidr: str, max_azs: int, nat_gateways: int) -> ec2.Vpc:
        """A two-tier VPC: public subnets (NAT, load balancers) and private nodes subnets."""
        vpc = ec2.Vpc(
            self,
            "Vpc",
            ip_addresses=ec2.IpAddresses.cidr(cidr),
            max_azs=max_azs,
            nat_gateways=nat_gateways,
            subnet_configuration=[
                ec2.SubnetConfiguration(
                    name="Public", subnet_type=ec2.SubnetType.PUBLIC, cidr_mask=24
                ),
                # Pods take VPC IPs (VPC CNI): give the node subnets room.
                ec2.SubnetConfiguration(
                    name="Private", subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS, cidr_mask=19
                ),
            ],
        )
        flow_log_group = logs.LogGroup(
            self,
            "FlowLogs",
            retention=logs.RetentionDays.ONE_MONTH,
            removal_policy=cdk.RemovalPolicy.DESTROY,
        )
        vpc.add_flow_log(
            "FlowLog",
            destination=ec2.FlowLogDestination.to_cloud_watch_logs(flow_log_group),
            traffic_type=ec2.FlowLogTrafficType.ALL,
        )
        return vpc

    def _add_addons(self) -> dict[str, eks.CfnAddon]:
        """Declare the node add-ons, each exactly once.

        ``addon_version`` is left unset: EKS then installs the add-on's default version for the
        cluster's Kubernetes version, so moving ``KUBERNETES_VERSION`` needs no table of add-on
        versions here. EKS does not upgrade an add-on by itself later; pin ``addon_version`` (see
        ``aws eks describe-addon-versions``) when you want a reproducible upgrade.
        ``resolve_conflicts=OVERWRITE`` lets the managed add-on take over the self-managed copy
        EKS bootstraps into a new cluster.
        """
        addons: dict[str, eks.CfnAddon] = {}
        for construct_id, name in (
            ("VpcCniAddon", "vpc-cni"),
            ("KubeProxyAddon", "kube-proxy"),
            ("CoreDnsAddon", "coredns"),
        ):
            addons[name] = eks.CfnAddon(
                self,
                construct_id,
                addon_name=name,
                cluster_name=self.cluster.cluster_name,
                resolve_conflicts="OVERWRITE",
            )
        # CoreDNS is a Deployment: its add-on turns ACTIVE only once nodes can run its pods.
        addons["coredns"].node.add_dependency(self.system_nodegroup)

        # aws-cdk-lib keeps its own memoized eks-pod-identity-agent add-on on the cluster and
        # creates it whenever a Pod Identity service account is added (aws/aws-cdk#32580: a second
        # declaration fails the deploy). Using that same object keeps it declared exactly once.
        agent = self.cluster.eks_pod_identity_agent
        assert agent is not None  # created on first access
        agent_resource = agent.node.default_child
        assert isinstance(agent_resource, eks.CfnAddon)
        agent_resource.resolve_conflicts = "OVERWRITE"
        addons["eks-pod-identity-agent"] = agent_resource
        return addons

    def _outputs(self, admin_role_arn: str | None) -> None:
        """Cluster name and the ``aws eks update-kubeconfig`` command."""
        cdk.CfnOutput(self, "ClusterName", value=self.cluster.cluster_name)
        cdk.CfnOutput(
            self,
            "UpdateKubeconfigCommand",
            value=cdk.Fn.join(
                " ",
                [
                    "aws eks update-kubeconfig --name",
                    self.cluster.cluster_name,
                    "--region",
                    cdk.Stack.of(self).region,
                ],
            ),
            description="Points kubectl at the cluster; run it as admin_role_arn (or any "
            "principal with an EKS access entry)",
        )
        if admin_role_arn is None:
            # The only cluster admin is then aws-cdk-lib's creation role, which trusts only the
            # CDK provider Lambdas: no person can use kubectl until an access entry exists.
            cdk.Annotations.of(self).add_warning_v2(
                "eks-gpu-sharing:noClusterAdmin",
                "ReferenceCluster.admin_role_arn is not set: no IAM principal of yours gets "
                "cluster access. Pass admin_role_arn=<your role ARN>, or add an access entry "
                "later (aws eks create-access-entry / associate-access-policy).",
            )

    # -- cdk-nag (AwsSolutions) acknowledgments -------------------------------------------------

    def _acknowledge_nag_findings(self, *, default_endpoint: bool) -> None:
        """Acknowledge what AwsSolutions reports on the roles this construct's cluster exposes.

        cdk-nag 3 reads CDK's ``Validations.of(scope).acknowledge()`` metadata on the resource
        and its ancestors and matches finding ids exactly, so each id below names one policy or
        one wildcard resource. Everything this construct decides itself (VPC flow logs, KMS key
        rotation, control-plane logging) is compliant instead of acknowledged. Resources only
        reachable by aws-cdk-lib's private construct ids are left to the opt-in
        ``nag.acknowledge_eks_internals`` (or the ``nag.EksInternalsAcknowledgments`` aspect).
        """
        stack = cdk.Stack.of(self)
        cluster = self.cluster
        partition = "<AWS::Partition>"

        def aws_managed(name: str) -> str:
            return f"Policy::arn:{partition}:iam::aws:policy/{name}"

        if default_endpoint:  # public and private; a caller who picks the access decides itself
            acknowledge_finding(
                cluster,
                "AwsSolutions-EKS1",
                "The public endpoint is on so kubectl works from a workstation; requests are "
                "still authenticated by IAM and authorised by EKS access entries. Pass "
                "endpoint_access=EndpointAccess.PRIVATE (and reach the API through a VPN or "
                "bastion) or PUBLIC_AND_PRIVATE.only_from(<your CIDR>) to close or narrow it.",
            )

        acknowledge_finding(
            cluster.role,
            f"AwsSolutions-IAM4[{aws_managed('AmazonEKSClusterPolicy')}]",
            "EKS requires the AWS managed AmazonEKSClusterPolicy on the cluster service role; "
            "AWS maintains it as the control plane's needs change.",
        )
        for policy in (
            "AmazonEKSWorkerNodePolicy",
            "AmazonEKS_CNI_Policy",
            "AmazonEC2ContainerRegistryReadOnly",
        ):
            acknowledge_finding(
                self.system_nodegroup.role,
                f"AwsSolutions-IAM4[{aws_managed(policy)}]",
                f"{policy} is one of the AWS managed policies EKS documents for the node IAM "
                "role of managed node groups (kubelet registration, VPC CNI, image pulls).",
            )

        # cdk-nag flattens the ARN: pseudo parameters as <AWS::...>, known values literally. (A
        # token cluster_name cannot be predicted here; such a caller acknowledges these two.)
        region = "<AWS::Region>" if cdk.Token.is_unresolved(stack.region) else stack.region
        account = "<AWS::AccountId>" if cdk.Token.is_unresolved(stack.account) else stack.account
        eks_arn = f"arn:{partition}:eks:{region}:{account}"
        for finding in (
            "Resource::*",
            f"Resource::{eks_arn}:cluster/{self.cluster_name}/*",
            f"Resource::{eks_arn}:fargateprofile/{self.cluster_name}/*",
        ):
            acknowledge_finding(
                cluster.admin_role,
                f"AwsSolutions-IAM5[{finding}]",
                "aws-cdk-lib's cluster creation role must create, tag and update the cluster and "
                "its sub-resources, whose ARNs are only known after creation (eks:*Cluster* and "
                "ec2:Describe* have no narrower resource form).",
            )


def _validate(
    *,
    cluster_name: str,
    new_vpc: bool,
    max_azs: int,
    nat_gateways: int,
    system_node_instance_types: Sequence[str],
    system_node_count: int,
    system_node_max_size: int,
    admin_role_arn: str | None,
) -> None:
    """Raise ``ConfigurationError`` for the first prop that breaks a rule."""
    check_cluster_name(
        cluster_name, field="ReferenceCluster.cluster_name", fix='use a name such as "gpu-slicing"'
    )
    if new_vpc:
        if max_azs < 2:
            raise ConfigurationError(
                field="ReferenceCluster.max_azs",
                value=max_azs,
                rule="EKS needs subnets in at least two availability zones",
                fix="use max_azs=2 or more",
            )
        if not 1 <= nat_gateways <= max_azs:
            raise ConfigurationError(
                field="ReferenceCluster.nat_gateways",
                value=nat_gateways,
                rule=f"nodes run in private subnets and need egress: 1..max_azs ({max_azs}) "
                "NAT gateways",
                fix=f"use nat_gateways=1 (cheapest) up to {max_azs} (one per AZ), "
                "or pass your own vpc",
            )
    if not system_node_instance_types:
        raise ConfigurationError(
            field="ReferenceCluster.system_node_instance_types",
            value=tuple(system_node_instance_types),
            rule="the system node group needs at least one instance type",
            fix='use e.g. ("m7i.large",)',
        )
    if isinstance(system_node_instance_types, str):
        raise ConfigurationError(
            field="ReferenceCluster.system_node_instance_types",
            value=system_node_instance_types,
            rule="expects a sequence of instance type names, not one string",
            fix=f"use ({system_node_instance_types!r},)",
        )
    for instance_type in system_node_instance_types:
        if not (isinstance(instance_type, str) and _INSTANCE_TYPE_PATTERN.fullmatch(instance_type)):
            raise ConfigurationError(
                field="ReferenceCluster.system_node_instance_types",
                value=instance_type,
                rule="an EC2 instance type is '<family>.<size>'",
                fix='use e.g. "m7i.large"',
            )
    if system_node_count < 1:
        raise ConfigurationError(
            field="ReferenceCluster.system_node_count",
            value=system_node_count,
            rule="CoreDNS and the Karpenter controller need at least one system node",
            fix="use 1 or more (2 for high availability)",
        )
    if system_node_max_size < system_node_count:
        raise ConfigurationError(
            field="ReferenceCluster.system_node_max_size",
            value=system_node_max_size,
            rule=f"must be >= system_node_count ({system_node_count})",
            fix=f"use {system_node_count + 1} or leave it unset",
        )
    if (
        admin_role_arn is not None
        and not cdk.Token.is_unresolved(admin_role_arn)
        and not _ROLE_ARN_PATTERN.fullmatch(admin_role_arn)
    ):
        raise ConfigurationError(
            field="ReferenceCluster.admin_role_arn",
            value=admin_role_arn,
            rule="must be an IAM role ARN (arn:aws:iam::<12-digit account>:role/<name>)",
            fix="pass a role ARN such as arn:aws:iam::123456789012:role/Admin, or leave it unset",
        )
