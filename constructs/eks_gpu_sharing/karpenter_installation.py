"""What GPU pools need from a Karpenter installation: one interface, two implementations.

GPU pools need five facts from Karpenter: the IAM role its nodes run with, the tag its subnets
and security groups are discovered by, its version, whether its NodeOverlay feature gate is on,
and what to wait for before creating NodePools. :class:`IKarpenter` names them, the way
aws-cdk-lib passes ``eks.ICluster``. The ``Karpenter`` construct implements it (it installs
Karpenter), :class:`ExistingKarpenter` describes one you already run, and the config file builds
an ``ExistingKarpenter``. This module is pure data: no AWS CDK import.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Final, Protocol, runtime_checkable

from .aws_names import (
    iam_role_name_error,
    is_cdk_token,
    tag_key_error,
    tag_value_error,
    token_literal_error,
)
from .errors import Problems, check_bool
from .karpenter_compatibility import (
    RUNNING_VERSION_FIX,
    check_dra_support,
    check_karpenter_version,
    check_node_overlay_gate,
    karpenter_release_error,
)
from .versions import KUBERNETES_VERSION
from .vocabulary import vocabulary

if TYPE_CHECKING:
    # Only a type: the data side of the library never loads jsii (and so never starts Node).
    from constructs import IDependable

#: The tag Karpenter's getting-started guide puts on the cluster's subnets and security groups.
DISCOVERY_TAG_KEY: Final = "karpenter.sh/discovery"


@runtime_checkable
class IKarpenter(Protocol):
    """A Karpenter installation GPU pools can be added to."""

    @property
    def node_role_name(self) -> str:
        """IAM role *name* of the nodes Karpenter launches (``EC2NodeClass.spec.role``)."""
        ...

    @property
    def discovery_tag_key(self) -> str:
        """Tag key Karpenter finds node subnets and security groups by."""
        ...

    @property
    def discovery_tag_value(self) -> str:
        """Value of that tag."""
        ...

    @property
    def version(self) -> str:
        """Karpenter's version, e.g. ``1.14.1``."""
        ...

    @property
    def node_overlay_enabled(self) -> bool:
        """Whether the ``NodeOverlay`` feature gate is on (shared pools need it)."""
        ...

    @property
    def dra_enabled(self) -> bool:
        """Whether Karpenter's ``DRANVIDIAGPU`` gate is on (``Backend.DRA`` pools need it)."""
        ...

    @property
    def chart(self) -> IDependable | None:
        """What Karpenter objects must be created after (its Helm release); None if running."""
        ...

    def check_supports(
        self,
        *,
        needs_node_overlay: bool,
        kubernetes_version: str = KUBERNETES_VERSION,
        kubernetes_version_field: str = "GpuSharing.kubernetes_version",
        needs_dra: bool = False,
    ) -> None:
        """Raise ConfigurationError if this Karpenter cannot serve the pools on that Kubernetes."""
        ...


@dataclass(frozen=True)
class ExistingKarpenter:
    """A Karpenter that is already installed in the cluster (not by this library).

    :param node_role_name: IAM role *name* Karpenter nodes use (it needs an EC2_LINUX access entry).
    :param discovery_tag_value: Value of the discovery tag on node subnets and security groups.
    :param version: The running Karpenter version, e.g. ``"1.14.1"``.
    :param node_overlay_enabled: Whether ``settings.featureGates.nodeOverlay`` is true. Shared
        (time-sliced or MPS) pools need it; set it only after enabling the gate (see the docs).
        Default: False.
    :param dra_enabled: Whether Karpenter's ``DRANVIDIAGPU`` gate is on
        (``settings.awsFeatureGates.draNVIDIAGPU`` or ``settings.enableDRA``, Karpenter 1.15+).
        ``Backend.DRA`` pools need it. Default: False.
    :param discovery_tag_key: Default: ``karpenter.sh/discovery``.
    """

    node_role_name: str
    discovery_tag_value: str
    version: str
    node_overlay_enabled: bool = False
    discovery_tag_key: str = DISCOVERY_TAG_KEY
    dra_enabled: bool = False

    def __post_init__(self) -> None:
        problems = Problems()
        words = vocabulary()
        role = self.node_role_name
        is_arn = (
            isinstance(role, str)
            and (role.startswith("arn:") or "/" in role)
            and not is_cdk_token(role)
        )
        for name, reason in (
            ("node_role_name", None if is_arn else iam_role_name_error(role)),
            ("discovery_tag_key", tag_key_error(self.discovery_tag_key)),
            ("discovery_tag_value", tag_value_error(self.discovery_tag_value, allow_empty=False)),
        ):
            # A CDK token (e.g. a role created in the same app) is known only at deploy time:
            # only the text around it can be checked (no whitespace or control characters).
            value = getattr(self, name)
            if reason and is_cdk_token(value):
                reason = token_literal_error(value)
            if reason:
                problems.add(
                    field=words.field("ExistingKarpenter", name),
                    value=getattr(self, name),
                    rule=reason,
                    fix="use the value your Karpenter installation uses",
                )
        if is_arn:
            problems.add(
                field=words.field("ExistingKarpenter", "node_role_name"),
                value=role,
                rule="EC2NodeClass.spec.role takes an IAM role name, not an ARN or path",
                fix="use the role name only, e.g. "
                + words.example("node_role_name", '"KarpenterNodeRole-my-cluster"'),
            )
        for gate in ("node_overlay_enabled", "dra_enabled"):
            check_bool(
                problems,
                "ExistingKarpenter",
                gate,
                getattr(self, gate),
                when=" once the gate is on",
            )
        if reason := karpenter_release_error(self.version):
            problems.add(
                field=words.field("ExistingKarpenter", "version"),
                value=self.version,
                rule=reason,
                fix=RUNNING_VERSION_FIX,
            )
        problems.raise_if_any()

    @property
    def chart(self) -> IDependable | None:
        """Nothing to wait for: the user's Karpenter is already running."""
        return None

    def check_supports(
        self,
        *,
        needs_node_overlay: bool,
        kubernetes_version: str = KUBERNETES_VERSION,
        kubernetes_version_field: str = "GpuSharing.kubernetes_version",
        needs_dra: bool = False,
    ) -> None:
        """Raise ConfigurationError if this Karpenter cannot serve the requested pools."""
        words = vocabulary()
        check_karpenter_version(
            self.version,
            kubernetes_version=kubernetes_version,
            needs_node_overlay=needs_node_overlay,
            version_field=words.field("ExistingKarpenter", "version"),
            kubernetes_version_field=kubernetes_version_field,
        )
        if needs_node_overlay:
            check_node_overlay_gate(
                self.node_overlay_enabled,
                karpenter_version=self.version,
                field=words.field("ExistingKarpenter", "node_overlay_enabled"),
                then=_say_it_is_on("node_overlay_enabled"),
            )
        if needs_dra:
            check_dra_support(
                self.version,
                enabled=self.dra_enabled,
                version_field=words.field("ExistingKarpenter", "version"),
                enabled_field=words.field("ExistingKarpenter", "dra_enabled"),
                then=_say_it_is_on("dra_enabled"),
            )


def _say_it_is_on(gate: str) -> str:
    """How to tell the library a gate of your Karpenter is on: ``pass dra_enabled=True`` from
    Python, ``set draEnabled: true`` in the file."""
    words = vocabulary()
    then = words.example(gate, words.choose(python="True", yaml="true"))
    return words.choose(python=f"pass {then}", yaml=f"set {then}")
