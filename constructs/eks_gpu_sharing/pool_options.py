"""The choices a GPU pool is made of: AMI family, capacity types, taints and disruption."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Final

from .errors import Problems
from .kubernetes_names import label_key_error, label_value_error
from .versions import AL2023_AMI_VERSION, BOTTLEROCKET_AMI_VERSION
from .vocabulary import vocabulary

# Karpenter's CRD patterns for NodePool durations and disruption budgets (karpenter.sh_nodepools
# v1.14.1: consolidateAfter/expireAfter and budgets[].nodes), matched against the whole string.
_DURATION: Final = re.compile(r"([0-9]+(s|m|h))+")
_PERCENT_OR_COUNT: Final = re.compile(r"(100|[0-9]{1,2})%|[0-9]+")
#: Longest duration string accepted (the CRD has no bound; this keeps values readable).
_MAX_DURATION_LENGTH: Final = 32


class AmiFamily(Enum):
    """The EKS-optimized AMI family of a pool's nodes (NVIDIA variant picked automatically)."""

    AL2023 = "AL2023"
    BOTTLEROCKET = "Bottlerocket"

    @property
    def alias_prefix(self) -> str:
        """The family in an ``amiSelectorTerms[].alias`` (``al2023``, ``bottlerocket``)."""
        return self.value.lower()

    @property
    def default_release(self) -> str:
        """The library's pinned release (``@latest`` would replace every node whenever AWS
        publishes an AMI)."""
        return AL2023_AMI_VERSION if self is AmiFamily.AL2023 else BOTTLEROCKET_AMI_VERSION

    @property
    def root_device_name(self) -> str:
        """The device that holds container images (Bottlerocket keeps them on its data volume)."""
        return "/dev/xvda" if self is AmiFamily.AL2023 else "/dev/xvdb"


class Backend(Enum):
    """How a pool's GPUs are shared between pods and counted by Karpenter.

    ``DEVICE_PLUGIN``: the NVIDIA device plugin advertises slices as an extended resource
    (``nvidia.com/gpu``), NodeOverlays tell Karpenter the count (time-slicing, MPS, MIG).
    ``DRA``: the NVIDIA DRA driver's consumable shares; pods ask through a ResourceClaim and
    Karpenter 1.15 counts the shares itself from the EC2NodeClass annotation
    ``karpenter.k8s.aws/nvidia-consumable-capacity`` (time-slicing or whole GPUs only).
    """

    DEVICE_PLUGIN = "device-plugin"
    DRA = "dra"


class CapacityType(Enum):
    """Karpenter ``karpenter.sh/capacity-type`` values."""

    ON_DEMAND = "on-demand"
    SPOT = "spot"
    RESERVED = "reserved"


class SpotServiceLinkedRole(Enum):
    """Who makes sure the account has the EC2 Spot service-linked role
    (``AWSServiceRoleForEC2Spot``) that Karpenter needs to launch spot instances (without it
    Karpenter falls back to on-demand, its only sign a Warning event on the NodeClaim). One role
    per account: CloudFormation fails to create a second one."""

    #: The stack creates it (retained when the stack is deleted: other stacks may rely on it).
    CREATE = "create"
    #: It exists already (created once with the AWS CLI, or by another stack): no synth warning.
    EXISTS = "exists"


class ConsolidationPolicy(Enum):
    """Karpenter ``spec.disruption.consolidationPolicy``."""

    WHEN_EMPTY = "WhenEmpty"
    WHEN_EMPTY_OR_UNDERUTILIZED = "WhenEmptyOrUnderutilized"


class TaintEffect(Enum):
    """Kubernetes taint effects."""

    NO_SCHEDULE = "NoSchedule"
    PREFER_NO_SCHEDULE = "PreferNoSchedule"
    NO_EXECUTE = "NoExecute"


def check_enum(
    problems: Problems, owner: str, attribute: str, value: object, kind: type[Enum]
) -> None:
    """Record a problem unless ``value`` is a member of ``kind``."""
    if not isinstance(value, kind):
        words = vocabulary()
        problems.add(
            field=words.field(owner, attribute),
            value=value,
            rule=f"must be one of {', '.join(words.enum(m) for m in kind)}",
            fix=f"use e.g. {words.example(attribute, words.enum(next(iter(kind))))}",
        )


