"""Can this Karpenter serve these pools on this Kubernetes? One rule set for every entry point.

Used by the ``Karpenter`` construct, ``ExistingKarpenter`` and the config file, so the same bad
value gets the same error wherever it is written.
"""

from __future__ import annotations

import re
from typing import Final

from .errors import ConfigurationError
from .versions import (
    KARPENTER_DRA_MINIMUM,
    KARPENTER_MINIMUM_FOR_KUBERNETES,
    KARPENTER_NODE_OVERLAY_MINIMUM,
    KARPENTER_VERSION,
    enable_dra_hint,
    enable_node_overlay_hint,
    parse_version,
)

#: A Karpenter release as its chart and image are tagged: MAJOR.MINOR.PATCH, no leading "v".
RELEASE: Final = re.compile(r"[0-9]{1,4}\.[0-9]{1,4}\.[0-9]{1,4}(-[0-9A-Za-z.-]{1,32})?")


#: How to find the version of a running Karpenter (the fix of a malformed one).
RUNNING_VERSION_FIX: Final = "use the chart version shown by `helm list -A | grep karpenter`"


def karpenter_release_error(version: object) -> str | None:
    """Why ``version`` is not a Karpenter release number, or None: the one format rule for every
    Karpenter version the library takes (``ExistingKarpenter``, ``Karpenter``, the file)."""
    if isinstance(version, str) and RELEASE.fullmatch(version):
        return None
    return (
        "must be a Karpenter release number: MAJOR.MINOR.PATCH with no leading 'v', as its "
        "chart is tagged (e.g. 1.14.1)"
    )


def check_karpenter_version(
    version: str,
    *,
    kubernetes_version: str,
    needs_node_overlay: bool,
    version_field: str,
    kubernetes_version_field: str,
    release_fix: str = RUNNING_VERSION_FIX,
) -> None:
    """Every rule on a Karpenter version, in one place: its format, the compatibility matrix
    for ``kubernetes_version`` and, if needed, NodeOverlay support (``release_fix``: what to do
    about a malformed version)."""
    supported = ", ".join(KARPENTER_MINIMUM_FOR_KUBERNETES)
    if kubernetes_version not in KARPENTER_MINIMUM_FOR_KUBERNETES:
        raise ConfigurationError(
            field=kubernetes_version_field,
            value=kubernetes_version,
            rule=f"the Karpenter compatibility matrix knows Kubernetes {supported}",
            fix=f"use one of {supported}",
        )
    if reason := karpenter_release_error(version):
        raise ConfigurationError(field=version_field, value=version, rule=reason, fix=release_fix)
    parsed = parse_version(version)
    minimum = KARPENTER_MINIMUM_FOR_KUBERNETES[kubernetes_version]
    if parsed < parse_version(minimum):
        raise ConfigurationError(
            field=version_field,
            value=version,
            rule=f"Kubernetes {kubernetes_version} needs Karpenter >= {minimum} "
            "(Karpenter compatibility matrix)",
            fix=f"use Karpenter {minimum} or later (this library is tested with "
            f"{KARPENTER_VERSION})",
        )
    if needs_node_overlay and parsed < parse_version(KARPENTER_NODE_OVERLAY_MINIMUM):
        raise ConfigurationError(
            field=version_field,
            value=version,
            rule=f"NodeOverlay, which makes Karpenter count GPU slices, needs Karpenter >= "
            f"{KARPENTER_NODE_OVERLAY_MINIMUM}",
            fix=f"use Karpenter {KARPENTER_NODE_OVERLAY_MINIMUM} or later (tested: "
            f"{KARPENTER_VERSION}), or NoSharing() pools only",
        )


def check_node_overlay_gate(
    enabled: bool, *, karpenter_version: str, field: str, then: str
) -> None:
    """Shared pools need the NodeOverlay feature gate; ``then`` says how to confirm it is on."""
    if not enabled:
        raise ConfigurationError(
            field=field,
            value=enabled,
            rule="shared GPU pools need Karpenter's NodeOverlay feature gate, or Karpenter "
            "launches one GPU per pending pod",
            fix=f"{enable_node_overlay_hint(karpenter_version)}, then {then}",
        )


def check_dra_support(
    version: str, *, enabled: bool, version_field: str, enabled_field: str, then: str
) -> None:
    """A ``Backend.DRA`` pool needs Karpenter >= 1.15 with its ``DRANVIDIAGPU`` gate on (which
    also sets ``IGNORE_DRA_REQUESTS=false``): without it Karpenter ignores the pods' claims and
    launches nodes as if they asked for nothing (``then``: how to confirm the gate)."""
    if parse_version(version) < parse_version(KARPENTER_DRA_MINIMUM):
        raise ConfigurationError(
            field=version_field,
            value=version,
            rule=f"DRA pools need Karpenter >= {KARPENTER_DRA_MINIMUM}, the first release that "
            "provisions for pods' ResourceClaims",
            fix=f"upgrade Karpenter to {KARPENTER_VERSION}, or use the device-plugin backend",
        )
    if not enabled:
        raise ConfigurationError(
            field=enabled_field,
            value=enabled,
            rule="DRA pools need Karpenter's DRANVIDIAGPU feature gate: without it Karpenter "
            "ignores the pods' ResourceClaims and launches nodes that fit no claim",
            fix=f"{enable_dra_hint(version)}, then {then}",
        )
