"""Bottlerocket's built-in NVIDIA device plugin, configured by user data."""

from __future__ import annotations

from .base import PlannedNodePool, SharingBackend


class BottlerocketBackend(SharingBackend):
    """Bottlerocket nodes: the OS's own plugin takes the sharing from the EC2NodeClass's user
    data (``[settings.kubelet-device-plugins.nvidia]``); the Helm DaemonSet must not run."""

    name = "bottlerocket"

    def user_data(self, plan: PlannedNodePool) -> str:
        """The settings TOML of the NodePool's sharing (per GPU model for MIG)."""
        return plan.sharing.bottlerocket_settings(plan.gpu_model)
