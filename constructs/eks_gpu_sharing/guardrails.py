"""Opt-in admission guardrails for GPU pools: a ValidatingAdmissionPolicy (built into Kubernetes,
CEL) and its binding, derived from the pools.

Two rules, checked when a pod is created:

* **One slice per container on shared pools.** With time-slicing or MPS a second slice is no
  more GPU (the device plugin refuses it with ``failRequestsGreaterThanOne`` once the pod lands,
  and the pod fails then); the policy refuses it at once. It applies to a pod that selects a
  shared pool (``nodeSelector`` ``eks-gpu-sharing.io/pool``) and, for a pod that selects no pool,
  to resources only shared pools offer. Pools with ``fail_requests_greater_than_one=False``
  allow more.
* **GPU pools are for GPU pods.** A pod that selects a GPU pool, or tolerates the GPU taint by
  name, must request a GPU resource; DaemonSet pods are exempt. Otherwise CPU pods settle on GPU
  nodes and keep them from being consolidated.

Pods reach a pool through node affinity too; the policy reads only ``nodeSelector``. The tests
run kube-apiserver's own policy validation and evaluate the expressions with the API server's
CEL environment on sample pods (``tests/test_guardrails.py``). The policy objects are built by
:class:`eks_gpu_sharing.k8s.guardrails.GuardrailsChart`; this module is pure data.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

from .errors import Problems
from .labels import GPU_TAINT_KEY, POOL_LABEL
from .pool import GpuPool, validate_pools
from .vocabulary import vocabulary

#: Name of the ValidatingAdmissionPolicy and its binding.
GUARDRAILS_POLICY_NAME: Final = "eks-gpu-sharing-gpu-pods"
_ACTIONS: Final = ("Deny", "Warn", "Audit")


@dataclass(frozen=True)
class PodGuardrails:
    """Turns the admission guardrails on.

    :param validation_actions: What a violation does (the binding's ``validationActions``):
        ``Deny`` refuses the pod, ``Warn`` returns a warning to the client, ``Audit`` records it
        in the audit log; ``Deny`` and ``Warn`` exclude each other. Default: ``("Deny",)``.
    :param exempt_namespaces: Namespaces the policy never checks. Default: ``kube-system`` (the
        device plugin's namespace is always exempt).
    """

    validation_actions: Sequence[str] = ("Deny",)
    exempt_namespaces: Sequence[str] = ("kube-system",)

    def __post_init__(self) -> None:
        words = vocabulary()
        problems = Problems()
        actions = self.validation_actions
        field = words.field("PodGuardrails", "validation_actions")
        if isinstance(actions, str) or not isinstance(actions, Sequence):
            problems.add(field=field, value=actions, rule="must be a list", fix='use ["Deny"]')
        elif (
            not actions
            or any(a not in _ACTIONS for a in actions)
            or len(set(actions)) != len(actions)
            or {"Deny", "Warn"} <= set(actions)
        ):
            problems.add(
                field=field,
                value=actions,
                rule="one or more of Deny, Warn, Audit, each once, not Deny with Warn (the API "
                "server's rule)",
                fix='use ["Deny"], ["Warn"] or ["Warn", "Audit"]',
            )
        namespaces = self.exempt_namespaces
        if isinstance(namespaces, str) or not isinstance(namespaces, Sequence):
            problems.add(
                field=words.field("PodGuardrails", "exempt_namespaces"),
                value=namespaces,
                rule="must be a list of namespace names",
                fix='use ["kube-system"]',
            )
        problems.raise_if_any()
        object.__setattr__(self, "validation_actions", tuple(actions))
        object.__setattr__(self, "exempt_namespaces", tuple(namespaces))


def _cel(value: Any) -> str:
    """A CEL literal for a list of strings or a map of strings (JSON's syntax is CEL's)."""
    return json.dumps(value, sort_keys=True)


def guardrail_validations(pools: Sequence[GpuPool]) -> dict[str, Any]:
    """The policy's ``variables`` and ``validations`` for ``pools``."""
    pools = validate_pools(pools)
    one_slice = {
        p.name: p.resource_name
        for p in pools
        if p.sharing.shares_gpus and p.sharing.fail_requests_greater_than_one
    }
    whole = {p.resource_name for p in pools if p.name not in one_slice}
    shared_only = sorted(set(one_slice.values()) - whole)
    resources = sorted({p.resource_name for p in pools})
    has_limits = "has(c.resources) && has(c.resources.limits)"
    variables = [
        {
            "name": "pool",
            "expression": f"has(object.spec.nodeSelector) && '{POOL_LABEL}' in "
            f"object.spec.nodeSelector ? object.spec.nodeSelector['{POOL_LABEL}'] : ''",
        },
        {
            "name": "containers",
            "expression": "object.spec.containers + (has(object.spec.initContainers) ? "
            "object.spec.initContainers : [])",
        },
        {
            # The resources counted one slice at a time for this pod.
            "name": "sliceResources",
            "expression": f"variables.pool in {_cel(one_slice)} ? "
            f"[{_cel(one_slice)}[variables.pool]] : "
            f"(variables.pool == '' ? {_cel(shared_only)} : [])",
        },
        {
            "name": "requestsGpu",
            "expression": f"variables.containers.exists(c, {has_limits} && "
            f"{_cel(resources)}.exists(r, r in c.resources.limits && "
            "quantity(c.resources.limits[r]).isGreaterThan(quantity('0'))))",
        },
        {
            "name": "wantsGpuNode",
            "expression": f"variables.pool in {_cel(sorted(p.name for p in pools))} || "
            "(has(object.spec.tolerations) && object.spec.tolerations.exists(t, "
            f"has(t.key) && t.key == '{GPU_TAINT_KEY}'))",
        },
        {
            "name": "daemon",
            "expression": "has(object.metadata.ownerReferences) && "
            "object.metadata.ownerReferences.exists(o, o.kind == 'DaemonSet')",
        },
    ]
    validations = [
        {
            "expression": f"variables.containers.all(c, !({has_limits}) || "
            "variables.sliceResources.all(r, !(r in c.resources.limits) || "
            "!quantity(c.resources.limits[r]).isGreaterThan(quantity('1'))))",
            "messageExpression": "'a container on a shared GPU pool asks for more than one "
            "slice of ' + variables.sliceResources.join(', ') + ': with time-slicing or MPS a "
            "second slice is no more GPU; request 1'",
            "reason": "Invalid",
        },
        {
            "expression": "!variables.wantsGpuNode || variables.requestsGpu || variables.daemon",
            "message": "a pod that selects a GPU pool or tolerates the nvidia.com/gpu taint "
            "must request a GPU resource (" + ", ".join(resources) + "): CPU pods on GPU nodes "
            "keep them from being consolidated",
            "reason": "Invalid",
        },
    ]
    return {"variables": variables, "validations": validations}
