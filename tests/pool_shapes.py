"""Every pool shape of issue 20 ("the cheapest fleet for every pool shape"), shared by
tests/test_cheapest_fleet.py and scripts/benchmark_simulation.py --shapes. Limits high enough
that they are not what decides."""

from __future__ import annotations

from eks_gpu_sharing import GpuPool, Mig, Mps, NoSharing, TimeSlicing
from eks_gpu_sharing.pool import AmiFamily

SHAPES: dict[str, GpuPool] = {
    "MPS 3, a10g, gpuCounts [1, 4]": GpuPool(
        "mps", sharing=Mps(replicas=3), gpu_names=["a10g"], gpu_counts=[1, 4], gpu_limit=400
    ),
    "time-slicing 4, t4/a10g/l4, gpuCounts [1, 4]": GpuPool(
        "ts",
        sharing=TimeSlicing(replicas=4),
        gpu_names=["t4", "a10g", "l4"],
        gpu_counts=[1, 4],
        gpu_limit=400,
    ),
    "memoryGib 6, t4/a10g/l4/l40s": GpuPool(
        "mem",
        sharing=TimeSlicing(memory_gib=6),
        gpu_names=["t4", "a10g", "l4", "l40s"],
        gpu_limit=400,
    ),
    "MIG 1g.10gb, p5/p4de, gpuCounts [1, 8], Bottlerocket": GpuPool(
        "mig",
        sharing=Mig(profile="1g.10gb"),
        instance_families=["p5", "p4de"],
        gpu_counts=[1, 8],
        ami_family=AmiFamily.BOTTLEROCKET,
        gpu_limit=400,
    ),
    "whole GPUs, a10g, gpuCounts [1, 4]": GpuPool(
        "whole", sharing=NoSharing(), gpu_names=["a10g"], gpu_counts=[1, 4], gpu_limit=400
    ),
    "fractional and whole L4 (g6f, g6), gpuCounts [0, 1]": GpuPool(
        "l4any", instance_families=["g6", "g6f"], gpu_counts=[0, 1], gpu_limit=400
    ),
}
#: The shapes Karpenter fills at the cheapest fleet at every pod count (no synth warning).
AT_THE_OPTIMUM = frozenset(
    {
        "MPS 3, a10g, gpuCounts [1, 4]",
        "time-slicing 4, t4/a10g/l4, gpuCounts [1, 4]",
        "whole GPUs, a10g, gpuCounts [1, 4]",
    }
)
