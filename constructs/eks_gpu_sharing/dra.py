"""What the ``dra`` backend writes for the NVIDIA DRA driver and Karpenter 1.15 (pure data).

A DRA pool's pods ask for a GPU share through a ResourceClaim made from the pool's
ResourceClaimTemplate; the NVIDIA DRA driver (``gpu.nvidia.com``) splits each GPU into
consumable shares, and Karpenter learns the same split from the EC2NodeClass annotation
``karpenter.k8s.aws/nvidia-consumable-capacity`` (aws/karpenter-provider-aws v1.15.2,
``pkg/providers/nvidiadra/consumablecapacity.go`` ``ParseConsumableCapacity``; the task page
``website/content/en/preview/tasks/dra.md``, "Requesting a timesliced GPU").

The driver's Go module is refused by the module proxy, so its chart is not rendered here: its
values are written from the chart's ``values.yaml`` and its DeviceClass from
``templates/deviceclass-gpu.yaml`` (kubernetes-sigs/dra-driver-nvidia-gpu; see
:data:`DRA_DRIVER_SOURCE`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from .sharing import Sharing

#: The EC2NodeClass annotation that tells Karpenter how the driver shares each GPU.
CONSUMABLE_CAPACITY_ANNOTATION: Final = "karpenter.k8s.aws/nvidia-consumable-capacity"
#: The NVIDIA DRA driver, and the DeviceClass its chart creates, of the same name.
DRA_DRIVER: Final = "gpu.nvidia.com"
GPU_DEVICE_CLASS: Final = "gpu.nvidia.com"
#: The node label that marks a node whose GPUs the DRA driver manages: the driver's kubelet
#: plugin runs only there, the library's device plugin never does ("A DRA driver and a device
#: plugin must never manage the same device on the same node", Karpenter's DRA task page).
DEVICE_MANAGER_LABEL: Final = "eks-gpu-sharing.io/device-manager"
DRA_DEVICE_MANAGER: Final = "dra"
#: Where the driver's values and DeviceClass are read from. ``consumableShares`` and the
#: ``ConsumableShares`` gate are on the chart's main branch (chart 0.5.0-dev at this commit,
#: 2026-08-07), after its newest tag in the copy we could read (v0.4.1, 2026-06-30, which has
#: neither); the DeviceClass template is the same at both.
DRA_DRIVER_SOURCE: Final = (
    "kubernetes-sigs/dra-driver-nvidia-gpu @ 95932046683719c43b6a0dd9613c2e5aad5d6703, "
    "deployments/helm/dra-driver-nvidia-gpu/values.yaml (consumableShares, featureGates, "
    "gpuResourcesEnabledOverride, resources.computeDomains, kubeletPlugin.nodeSelector) and "
    "templates/deviceclass-gpu.yaml"
)
#: Helm chart of the driver (values written here; the user installs the chart: no release with
#: consumable shares could be read here to pin one). Its site's install command names this
#: OCI repository (site/content/docs/guides/gpu-allocation/kubevirt-vfio-gpu-passthrough.md).
DRA_DRIVER_CHART_REPOSITORY: Final = "oci://registry.k8s.io/dra-driver-nvidia/charts"
DRA_DRIVER_CHART_NAME: Final = "dra-driver-nvidia-gpu"
DRA_DRIVER_RELEASE: Final = "nvidia-dra-driver"
DRA_DRIVER_NAMESPACE: Final = "nvidia-dra-driver"
#: The driver's value for a GPU shared by memory: each claim asks for the memory it uses.
MEMORY_SHARES: Final = "memory"


def consumable_shares(sharing: Sharing) -> str | None:
    """The driver's ``consumableShares`` (and the annotation's value) for a pool's sharing:
    the slice count for ``TimeSlicing(replicas=N)``, ``memory`` for ``TimeSlicing(memory_gib=)``
    (claims then request that memory), None for whole GPUs (one claim per GPU)."""
    if not sharing.shares_gpus:
        return None
    if sharing.replicas is None:
        return MEMORY_SHARES
    return str(sharing.replicas)


def _claim_memory_gib(sharing: Sharing) -> int | None:
    """The GiB each claim asks for in the driver's ``memory`` mode, else None."""
    memory_gib = getattr(sharing, "memory_gib", None)
    return memory_gib if consumable_shares(sharing) == MEMORY_SHARES else None


