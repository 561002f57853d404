"""MIG: each GPU partitioned in hardware into instances of one profile (Bottlerocket pools)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from ..catalog import load_mig_catalog
from ..errors import ConfigurationError
from ..pool_options import AmiFamily
from ..vocabulary import vocabulary
from .mode import GPU_RESOURCE, PoolFacts, SharingMode, register_mode

if TYPE_CHECKING:
    from ..catalog import GpuModel

_MIG_PROFILE: Final = re.compile(r"[1-7]g\.[0-9]{1,3}gb", re.ASCII)


@register_mode
@dataclass(frozen=True)
class Mig(SharingMode):
    """Partition each GPU into MIG instances of one ``profile`` (e.g. ``1g.18gb`` on H200: seven
    instances, each with its own memory and compute, isolated in hardware).

    Bottlerocket pools only: its built-in plugin partitions the GPUs at boot
    (``device-partitioning-strategy = "mig"``) and advertises every instance as
    ``nvidia.com/gpu``. The instances per GPU depend on the GPU model (``catalog/
    mig_profiles.json``); a profile a pool's GPU lacks is an error. Not with MPS or time-slicing.

    :param profile: A MIG profile, ``<compute>g.<memory>gb``.
    """

    yaml_name = "mig"
    estimate_name = "mig"
    estimate_code = "mig"
    # Bottlerocket's device-partitioning-strategy = "mig".
    bottlerocket_since = "v1.34.0"

    profile: str

    def __post_init__(self) -> None:
        words = vocabulary()
        if not isinstance(self.profile, str) or not _MIG_PROFILE.fullmatch(self.profile):
            known = sorted({p for m in load_mig_catalog().models for p in m.profiles})
            raise ConfigurationError(
                field=words.field("Mig", "profile"),
                value=self.profile,
                rule="a MIG profile is <compute slices>g.<memory>gb, e.g. 1g.18gb",
                fix=f"use one of {', '.join(known)}",
            )

    @property
    def replicas(self) -> None:
        """No fixed count: it depends on the GPU model (:meth:`slices_for`)."""
        return None

    @property
    def resource_name(self) -> str:
        """MIG instances are advertised as ``nvidia.com/gpu``."""
        return GPU_RESOURCE

    @property
    def depends_on_gpu_model(self) -> bool:
        """Always: the instances per GPU depend on the model."""
        return True

    def slices_for(self, model: GpuModel) -> int:
        """Instances of the profile per GPU of ``model``; 0 if the model lacks it."""
        mig = load_mig_catalog().get(model)
        return mig.profiles.get(self.profile, 0) if mig else 0

    def check_pool(self, pool: PoolFacts) -> None:
        """Bottlerocket only, and every admitted GPU model must have the profile."""
        words = vocabulary()
        if pool.ami_family is not AmiFamily.BOTTLEROCKET:
            pool.report(
                "ami_family",
                pool.ami_family,
                "MIG pools run Bottlerocket, whose built-in device plugin partitions the GPUs at "
                "boot; on AL2023 that takes NVIDIA's MIG manager (GPU Operator), which this "
                "library does not install",
                "use e.g. "
                + words.example(
                    "ami_family", words.choose(python="AmiFamily.BOTTLEROCKET", yaml="Bottlerocket")
                ),
            )
            return
        catalog = load_mig_catalog()
        unsupported = [m for m in pool.gpu_models if catalog.get(m) is None]
        if unsupported:
            offered = ", ".join(
                f"{m.model.name} {m.model.memory_gib:.0f} GiB" for m in catalog.models
            )
            pool.report(
                "sharing",
                self,
                "MIG is offered on "
                + offered
                + " (Bottlerocket names those); the pool also admits "
                + ", ".join(f"{m.name} {m.memory_gib:.0f} GiB" for m in unsupported),
                "narrow the pool to those GPUs (gpu_names, instance_families)",
            )
            return
        lacking = {m: catalog.get(m) for m in pool.gpu_models if self.slices_for(m) == 0}
        if lacking:
            pool.report(
                "sharing.profile",
                self.profile,
                "the pool's GPUs do not all have this MIG profile: "
                + "; ".join(
                    f"{m.name} {m.memory_gib:.0f} GiB has {', '.join(mig.profiles)}"
                    for m, mig in lacking.items()
                    if mig is not None
                ),
                "use a profile every admitted GPU has, or one pool per GPU model",
            )

    @property
    def profile_name(self) -> str:
        """Stable name of this configuration (e.g. ``mig-1g.18gb``)."""
        return f"mig-{self.profile}"

    def device_plugin_config(self) -> dict[str, Any]:
        """The device plugin ``v1`` config for GPUs partitioned into one profile: the
        ``single`` strategy advertises each instance as ``nvidia.com/gpu`` (the library
        partitions through Bottlerocket only, whose built-in plugin does the same)."""
        return {"version": "v1", "flags": {"migStrategy": "single"}}

    def bottlerocket_settings(self, model: GpuModel | None = None) -> str:
        """Bottlerocket user-data TOML that partitions ``model``'s GPUs at boot."""
        mig = load_mig_catalog().get(model) if model else None
        if mig is None:
            raise ValueError(f"no Bottlerocket MIG key for {model}")  # validated before: a bug
        return (
            "[settings.kubelet-device-plugins.nvidia]\n"
            'device-partitioning-strategy = "mig"\n'
            "\n"
            "[settings.kubelet-device-plugins.nvidia.mig.profile]\n"
            f'"{mig.bottlerocket_key}" = "{self.profile}"\n'
        )
