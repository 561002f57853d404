"""One GPU pool as Karpenter objects: EC2NodeClass, NodePool and one NodeOverlay per GPU count."""

from __future__ import annotations

from typing import Any, Final

import cdk8s
from constructs import Construct

from ..errors import GPU_POOL_EXAMPLE, require_instance
from ..pool import INSTANCE_GPU_COUNT, NODEPOOL_LABEL, AmiFamily, GpuPool
from ..sharing import Mps
from .common import CHART_PROPS, jsii_enum
from .imports.aws.k8s.karpenter import (
    Ec2NodeClass,
    Ec2NodeClassSpec,
    Ec2NodeClassSpecAmiSelectorTerms,
    Ec2NodeClassSpecBlockDeviceMappings,
    Ec2NodeClassSpecBlockDeviceMappingsEbs,
    Ec2NodeClassSpecBlockDeviceMappingsEbsVolumeType,
    Ec2NodeClassSpecMetadataOptions,
    Ec2NodeClassSpecMetadataOptionsHttpEndpoint,
    Ec2NodeClassSpecMetadataOptionsHttpProtocolIPv6,
    Ec2NodeClassSpecMetadataOptionsHttpTokens,
    Ec2NodeClassSpecSecurityGroupSelectorTerms,
    Ec2NodeClassSpecSubnetSelectorTerms,
)
from .imports.sh.karpenter import (
    NodeOverlay,
    NodeOverlaySpec,
    NodeOverlaySpecCapacity,
    NodeOverlaySpecRequirements,
    NodeOverlaySpecRequirementsOperator,
    NodePool,
    NodePoolSpec,
    NodePoolSpecDisruption,
    NodePoolSpecDisruptionBudgets,
    NodePoolSpecDisruptionConsolidationPolicy,
    NodePoolSpecLimits,
    NodePoolSpecTemplate,
    NodePoolSpecTemplateMetadata,
    NodePoolSpecTemplateSpec,
    NodePoolSpecTemplateSpecNodeClassRef,
    NodePoolSpecTemplateSpecRequirements,
    NodePoolSpecTemplateSpecRequirementsOperator,
    NodePoolSpecTemplateSpecTaints,
    NodePoolSpecTemplateSpecTaintsEffect,
)
from .node_settings import KarpenterNodeSettings

