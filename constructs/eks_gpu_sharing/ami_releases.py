"""Which EKS-optimized AMI releases a pool may pin, for which Kubernetes versions.

Karpenter resolves ``amiSelectorTerms: [{alias: <family>@<release>}]`` to the AMI of that
release *for the cluster's Kubernetes version* (an SSM parameter per version). A release older
than a Kubernetes minor has no AMI for it, so after a control-plane upgrade the EC2NodeClass
stops resolving and the pool launches nothing; a release newer than a minor's end of support has
none either. So the pin moves with every Kubernetes minor upgrade, and these tables say, per
minor, the first release that has its NVIDIA AMIs and, where known, the first that no longer has
them. Sources (read in November 2026):

* AL2023: ``CHANGELOG.md`` of awslabs/amazon-eks-ami, which lists each release's AMI names
  (``amazon-eks-node-al2023-x86_64-nvidia-<minor>-<release>``); the newest release it lists is
  v20260714.
* Bottlerocket: the release notes of bottlerocket-os/bottlerocket ("Add new Kubernetes 1.36
  variants" in v1.61.0, 1.35 in v1.53.0, 1.34 in v1.47.0, 1.33 in v1.39.0; "Remove
  ``aws-k8s-1.29`` variants" in v1.58.0). v1.63.0 was released on 2026-07-06 (pull request
  #4876).

Minors missing from a table are not checked (the tables start where the sources could be read).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from .pool_options import AmiFamily

_AL2023_RELEASE: Final = re.compile(r"v(20[0-9]{6})")
_BOTTLEROCKET_RELEASE: Final = re.compile(r"v([0-9]{1,3})\.([0-9]{1,3})\.([0-9]{1,3})")


@dataclass(frozen=True)
class Support:
    """The releases of one AMI family that carry a Kubernetes minor's NVIDIA AMIs."""

    #: The first release with them, if known.
    first: str | None
    #: The first release without them again (support ended), if known.
    ended: str | None = None


#: awslabs/amazon-eks-ami CHANGELOG.md: the first release listing a minor's AL2023 NVIDIA AMIs
#: (minors older than 1.32 predate the changelog's AMI tables) and, for 1.29, the first release
#: after the last one listing them.
AL2023_SUPPORT: Final = {
    "1.29": Support(None, ended="v20260403"),
    "1.32": Support("v20241225"),
    "1.33": Support("v20250519"),
    "1.34": Support("v20250915"),
    "1.35": Support("v20260114"),
    "1.36": Support("v20260610"),
}
#: bottlerocket-os/bottlerocket release notes.
BOTTLEROCKET_SUPPORT: Final = {
    "1.29": Support(None, ended="v1.58.0"),
    "1.33": Support("v1.39.0"),
    "1.34": Support("v1.47.0"),
    "1.35": Support("v1.53.0"),
    "1.36": Support("v1.61.0"),
}


def release_format_error(family: AmiFamily, release: object) -> str | None:
    """Why ``release`` is not a release of ``family`` (``v20260714``, ``v1.63.0``), or None."""
    pattern = _AL2023_RELEASE if family is AmiFamily.AL2023 else _BOTTLEROCKET_RELEASE
    if isinstance(release, str) and pattern.fullmatch(release):
        return None
    example = "v20260714" if family is AmiFamily.AL2023 else "v1.63.0"
    return (
        f"a {family.value} AMI release looks like {example!r}; 'latest' is not accepted because "
        "it replaces every node whenever AWS publishes an AMI"
    )


def kubernetes_support_error(
    family: AmiFamily, release: str, kubernetes_version: str
) -> str | None:
    """Why ``release`` has no NVIDIA AMI for ``kubernetes_version``, or None (also when the
    tables do not know that minor)."""
    support = (AL2023_SUPPORT if family is AmiFamily.AL2023 else BOTTLEROCKET_SUPPORT).get(
        kubernetes_version
    )
    if support is None or release_format_error(family, release):
        return None
    key = _sort_key(family)
    if support.first is not None and key(release) < key(support.first):
        return (
            f"{family.value} {release} has no Kubernetes {kubernetes_version} NVIDIA AMI: the "
            f"first release with one is {support.first}"
        )
    if support.ended is not None and key(release) >= key(support.ended):
        return (
            f"{family.value} {release} no longer has a Kubernetes {kubernetes_version} AMI "
            f"(the last release with one came before {support.ended})"
        )
    return None


def _sort_key(family: AmiFamily) -> Callable[[str], tuple[int, ...]]:
    """Release order: AL2023 releases are dates, Bottlerocket's semantic versions."""
    if family is AmiFamily.AL2023:
        return lambda release: (int(release[1:]),)
    return lambda release: tuple(int(part) for part in release[1:].split("."))


def release_at_least(family: AmiFamily, release: str, first: str) -> bool:
    """Whether ``release`` (a well-formed release of ``family``) is ``first`` or later."""
    key = _sort_key(family)
    return key(release) >= key(first)
