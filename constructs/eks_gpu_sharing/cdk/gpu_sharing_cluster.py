"""Everything in one construct: a new VPC and EKS cluster, Karpenter, and shared GPU pools."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import cast

from aws_cdk import aws_eks as eks
from constructs import Construct

from ..guardrails import PodGuardrails
from ..instance_tags import check_instance_tags
from ..k8s import DEVICE_PLUGIN_NAMESPACE
from ..kubernetes_names import require_name
from ..monitoring.settings import Monitoring
from ..pool import GpuPool, check_ami_pins, validate_pools
from ..pool_options import SpotServiceLinkedRole
from ..versions import KUBERNETES_VERSION
from .cluster import ReferenceCluster
from .gpu_sharing import GpuSharing
from .karpenter import Karpenter


class GpuSharingCluster(Construct):
    """A new EKS cluster with Karpenter and shared GPU pools (the reference app's shape).

    Composes ``ReferenceCluster`` (VPC, EKS, system nodes, add-ons), ``Karpenter`` and
    ``GpuSharing``. For an existing cluster use ``GpuSharing`` directly.

    :param pools: The GPU pools (at least one).
    :param cluster_name: Default: ``gpu-slicing``.
    :param admin_role_arn: IAM role given cluster-admin via an access entry. Default: none.
    :param nat_gateways: NAT gateways of the new VPC. Default: 1 (cost; 2+ for AZ resilience).
    :param system_node_instance_types: Instance types of the system node group.
        Default: ``("m7i.large",)``.
    :param sample_workload: Run the sample workload (a finite Job) on the first pool. Default: True.
    :param device_plugin_namespace: Namespace of the NVIDIA device plugin.
        Default: ``nvidia-device-plugin``.
    :param instance_tags: Extra EC2 tags on the GPU instances and volumes. Default: none.
    :param pod_guardrails: See ``GpuSharing``. Default: None.
    :param monitoring: See ``GpuSharing``. Default: None.
    :param spot_service_linked_role: See ``GpuSharing``. Default: None (a synth warning when a
        pool allows spot).
    :param endpoint_access: EKS API endpoint access. Default: public and private (so `kubectl`
        works from a workstation; access still needs IAM and an access entry).
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
        device_plugin_namespace: str = DEVICE_PLUGIN_NAMESPACE,
        endpoint_access: eks.EndpointAccess | None = None,
        instance_tags: Mapping[str, str] | None = None,
        spot_service_linked_role: SpotServiceLinkedRole | None = None,
        pod_guardrails: PodGuardrails | None = None,
        monitoring: Monitoring | None = None,
    ) -> None:
        # Fail before any construct exists: ReferenceCluster stages the kubectl layer asset
        # (tens of MB) into cdk.out as soon as it is created.
        pools = validate_pools(pools)
        require_name(
            "GpuSharingCluster.device_plugin_namespace",
            device_plugin_namespace,
            fix="use e.g. 'nvidia-device-plugin'",
        )
        check_instance_tags(instance_tags or {}, field="GpuSharingCluster.instance_tags")
        check_ami_pins(
            pools, KUBERNETES_VERSION, kubernetes_version_field="versions.KUBERNETES_VERSION"
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
        self.karpenter = Karpenter(self, "Karpenter", cluster=cluster)
        # The controller runs on the system nodes and needs the Pod Identity agent and CNI.
        self.karpenter.chart.node.add_dependency(self.reference_cluster.system_nodegroup)
        for addon in self.reference_cluster.addons.values():
            self.karpenter.chart.node.add_dependency(addon)
        self.gpu_sharing = GpuSharing(
            self,
            "GpuSharing",
            cluster=cluster,
            karpenter=self.karpenter,
            pools=pools,
            sample_workload=sample_workload,
            device_plugin_namespace=device_plugin_namespace,
            instance_tags=instance_tags,
            spot_service_linked_role=spot_service_linked_role,
            pod_guardrails=pod_guardrails,
            monitoring=monitoring,
        )
