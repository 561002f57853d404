"""The NVIDIA GPU instance types Karpenter can launch on AWS: one catalog for every check.

``gpu_instance_types.json`` holds, per instance type, the facts EC2's DescribeInstanceTypes
reports (vCPUs, memory, GPU model, count and memory, architecture) as Karpenter's generated
instance-types reference shows them, and the on-demand price from the pinned Karpenter provider's
static price table (region and date in :attr:`InstanceCatalog.source`). Pool validation, the cost
estimate and the scheduling simulator (which feeds the same file to the AWS provider's own
instance-type code) all read it, so they cannot disagree. ``scripts/update_instance_catalog.py``
regenerates it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from types import MappingProxyType
from typing import Any

from .. import karpenter_api as api

_CATALOG_FILE = "gpu_instance_types.json"
_MIG_FILE = "mig_profiles.json"


@dataclass(frozen=True, order=True)
class GpuModel:
    """One GPU as Karpenter tells them apart: its ``instance-gpu-name`` and the memory of one GPU
    (``instance-gpu-memory``, MiB; for fractional types, of the fraction).

    :param name: e.g. ``a100``.
    :param memory_mib: e.g. ``40960``.
    """

    name: str
    memory_mib: int

    @property
    def memory_gib(self) -> float:
        """The memory in GiB."""
        return self.memory_mib / 1024


@dataclass(frozen=True)
class GpuInstanceType:
    """One NVIDIA GPU instance type.

    :param name: EC2 name, e.g. ``g5.xlarge``.
    :param architecture: ``amd64`` or ``arm64``.
    :param vcpus: vCPUs.
    :param memory_mib: Instance memory in MiB.
    :param gpu_name: Karpenter's ``instance-gpu-name`` label value, e.g. ``a10g``.
    :param gpu_count: GPUs (0 for fractional-GPU types such as g6f, which EC2 reports as 0).
    :param gpu_memory_mib: Memory of one GPU (of the fraction, for fractional types) in MiB.
    :param on_demand_price_per_hour: USD per hour, or None where the static table has no price
        (Karpenter then treats the type as unavailable until it can price it).
    """

    name: str
    architecture: str
    vcpus: int
    memory_mib: int
    gpu_name: str
    gpu_count: int
    gpu_memory_mib: int
    on_demand_price_per_hour: float | None

    @property
    def gpu_model(self) -> GpuModel:
        """Its GPU (or fraction of one) as a model."""
        return GpuModel(self.gpu_name, self.gpu_memory_mib)

    @property
    def family(self) -> str:
        """``g5`` for ``g5.xlarge``."""
        return self.name.split(".", 1)[0]

    @property
    def size(self) -> str:
        """``xlarge`` for ``g5.xlarge``."""
        return self.name.split(".", 1)[1]

    @property
    def labels(self) -> dict[str, str]:
        """The Karpenter well-known labels a node of this type carries (those pools select on)."""
        return {
            api.INSTANCE_CATEGORY: self.category,
            api.INSTANCE_FAMILY: self.family,
            api.INSTANCE_SIZE: self.size,
            api.INSTANCE_GPU_NAME: self.gpu_name,
            api.INSTANCE_GPU_COUNT: str(self.gpu_count),
            api.INSTANCE_GPU_MEMORY: str(self.gpu_memory_mib),
            api.INSTANCE_GPU_MANUFACTURER: "nvidia",
            api.ARCH: self.architecture,
            api.OS: "linux",
        }

    @property
    def category(self) -> str:
        """Karpenter's ``instance-category``: the leading letters (``g``, ``gr``, ``p``)."""
        match = _CATEGORY.match(self.name)
        return match.group(1) if match else ""


# Karpenter's instanceTypeScheme (provider pkg/providers/instancetype/types.go).
_CATEGORY = re.compile(r"(^[a-z]+)(\-[0-9]+tb)?([0-9]+).*\.")


@dataclass(frozen=True)
class InstanceCatalog:
    """All NVIDIA GPU instance types, with where the data and prices come from."""

    instance_types: tuple[GpuInstanceType, ...]
    source: Mapping[str, str]
    document: Mapping[str, Any]

    def get(self, name: str) -> GpuInstanceType | None:
        """The instance type called ``name``, if the catalog has it."""
        return next((t for t in self.instance_types if t.name == name), None)

    @property
    def gpu_names(self) -> tuple[str, ...]:
        """Every ``instance-gpu-name`` value, sorted."""
        return tuple(sorted({t.gpu_name for t in self.instance_types}))

    @property
    def priced_gpu_names(self) -> frozenset[str]:
        """GPU names with at least one whole-GPU instance type that has an on-demand price
        (types without one are unavailable to Karpenter until its first price update)."""
        return frozenset(
            t.gpu_name
            for t in self.instance_types
            if t.gpu_count > 0 and t.on_demand_price_per_hour is not None
        )

    @property
    def families(self) -> tuple[str, ...]:
        """Every instance family with NVIDIA GPUs, sorted."""
        return tuple(sorted({t.family for t in self.instance_types}))

    @property
    def price_note(self) -> str:
        """Where prices come from, for reports: region, table and date."""
        return (
            f"on-demand {self.source['pricesRegion']}, Karpenter's static price table "
            f"(generated {self.source['pricesGeneratedAt'][:10]})"
        )


@cache
def load_catalog() -> InstanceCatalog:
    """The catalog shipped with the package."""
    text = resources.files(__name__).joinpath(_CATALOG_FILE).read_text()
    document = json.loads(text)
    types = tuple(
        GpuInstanceType(
            name=entry["name"],
            architecture=entry["architecture"],
            vcpus=entry["vcpus"],
            memory_mib=entry["memoryMiB"],
            gpu_name=entry["gpu"]["name"],
            gpu_count=entry["gpu"]["count"],
            gpu_memory_mib=entry["gpu"]["memoryMiB"],
            on_demand_price_per_hour=entry["onDemandPricePerHour"],
        )
        for entry in document["instanceTypes"]
    )
    return InstanceCatalog(types, MappingProxyType(dict(document["source"])), document)


@dataclass(frozen=True)
class MigModel:
    """The MIG profiles of one GPU model that a pool can use, and how Bottlerocket names it.

    :param model: The GPU.
    :param bottlerocket_key: The key of ``settings.kubelet-device-plugins.nvidia.mig.profile``.
    :param profiles: Profile name -> instances of it that fit one GPU (all of one profile).
    """

    model: GpuModel
    bottlerocket_key: str
    profiles: Mapping[str, int]


@dataclass(frozen=True)
class MigCatalog:
    """The GPU models MIG pools may use (see ``mig_profiles.json`` for the sources)."""

    models: tuple[MigModel, ...]
    source: Mapping[str, str]

    def get(self, model: GpuModel) -> MigModel | None:
        """The model's MIG data, or None when MIG is not offered for it."""
        return next((m for m in self.models if m.model == model), None)


@cache
def load_mig_catalog() -> MigCatalog:
    """The MIG catalog shipped with the package."""
    document = json.loads(resources.files(__name__).joinpath(_MIG_FILE).read_text())
    models = tuple(
        MigModel(
            model=GpuModel(entry["gpuName"], entry["memoryMiB"]),
            bottlerocket_key=entry["bottlerocketKey"],
            profiles=MappingProxyType(dict(entry["profiles"])),
        )
        for entry in document["models"]
    )
    return MigCatalog(models, MappingProxyType(dict(document["source"])))