def claim_template_name(pool_name: str, sharing: Sharing) -> str:
    """The ResourceClaimTemplate of a DRA pool, which its pods name: ``<pool>-gpu``, or
    ``<pool>-gpu-<N>gib`` for memory shares. The API server keeps a template's spec immutable
    (k8s.io/kubernetes pkg/apis/resource/validation ValidateResourceClaimTemplateUpdate), so a
    new share size is a new template, not an update the apply would refuse."""
    memory_gib = _claim_memory_gib(sharing)
    return f"{pool_name}-gpu" if memory_gib is None else f"{pool_name}-gpu-{memory_gib}gib"


def claim_template(pool_name: str, namespace: str, sharing: Sharing) -> dict[str, Any]:
    """The pool's ResourceClaimTemplate: one device of the driver's class, a share of it.

    In an integer shares mode a claim takes one share by default and asks for no memory; in
    ``memory`` mode it asks for the pool's ``memory_gib`` (without a request it would take the
    GPU's whole memory). Shares and memory steer scheduling only: they limit no process.
    """
    exactly: dict[str, Any] = {"deviceClassName": GPU_DEVICE_CLASS, "count": 1}
    memory_gib = _claim_memory_gib(sharing)
    if memory_gib is not None:
        exactly["capacity"] = {"requests": {"memory": f"{memory_gib}Gi"}}
    return {
        "apiVersion": "resource.k8s.io/v1",
        "kind": "ResourceClaimTemplate",
        "metadata": {"name": claim_template_name(pool_name, sharing), "namespace": namespace},
        "spec": {"spec": {"devices": {"requests": [{"name": "gpu", "exactly": exactly}]}}},
    }


def gpu_device_class() -> dict[str, Any]:
    """The ``gpu.nvidia.com`` DeviceClass the driver's chart creates (its
    ``templates/deviceclass-gpu.yaml`` with ``resource.k8s.io/v1``), for the simulator: in a
    cluster the chart makes it."""
    return {
        "apiVersion": "resource.k8s.io/v1",
        "kind": "DeviceClass",
        "metadata": {"name": GPU_DEVICE_CLASS},
        "spec": {
            "selectors": [
                {
                    "cel": {
                        "expression": "device.driver == 'gpu.nvidia.com' && "
                        "device.attributes['gpu.nvidia.com'].type == 'gpu'"
                    }
                }
            ],
            "extendedResourceName": "nvidia.com/gpu",
        },
    }


def dra_driver_values(shares: str | None) -> dict[str, Any]:
    """Helm values of the NVIDIA DRA driver for the setup's DRA pools (one ``consumableShares``
    per driver install, so every DRA pool of a setup shares one value).

    ``gpuResourcesEnabledOverride`` is required for GPU allocation and ComputeDomains are off
    (Karpenter does not provision for them) as Karpenter's DRA task page asks; the kubelet
    plugin runs only on the library's DRA nodes.
    """
    sharing: dict[str, Any] = (
        {}
        if shares is None
        else {"featureGates": {"ConsumableShares": True}, "consumableShares": shares}
    )
    return {
        "gpuResourcesEnabledOverride": True,
        **sharing,
        "resources": {"gpus": {"enabled": True}, "computeDomains": {"enabled": False}},
        "kubeletPlugin": {"nodeSelector": {DEVICE_MANAGER_LABEL: DRA_DEVICE_MANAGER}},
    }
