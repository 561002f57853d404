"""The NVIDIA device plugin's Helm DaemonSet, configured per NodePool by a node label."""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from .base import SharingBackend

if TYPE_CHECKING:
    from ..plan import NodePoolPlan

#: Node label the device plugin's config-manager reads to pick a key of its ConfigMap.
DEVICE_PLUGIN_CONFIG_LABEL: Final = "nvidia.com/device-plugin.config"


class DevicePluginBackend(SharingBackend):
    """AL2023 nodes: the library's device plugin release, whose config-manager reads the
    NodePool's key (``pool-<nodepool>``) of the sharing ConfigMap through a node label."""

    name = "device-plugin"
    runs_device_plugin_daemonset = True

    def node_labels(self, plan: NodePoolPlan) -> dict[str, str]:
        """The config-manager's label, naming the NodePool's ConfigMap key."""
        return {DEVICE_PLUGIN_CONFIG_LABEL: plan.device_plugin_config_key}
