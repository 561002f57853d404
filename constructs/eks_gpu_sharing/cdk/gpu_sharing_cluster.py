"""Everything in one construct: a new VPC and EKS cluster, Karpenter, and shared GPU pools."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Unpack, cast

from aws_cdk import aws_eks as eks
from constructs import Construct

from ..setup import GpuSharingSetup, check_option_names, setup_options
from .cluster import ReferenceCluster
from .gpu_sharing import INSTALLED_KARPENTER, GpuSharing, GpuSharingCdkOptions
from .karpenter import Karpenter


class GpuSharingCluster(Construct):
    """A new EKS cluster with Karpenter and shared GPU pools (the reference app's shape).

    Composes ``ReferenceCluster`` (VPC, EKS, system nodes, add-ons), ``Karpenter`` and
    ``GpuSharing``. For an existing cluster use ``GpuSharing`` directly.

    Props besides these are ``GpuSharing``'s (``GpuSharingCdkOptions``: ``pools``,
    ``device_plugin_namespace``, ``instance_tags``, ``pod_guardrails``, ``monitoring``,
    ``spot_service_linked_role``, ``device_plugin_values``).

    :param cluster_name: Default: ``gpu-slicing``.
    :param admin_role_arn: IAM role given cluster-admin via an access entry. Default: none.
    :param nat_gateways: NAT gateways of the new VPC. Default: 1 (cost; 2+ for AZ resilience).
    :param system_node_instance_types: Instance types of the system node group.
        Default: ``("m7i.large",)``.
    :param sample_workload: Run the sample workload (a finite Job) on the first pool. Default: True.
    :param endpoint_access: EKS API endpoint access. Default: public and private (so `kubectl`
        works from a workstation; access still needs IAM and an access entry).
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        cluster_name: str = "gpu-slicing",
        admin_role_arn: str | None = None,
        nat_gateways: int = 1,
        system_node_instance_types: Sequence[str] = ("m7i.large",),
        sample_workload: bool = True,
        endpoint_access: eks.EndpointAccess | None = None,
        **options: Unpack[GpuSharingCdkOptions],
    ) -> None:
        # Fail before any construct exists: ReferenceCluster stages the kubectl layer asset
        # (tens of MB) into cdk.out as soon as it is created. GpuSharing builds the same setup
        # again from the same props once the cluster exists.
        check_option_names("GpuSharingCluster", options, GpuSharingCdkOptions)
        setup = GpuSharingSetup.from_options(
            error_owner="GpuSharingCluster",
            cluster_name=cluster_name,
            karpenter=INSTALLED_KARPENTER,
            **setup_options(options),
        )
        super().__init__(scope, id)
        self.reference_cluster = ReferenceCluster(
            self,
            "Cluster",
            cluster_name=cluster_name,
            admin_role_arn=admin_role_arn,
            nat_gateways=nat_gateways,
            system_node_instance_types=system_node_instance_types,
            endpoint_access=endpoint_access,
        )
        self.cluster = self.reference_cluster.cluster
        # eks.Cluster implements eks.ICluster; jsii's Python stubs type its kubectl_provider
        # differently, which mypy reads as a protocol mismatch.
        cluster = cast(eks.ICluster, self.cluster)
        self.karpenter = Karpenter(
            self, "Karpenter", cluster=cluster, dra_enabled=bool(setup.dra_pools)
        )
        # The controller runs on the system nodes and needs the Pod Identity agent and CNI.
        self.karpenter.chart.node.add_dependency(self.reference_cluster.system_nodegroup)
        for addon in self.reference_cluster.addons.values():
            self.karpenter.chart.node.add_dependency(addon)
        self.gpu_sharing = GpuSharing(
            self,
            "GpuSharing",
            cluster=cluster,
            karpenter=self.karpenter,
            sample_workload=sample_workload,
            **options,
        )
