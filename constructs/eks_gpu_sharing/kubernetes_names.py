"""The Kubernetes API server's rules for names, label keys and label values.

The same rules kube-apiserver applies (k8s.io/apimachinery pkg/util/validation: IsDNS1123Label,
IsDNS1123Subdomain, IsQualifiedName, IsValidLabelValue), checked here so a bad value is refused
before anything is written rather than by the cluster at deploy time; the tests check that the API
server's own code accepts what passes here. Whole strings only: a trailing newline never passes.
Each function returns why a value is invalid, or None.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Final

from .errors import ConfigurationError

_DNS_LABEL: Final = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
_DNS_SUBDOMAIN: Final = re.compile(
    r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*"
)
_QUALIFIED_NAME: Final = re.compile(r"([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]")
_LABEL_VALUE: Final = re.compile(r"(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?")
# EKS CreateCluster: "The name can contain only alphanumeric characters (case-sensitive), hyphens,
# and underscores. It must start with an alphanumeric character and can't be longer than 100".
_EKS_CLUSTER_NAME: Final = re.compile(r"[0-9A-Za-z][A-Za-z0-9\-_]{0,99}")


def dns_label_error(value: object, *, max_length: int = 63) -> str | None:
    """Namespace and most object names: lowercase letters, digits and '-'."""
    if not isinstance(value, str) or len(value) > max_length or not _DNS_LABEL.fullmatch(value):
        return (
            f"a Kubernetes name here is a DNS label: at most {max_length} lowercase letters, "
            "digits and '-', starting and ending with a letter or digit"
        )
    return None


def dns_subdomain_error(value: object) -> str | None:
    """Object names that may contain dots (service accounts, ConfigMaps)."""
    if not isinstance(value, str) or len(value) > 253 or not _DNS_SUBDOMAIN.fullmatch(value):
        return (
            "a Kubernetes name here is a DNS subdomain: at most 253 lowercase letters, digits, "
            "'-' and '.', each part starting and ending with a letter or digit"
        )
    return None


def label_key_error(key: object) -> str | None:
    """A label (or taint) key: an optional DNS-subdomain prefix and '/', then a name."""
    if isinstance(key, str) and 0 < len(key) <= 316:
        prefix, slash, name = key.rpartition("/")
        name_ok = len(name) <= 63 and bool(_QUALIFIED_NAME.fullmatch(name))
        prefix_ok = not slash or (0 < len(prefix) <= 253 and bool(_DNS_SUBDOMAIN.fullmatch(prefix)))
        if name_ok and prefix_ok:
            return None
    return (
        "a Kubernetes label key is an optional DNS-subdomain prefix and '/', then a name of at "
        "most 63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit"
    )


def label_value_error(value: object) -> str | None:
    """A label (or taint) value: at most 63 characters, may be empty."""
    if not isinstance(value, str) or len(value) > 63 or not _LABEL_VALUE.fullmatch(value):
        return (
            "a Kubernetes label value has at most 63 letters, digits, '-', '_' or '.', starting "
            "and ending with a letter or digit"
        )
    return None


def eks_cluster_name_error(value: object) -> str | None:
    """An EKS cluster name (not a Kubernetes rule, but checked with them)."""
    if not isinstance(value, str) or not _EKS_CLUSTER_NAME.fullmatch(value):
        return (
            "EKS cluster names are 1-100 characters of letters, digits, '-' and '_', starting "
            "with a letter or digit"
        )
    return None


def require_name(
    field: str,
    value: object,
    rule: Callable[[object], str | None] = dns_label_error,
    *,
    fix: str,
) -> None:
    """Raise ConfigurationError naming ``field`` unless ``value`` passes ``rule``."""
    if reason := rule(value):
        raise ConfigurationError(field=field, value=value, rule=reason, fix=fix)
