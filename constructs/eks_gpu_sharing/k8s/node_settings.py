"""What the EC2NodeClasses of the GPU pools need to know about the Karpenter installation."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Final

from ..errors import ConfigurationError

#: The tag Karpenter's getting-started guide puts on the cluster's subnets and security groups.
DEFAULT_DISCOVERY_TAG_KEY: Final = "karpenter.sh/discovery"

# EC2 tag keys Karpenter sets itself; the EC2NodeClass CRD rejects them in spec.tags.
_RESERVED_TAG_KEYS: Final = frozenset(
    {
        "karpenter.sh/nodepool",
        "karpenter.sh/nodeclaim",
        "karpenter.k8s.aws/ec2nodeclass",
        "eks:eks-cluster-name",
    }
)
_RESERVED_TAG_PREFIX: Final = "kubernetes.io/cluster"


def is_token(value: str) -> bool:
    """True when ``value`` is an unresolved AWS CDK token (its value is known at deploy time)."""
    return "${Token[" in value


@dataclass(frozen=True)
class KarpenterNodeSettings:
    """What EC2NodeClasses need from the Karpenter installation.

    :param node_role: IAM role *name* the nodes run with (Karpenter creates the instance profile).
        May be an AWS CDK token.
    :param discovery_tag_value: Value of the discovery tag on the cluster's subnets and security
        groups, usually the cluster name. May be an AWS CDK token.
    :param discovery_tag_key: Key of that tag. Default: ``karpenter.sh/discovery``.
    :param tags: Extra EC2 tags on the instances and volumes Karpenter launches. Default: none.
    """

    node_role: str
    discovery_tag_value: str
    discovery_tag_key: str = DEFAULT_DISCOVERY_TAG_KEY
    tags: Mapping[str, str] = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        for name in ("node_role", "discovery_tag_value", "discovery_tag_key"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value.strip():
                raise ConfigurationError(
                    field=f"KarpenterNodeSettings.{name}",
                    value=value,
                    rule="must be a non-empty string",
                    fix="pass the node role name and the subnets' discovery tag",
                )
        if not is_token(self.node_role) and (
            self.node_role.startswith("arn:") or "/" in self.node_role
        ):
            raise ConfigurationError(
                field="KarpenterNodeSettings.node_role",
                value=self.node_role,
                rule="EC2NodeClass.spec.role takes an IAM role name, not an ARN or path",
                fix="pass the role name only, e.g. role.role_name",
            )
        if not isinstance(self.tags, Mapping):
            raise ConfigurationError(
                field="KarpenterNodeSettings.tags",
                value=self.tags,
                rule="must be a mapping of tag keys to values",
                fix='pass e.g. tags={"team": "ml"}',
            )
        for key, value in self.tags.items():
            if not isinstance(key, str) or not isinstance(value, str) or not key:
                raise ConfigurationError(
                    field="KarpenterNodeSettings.tags",
                    value={key: value},
                    rule="tag keys and values are strings, keys non-empty",
                    fix='pass e.g. tags={"team": "ml"}',
                )
            if key in _RESERVED_TAG_KEYS or key.startswith(_RESERVED_TAG_PREFIX):
                raise ConfigurationError(
                    field="KarpenterNodeSettings.tags",
                    value=key,
                    rule="Karpenter sets this tag itself and the EC2NodeClass rejects it",
                    fix="remove it, or use a key in your own namespace",
                )
        object.__setattr__(self, "tags", MappingProxyType(dict(self.tags)))
