"""How many pods of one workload share a GPU, which way, why, and at what risk.

The rules are deliberately simple and written out, so a reader can redo them by hand:

* **memory-bound factor** = floor(usable GPU memory / (memory per pod + one CUDA context)), with
  ``MEMORY_HEADROOM`` of the GPU kept free: nothing stops one time-sliced pod from taking more;
* **compute-bound factor** = floor(``BUSY_TARGET`` / busy share): the pods' p95 busy time together
  stays below ``BUSY_TARGET`` of the GPU, the rest absorbs bursts;
* the factor is the smaller of the two, at most ``max_share`` (the blast radius of one GPU fault);
  below 2 the workload keeps whole GPUs;
* a **latency-sensitive** workload is never time-sliced: with four busy processes on one GPU
  each small step took 3.6x as long as alone on an H200
  (``docs/measurements/h200-sharing-benchmark.json``), while under MPS it stayed within 1.6x;
  it shares through MPS, whose per-client memory limit is the GPU's memory / factor (the
  factor's memory rule already leaves each pod that much).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Final

from ..catalog import GpuModel, load_catalog
from ..sharing import Mps, NoSharing, Sharing, SharingMode, TimeSlicing, max_mps_clients
from .workloads import Workload

#: Share of GPU memory kept free (fragmentation, allocator caches, a pod's growth).
MEMORY_HEADROOM: Final = 0.10
#: GPU memory each CUDA context takes besides the pod's own data, GiB (about 0.3-0.5 GiB on
#: recent drivers; rounded up).
CUDA_CONTEXT_GIB: Final = 0.5
#: The pods' combined p95 busy time stays below this share of the GPU.
BUSY_TARGET: Final = 0.70
#: Default most pods per GPU: one Xid error or driver reset stops them all.
MAX_SHARE: Final = 8
#: Frameworks reserve GPU memory at start unless told otherwise: TensorFlow maps nearly all of
#: it, JAX 75% (XLA_PYTHON_CLIENT_MEM_FRACTION), vLLM 90% (--gpu-memory-utilization).
_PREALLOCATION_RISK: Final = (
    "frameworks that reserve GPU memory at start take more than the {gib:.1f} GiB share: cap "
    "them (TensorFlow: TF_FORCE_GPU_ALLOW_GROWTH=true; JAX: XLA_PYTHON_CLIENT_MEM_FRACTION; "
    "vLLM: --gpu-memory-utilization)"
)


@dataclass(frozen=True)
class Recommendation:
    """What one workload should get, with the figures behind it.

    :param workload: The workload.
    :param gpu: Its GPU model (memory as EC2 reports it).
    :param sharing: ``NoSharing()``, ``TimeSlicing(replicas=share)`` or ``Mps(replicas=share)``.
    :param memory_factor: Pods per GPU that memory allows.
    :param busy_factor: Pods per GPU that compute allows (None: busy is 0).
    :param reason: Why, in one sentence with the numbers.
    :param risks: What sharing this way risks.
    """

    workload: Workload
    gpu: GpuModel
    sharing: Sharing
    memory_factor: int
    busy_factor: int | None
    reason: str
    risks: tuple[str, ...]

    @property
    def mode(self) -> type[SharingMode]:
        """The sharing mode's class (``TimeSlicing``, ``Mps``, ``NoSharing``)."""
        return type(self.sharing)

    @property
    def share(self) -> int:
        """Pods per GPU (1 for whole GPUs)."""
        return self.sharing.replicas or 1

    @property
    def pods_today(self) -> int:
        """Whole-GPU pods that stand for what it holds today: one per GPU it holds."""
        return self.workload.gpus_today or self.workload.replicas

    @property
    def pods_shared(self) -> int:
        """One-slice pods it runs with this recommendation: its replicas when it shares; what it
        holds today when it keeps whole GPUs (a pod of several GPUs keeps them)."""
        if self.share >= 2:
            return self.workload.replicas
        return max(self.workload.replicas, self.pods_today)

    @property
    def gpus(self) -> int:
        """GPUs it needs at this share."""
        return math.ceil(self.pods_shared / self.share)

    @property
    def profile(self) -> str:
        """Short name: ``whole``, ``ts4``, ``mps2``."""
        return self.mode.estimate_code + (str(self.share) if self.mode.shares_gpus else "")


