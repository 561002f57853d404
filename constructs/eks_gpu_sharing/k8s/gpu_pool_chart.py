"""One GPU pool as Karpenter objects: EC2NodeClass, NodePool and one NodeOverlay per GPU count."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

import cdk8s
from constructs import Construct

from ..errors import GPU_POOL_EXAMPLE, require_instance
from ..karpenter_installation import IKarpenter
from ..pool import INSTANCE_GPU_COUNT, NODEPOOL_LABEL, AmiFamily, GpuPool
from ..sharing import Mps
from .common import CHART_PROPS, api_object
from .instance_tags import check_instance_tags

#: API group and kind of the EC2NodeClass a NodePool references.
NODE_CLASS_GROUP: Final = "karpenter.k8s.aws"
NODE_CLASS_KIND: Final = "EC2NodeClass"
#: API versions of the Karpenter kinds (checked against the pinned CRDs by the tests).
NODE_CLASS_API_VERSION: Final = f"{NODE_CLASS_GROUP}/v1"
NODE_POOL_API_VERSION: Final = "karpenter.sh/v1"
NODE_OVERLAY_API_VERSION: Final = "karpenter.sh/v1alpha1"
#: Bottlerocket's OS volume (``/dev/xvda``); its data volume holds images and is sized by the pool.
BOTTLEROCKET_OS_DEVICE: Final = "/dev/xvda"
BOTTLEROCKET_OS_VOLUME_GIB: Final = 4


def overlay_name(pool: GpuPool, gpu_count: int) -> str:
    """The name of the NodeOverlay for ``gpu_count``-GPU instances of ``pool``."""
    return f"{pool.name}-gpu-{gpu_count}"


class GpuPoolChart(cdk8s.Chart):
    """The Karpenter objects of one GPU pool, all derived from its ``GpuPool``.

    * ``EC2NodeClass`` ``<pool>``: pinned EKS-optimized AMI alias (NVIDIA variant chosen by
      instance type), IMDSv2 only with hop limit 1 (pods cannot reach the node's credentials),
      encrypted gp3 volumes, subnets and security groups found by the discovery tag; Bottlerocket
      pools also get the built-in device plugin's sharing settings as user data.
    * ``NodePool`` ``<pool>``: requirements, labels (pool, device plugin profile) and taints of
      the pool, disruption settings, and a limit counted in slices.
    * ``NodeOverlay`` ``<pool>-gpu-<count>`` per admitted GPU count (shared pools only): tells
      Karpenter's scheduling simulation that a node of that count offers ``count x replicas``
      slices, so a burst of one-slice pods launches one node, not one node per pod.

    :param pool: The pool.
    :param karpenter: The Karpenter installation (its node role and discovery tag).
    :param instance_tags: Extra EC2 tags on the instances and volumes. Default: none.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        pool: GpuPool,
        karpenter: IKarpenter,
        instance_tags: Mapping[str, str] | None = None,
    ) -> None:
        require_instance(pool, GpuPool, field="GpuPoolChart.pool", fix=GPU_POOL_EXAMPLE)
        require_instance(
            karpenter,
            IKarpenter,
            field="GpuPoolChart.karpenter",
            fix="pass the Karpenter construct or ExistingKarpenter(...)",
        )
        tags = check_instance_tags(instance_tags or {}, field="GpuPoolChart.instance_tags")
        super().__init__(scope, id, **CHART_PROPS)
        self.pool = pool
        self.karpenter = karpenter
        self.instance_tags = tags
        self.node_class = self._node_class()
        self.node_pool = self._node_pool()
        #: The NodeOverlays by GPU count (none for whole GPUs).
        self.overlays: dict[int, cdk8s.ApiObject] = {
            count: self._overlay(count, capacity)
            for count, capacity in pool.overlay_capacities().items()
        }

    # -- EC2NodeClass -----------------------------------------------------------------------

    def _node_class(self) -> cdk8s.ApiObject:
        pool, karpenter = self.pool, self.karpenter
        discovery = {karpenter.discovery_tag_key: karpenter.discovery_tag_value}
        spec: dict[str, Any] = {
            "amiSelectorTerms": [{"alias": pool.ami_alias}],
            "role": karpenter.node_role_name,
            "subnetSelectorTerms": [{"tags": discovery}],
            "securityGroupSelectorTerms": [{"tags": dict(discovery)}],
            "metadataOptions": {
                "httpEndpoint": "enabled",
                "httpProtocolIPv6": "disabled",
                "httpPutResponseHopLimit": 1,
                "httpTokens": "required",
            },
            "blockDeviceMappings": self._block_device_mappings(),
        }
        if self.instance_tags:
            spec["tags"] = dict(self.instance_tags)
        if pool.ami_family is AmiFamily.BOTTLEROCKET:
            # GpuPool rejects Mps on Bottlerocket; its built-in plugin reads these settings.
            assert not isinstance(pool.sharing, Mps)
            spec["userData"] = pool.sharing.bottlerocket_settings()
        return api_object(
            self, "node-class", NODE_CLASS_API_VERSION, NODE_CLASS_KIND, pool.name, spec
        )

    def _block_device_mappings(self) -> list[dict[str, Any]]:
        pool = self.pool
        # Setting blockDeviceMappings replaces the AMI family's defaults, so Bottlerocket's
        # small OS volume must be listed too, besides the data volume that holds the images.
        volumes: list[tuple[str, int]] = []
        if pool.ami_family is AmiFamily.BOTTLEROCKET:
            volumes.append((BOTTLEROCKET_OS_DEVICE, BOTTLEROCKET_OS_VOLUME_GIB))
        volumes.append((pool.ami_family.root_device_name, pool.root_volume_gib))
        return [
            {
                "deviceName": device,
                "ebs": {
                    "volumeSize": f"{size}Gi",
                    "volumeType": "gp3",
                    "encrypted": True,
                    "deleteOnTermination": True,
                },
            }
            for device, size in volumes
        ]

    # -- NodePool ---------------------------------------------------------------------------

    def _node_pool(self) -> cdk8s.ApiObject:
        pool = self.pool
        spec: dict[str, Any] = {
            "template": {
                "metadata": {"labels": pool.node_labels()},
                "spec": {
                    "nodeClassRef": {
                        "group": NODE_CLASS_GROUP,
                        "kind": NODE_CLASS_KIND,
                        "name": pool.name,
                    },
                    "requirements": [r.to_dict() for r in pool.requirements()],
                    "taints": pool.node_taints(),
                    "expireAfter": pool.disruption.expire_after,
                },
            },
            "disruption": pool.disruption.to_dict(),
            # Counted in slices: with the overlays Karpenter sees slices, not GPUs.
            "limits": {pool.resource_name: str(pool.slice_limit)},
        }
        if pool.weight is not None:
            spec["weight"] = pool.weight
        return api_object(self, "node-pool", NODE_POOL_API_VERSION, "NodePool", pool.name, spec)

    # -- NodeOverlays -----------------------------------------------------------------------

    def _overlay(self, gpu_count: int, capacity: dict[str, str]) -> cdk8s.ApiObject:
        spec = {
            "requirements": [
                {"key": NODEPOOL_LABEL, "operator": "In", "values": [self.pool.name]},
                {"key": INSTANCE_GPU_COUNT, "operator": "In", "values": [str(gpu_count)]},
            ],
            "capacity": dict(capacity),
        }
        return api_object(
            self,
            f"overlay-gpu-{gpu_count}",
            NODE_OVERLAY_API_VERSION,
            "NodeOverlay",
            overlay_name(self.pool, gpu_count),
            spec,
        )