#: API group and kind of the EC2NodeClass a NodePool references.
NODE_CLASS_GROUP: Final = "karpenter.k8s.aws"
NODE_CLASS_KIND: Final = "EC2NodeClass"
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
    :param node_settings: Node role and discovery tag of the Karpenter installation.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        pool: GpuPool,
        node_settings: KarpenterNodeSettings,
    ) -> None:
        require_instance(pool, GpuPool, field="GpuPoolChart.pool", fix=GPU_POOL_EXAMPLE)
        require_instance(
            node_settings,
            KarpenterNodeSettings,
            field="GpuPoolChart.node_settings",
            fix="pass KarpenterNodeSettings(node_role=..., discovery_tag_value=...)",
        )
        super().__init__(scope, id, **CHART_PROPS)
        self.pool = pool
        self.node_settings = node_settings
        self.node_class = self._node_class()
        self.node_pool = self._node_pool()
        self.overlays: list[NodeOverlay] = [
            self._overlay(count, capacity) for count, capacity in pool.overlay_capacities().items()
        ]

    # -- EC2NodeClass -----------------------------------------------------------------------

    def _node_class(self) -> Ec2NodeClass:
        pool, settings = self.pool, self.node_settings
        discovery = {settings.discovery_tag_key: settings.discovery_tag_value}
        user_data = None
        if pool.ami_family is AmiFamily.BOTTLEROCKET:
            # GpuPool rejects Mps on Bottlerocket; its built-in plugin reads these settings.
            assert not isinstance(pool.sharing, Mps)
            user_data = pool.sharing.bottlerocket_settings()
        return Ec2NodeClass(
            self,
            "node-class",
            metadata=cdk8s.ApiObjectMetadata(name=pool.name),
            spec=Ec2NodeClassSpec(
                ami_selector_terms=[Ec2NodeClassSpecAmiSelectorTerms(alias=pool.ami_family.alias)],
                role=settings.node_role,
                subnet_selector_terms=[Ec2NodeClassSpecSubnetSelectorTerms(tags=discovery)],
                security_group_selector_terms=[
                    Ec2NodeClassSpecSecurityGroupSelectorTerms(tags=discovery)
                ],
                metadata_options=Ec2NodeClassSpecMetadataOptions(
                    http_endpoint=Ec2NodeClassSpecMetadataOptionsHttpEndpoint.ENABLED,
                    http_protocol_i_pv6=Ec2NodeClassSpecMetadataOptionsHttpProtocolIPv6.DISABLED,
                    http_put_response_hop_limit=1,
                    http_tokens=Ec2NodeClassSpecMetadataOptionsHttpTokens.REQUIRED,
                ),
                block_device_mappings=self._block_device_mappings(),
                tags=dict(settings.tags) or None,
                user_data=user_data,
            ),
        )

    def _block_device_mappings(self) -> list[Ec2NodeClassSpecBlockDeviceMappings]:
        pool = self.pool
        # Setting blockDeviceMappings replaces the AMI family's defaults, so Bottlerocket's
        # small OS volume must be listed too, besides the data volume that holds the images.
        volumes: list[tuple[str, int]] = []
        if pool.ami_family is AmiFamily.BOTTLEROCKET:
            volumes.append((BOTTLEROCKET_OS_DEVICE, BOTTLEROCKET_OS_VOLUME_GIB))
        volumes.append((pool.ami_family.root_device_name, pool.root_volume_gib))
        return [
            Ec2NodeClassSpecBlockDeviceMappings(
                device_name=device,
                ebs=Ec2NodeClassSpecBlockDeviceMappingsEbs(
                    volume_size=f"{size}Gi",
                    volume_type=Ec2NodeClassSpecBlockDeviceMappingsEbsVolumeType.GP3,
                    encrypted=True,
                    delete_on_termination=True,
                ),
            )
            for device, size in volumes
        ]

    # -- NodePool ---------------------------------------------------------------------------

    def _node_pool(self) -> NodePool:
        pool = self.pool
        disruption: dict[str, Any] = pool.disruption.to_dict()
        return NodePool(
            self,
            "node-pool",
            metadata=cdk8s.ApiObjectMetadata(name=pool.name),
            spec=NodePoolSpec(
                template=NodePoolSpecTemplate(
                    metadata=NodePoolSpecTemplateMetadata(labels=pool.node_labels()),
                    spec=NodePoolSpecTemplateSpec(
                        node_class_ref=NodePoolSpecTemplateSpecNodeClassRef(
                            group=NODE_CLASS_GROUP, kind=NODE_CLASS_KIND, name=pool.name
                        ),
                        requirements=[
                            NodePoolSpecTemplateSpecRequirements(
                                key=r["key"],
                                operator=jsii_enum(
                                    NodePoolSpecTemplateSpecRequirementsOperator, r["operator"]
                                ),
                                values=r.get("values"),
                            )
                            for r in (req.to_dict() for req in pool.requirements())
                        ],
                        taints=[
                            NodePoolSpecTemplateSpecTaints(
                                key=t["key"],
                                value=t.get("value"),
                                effect=jsii_enum(NodePoolSpecTemplateSpecTaintsEffect, t["effect"]),
                            )
                            for t in pool.node_taints()
                        ],
                        expire_after=pool.disruption.expire_after,
                    ),
                ),
                disruption=NodePoolSpecDisruption(
                    consolidation_policy=jsii_enum(
                        NodePoolSpecDisruptionConsolidationPolicy,
                        disruption["consolidationPolicy"],
                    ),
                    consolidate_after=disruption["consolidateAfter"],
                    budgets=[
                        NodePoolSpecDisruptionBudgets(nodes=b["nodes"])
                        for b in disruption["budgets"]
                    ],
                ),
                # Counted in slices: with the overlays Karpenter sees slices, not GPUs.
                limits={pool.resource_name: NodePoolSpecLimits.from_string(str(pool.slice_limit))},
                weight=pool.weight,
            ),
        )

    # -- NodeOverlays -----------------------------------------------------------------------

    def _overlay(self, gpu_count: int, capacity: dict[str, str]) -> NodeOverlay:
        return NodeOverlay(
            self,
            f"overlay-gpu-{gpu_count}",
            metadata=cdk8s.ApiObjectMetadata(name=overlay_name(self.pool, gpu_count)),
            spec=NodeOverlaySpec(
                requirements=[
                    NodeOverlaySpecRequirements(
                        key=NODEPOOL_LABEL,
                        operator=NodeOverlaySpecRequirementsOperator.IN,
                        values=[self.pool.name],
                    ),
                    NodeOverlaySpecRequirements(
                        key=INSTANCE_GPU_COUNT,
                        operator=NodeOverlaySpecRequirementsOperator.IN,
                        values=[str(gpu_count)],
                    ),
                ],
                capacity={
                    resource: NodeOverlaySpecCapacity.from_string(quantity)
                    for resource, quantity in capacity.items()
                },
            ),
        )
