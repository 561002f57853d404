"""Names of the NodePools a pool becomes: ``<pool>-<gpu>`` per GPU model where slices differ
per model, and ``<name>-<n>gpu`` per GPU count where a pool admits several."""

from __future__ import annotations

from collections.abc import Sequence

from .catalog import GpuModel


def names_per_gpu_model(pool_name: str, models: Sequence[GpuModel]) -> dict[GpuModel, str]:
    """``<pool>-<gpu>``; ``<pool>-<gpu>-<GiB>g`` where one GPU name comes in several sizes
    (A100 40 and 80 GB; L4 and its g6f fractions). One model keeps the pool's own name."""
    if len(models) == 1:
        return {models[0]: pool_name}
    sizes: dict[str, int] = {}
    for model in models:
        sizes[model.name] = sizes.get(model.name, 0) + 1
    return {
        model: f"{pool_name}-{model.name}"
        + (f"-{model.memory_mib // 1024}g" if sizes[model.name] > 1 else "")
        for model in models
    }


def name_per_gpu_count(name: str, count: int) -> str:
    """``<name>-<n>gpu``; ``<name>-fraction`` for fractional-GPU types (count 0)."""
    return f"{name}-{count}gpu" if count > 0 else f"{name}-fraction"