@dataclass(frozen=True)
class Taint:
    """An extra node taint for a pool (the ``nvidia.com/gpu:NoSchedule`` taint is always set).

    :param key: Label-style key, e.g. ``example.com/team``.
    :param value: Optional value. Default: none.
    :param effect: Default: ``TaintEffect.NO_SCHEDULE``.
    """

    key: str
    value: str | None = None
    effect: TaintEffect = TaintEffect.NO_SCHEDULE

    def __post_init__(self) -> None:
        problems = Problems()
        words = vocabulary()
        if self.value == "":
            # An empty value is no value: written as "" the API server refuses the NodePool.
            object.__setattr__(self, "value", None)
        if reason := label_key_error(self.key):
            problems.add(
                field=words.field("Taint", "key"),
                value=self.key,
                rule=reason,
                fix="use e.g. " + words.example("key", '"example.com/team"'),
            )
        if self.value is not None and (reason := label_value_error(self.value)):
            problems.add(
                field=words.field("Taint", "value"),
                value=self.value,
                rule=reason,
                fix="use e.g. " + words.example("value", '"ml"'),
            )
        check_enum(problems, "Taint", "effect", self.effect, TaintEffect)
        problems.raise_if_any()

    def to_dict(self) -> dict[str, str]:
        """The Kubernetes ``Taint`` object."""
        taint = {"key": self.key, "effect": self.effect.value}
        if self.value is not None:
            taint["value"] = self.value
        return taint


@dataclass(frozen=True)
class Disruption:
    """How Karpenter may disrupt a pool's nodes.

    The defaults suit GPU work: consolidation only removes *empty* nodes (repacking running GPU
    pods to save a node would restart long jobs and reload models), five minutes after the last
    pod left so a quick redeploy reuses the warm node; nodes expire after 30 days (replacements
    boot the same pinned AMI: patches arrive when the pin moves); a node being replaced (drift,
    expiry) is drained for at most 48 hours, so a PodDisruptionBudget or a
    ``karpenter.sh/do-not-disrupt`` pod cannot hold it forever; at most one node of the pool is
    disrupted at a time.

    :param consolidation_policy: Default: ``WHEN_EMPTY``.
    :param consolidate_after: Karpenter duration (``30s``, ``5m``, ``1h30m``) or ``Never``.
        Default: ``5m``.
    :param expire_after: Maximum node lifetime, a duration or ``Never``. Default: ``720h``.
    :param max_disrupted_nodes: Disruption budget, a count or a percentage. Default: ``"1"``.
    :param termination_grace_period: How long Karpenter drains a node it is removing before it
        deletes the remaining pods (NodePool ``terminationGracePeriod``; it overrides PDBs and
        ``do-not-disrupt`` once reached), or ``Never`` to wait for ever. Default: ``48h``.
    """

    consolidation_policy: ConsolidationPolicy = ConsolidationPolicy.WHEN_EMPTY
    # The config file may write these as numbers (maxDisruptedNodes: 1); they are strings.
    consolidate_after: str = field(default="5m", metadata={"numbers_as_text": True})
    expire_after: str = field(default="720h", metadata={"numbers_as_text": True})
    max_disrupted_nodes: str = field(default="1", metadata={"numbers_as_text": True})
    termination_grace_period: str = field(default="48h", metadata={"numbers_as_text": True})

    def __post_init__(self) -> None:
        problems = Problems()
        words = vocabulary()
        check_enum(
            problems,
            "Disruption",
            "consolidation_policy",
            self.consolidation_policy,
            ConsolidationPolicy,
        )
        for name in ("consolidate_after", "expire_after", "termination_grace_period"):
            value = getattr(self, name)
            if not (
                isinstance(value, str)
                and len(value) <= _MAX_DURATION_LENGTH
                and (value == "Never" or _DURATION.fullmatch(value))
            ):
                problems.add(
                    field=words.field("Disruption", name),
                    value=value,
                    rule="Karpenter durations are numbers with s, m or h units, or 'Never'",
                    fix="use e.g. " + words.example(name, '"5m"') + ', "720h" or "Never"',
                )
        value = self.max_disrupted_nodes
        if not (isinstance(value, str) and len(value) <= 9 and _PERCENT_OR_COUNT.fullmatch(value)):
            problems.add(
                field=words.field("Disruption", "max_disrupted_nodes"),
                value=value,
                rule="a disruption budget is a node count or a percentage 0-100%",
                fix="use e.g. " + words.example("max_disrupted_nodes", '"1"') + ' or "10%"',
            )
        problems.raise_if_any()

    def to_dict(self) -> dict[str, Any]:
        """The NodePool ``spec.disruption`` object."""
        return {
            "consolidationPolicy": self.consolidation_policy.value,
            "consolidateAfter": self.consolidate_after,
            "budgets": [{"nodes": self.max_disrupted_nodes}],
        }
