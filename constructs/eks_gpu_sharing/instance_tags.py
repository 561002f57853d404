"""Extra EC2 tags on the instances and volumes Karpenter launches for the GPU pools."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

from .aws_names import tag_key_error, tag_value_error
from .errors import ConfigurationError

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


def check_instance_tags(tags: object, *, field: str) -> Mapping[str, str]:
    """Validate extra instance tags (e.g. cost-allocation tags) and return them read-only."""
    if not isinstance(tags, Mapping):
        raise ConfigurationError(
            field=field,
            value=tags,
            rule="must be a mapping of tag keys to values",
            fix='pass e.g. {"team": "ml"}',
        )
    for key, value in tags.items():
        if reason := tag_key_error(key) or tag_value_error(value):
            raise ConfigurationError(
                field=field,
                value={key: value},
                rule=reason,
                fix='pass e.g. {"team": "ml"}',
            )
        if key in _RESERVED_TAG_KEYS or key.startswith(_RESERVED_TAG_PREFIX):
            raise ConfigurationError(
                field=field,
                value=key,
                rule="Karpenter sets this tag itself and the EC2NodeClass rejects it",
                fix="remove it, or use a key in your own namespace",
            )
    return MappingProxyType(dict(tags))
