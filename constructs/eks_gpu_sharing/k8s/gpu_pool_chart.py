"""One GPU pool as Karpenter objects: EC2NodeClass, NodePool and one NodeOverlay per GPU count."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

import cdk8s
from constructs import Construct

from ..errors import GPU_POOL_EXAMPLE, require_instance
from ..instance_tags import check_instance_tags
from ..karpenter_api import (
    INSTANCE_GPU_COUNT,
    NODE_CLASS_API_VERSION,
    NODE_CLASS_GROUP,
    NODE_CLASS_KIND,
    NODE_OVERLAY_API_VERSION,
    NODE_OVERLAY_KIND,
    NODE_POOL_API_VERSION,
    NODE_POOL_KIND,
    NODEPOOL_LABEL,
)
from ..karpenter_installation import IKarpenter
from ..plan import OVERLAY_WEIGHT, NodePoolPlan, plan_pool
from ..pool import AmiFamily, GpuPool
from .common import CHART_PROPS, api_object

#: Bottlerocket's OS volume (``/dev/xvda``); its data volume holds images and is sized by the pool.
BOTTLEROCKET_OS_DEVICE: Final = "/dev/xvda"
BOTTLEROCKET_OS_VOLUME_GIB: Final = 4


def overlay_name(pool: GpuPool, gpu_count: int) -> str:
    """The name of the NodeOverlay for ``gpu_count``-GPU instances of a pool of one NodePool."""
    return f"{pool.name}-gpu-{gpu_count}"


@dataclass(frozen=True)
class NodePoolObjects:
    """The objects of one NodePool of a pool."""

    spec: NodePoolPlan
    node_class: cdk8s.ApiObject
    node_pool: cdk8s.ApiObject
    #: The NodeOverlays by GPU count (none for whole GPUs on full instance types).
    overlays: dict[int, cdk8s.ApiObject]


class GpuPoolChart(cdk8s.Chart):
    """The Karpenter objects of one GPU pool, all derived from its ``GpuPool``.

    Per NodePool of the pool (one, or one per GPU model when the slices per GPU depend on the
    model, and per GPU count when it admits several: ``plan.plan_pool``):

    * ``EC2NodeClass``: pinned EKS-optimized AMI alias (NVIDIA variant chosen by instance type),
      IMDSv2 only with hop limit 1 (pods cannot reach the node's credentials), encrypted gp3
      volumes, subnets and security groups found by the discovery tag; Bottlerocket pools also
      get the built-in device plugin's settings (time-slicing, MPS or MIG) as user data.
    * ``NodePool``: requirements, labels (pool, sharing, device plugin config) and taints of the
      pool, disruption settings, and a limit counted in slices.
    * ``NodeOverlay`` ``<pool>-gpu-<count>`` (``<pool>-<gpu>-gpu-<count>`` per GPU model) per
      GPU count that needs one: tells Karpenter's
      scheduling simulation that a node of that count offers ``count x slices`` (a fractional GPU
      counts as one device), so a burst of one-slice pods launches one node, not one per pod.

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
        #: The objects of each NodePool, by NodePool name.
        self.node_pools: dict[str, NodePoolObjects] = {}
        for spec in plan_pool(pool).node_pools:
            prefix = "" if spec.name == pool.name else f"{spec.name}-"
            self.node_pools[spec.name] = NodePoolObjects(
                spec,
                self._node_class(spec, prefix),
                self._node_pool(spec, prefix),
                {
                    count: self._overlay(spec, prefix, count, capacity)
                    for count, capacity in spec.overlay_capacities().items()
                },
            )

    @property
    def node_class(self) -> cdk8s.ApiObject:
        """The EC2NodeClass of a pool of one NodePool."""
        return self._only().node_class

    @property
    def node_pool(self) -> cdk8s.ApiObject:
        """The NodePool of a pool of one NodePool."""
        return self._only().node_pool

    @property
    def overlays(self) -> dict[int, cdk8s.ApiObject]:
        """The NodeOverlays of a pool of one NodePool, by GPU count."""
        return self._only().overlays

    def _only(self) -> NodePoolObjects:
        if len(self.node_pools) != 1:
            raise ValueError(
                f"pool {self.pool.name!r} has one NodePool per GPU model and count: use node_pools"
            )
        return next(iter(self.node_pools.values()))

    # -- EC2NodeClass -----------------------------------------------------------------------

    def _node_class(self, node_pool: NodePoolPlan, prefix: str) -> cdk8s.ApiObject:
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
        user_data = node_pool.user_data()
        if user_data is not None:
            spec["userData"] = user_data
        node_class = api_object(
            self,
            f"{prefix}node-class",
            NODE_CLASS_API_VERSION,
            NODE_CLASS_KIND,
            node_pool.name,
            spec,
        )
        for key, value in sorted(node_pool.node_class_annotations().items()):
            node_class.metadata.add_annotation(key, value)
        return node_class

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

    def _node_pool(self, node_pool: NodePoolPlan, prefix: str) -> cdk8s.ApiObject:
        pool = self.pool
        spec: dict[str, Any] = {
            "template": {
                "metadata": {"labels": node_pool.node_labels()},
                "spec": {
                    "nodeClassRef": {
                        "group": NODE_CLASS_GROUP,
                        "kind": NODE_CLASS_KIND,
                        "name": node_pool.name,
                    },
                    "requirements": [r.to_dict() for r in node_pool.requirements()],
                    "taints": pool.node_taints(),
                    "expireAfter": pool.disruption.expire_after,
                    **(
                        {"terminationGracePeriod": pool.disruption.termination_grace_period}
                        if pool.disruption.termination_grace_period != "Never"
                        else {}
                    ),
                },
            },
            "disruption": pool.disruption.to_dict(),
            "limits": node_pool.limits(),
        }
        if node_pool.weight is not None:
            spec["weight"] = node_pool.weight
        return api_object(
            self, f"{prefix}node-pool", NODE_POOL_API_VERSION, NODE_POOL_KIND, node_pool.name, spec
        )

    # -- NodeOverlays -----------------------------------------------------------------------

    def _overlay(
        self, node_pool: NodePoolPlan, prefix: str, gpu_count: int, capacity: dict[str, str]
    ) -> cdk8s.ApiObject:
        spec = {
            "requirements": [
                {"key": NODEPOOL_LABEL, "operator": "In", "values": [node_pool.name]},
                {"key": INSTANCE_GPU_COUNT, "operator": "In", "values": [str(gpu_count)]},
            ],
            "capacity": dict(capacity),
            "weight": OVERLAY_WEIGHT,
        }
        return api_object(
            self,
            f"{prefix}overlay-gpu-{gpu_count}",
            NODE_OVERLAY_API_VERSION,
            NODE_OVERLAY_KIND,
            node_pool.overlay_name(gpu_count),
            spec,
        )