def gpu_model(name: str, size_gib: int | None = None) -> GpuModel:
    """The GPU model of a catalog GPU name: of ``size_gib`` GiB, else the largest where the name
    comes in several sizes (a100: 40 and 80)."""
    models = [
        t.gpu_model
        for t in load_catalog().instance_types
        if t.gpu_name == name
        and t.gpu_count > 0
        and (size_gib is None or t.gpu_memory_mib // 1024 == size_gib)
    ]
    return max(models, key=lambda m: m.memory_mib)


def recommend(workload: Workload, *, max_share: int = MAX_SHARE) -> Recommendation:
    """The sharing that fits ``workload`` (see the module docstring for the rules); where its
    pods already share fewer GPUs than that needs, it says so rather than un-share them
    silently."""
    rec = _recommend(workload, max_share=max_share)
    held = workload.gpus_today
    if held is not None and held < workload.replicas and rec.gpus > held:
        return replace(
            rec,
            risks=(
                *rec.risks,
                f"today its {workload.replicas} pods share {held} GPU(s); these rules need "
                f"{rec.gpus}: keep today's sharing if it serves them, or expect the extra cost",
            ),
        )
    return rec


def _recommend(workload: Workload, *, max_share: int) -> Recommendation:
    gpu = gpu_model(workload.gpu, workload.gpu_size_gib)
    usable = gpu.memory_gib * (1 - MEMORY_HEADROOM)
    memory_factor = max(0, math.floor(usable / (workload.gpu_memory_gib + CUDA_CONTEXT_GIB)))
    busy_factor = math.floor(BUSY_TARGET / workload.busy) if workload.busy > 0 else None
    limit = min(max_share, max_mps_clients(gpu.name) if workload.latency_sensitive else max_share)
    candidates = [memory_factor, limit] + ([busy_factor] if busy_factor is not None else [])
    share = min(candidates)
    facts = (
        f"{workload.gpu_memory_gib:g} GiB + {CUDA_CONTEXT_GIB:g} GiB context of "
        f"{usable:.1f} usable GiB ({gpu.name}, {MEMORY_HEADROOM:.0%} kept free) -> "
        f"{memory_factor} by memory; p95 busy {workload.busy:.0%} of a {BUSY_TARGET:.0%} target "
        f"-> {'no limit' if busy_factor is None else busy_factor} by compute"
    )
    held = workload.gpus_today or workload.replicas
    if held > workload.replicas or share < 2:
        if held > workload.replicas:
            reason = (
                f"its {workload.replicas} pod(s) hold {held} GPUs, several each: sharing splits "
                "one GPU among pods, so they keep whole GPUs"
            )
        else:
            bound = "memory-bound" if memory_factor < 2 else "compute-bound"
            reason = f"{bound}: {facts}; fewer than 2 pods fit, so it keeps whole GPUs"
        return Recommendation(workload, gpu, NoSharing(), memory_factor, busy_factor, reason, ())
    bound = (
        "memory-bound"
        if share == memory_factor
        else (
            "compute-bound"
            if share == busy_factor
            else f"capped at {limit} pods per GPU (blast radius)"
        )
    )
    if workload.latency_sensitive:
        return Recommendation(
            workload,
            gpu,
            Mps(replicas=share),
            memory_factor,
            busy_factor,
            f"{bound}: {facts}. Latency-sensitive, so MPS (kernels run side by side; "
            "time-slicing made each small step 3.6x slower with 4 busy processes on an H200)",
            (
                f"MPS caps each pod at {gpu.memory_gib / share:.1f} GiB and {100 / share:.0f}% of "
                "the SMs, but a fatal GPU fault in one pod ends the others on that GPU",
                "MPS support is experimental in the NVIDIA device plugin",
                f"one GPU failure (Xid error, driver reset) stops {share} pods",
                _PREALLOCATION_RISK.format(gib=gpu.memory_gib / share),
            ),
        )
    return Recommendation(
        workload,
        gpu,
        TimeSlicing(replicas=share),
        memory_factor,
        busy_factor,
        f"{bound}: {facts}",
        (
            f"no memory isolation: a pod that grows past {usable / share:.1f} GiB makes its "
            f"neighbours' allocations fail",
            f"no fault isolation: one GPU failure (Xid error, driver reset) stops {share} pods",
            "latency grows with the number of busy neighbours (time shares, not parallel)",
            _PREALLOCATION_RISK.format(gib=usable / share),
        ),
    )
