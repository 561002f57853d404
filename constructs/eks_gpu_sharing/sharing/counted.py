"""What time-slicing and MPS have in common: a count of shares per GPU, or a memory size."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Self

from .checks import MIN_SLICES, slices_by_memory
from .mode import PoolFacts, SharingMode

if TYPE_CHECKING:
    from ..catalog import GpuModel


class CountedShares(SharingMode):
    """``replicas`` shares per GPU or as many ``memory_gib`` shares as fit each GPU model,
    advertised as ``nvidia.com/gpu`` or, renamed, ``nvidia.com/gpu.shared``.

    A subclass is a frozen dataclass with the fields ``replicas``, ``rename_by_default`` and
    ``memory_gib``, and says how many shares a GPU model takes (:meth:`max_slices_for`).
    """

    replicas: int | None
    rename_by_default: bool
    memory_gib: int | None

    @property
    def depends_on_gpu_model(self) -> bool:
        """Whether the count differs per GPU model (with ``memory_gib``)."""
        return self.memory_gib is not None

    def max_slices_for(self, model: GpuModel) -> int:
        """The most shares the device plugin allows on one GPU of ``model``."""
        raise NotImplementedError

    def slices_for(self, model: GpuModel) -> int:
        """Shares per GPU of ``model``."""
        if self.memory_gib is not None:
            return slices_by_memory(model, self.memory_gib)
        assert self.replicas is not None
        return self.replicas

    def for_gpu(self, model: GpuModel) -> Self:
        """The same sharing with the count of ``model`` as ``replicas`` (itself if given)."""
        if self.memory_gib is None:
            return self
        # Only dataclasses derive from this class; mypy cannot know that of ``Self``.
        return replace(self, replicas=self.slices_for(model), memory_gib=None)  # type: ignore[type-var]

    def check_pool(self, pool: PoolFacts) -> None:
        """With ``memory_gib``, every GPU model the pool admits must take 2 or more shares of
        that size and no more than the device plugin allows."""
        if self.memory_gib is None:
            return
        bad = {}
        for model in pool.gpu_models:
            limit = self.max_slices_for(model)
            count = self.slices_for(model)
            if not MIN_SLICES <= count <= limit:
                bad[f"{model.name} ({model.memory_gib:.1f} GiB)"] = (count, limit)
        if bad:
            described = "; ".join(
                f"{name}: {count} slice(s), allowed {MIN_SLICES}..{limit}"
                for name, (count, limit) in bad.items()
            )
            pool.report(
                "sharing.memory_gib",
                self.memory_gib,
                f"each GPU model must hold {MIN_SLICES} or more slices of this size (fewer is no "
                f"sharing) and no more than the device plugin allows: {described}",
                "change the size, or leave those models out (gpu_names, instance_families, "
                "instance_sizes)",
            )
