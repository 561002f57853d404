"""Checks and cdk-nag acknowledgments shared by the AWS CDK constructs."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Final

from aws_cdk import Acknowledgment, Token, Validations
from constructs import IConstruct

from ..errors import ConfigurationError

#: EKS CreateCluster: 1-100 characters, letters, digits, '-' and '_', alphanumeric first.
EKS_CLUSTER_NAME: Final = re.compile(r"^[0-9A-Za-z][A-Za-z0-9\-_]{0,99}$")


def check_cluster_name(name: str, *, field: str, fix: str) -> None:
    """Raise ConfigurationError unless ``name`` is a valid EKS cluster name (tokens pass)."""
    if Token.is_unresolved(name) or EKS_CLUSTER_NAME.match(name):
        return
    raise ConfigurationError(
        field=field,
        value=name,
        rule="EKS cluster names are 1-100 characters of letters, digits, '-' and '_', "
        "starting with a letter or digit",
        fix=fix,
    )


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
