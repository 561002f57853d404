"""The protocol every sharing mode follows, and the registry the config file reads modes from.

A sharing mode owns its rules: its config-file name, its checks against a pool (the AMI family,
release and the GPU models the pool admits), whether it shares GPUs at all (and so needs
NodeOverlays), whether the device plugin needs GPU feature discovery for it, the first
Bottlerocket release whose built-in plugin takes its settings, how it renders for the device
plugin and for Bottlerocket, and how ``estimate`` names it. Nothing else in the library switches
on a mode's type: a new mode is one module with a ``@register_mode`` class.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Final, Self, TypeVar

if TYPE_CHECKING:
    from ..catalog import GpuModel
    from ..pool_options import AmiFamily

#: The extended resource a GPU (or a slice of one) is advertised as.
GPU_RESOURCE: Final = "nvidia.com/gpu"
#: With ``renameByDefault: true`` slices are advertised under this name instead.
SHARED_GPU_RESOURCE: Final = "nvidia.com/gpu.shared"


@dataclass(frozen=True)
class PoolFacts:
    """What a sharing mode may check about the pool it is set on (no dependency on ``GpuPool``).

    :param ami_family: The pool's AMI family.
    :param ami_release: Its pinned AMI release.
    :param gpu_names: The GPU names the pool names (``gpu_names``).
    :param gpu_models: The GPU models of the instance types it admits, sorted.
    :param report: Records a problem: ``report(attribute, value, rule, fix)`` with the pool's
        attribute (``sharing.replicas``, ``ami_family``...), worded for the user by the pool.
    """

    ami_family: AmiFamily
    ami_release: str
    gpu_names: tuple[str, ...]
    gpu_models: tuple[GpuModel, ...]
    report: Callable[[str, object, str, str], None]


class SharingMode:
    """Base of every sharing mode (frozen dataclasses that validate themselves when built).

    Class attributes a mode sets:

    * ``yaml_name``: its ``sharing.mode`` in the config file;
    * ``estimate_name`` and ``estimate_code``: how ``estimate`` reports it (``time-slicing``,
      ``ts4``);
    * ``shares_gpus``: False only for whole GPUs (no NodeOverlay on full instance types, no
      guardrail on slice requests, no NodeOverlay gate needed);
    * ``needs_gpu_feature_discovery``: the device plugin chart must run GFD (and NFD) for it;
    * ``bottlerocket_since``: the first Bottlerocket release whose built-in plugin takes its
      settings, or None;
    * ``dra_capable``: the NVIDIA DRA driver's consumable shares can deliver it (time-sliced
      shares or whole GPUs), so a ``Backend.DRA`` pool may use it.
    """

    yaml_name: ClassVar[str]
    estimate_name: ClassVar[str]
    estimate_code: ClassVar[str]
    shares_gpus: ClassVar[bool] = True
    dra_capable: ClassVar[bool] = False
    needs_gpu_feature_discovery: ClassVar[bool] = False
    bottlerocket_since: ClassVar[str | None] = None

    @property
    def replicas(self) -> int | None:
        """Slices per GPU, or None where the count depends on the GPU model."""
        raise NotImplementedError

    @property
    def rename_by_default(self) -> bool:
        """Whether slices are advertised as ``nvidia.com/gpu.shared``."""
        return False

    @property
    def fail_requests_greater_than_one(self) -> bool:
        """Whether the device plugin refuses a container asking for more than one unit."""
        return False

    @property
    def resource_name(self) -> str:
        """The extended resource a pod requests for one unit."""
        return SHARED_GPU_RESOURCE if self.rename_by_default else GPU_RESOURCE

    @property
    def depends_on_gpu_model(self) -> bool:
        """Whether the units per GPU differ per GPU model (a pool becomes a NodePool per model)."""
        return False

    @property
    def profile_name(self) -> str:
        """Stable name of this exact configuration (the ``eks-gpu-sharing.io/sharing`` label)."""
        raise NotImplementedError

    def slices_for(self, model: GpuModel) -> int:
        """Units per GPU of ``model`` (0: the model cannot take this mode)."""
        raise NotImplementedError

    def for_gpu(self, model: GpuModel) -> Self:
        """The same mode with the count of ``model`` fixed (itself where it does not depend)."""
        return self

    def check_pool(self, pool: PoolFacts) -> None:
        """Report every way this mode does not fit ``pool`` through ``pool.report``."""

    def device_plugin_config(self) -> dict[str, Any]:
        """The NVIDIA device plugin's ``v1`` config document (``api/config/v1``)."""
        raise NotImplementedError

    def device_plugin_node_labels(self) -> dict[str, str]:
        """Labels GPU feature discovery will set on a node of this mode, put on the NodePool
        template so that Karpenter counts the DaemonSets that select them on a new node."""
        return {}

    def bottlerocket_settings(self, model: GpuModel | None = None) -> str:
        """User-data TOML for Bottlerocket's built-in device plugin (``model``: a NodePool's one
        GPU model, for modes whose settings are per model)."""
        raise NotImplementedError


#: The config file's ``sharing.mode`` value of each registered mode, in registration order.
SHARING_MODES: Final[dict[str, type[SharingMode]]] = {}

_Mode = TypeVar("_Mode", bound=type[SharingMode])


def register_mode(cls: _Mode) -> _Mode:
    """Class decorator: make ``cls`` a mode the config file can name (``sharing.mode``)."""
    name = cls.yaml_name
    if name in SHARING_MODES and SHARING_MODES[name] is not cls:
        raise ValueError(f"sharing mode {name!r} is registered twice")
    SHARING_MODES[name] = cls
    return cls


def unregister_mode(cls: type[SharingMode]) -> None:
    """Remove a mode registered with :func:`register_mode` (tests register toy modes)."""
    if SHARING_MODES.get(cls.yaml_name) is cls:
        del SHARING_MODES[cls.yaml_name]
