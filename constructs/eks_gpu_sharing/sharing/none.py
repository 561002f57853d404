"""Whole GPUs: one pod per physical GPU, the device plugin's default."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .mode import SharingMode, register_mode

if TYPE_CHECKING:
    from ..catalog import GpuModel


@register_mode
@dataclass(frozen=True)
class NoSharing(SharingMode):
    """Whole GPUs: one pod per physical GPU (the device plugin's default behaviour)."""

    yaml_name = "none"
    estimate_name = "whole GPU"
    estimate_code = "whole"
    shares_gpus = False
    dra_capable = True

    @property
    def replicas(self) -> int:
        """One schedulable unit per physical GPU."""
        return 1

    def slices_for(self, model: GpuModel) -> int:
        """One per GPU."""
        return 1

    @property
    def profile_name(self) -> str:
        """ConfigMap key of the unshared profile."""
        return "exclusive"

    def device_plugin_config(self) -> dict[str, Any]:
        """A v1 config document with no sharing section."""
        return {"version": "v1", "flags": {"migStrategy": "none"}}

    def bottlerocket_settings(self, model: GpuModel | None = None) -> str:
        """Bottlerocket user-data TOML that keeps GPUs unshared."""
        return '[settings.kubelet-device-plugins.nvidia]\ndevice-sharing-strategy = "none"\n'
