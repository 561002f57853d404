"""Checks and cdk-nag acknowledgments shared by the AWS CDK constructs."""

from __future__ import annotations

from collections.abc import Mapping

from aws_cdk import Acknowledgment, Token, Validations
from constructs import IConstruct

from ..errors import ConfigurationError
from ..kubernetes_names import eks_cluster_name_error


def check_cluster_name(name: str, *, field: str, fix: str) -> None:
    """Raise ConfigurationError unless ``name`` is a valid EKS cluster name (tokens pass)."""
    if Token.is_unresolved(name):
        return
    if reason := eks_cluster_name_error(name):
        raise ConfigurationError(field=field, value=name, rule=reason, fix=fix)


def acknowledge(scope: IConstruct, findings: Mapping[str, str]) -> None:
    """Acknowledge cdk-nag AwsSolutions findings (finding id -> reason) on ``scope``.

    cdk-nag 3 reads aws-cdk-lib's ``Validations`` metadata, so the library needs no cdk-nag;
    finding ids match exactly, e.g. ``AwsSolutions-IAM4[Policy::<arn>]``.
    """
    for finding, reason in findings.items():
        Validations.of(scope).acknowledge(
            Acknowledgment(id=f"AwsSolutions::{finding}", reason=reason)
        )


def acknowledge_finding(scope: IConstruct, finding: str, reason: str) -> None:
    """Acknowledge one cdk-nag AwsSolutions finding on ``scope``."""
    acknowledge(scope, {finding: reason})
