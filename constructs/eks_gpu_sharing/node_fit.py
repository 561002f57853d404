"""Whether a pod spec would run on a node with given labels and taints: its node selector, its
required node affinity and its tolerations, by the rules kube-scheduler applies
(``k8s.io/component-helpers/scheduling/corev1`` ``MatchNodeSelectorTerms`` and
``TolerationsTolerateTaint``; terms are ORed, expressions in a term ANDed). Used by the
existing-cluster preflight on the manifests of a cluster dump; the simulator runs Karpenter's
own code instead, and a test checks both agree on the DaemonSets they share.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any


def selects_node(spec: Mapping[str, Any], labels: Mapping[str, str]) -> bool:
    """``spec``'s ``nodeSelector`` and required node affinity both admit ``labels``."""
    selector = spec.get("nodeSelector") or {}
    if any(labels.get(key) != value for key, value in selector.items()):
        return False
    required = ((spec.get("affinity") or {}).get("nodeAffinity") or {}).get(
        "requiredDuringSchedulingIgnoredDuringExecution"
    ) or {}
    terms = required.get("nodeSelectorTerms")
    if not terms:
        return True
    return any(_term_matches(term or {}, labels) for term in terms)


def tolerates(tolerations: Sequence[Mapping[str, Any]], taint: Mapping[str, Any]) -> bool:
    """Some toleration in ``tolerations`` tolerates ``taint``."""
    return any(_tolerates(t, taint) for t in tolerations)


def untolerated(
    tolerations: Sequence[Mapping[str, Any]], taints: Sequence[Mapping[str, Any]]
) -> list[Mapping[str, Any]]:
    """The ``NoSchedule`` and ``NoExecute`` taints of ``taints`` no toleration tolerates."""
    return [
        taint
        for taint in taints
        if taint.get("effect") in ("NoSchedule", "NoExecute") and not tolerates(tolerations, taint)
    ]


def selects_label(spec: Mapping[str, Any], key: str) -> bool:
    """``spec`` constrains the node label ``key`` (in its node selector or in every term of its
    required node affinity)."""
    if key in (spec.get("nodeSelector") or {}):
        return True
    required = ((spec.get("affinity") or {}).get("nodeAffinity") or {}).get(
        "requiredDuringSchedulingIgnoredDuringExecution"
    ) or {}
    terms = required.get("nodeSelectorTerms") or []
    return bool(terms) and all(
        any(e.get("key") == key for e in (term or {}).get("matchExpressions") or [])
        for term in terms
    )


def _term_matches(term: Mapping[str, Any], labels: Mapping[str, str]) -> bool:
    expressions = term.get("matchExpressions") or []
    if not expressions and not term.get("matchFields"):
        return False  # an empty term matches no node (kube-scheduler)
    return all(_expression_matches(e, labels) for e in expressions)


def _expression_matches(expression: Mapping[str, Any], labels: Mapping[str, str]) -> bool:
    key = expression.get("key", "")
    operator = expression.get("operator")
    values = [str(v) for v in expression.get("values") or []]
    present = key in labels
    value = labels.get(key, "")
    if operator == "In":
        return present and value in values
    if operator == "NotIn":
        return not present or value not in values
    if operator == "Exists":
        return present
    if operator == "DoesNotExist":
        return not present
    if operator in ("Gt", "Lt") and present and len(values) == 1:
        try:
            number, bound = int(value), int(values[0])
        except ValueError:
            return False
        return number > bound if operator == "Gt" else number < bound
    return False


def _tolerates(toleration: Mapping[str, Any], taint: Mapping[str, Any]) -> bool:
    effect = toleration.get("effect") or ""
    if effect and effect != taint.get("effect"):
        return False
    key = toleration.get("key") or ""
    operator = toleration.get("operator") or "Equal"
    if not key:
        return operator == "Exists"  # an empty key with Exists tolerates everything
    if key != taint.get("key"):
        return False
    if operator == "Exists":
        return True
    return (toleration.get("value") or "") == (taint.get("value") or "")
