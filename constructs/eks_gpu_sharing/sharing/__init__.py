"""How a pool's GPUs are shared: NVIDIA time-slicing, MPS, MIG, or not at all.

Each sharing mode is a frozen value object in its own module, following the protocol of
:class:`SharingMode` (``mode.py``). It validates itself against the NVIDIA device plugin's own
rules (``api/config/v1`` of k8s-device-plugin v0.20.0; the tests load every profile with the
plugin's loader) and renders the two forms the plugin is configured in: a v1 config file
(AL2023 nodes, Helm chart + ConfigMap) and Bottlerocket user-data TOML (Bottlerocket ships its
own device plugin).

Time-slicing and MPS take a fixed number of slices per GPU (``replicas``) or a memory size per
slice (``memory_gib``); MIG takes a profile. With ``memory_gib`` or MIG the slices per GPU depend
on the GPU model, so a pool is rendered as one NodePool per model (see :mod:`..plan`), each with
the sharing resolved for its GPU by :meth:`SharingMode.for_gpu`.

A new mode is one module whose class derives from :class:`SharingMode` and carries
``@register_mode``; import it here so the config file knows its name.
"""

from __future__ import annotations

from typing import Final

from .checks import MAX_SLICE_MEMORY_GIB
from .mig import Mig
from .mode import (
    GPU_RESOURCE,
    SHARED_GPU_RESOURCE,
    SHARING_MODES,
    PoolFacts,
    SharingMode,
    register_mode,
    unregister_mode,
)
from .mps import (
    GPUS_BELOW_COMPUTE_7_5,
    MPS_CAPABLE_LABEL,
    MPS_MAX_REPLICAS,
    MPS_MAX_REPLICAS_BELOW_COMPUTE_7_5,
    Mps,
    max_mps_clients,
)
from .none import NoSharing
from .time_slicing import TIME_SLICING_MAX_REPLICAS, TimeSlicing

#: Any sharing mode (the built-in ones and those registered later).
Sharing = SharingMode

#: The profile every GPU node falls back to when it carries no config label.
DEFAULT_PROFILE: Final = NoSharing()

__all__ = [
    "DEFAULT_PROFILE",
    "GPUS_BELOW_COMPUTE_7_5",
    "GPU_RESOURCE",
    "MAX_SLICE_MEMORY_GIB",
    "MPS_CAPABLE_LABEL",
    "MPS_MAX_REPLICAS",
    "MPS_MAX_REPLICAS_BELOW_COMPUTE_7_5",
    "SHARED_GPU_RESOURCE",
    "SHARING_MODES",
    "TIME_SLICING_MAX_REPLICAS",
    "Mig",
    "Mps",
    "NoSharing",
    "PoolFacts",
    "Sharing",
    "SharingMode",
    "TimeSlicing",
    "max_mps_clients",
    "register_mode",
    "unregister_mode",
]
