"""A Karpenter installation the user already runs, described so GPU pools can target it."""

from __future__ import annotations

from dataclasses import dataclass

from constructs import IDependable

from ..errors import ConfigurationError
from ..versions import (
    KARPENTER_MINIMUM_FOR_KUBERNETES,
    KARPENTER_NODE_OVERLAY_MINIMUM,
    KUBERNETES_VERSION,
    enable_node_overlay_hint,
    parse_version,
)

DISCOVERY_TAG_KEY = "karpenter.sh/discovery"


@dataclass(frozen=True)
class ExistingKarpenter:
    """A Karpenter that is already installed in the cluster (not by this library).

    GPU pools only need three facts from it: the IAM role its nodes use, the discovery tag its
    subnets and security groups carry, and that it can read NodeOverlays.

    :param node_role_name: IAM role *name* Karpenter nodes use (it needs an EC2_LINUX access entry).
    :param discovery_tag_value: Value of the discovery tag on node subnets and security groups.
    :param version: The running Karpenter version, e.g. ``"1.14.1"``.
    :param node_overlay_enabled: Whether ``settings.featureGates.nodeOverlay`` is true. Time-sliced
        pools need it; set it only after enabling the gate (see the docs).
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
        version = parse_version(self.version)
        minimum = KARPENTER_MINIMUM_FOR_KUBERNETES.get(kubernetes_version)
        if minimum and version < parse_version(minimum):
            raise ConfigurationError(
                field="ExistingKarpenter.version",
                value=self.version,
                rule=f"Kubernetes {kubernetes_version} needs Karpenter >= {minimum} "
                "(Karpenter compatibility matrix)",
                fix=f"upgrade Karpenter to {minimum} or later",
            )
        if not needs_node_overlay:
            return
        if version < parse_version(KARPENTER_NODE_OVERLAY_MINIMUM):
            raise ConfigurationError(
                field="ExistingKarpenter.version",
                value=self.version,
                rule=f"NodeOverlay, which makes Karpenter count GPU slices, needs Karpenter >= "
                f"{KARPENTER_NODE_OVERLAY_MINIMUM}",
                fix=f"upgrade Karpenter to {KARPENTER_NODE_OVERLAY_MINIMUM} or later, or use "
                "NoSharing() pools only",
            )
        if not self.node_overlay_enabled:
            raise ConfigurationError(
                field="ExistingKarpenter.node_overlay_enabled",
                value=self.node_overlay_enabled,
                rule="shared GPU pools need Karpenter's NodeOverlay feature gate, or Karpenter "
                "launches one GPU per pending pod",
                fix=enable_node_overlay_hint(self.version)
                + ", then pass node_overlay_enabled=True",
            )
