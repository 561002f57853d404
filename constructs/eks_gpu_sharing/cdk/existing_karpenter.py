"""A Karpenter installation the user already runs, described so GPU pools can target it."""

from __future__ import annotations

from dataclasses import dataclass

from constructs import IDependable

from ..compat import check_karpenter_version, check_node_overlay_gate
from ..errors import ConfigurationError
from ..versions import KUBERNETES_VERSION, parse_version

DISCOVERY_TAG_KEY = "karpenter.sh/discovery"


@dataclass(frozen=True)
class ExistingKarpenter:
    """A Karpenter that is already installed in the cluster (not by this library).

    GPU pools only need three facts from it: the IAM role its nodes use, the discovery tag its
    subnets and security groups carry, and that it can read NodeOverlays.

    :param node_role_name: IAM role *name* Karpenter nodes use (it needs an EC2_LINUX access entry).
    :param discovery_tag_value: Value of the discovery tag on node subnets and security groups.
    :param version: The running Karpenter version, e.g. ``"1.14.1"``.
    :param node_overlay_enabled: Whether ``settings.featureGates.nodeOverlay`` is true. Shared
        (time-sliced or MPS) pools need it; set it only after enabling the gate (see the docs).
        Default: False.
    :param discovery_tag_key: Default: ``karpenter.sh/discovery``.
    """

    node_role_name: str
    discovery_tag_value: str
    version: str
    node_overlay_enabled: bool = False
    discovery_tag_key: str = DISCOVERY_TAG_KEY

    def __post_init__(self) -> None:
        for name in ("node_role_name", "discovery_tag_value", "discovery_tag_key"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value:
                raise ConfigurationError(
                    field=f"ExistingKarpenter.{name}",
                    value=value,
                    rule="must be a non-empty string",
                    fix="pass the value your Karpenter installation uses",
                )
        try:
            parse_version(self.version)
        except (AttributeError, ValueError):
            raise ConfigurationError(
                field="ExistingKarpenter.version",
                value=self.version,
                rule="must be a Karpenter release such as 1.14.1",
                fix="pass the version shown by `helm list -A | grep karpenter`",
            ) from None

    @property
    def chart(self) -> IDependable | None:
        """Nothing to wait for: the user's Karpenter is already running."""
        return None

    def check_supports(
        self, *, needs_node_overlay: bool, kubernetes_version: str = KUBERNETES_VERSION
    ) -> None:
        """Raise ConfigurationError if this Karpenter cannot serve the requested pools."""
        check_karpenter_version(
            self.version,
            kubernetes_version=kubernetes_version,
            needs_node_overlay=needs_node_overlay,
            version_field="ExistingKarpenter.version",
            kubernetes_version_field="GpuSharing.kubernetes_version",
        )
        if needs_node_overlay:
            check_node_overlay_gate(
                self.node_overlay_enabled,
                karpenter_version=self.version,
                field="ExistingKarpenter.node_overlay_enabled",
                then="pass node_overlay_enabled=True",
            )
