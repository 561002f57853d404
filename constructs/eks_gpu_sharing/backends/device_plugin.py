"""The NVIDIA device plugin's Helm DaemonSet, configured per NodePool by a node label."""

from __future__ import annotations

from typing import Final

from .base import PlannedNodePool, SharingBackend

#: Node label the device plugin's config-manager reads to pick a key of its ConfigMap.
DEVICE_PLUGIN_CONFIG_LABEL: Final = "nvidia.com/device-plugin.config"
#: Namespace of the device plugin release and its ConfigMap (the default).
DEVICE_PLUGIN_NAMESPACE: Final = "nvidia-device-plugin"
#: Helm release name of the device plugin chart (CDK and the documented `helm` line alike).
DEVICE_PLUGIN_RELEASE: Final = "nvidia-device-plugin"


class DevicePluginBackend(SharingBackend):
    """AL2023 nodes: the library's device plugin release, whose config-manager reads the
    NodePool's key (``pool-<nodepool>``) of the sharing ConfigMap through a node label."""

    name = "device-plugin"
    runs_device_plugin_daemonset = True

    def node_labels(self, plan: PlannedNodePool) -> dict[str, str]:
        """The config-manager's label, naming the NodePool's ConfigMap key, and the labels GFD
        will set for the mode (so Karpenter counts the DaemonSets that select them)."""
        return {
            **plan.sharing.device_plugin_node_labels(),
            DEVICE_PLUGIN_CONFIG_LABEL: plan.device_plugin_config_key,
        }
