"""How a pool's sharing reaches Kubernetes: one backend per module.

A backend turns a NodePool's plan into what the node needs beyond Karpenter's objects: labels
on the NodePool template, user data on the EC2NodeClass, and whether the library's device plugin
DaemonSet serves the node. Today:

* :class:`DevicePluginBackend` (AL2023 pools): the NVIDIA device plugin's Helm DaemonSet picks
  the NodePool's key of one ConfigMap by node label; NodeOverlays tell Karpenter the slices.
* :class:`BottlerocketBackend` (Bottlerocket pools): Bottlerocket's built-in device plugin reads
  the sharing from user data; NodeOverlays as above.

* :class:`DraBackend` (``Backend.DRA`` pools, AL2023): the NVIDIA DRA driver's consumable
  shares; pods ask through ResourceClaims and Karpenter 1.15 counts the shares from an
  EC2NodeClass annotation, no NodeOverlay.

A new backend is one module with a :class:`SharingBackend` and its entry in :func:`backend_for`.
"""

from __future__ import annotations

from ..pool_options import AmiFamily, Backend
from .base import SharingBackend
from .bottlerocket import BottlerocketBackend
from .device_plugin import (
    DEVICE_PLUGIN_CONFIG_LABEL,
    DEVICE_PLUGIN_NAMESPACE,
    DEVICE_PLUGIN_RELEASE,
    DevicePluginBackend,
)
from .dra import DraBackend

__all__ = [
    "DEVICE_PLUGIN_CONFIG_LABEL",
    "DEVICE_PLUGIN_NAMESPACE",
    "DEVICE_PLUGIN_RELEASE",
    "BottlerocketBackend",
    "DevicePluginBackend",
    "DraBackend",
    "SharingBackend",
    "backend_for",
]

_BY_AMI_FAMILY: dict[AmiFamily, SharingBackend] = {
    AmiFamily.AL2023: DevicePluginBackend(),
    AmiFamily.BOTTLEROCKET: BottlerocketBackend(),
}


_DRA: SharingBackend = DraBackend()


def backend_for(ami_family: AmiFamily, backend: Backend = Backend.DEVICE_PLUGIN) -> SharingBackend:
    """The backend that shares the GPUs of a pool of ``ami_family`` (``backend`` chooses the
    DRA driver; the pool's checks refuse it on Bottlerocket)."""
    if backend is Backend.DRA:
        return _DRA
    return _BY_AMI_FAMILY[ami_family]
