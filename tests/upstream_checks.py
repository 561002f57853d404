"""What the consumers' own code says about generated objects, as short strings for assertions."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import kubernetes_validate
import yaml

from eks_gpu_sharing.upstream import Upstream
from eks_gpu_sharing.versions import KUBERNETES_VERSION

_KARPENTER_GROUPS = ("karpenter.sh/", "karpenter.k8s.aws/")
_ROOT = Path(__file__).resolve().parents[1]


def admission_errors(harness: Upstream, objects: Iterable[Mapping[str, Any]]) -> list[str]:
    """Every error a create of ``objects`` would get, as ``"Kind/name: error"``.

    Karpenter kinds go through the API server's custom resource create path with the pinned
    provider's CRDs (prune, default, OpenAPI schema, CEL rules); built-in kinds through
    kube-apiserver's own registry strategies (Kubernetes 1.37.2, the release Karpenter 1.15.2's
    libraries build with) and, for the cluster's own minor, the Kubernetes 1.36 OpenAPI schema
    in strict mode (kubernetes-validate). Unknown fields are errors everywhere (kubectl's default).
    """
    objects = list(objects)
    errors = [
        f"{result['kind']}/{result['name']}: {error}"
        for result in harness.validate(objects)
        for error in result["errors"]
    ]
    for obj in objects:
        if obj["apiVersion"].startswith(_KARPENTER_GROUPS):
            continue
        try:
            kubernetes_validate.validate(dict(obj), KUBERNETES_VERSION, strict=True)
        except kubernetes_validate.ValidationError as error:
            message = str(error).splitlines()[0]
            errors.append(f"{obj['kind']}/{obj['metadata'].get('name')}: 1.36 schema: {message}")
    return errors


def stored(harness: Upstream, obj: Mapping[str, Any]) -> dict[str, Any]:
    """The object as the API server would store it (pruned and defaulted); it must be valid."""
    (result,) = harness.validate([obj])
    assert result["errors"] == [], result["errors"]
    return dict(result["stored"])


def manifest_objects() -> list[dict[str, Any]]:
    """The objects of the committed manifests/ folder, as ``kubectl apply -f`` reads them."""
    return [
        doc
        for path in sorted((_ROOT / "manifests").glob("*.k8s.yaml"))
        for doc in yaml.safe_load_all(path.read_text())
        if doc
    ]
