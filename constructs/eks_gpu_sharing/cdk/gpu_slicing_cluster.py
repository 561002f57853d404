"""Everything in one construct: a new VPC and EKS cluster, Karpenter, and shared GPU pools."""

from __future__ import annotations

from collections.abc import Sequence

from constructs import Construct

from ..pool import GpuPool, validate_pools
from .cluster import ReferenceCluster
from .gpu_sharing import GpuSharing
from .karpenter import Karpenter


class GpuSlicingCluster(Construct):
    """A new EKS cluster with Karpenter and time-sliced GPU pools (the reference app's shape).

    Composes ``ReferenceCluster`` (VPC, EKS, system nodes, add-ons), ``Karpenter`` and
    ``GpuSharing``. For an existing cluster use ``GpuSharing`` directly.

    :param pools: The GPU pools (at least one).
    :param cluster_name: Default: ``gpu-slicing``.
    :param admin_role_arn: IAM role given cluster-admin via an access entry. Default: none.
    :param nat_gateways: NAT gateways of the new VPC. Default: 1 (cost; 2+ for AZ resilience).
    :param system_node_instance_types: Instance types of the system node group.
        Default: ``("m7i.large",)``.
    :param sample_workload: Deploy the sample workload on the first pool. Default: True.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        pools: Sequence[GpuPool],
        cluster_name: str = "gpu-slicing",
        admin_role_arn: str | None = None,
        nat_gateways: int = 1,
        system_node_instance_types: Sequence[str] = ("m7i.large",),
        sample_workload: bool = True,
    ) -> None:
        validate_pools(pools)  # fail before any resource exists
        super().__init__(scope, id)
        self.reference_cluster = ReferenceCluster(
            self,
            "Cluster",
            cluster_name=cluster_name,
            admin_role_arn=admin_role_arn,
            nat_gateways=nat_gateways,
            system_node_instance_types=system_node_instance_types,
        )
        self.cluster = self.reference_cluster.cluster
        self.karpenter = Karpenter(self, "Karpenter", cluster=self.cluster)
        # The controller runs on the system nodes and needs the Pod Identity agent and CNI.
        self.karpenter.chart.node.add_dependency(self.reference_cluster.system_nodegroup)
        for addon in self.reference_cluster.addons.values():
            self.karpenter.chart.node.add_dependency(addon)
        self.gpu_sharing = GpuSharing(
            self,
            "GpuSharing",
            cluster=self.cluster,
            karpenter=self.karpenter,
            pools=pools,
            sample_workload=sample_workload,
        )
