"""The node labels and taint this library puts on GPU nodes, and the ones it keeps off them."""

from __future__ import annotations

from typing import Final

from .sharing import GPU_RESOURCE

#: Label that marks a node as belonging to a GPU pool of this library (value: pool name).
POOL_LABEL: Final = "eks-gpu-sharing.io/pool"
#: Label with the pool's sharing profile (e.g. ``time-slicing-4``). A change of sharing changes
#: it, and with it the NodePool's template: Karpenter replaces the pool's nodes (drift) within
#: the disruption budget, so the pool ends up as a fresh deploy of the new setting would be.
SHARING_LABEL: Final = "eks-gpu-sharing.io/sharing"
#: Label the device plugin chart's default node affinity accepts on nodes without NFD. The pools
#: never carry it: the library's plugin selects its nodes by POOL_LABEL, and this label would
#: draw any other plugin release with the chart's default affinity onto them (two plugins
#: registering nvidia.com/gpu, the slice count flapping).
GPU_PRESENT_LABEL: Final = "nvidia.com/gpu.present"
#: The taint every GPU pool carries, so only pods that tolerate it land on GPU nodes.
GPU_TAINT_KEY: Final = GPU_RESOURCE
#: The taint a shared pool's nodes carry besides (``eks-gpu-sharing.io/pool=<pool>:NoSchedule``,
#: unless ``GpuPool.isolated`` is False): most GPU pods tolerate the generic ``nvidia.com/gpu``
#: taint, and without this one Karpenter could provision, and kube-scheduler bind, a pod that
#: asks for a whole GPU onto a node where each "GPU" is a shared slice.
ISOLATION_TAINT_KEY: Final = POOL_LABEL
#: The label that marks what this library generated (every object of its manifests).
MANAGED_BY_LABEL: Final = "app.kubernetes.io/managed-by"
#: Its value.
MANAGED_BY: Final = "eks-gpu-sharing"
