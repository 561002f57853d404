"""Opt-in cdk-nag acknowledgments for what aws-cdk-lib's ``eks.Cluster`` creates by itself.

``eks.Cluster`` adds resources this library cannot change: the cluster custom resource, the
kubectl/Helm Lambda role, and two provider nested stacks. cdk-nag's AwsSolutions pack reports
their AWS managed policies and wildcards. Acknowledging them means finding them by aws-cdk-lib's
*private* construct ids, which a minor aws-cdk-lib release may change, so it is not done inside
the constructs: call :func:`acknowledge_eks_internals` on your cluster once its manifests are
added (the reference app does), or apply the :class:`EksInternalsAcknowledgments` aspect. Every
lookup tolerates a missing child: a renamed one leaves its finding reported, never a broken
synth.

    acknowledge_eks_internals(cluster)             # direct: no cost at synth
    cdk.Aspects.of(app).add(EksInternalsAcknowledgments())  # or: every construct visited

The aspect makes Node call back into Python once per construct of the app at synth (about one
second for the reference app on two cores); the direct call costs a few lookups.
"""

from __future__ import annotations

import json
from typing import Final

import aws_cdk as cdk
import jsii
from aws_cdk import aws_eks as eks
from constructs import IConstruct

from .validation import acknowledge

#: cdk-nag's flattened partition in finding ids.
_PARTITION: Final = "<AWS::Partition>"
_BASIC_EXECUTION: Final = "service-role/AWSLambdaBasicExecutionRole"
_VPC_ACCESS: Final = "service-role/AWSLambdaVPCAccessExecutionRole"
_PROVIDER_REASON: Final = (
    "Custom-resource provider that aws-cdk-lib's eks.Cluster creates in a nested stack "
    "({what}); its runtime, logging and IAM are fixed by aws-cdk-lib, not this library."
)


def _aws_managed(name: str) -> str:
    return f"Policy::arn:{_PARTITION}:iam::aws:policy/{name}"


def acknowledge_eks_internals(cluster: eks.Cluster) -> None:
    """Acknowledge the findings on ``cluster``'s kubectl Lambda role and on the provider nested
    stacks of its stack. Call it after the cluster's manifests and charts are added (the
    kubectl provider is created with the first of them)."""
    _acknowledge_cluster(cluster)
    _acknowledge_providers(cdk.Stack.of(cluster))


@jsii.implements(cdk.IAspect)
class EksInternalsAcknowledgments:
    """Acknowledge cdk-nag AwsSolutions findings on aws-cdk-lib's own EKS resources, with reasons.

    Visits every ``eks.Cluster`` (its kubectl Lambda role) and every stack holding the EKS
    provider nested stacks. Finds nothing to do where they are absent.
    """

    def visit(self, node: IConstruct) -> None:
        """Called by CDK for every construct of the scope the aspect is added to."""
        if isinstance(node, eks.Cluster):
            _acknowledge_cluster(node)
        if isinstance(node, cdk.Stack):
            _acknowledge_providers(node)


def _child(scope: IConstruct | None, *path: str) -> IConstruct | None:
    for name in path:
        if scope is None:
            return None
        scope = scope.node.try_find_child(name)
    return scope


def _acknowledge_cluster(cluster: eks.Cluster) -> None:
    stack = cdk.Stack.of(cluster)
    kubectl_handler_role = _child(cluster, "KubectlHandlerRole")
    if kubectl_handler_role is not None:
        findings = [
            _aws_managed(_BASIC_EXECUTION),
            _aws_managed(_VPC_ACCESS),
            _aws_managed("AmazonEC2ContainerRegistryPullOnly"),
        ]
        condition = _child(cluster, "HasEcrPublic")
        if isinstance(condition, cdk.CfnCondition):
            findings.append(f"Policy::{_ecr_public_policy(stack, condition)}")
        acknowledge(
            kubectl_handler_role,
            {
                f"AwsSolutions-IAM4[{finding}]": "aws-cdk-lib's eks.Cluster creates this "
                "kubectl/Helm Lambda role with AWS managed Lambda logging, VPC access and ECR "
                "pull policies; the library cannot change them."
                for finding in findings
            },
        )


def _ecr_public_policy(stack: cdk.Stack, condition: cdk.CfnCondition) -> str:
    """cdk-nag's text for the role's conditional ECR Public policy ARN."""
    return json.dumps(
        {
            "Fn::If": [
                stack.resolve(condition.logical_id),
                {
                    "Fn::Join": [
                        "",
                        [
                            "arn:",
                            {"Ref": "AWS::Partition"},
                            ":iam::aws:policy/AmazonElasticContainerRegistryPublicReadOnly",
                        ],
                    ]
                },
                {"Ref": "AWS::NoValue"},
            ]
        },
        separators=(",", ":"),
    )


def _acknowledge_providers(stack: cdk.Stack) -> None:
    """The two provider nested stacks aws-cdk-lib adds next to every eks.Cluster."""
    cluster_provider = _child(stack, "@aws-cdk/aws-eks.ClusterResourceProvider")
    if cluster_provider is not None:
        what = "EKS cluster create/update/delete handlers and their Step Functions waiter"
        reason = _PROVIDER_REASON.format(what=what)
        functions = [
            _child(cluster_provider, "OnEventHandler"),
            _child(cluster_provider, "IsCompleteHandler"),
            _child(cluster_provider, "Provider", "framework-isComplete"),
            _child(cluster_provider, "Provider", "framework-onTimeout"),
        ]
        findings = {
            f"AwsSolutions-IAM4[{_aws_managed(_BASIC_EXECUTION)}]": reason,
            "AwsSolutions-SF1": reason,
            "AwsSolutions-SF2": reason,
        }
        for function in functions:
            if function is not None and (arn := _arn_ref(function)) is not None:
                findings[f"AwsSolutions-IAM5[Resource::{arn}:*]"] = reason
        acknowledge(cluster_provider, findings)
    kubectl_provider = _child(stack, "@aws-cdk/aws-eks.KubectlProvider")
    if kubectl_provider is not None:
        what = "kubectl/Helm handler that applies manifests and charts"
        reason = _PROVIDER_REASON.format(what=what)
        findings = {
            f"AwsSolutions-IAM4[{_aws_managed(_BASIC_EXECUTION)}]": reason,
            f"AwsSolutions-IAM4[{_aws_managed(_VPC_ACCESS)}]": reason,
            "AwsSolutions-L1": reason,
        }
        handler = _child(kubectl_provider, "Handler")
        if handler is not None and (arn := _arn_ref(handler)) is not None:
            findings[f"AwsSolutions-IAM5[Resource::{arn}:*]"] = reason
        acknowledge(kubectl_provider, findings)


def _arn_ref(function: IConstruct) -> str | None:
    """cdk-nag's flattened form of ``Fn::GetAtt [<function>, Arn]``: ``<LogicalId.Arn>``."""
    resource = function.node.default_child
    if not isinstance(resource, cdk.CfnElement):
        return None
    return f"<{cdk.Stack.of(resource).resolve(resource.logical_id)}.Arn>"
