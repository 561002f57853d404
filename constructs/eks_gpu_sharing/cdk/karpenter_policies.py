"""The Karpenter controller's IAM policies, statement for statement as the official install.

Source: aws/karpenter-provider-aws, ``website/content/en/v1.15/reference/cloudformation.md``
(every statement of the 1.15 getting-started template's ``NodeLifecyclePolicy``,
``IAMIntegrationPolicy``, ``EKSIntegrationPolicy``, ``InterruptionPolicy``, ``ZonalShiftPolicy``
and ``ResourceDiscoveryPolicy``). The one change from v1.14.1's ``cloudformation.yaml`` is
``ec2:RebootInstances`` in ``AllowScopedDeletion``, scoped like termination, for node repair's
``RebootForRepair`` gate.

Like the official template, each document is a JSON string for ``Fn::Sub``: several condition
*keys* contain the cluster name (``aws:RequestTag/kubernetes.io/cluster/${ClusterName}``), and a
key cannot hold a CloudFormation token any other way. The placeholders are

* ``${AWS::Partition}``, ``${AWS::Region}``, ``${AWS::AccountId}``: CloudFormation pseudo
  parameters, resolved by ``Fn::Sub`` itself;
* ``${ClusterName}``: the EKS cluster name;
* ``${NodeRoleArn}``: the node role's ARN (the official template writes
  ``${KarpenterNodeRole.Arn}``);
* ``${InterruptionQueueArn}``: the interruption queue's ARN (officially
  ``${KarpenterInterruptionQueue.Arn}``).

This module is pure data (no ``aws_cdk`` import) so tests can read it without a synth.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any, Final

#: ``Fn::Sub`` variable names the documents use besides the pseudo parameters.
CLUSTER_NAME_VARIABLE: Final = "ClusterName"
NODE_ROLE_ARN_VARIABLE: Final = "NodeRoleArn"
INTERRUPTION_QUEUE_ARN_VARIABLE: Final = "InterruptionQueueArn"

_EC2: Final = "arn:${AWS::Partition}:ec2:${AWS::Region}"
_INSTANCE_PROFILES: Final = "arn:${AWS::Partition}:iam::${AWS::AccountId}:instance-profile/*"
_CLUSTER_ARN: Final = (
    "arn:${AWS::Partition}:eks:${AWS::Region}:${AWS::AccountId}:cluster/${ClusterName}"
)
_OWNED_RESOURCE: Final = "aws:ResourceTag/kubernetes.io/cluster/${ClusterName}"
_OWNED_REQUEST: Final = "aws:RequestTag/kubernetes.io/cluster/${ClusterName}"
_TAGGED_RESOURCES: Final = [
    f"{_EC2}:*:fleet/*",
    f"{_EC2}:*:instance/*",
    f"{_EC2}:*:volume/*",
    f"{_EC2}:*:network-interface/*",
    f"{_EC2}:*:launch-template/*",
    f"{_EC2}:*:spot-instances-request/*",
]

NODE_LIFECYCLE: Final[list[dict[str, Any]]] = [
    {
        "Sid": "AllowScopedEC2InstanceAccessActions",
        "Effect": "Allow",
        "Resource": [
            f"{_EC2}::image/*",
            f"{_EC2}::snapshot/*",
            f"{_EC2}:*:security-group/*",
            f"{_EC2}:*:subnet/*",
            f"{_EC2}:*:capacity-reservation/*",
            f"{_EC2}:*:placement-group/*",
        ],
        "Action": ["ec2:RunInstances", "ec2:CreateFleet"],
    },
    {
        "Sid": "AllowScopedEC2LaunchTemplateAccessActions",
        "Effect": "Allow",
        "Resource": f"{_EC2}:*:launch-template/*",
        "Action": ["ec2:RunInstances", "ec2:CreateFleet"],
        "Condition": {
            "StringEquals": {_OWNED_RESOURCE: "owned"},
            "StringLike": {"aws:ResourceTag/karpenter.sh/nodepool": "*"},
        },
    },
    {
        "Sid": "AllowScopedEC2InstanceActionsWithTags",
        "Effect": "Allow",
        "Resource": _TAGGED_RESOURCES,
        "Action": ["ec2:RunInstances", "ec2:CreateFleet", "ec2:CreateLaunchTemplate"],
        "Condition": {
            "StringEquals": {
                _OWNED_REQUEST: "owned",
                "aws:RequestTag/eks:eks-cluster-name": "${ClusterName}",
            },
            "StringLike": {"aws:RequestTag/karpenter.sh/nodepool": "*"},
        },
    },
    {
        "Sid": "AllowScopedResourceCreationTagging",
        "Effect": "Allow",
        "Resource": _TAGGED_RESOURCES,
        "Action": "ec2:CreateTags",
        "Condition": {
            "StringEquals": {
                _OWNED_REQUEST: "owned",
                "aws:RequestTag/eks:eks-cluster-name": "${ClusterName}",
                "ec2:CreateAction": ["RunInstances", "CreateFleet", "CreateLaunchTemplate"],
            },
            "StringLike": {"aws:RequestTag/karpenter.sh/nodepool": "*"},
        },
    },
    {
        "Sid": "AllowScopedResourceTagging",
        "Effect": "Allow",
        "Resource": f"{_EC2}:*:instance/*",
        "Action": "ec2:CreateTags",
        "Condition": {
            "StringEquals": {_OWNED_RESOURCE: "owned"},
            "StringLike": {"aws:ResourceTag/karpenter.sh/nodepool": "*"},
            "StringEqualsIfExists": {"aws:RequestTag/eks:eks-cluster-name": "${ClusterName}"},
            "ForAllValues:StringEquals": {
                "aws:TagKeys": ["eks:eks-cluster-name", "karpenter.sh/nodeclaim", "Name"],
            },
        },
    },
    {
        "Sid": "AllowScopedDeletion",
        "Effect": "Allow",
        "Resource": [f"{_EC2}:*:instance/*", f"{_EC2}:*:launch-template/*"],
        "Action": ["ec2:TerminateInstances", "ec2:RebootInstances", "ec2:DeleteLaunchTemplate"],
        "Condition": {
            "StringEquals": {_OWNED_RESOURCE: "owned"},
            "StringLike": {"aws:ResourceTag/karpenter.sh/nodepool": "*"},
        },
    },
]

IAM_INTEGRATION: Final[list[dict[str, Any]]] = [
    {
        "Sid": "AllowPassingInstanceRole",
        "Effect": "Allow",
        "Resource": "${NodeRoleArn}",
        "Action": "iam:PassRole",
        "Condition": {
            "StringEquals": {"iam:PassedToService": ["ec2.amazonaws.com", "ec2.amazonaws.com.cn"]},
        },
    },
    {
        "Sid": "AllowScopedInstanceProfileCreationActions",
        "Effect": "Allow",
        "Resource": _INSTANCE_PROFILES,
        "Action": ["iam:CreateInstanceProfile"],
        "Condition": {
            "StringEquals": {
                _OWNED_REQUEST: "owned",
                "aws:RequestTag/eks:eks-cluster-name": "${ClusterName}",
                "aws:RequestTag/topology.kubernetes.io/region": "${AWS::Region}",
            },
            "StringLike": {"aws:RequestTag/karpenter.k8s.aws/ec2nodeclass": "*"},
        },
    },
    {
        "Sid": "AllowScopedInstanceProfileTagActions",
        "Effect": "Allow",
        "Resource": _INSTANCE_PROFILES,
        "Action": ["iam:TagInstanceProfile"],
        "Condition": {
            "StringEquals": {
                _OWNED_RESOURCE: "owned",
                "aws:ResourceTag/topology.kubernetes.io/region": "${AWS::Region}",
                _OWNED_REQUEST: "owned",
                "aws:RequestTag/eks:eks-cluster-name": "${ClusterName}",
                "aws:RequestTag/topology.kubernetes.io/region": "${AWS::Region}",
            },
            "StringLike": {
                "aws:ResourceTag/karpenter.k8s.aws/ec2nodeclass": "*",
                "aws:RequestTag/karpenter.k8s.aws/ec2nodeclass": "*",
            },
        },
    },
    {
        "Sid": "AllowScopedInstanceProfileActions",
        "Effect": "Allow",
        "Resource": _INSTANCE_PROFILES,
        "Action": [
            "iam:AddRoleToInstanceProfile",
            "iam:RemoveRoleFromInstanceProfile",
            "iam:DeleteInstanceProfile",
        ],
        "Condition": {
            "StringEquals": {
                _OWNED_RESOURCE: "owned",
                "aws:ResourceTag/topology.kubernetes.io/region": "${AWS::Region}",
            },
            "StringLike": {"aws:ResourceTag/karpenter.k8s.aws/ec2nodeclass": "*"},
        },
    },
]

EKS_INTEGRATION: Final[list[dict[str, Any]]] = [
    {
        "Sid": "AllowAPIServerEndpointDiscovery",
        "Effect": "Allow",
        "Resource": _CLUSTER_ARN,
        "Action": "eks:DescribeCluster",
    },
]

INTERRUPTION: Final[list[dict[str, Any]]] = [
    {
        "Sid": "AllowInterruptionQueueActions",
        "Effect": "Allow",
        "Resource": "${InterruptionQueueArn}",
        "Action": ["sqs:DeleteMessage", "sqs:GetQueueUrl", "sqs:ReceiveMessage"],
    },
]

ZONAL_SHIFT: Final[list[dict[str, Any]]] = [
    {
        "Sid": "AllowZonalShiftStatusReadOnly",
        "Effect": "Allow",
        "Resource": "*",
        "Action": ["arc-zonal-shift:GetManagedResource"],
        "Condition": {"StringEquals": {"arc-zonal-shift:ResourceIdentifier": _CLUSTER_ARN}},
    },
]

RESOURCE_DISCOVERY: Final[list[dict[str, Any]]] = [
    {
        "Sid": "AllowRegionalReadActions",
        "Effect": "Allow",
        "Resource": "*",
        "Action": [
            "ec2:DescribeCapacityReservations",
            "ec2:DescribeImages",
            "ec2:DescribeInstances",
            "ec2:DescribeInstanceStatus",
            "ec2:DescribeInstanceTypeOfferings",
            "ec2:DescribeInstanceTypes",
            "ec2:DescribeLaunchTemplates",
            "ec2:DescribePlacementGroups",
            "ec2:DescribeSecurityGroups",
            "ec2:DescribeSpotPriceHistory",
            "ec2:DescribeSubnets",
        ],
        "Condition": {"StringEquals": {"aws:RequestedRegion": "${AWS::Region}"}},
    },
    {
        "Sid": "AllowSSMReadActions",
        "Effect": "Allow",
        "Resource": "arn:${AWS::Partition}:ssm:${AWS::Region}::parameter/aws/service/*",
        "Action": "ssm:GetParameter",
    },
    {
        "Sid": "AllowPricingReadActions",
        "Effect": "Allow",
        "Resource": "*",
        "Action": "pricing:GetProducts",
    },
    {
        "Sid": "AllowUnscopedInstanceProfileListAction",
        "Effect": "Allow",
        "Resource": "*",
        "Action": "iam:ListInstanceProfiles",
    },
    {
        "Sid": "AllowInstanceProfileReadActions",
        "Effect": "Allow",
        "Resource": _INSTANCE_PROFILES,
        "Action": "iam:GetInstanceProfile",
    },
]

#: The controller policies by their logical ID in the official template, in its order.
CONTROLLER_POLICIES: Final[dict[str, list[dict[str, Any]]]] = {
    "NodeLifecyclePolicy": NODE_LIFECYCLE,
    "IAMIntegrationPolicy": IAM_INTEGRATION,
    "EKSIntegrationPolicy": EKS_INTEGRATION,
    "InterruptionPolicy": INTERRUPTION,
    "ZonalShiftPolicy": ZONAL_SHIFT,
    "ResourceDiscoveryPolicy": RESOURCE_DISCOVERY,
}


#: Why each official statement with a wildcard resource needs it (cdk-nag AwsSolutions-IAM5).
WILDCARD_REASONS: Final[dict[str, str]] = {
    "AllowScopedEC2InstanceAccessActions": "RunInstances/CreateFleet use AMIs, snapshots, "
    "security groups, subnets, capacity reservations and placement groups that EC2NodeClass "
    "selectors pick at run time; scoped to this region",
    "AllowScopedEC2LaunchTemplateAccessActions": "launch templates are created per node class "
    "with generated IDs; only those tagged kubernetes.io/cluster/<cluster>=owned and "
    "karpenter.sh/nodepool are usable",
    "AllowScopedEC2InstanceActionsWithTags": "instances, fleets, volumes, ENIs and launch "
    "templates do not exist before the call; the request must tag them as this cluster's",
    "AllowScopedResourceCreationTagging": "tags only while creating resources through "
    "RunInstances/CreateFleet/CreateLaunchTemplate with this cluster's tags",
    "AllowScopedResourceTagging": "instance IDs are generated; only instances owned by this "
    "cluster and a NodePool, and only the Name/nodeclaim/cluster-name tag keys",
    "AllowScopedDeletion": "instance and launch template IDs are generated; only those tagged "
    "as owned by this cluster and a NodePool can be deleted",
    "AllowScopedInstanceProfileCreationActions": "instance profile names are generated per "
    "EC2NodeClass; creation requires this cluster's and region's tags",
    "AllowScopedInstanceProfileTagActions": "instance profile names are generated; only "
    "profiles tagged for this cluster and region",
    "AllowScopedInstanceProfileActions": "instance profile names are generated; only profiles "
    "tagged for this cluster and region",
    "AllowZonalShiftStatusReadOnly": "GetManagedResource is read-only and the "
    "arc-zonal-shift:ResourceIdentifier condition limits it to this cluster",
    "AllowRegionalReadActions": "EC2 Describe* calls support no resource-level permissions; "
    "read-only and limited to this region by aws:RequestedRegion",
    "AllowSSMReadActions": "reads only AWS's public parameters under /aws/service/ (EKS AMI "
    "IDs), whose names vary with AMI family and version",
    "AllowPricingReadActions": "pricing:GetProducts supports no resource-level permissions",
    "AllowUnscopedInstanceProfileListAction": "iam:ListInstanceProfiles supports no "
    "resource-level permissions",
    "AllowInstanceProfileReadActions": "read-only; instance profile names are generated per "
    "EC2NodeClass",
}

_PLACEHOLDER: Final = re.compile(r"\$\{([^}]+)\}")


def policy_document(statements: list[dict[str, Any]]) -> dict[str, Any]:
    """Return the policy document (with placeholders) holding ``statements``."""
    return {"Version": "2012-10-17", "Statement": statements}


def policy_document_template(statements: list[dict[str, Any]]) -> str:
    """Return the ``Fn::Sub`` body (a JSON string) of a policy document with ``statements``."""
    return json.dumps(policy_document(statements), indent=2)


def placeholders(value: Any) -> set[str]:
    """Return the placeholder names (``ClusterName``, ``AWS::Region``...) used anywhere in
    ``value``, keys included."""
    found: set[str] = set()
    if isinstance(value, str):
        found.update(_PLACEHOLDER.findall(value))
    elif isinstance(value, Mapping):
        for key, item in value.items():
            found |= placeholders(key) | placeholders(item)
    elif isinstance(value, list):
        for item in value:
            found |= placeholders(item)
    return found


def mapping_keys(value: Any) -> list[str]:
    """Return every mapping key anywhere in ``value`` (condition keys included)."""
    if isinstance(value, Mapping):
        keys = list(value)
        for item in value.values():
            keys.extend(mapping_keys(item))
        return keys
    if isinstance(value, list):
        return [key for item in value for key in mapping_keys(item)]
    return []


def substitute(value: Any, replacements: Mapping[str, str]) -> Any:
    """Return ``value`` with every ``${name}`` in its strings replaced from ``replacements``.

    :raises KeyError: for a placeholder that ``replacements`` lacks.
    """
    if isinstance(value, str):
        return _PLACEHOLDER.sub(lambda match: replacements[match.group(1)], value)
    if isinstance(value, Mapping):
        return {
            substitute(key, replacements): substitute(item, replacements)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [substitute(item, replacements) for item in value]
    return value
