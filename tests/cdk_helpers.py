"""Helpers for tests that synthesize CDK apps: templates, dependency graphs, manifests."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_eks as eks
from aws_cdk.assertions import Template
from constructs import IConstruct

from eks_gpu_sharing.cdk.kubectl import kubectl_layer

#: The resource types aws-cdk-lib gives Kubernetes manifests and Helm charts.
MANIFEST_TYPE = eks.KubernetesManifest.RESOURCE_TYPE
HELM_TYPE = eks.HelmChart.RESOURCE_TYPE


def imported_cluster() -> tuple[cdk.App, cdk.Stack, eks.ICluster]:
    """An app with one stack (explicit env) and an existing cluster imported into it."""
    app = cdk.App()
    stack = cdk.Stack(app, "User", env=cdk.Environment(account="123456789012", region="us-east-1"))
    vpc = ec2.Vpc.from_vpc_attributes(
        stack,
        "Vpc",
        vpc_id="vpc-0123456789abcdef0",
        availability_zones=["us-east-1a", "us-east-1b"],
        private_subnet_ids=["subnet-0aaaaaaaaaaaaaaa1", "subnet-0aaaaaaaaaaaaaaa2"],
    )
    cluster = eks.Cluster.from_cluster_attributes(
        stack,
        "Imported",
        cluster_name="existing",
        kubectl_role_arn="arn:aws:iam::123456789012:role/existing-kubectl",
        kubectl_layer=kubectl_layer(stack),
        cluster_security_group_id="sg-0123456789abcdef0",
        vpc=vpc,
    )
    return app, stack, cluster


def resources_of(template: dict[str, Any], resource_type: str) -> dict[str, dict[str, Any]]:
    """The resources of one type in a synthesized template, by logical id."""
    found: dict[str, dict[str, Any]] = Template.from_json(
        template, skip_cyclical_dependencies_check=True
    ).find_resources(resource_type)
    return found


def manifest_objects(resource: dict[str, Any]) -> list[dict[str, Any]]:
    """The Kubernetes objects a KubernetesManifest resource applies (tokens left as they are)."""
    manifest = resource["Properties"]["Manifest"]
    if isinstance(manifest, str):
        return json.loads(manifest)
    # Fn::Join of literal strings and tokens: put placeholders for the tokens.
    parts = manifest["Fn::Join"][1]
    text = "".join(p if isinstance(p, str) else "TOKEN" for p in parts)
    return json.loads(text)


def depends_on_closure(template: dict[str, Any], logical_id: str) -> set[str]:
    """Every resource ``logical_id`` waits for, directly or through others (DependsOn + refs)."""
    resources = template["Resources"]
    seen: set[str] = set()
    stack = [logical_id]
    while stack:
        current = stack.pop()
        for dependency in _direct_dependencies(resources[current], resources):
            if dependency not in seen:
                seen.add(dependency)
                stack.append(dependency)
    return seen


def _direct_dependencies(resource: dict[str, Any], resources: dict[str, Any]) -> set[str]:
    depends = resource.get("DependsOn", [])
    found = set([depends] if isinstance(depends, str) else depends)
    for value in _walk(resource.get("Properties", {})):
        if isinstance(value, dict):
            if "Ref" in value and value["Ref"] in resources:
                found.add(value["Ref"])
            if "Fn::GetAtt" in value:
                target = value["Fn::GetAtt"]
                target = target[0] if isinstance(target, list) else target.split(".")[0]
                if target in resources:
                    found.add(target)
    return found


def _walk(value: Any) -> Iterator[Any]:
    yield value
    if isinstance(value, dict):
        for item in value.values():
            yield from _walk(item)
    elif isinstance(value, list):
        for item in value:
            yield from _walk(item)


def nag_violations(outdir: Path) -> list[str]:
    """``"<rule> at <construct path>"`` for every violation in a synth's validation report.

    cdk-nag 3 runs as a validation plugin: a synth with unacknowledged findings raises and
    writes ``validation-report.json``; no report means no plugin found anything to report.
    """
    report_path = Path(outdir) / "validation-report.json"
    if not report_path.exists():
        return []
    report = json.loads(report_path.read_text())
    return [
        f"{violation['ruleName']} at {construct['constructPath']}"
        for plugin in report["pluginReports"]
        for violation in plugin.get("violations", [])
        for construct in violation["violatingConstructs"]
        # This library's own synth warnings (tested where they are made), which the
        # `@aws-cdk/core:annotationsInValidationReport` flag copies into the report.
        if not violation["ruleName"].startswith(OWN_WARNINGS)
    ]


#: Rule names of this library's own construct annotations in a validation report.
OWN_WARNINGS = "Annotation::eks-gpu-sharing:"


def acknowledgments(*roots: IConstruct) -> list[tuple[str, str, str]]:
    """(construct path, rule id, reason) of every acknowledged rule under ``roots``.

    Metadata keys read ``"<source>::<rule>"`` (e.g. ``AwsSolutions::AwsSolutions-SQS3``); the
    rule id returned is the part after ``::``.
    """
    found = []
    for root in roots:
        for construct in root.node.find_all():
            for entry in construct.node.metadata:
                if entry.type == cdk.Validations.ACKNOWLEDGED_RULES_METADATA_KEY:
                    for key, reason in entry.data.items():
                        found.append((construct.node.path, key.split("::", 1)[-1], reason))
    return found
