"""Helpers for tests that synthesize CDK apps: templates, dependency graphs, manifests."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

MANIFEST_TYPE = "Custom::AWSCDK-EKS-KubernetesResource"
HELM_TYPE = "Custom::AWSCDK-EKS-HelmChart"


def resources_of(template: dict[str, Any], resource_type: str) -> dict[str, dict[str, Any]]:
    """The resources of one type in a synthesized template, by logical id."""
    return {
        logical_id: resource
        for logical_id, resource in template["Resources"].items()
        if resource["Type"] == resource_type
    }


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
