"""GPU sharing on any EKS cluster: Karpenter GPU pools, NodeOverlays, device plugin, sample."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any, Final, Unpack

import cdk8s
from aws_cdk import Annotations, RemovalPolicy
from aws_cdk import aws_eks as eks
from aws_cdk import aws_iam as iam
from constructs import Construct

from ..advice import setup_advice, spot_role_advice
from ..dra import dra_driver_values
from ..errors import ConfigurationError, require_instance
from ..k8s import (
    DEVICE_PLUGIN_RELEASE,
    DevicePluginConfigChart,
    SampleWorkloadChart,
    build_gpu_sharing_charts,
    sample_chart_id,
)
from ..karpenter_installation import ExistingKarpenter, IKarpenter
from ..monitoring import (
    DCGM_EXPORTER_RELEASE,
    Monitoring,
    dcgm_exporter_values,
)
from ..monitoring.chart import MonitoringChart
from ..pool import GpuPool
from ..pool_options import SpotServiceLinkedRole
from ..setup import GpuSharingOptions, GpuSharingSetup, check_option_names, setup_options
from ..versions import (
    DCGM_EXPORTER_CHART_NAME,
    DCGM_EXPORTER_CHART_REPOSITORY,
    DCGM_EXPORTER_CHART_VERSION,
    KARPENTER_VERSION,
    KUBERNETES_VERSION,
    NVIDIA_DEVICE_PLUGIN_CHART_NAME,
    NVIDIA_DEVICE_PLUGIN_CHART_REPOSITORY,
    NVIDIA_DEVICE_PLUGIN_VERSION,
)
from .karpenter import HELM_TIMEOUT, Karpenter, deep_merge

#: A manifest travels inside the kubectl Lambda's event, which AWS caps at 262,144 bytes. An
#: update carries the new and the old manifest, so each must stay under half of that, with room
#: left for the rest of the event (ARNs, request metadata).
MAX_MANIFEST_BYTES = 120_000


class GpuSharingCdkOptions(GpuSharingOptions, total=False):
    """The props ``GpuSharing`` and ``GpuSharingCluster`` share: the setup's
    (:class:`GpuSharingOptions`) and two that only a CDK app has.

    * ``spot_service_linked_role``: for pools that allow spot, ``SpotServiceLinkedRole.CREATE``
      creates the account's ``AWSServiceRoleForEC2Spot``, ``EXISTS`` says it exists. Default:
      None, a synth warning when a pool allows spot.
    * ``device_plugin_values``: extra Helm values, merged over the derived ones. Default: none.
    """

    spot_service_linked_role: SpotServiceLinkedRole | None
    device_plugin_values: Mapping[str, Any] | None


#: What the setup is checked against before ``GpuSharing`` installs Karpenter itself: the
#: library's version with the NodeOverlay gate on, as the ``Karpenter`` construct deploys it.
INSTALLED_KARPENTER: Final = ExistingKarpenter(
    node_role_name="KarpenterNodeRole-installed",
    discovery_tag_value="installed",
    version=KARPENTER_VERSION,
    node_overlay_enabled=True,
    # The construct turns the DRA gate on when the pools need it (``Karpenter.dra_enabled``).
    dra_enabled=True,
)


class GpuSharing(Construct):
    """Shared GPU pools on an EKS cluster autoscaled by Karpenter.

    Attaches to any ``eks.ICluster`` (new or imported) and deploys, in this order:

    1. Karpenter (only when ``karpenter`` is not given) -> per pool an EC2NodeClass, a NodePool
       and NodeOverlays, each depending on the Karpenter chart;
    2. the device plugin namespace and ConfigMap -> the NVIDIA device plugin Helm chart, scheduled
       on exactly the AL2023 GPU pools and restarted when its config changes;
    3. pools and device plugin -> the sample workloads.

    CloudFormation deletes in reverse, so NodePools (and the GPU instances Karpenter launched)
    are removed while the Karpenter controller and its IAM permissions still exist.

    Pools are fixed at construction: the device plugin config and its node affinity are derived
    from all pools at once. Use ``add_sample_workload`` for more sample deployments.

    The props after ``kubernetes_version`` are :class:`GpuSharingCdkOptions`, shared with
    ``GpuSharingCluster``; they become ``setup`` (a validated ``GpuSharingSetup``), which every
    object is rendered from.

    :param cluster: The EKS cluster (``eks.Cluster`` or ``eks.Cluster.from_cluster_attributes``
        with ``kubectl_role_arn`` and ``kubectl_layer``).
    :param pools: The GPU pools (at least one).
    :param karpenter: The Karpenter installation (``IKarpenter``): a ``Karpenter`` construct, an
        ``ExistingKarpenter`` the user runs, or None to install Karpenter on the cluster.
        Default: None (install).
    :param sample_workload: Run the sample workload (a finite Job) on the first pool.
        Default: only on a cluster this app creates (``eks.Cluster``): on an imported cluster
        a demo must be asked for.
    :param device_plugin_namespace: Default: ``nvidia-device-plugin``.
    :param device_plugin_values: Extra Helm values, merged over the derived ones. Default: none.
    :param kubernetes_version: The cluster's Kubernetes version, checked against the Karpenter
        version. Default: ``versions.KUBERNETES_VERSION``.
    :param instance_tags: Extra EC2 tags on the GPU instances and volumes (e.g. cost allocation
        tags). Default: none.
    :param pod_guardrails: ``PodGuardrails(...)`` deploys a ValidatingAdmissionPolicy that refuses
        pods asking for more than one slice on shared pools and non-GPU pods on GPU pools.
        Default: None (no policy).
    :param spot_service_linked_role: For pools that allow spot: ``SpotServiceLinkedRole.CREATE``
        creates the account's ``AWSServiceRoleForEC2Spot`` (retained on delete; fails if it
        exists), ``SpotServiceLinkedRole.EXISTS`` says it exists. Default: None, a synth warning
        when a pool allows spot (without the role Karpenter launches on-demand instead).
    :param monitoring: ``Monitoring(...)`` installs the NVIDIA DCGM exporter chart on the AL2023
        pools and the Grafana dashboard as a ConfigMap (``monitoring_chart``,
        ``monitoring_manifest``). Default: None (no monitoring).
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        cluster: eks.ICluster,
        karpenter: IKarpenter | None = None,
        sample_workload: bool | None = None,
        kubernetes_version: str = KUBERNETES_VERSION,
        **options: Unpack[GpuSharingCdkOptions],
    ) -> None:
        # Validate everything before creating any construct: nothing is half-built.
        check_option_names("GpuSharing", options, GpuSharingCdkOptions)
        spot_service_linked_role = options.get("spot_service_linked_role")
        device_plugin_values = options.get("device_plugin_values")
        if spot_service_linked_role is not None:
            require_instance(
                spot_service_linked_role,
                SpotServiceLinkedRole,
                field="GpuSharing.spot_service_linked_role",
                fix="use SpotServiceLinkedRole.CREATE, SpotServiceLinkedRole.EXISTS or None",
            )
        if karpenter is not None and not isinstance(karpenter, IKarpenter):
            raise ConfigurationError(
                field="GpuSharing.karpenter",
                value=karpenter,
                rule="must be a Karpenter installation (IKarpenter): the Karpenter construct, "
                "an ExistingKarpenter or None",
                fix="pass karpenter=None to install Karpenter, or describe yours with "
                "ExistingKarpenter(...)",
            )
        #: The validated setup this construct deploys (``GpuSharingSetup``).
        self.setup = GpuSharingSetup.from_options(
            error_owner="GpuSharing",
            cluster_name=cluster.cluster_name,
            # The Karpenter this construct installs is checked below, once it exists; until
            # then one of the library's version stands in for it.
            karpenter=karpenter or INSTALLED_KARPENTER,
            kubernetes_version=kubernetes_version,
            **setup_options(options),
        )
        self.pools = self.setup.pools
        super().__init__(scope, id)
        for line in setup_advice(self.pools):
            Annotations.of(self).add_warning_v2("eks-gpu-sharing:pool-cost", line)
        if spot_service_linked_role is None:
            for line in spot_role_advice(self.pools):
                Annotations.of(self).add_warning_v2("eks-gpu-sharing:spot-role", line)
        #: The EC2 Spot service-linked role, when this construct creates it.
        self.spot_service_linked_role: iam.CfnServiceLinkedRole | None = None
        if spot_service_linked_role is SpotServiceLinkedRole.CREATE:
            self.spot_service_linked_role = iam.CfnServiceLinkedRole(
                self,
                "SpotServiceLinkedRole",
                aws_service_name="spot.amazonaws.com",
                description="Lets EC2 (and Karpenter) launch spot instances for GPU pools",
            )
            # One per account, possibly used by others: never deleted with this stack.
            self.spot_service_linked_role.apply_removal_policy(RemovalPolicy.RETAIN)
        self.cluster = cluster
        self.karpenter: IKarpenter = karpenter or Karpenter(
            self,
            "Karpenter",
            cluster=cluster,
            kubernetes_version=kubernetes_version,
            dra_enabled=bool(self.setup.dra_pools),
        )
        #: The NVIDIA DRA driver's Helm values for the DRA pools (None without): install the
        #: driver with them (``docs/configuration.md``, "The DRA backend").
        self.dra_driver_values: dict[str, Any] | None = (
            dra_driver_values(self.setup.dra_consumable_shares) if self.setup.dra_pools else None
        )
        if karpenter is None:
            self.setup = replace(self.setup, karpenter=self.karpenter, error_owner="GpuSharing")
        self._cdk8s_app = cdk8s.App()

        charts = build_gpu_sharing_charts(self._cdk8s_app, self.setup)

        #: The admission guardrails' manifest (policy and binding), with ``pod_guardrails``.
        self.guardrails: eks.KubernetesManifest | None = None
        if charts.guardrails is not None:
            self.guardrails = self._add_chart("PodGuardrails", charts.guardrails)

        #: One manifest per NodePool: its EC2NodeClass and NodePool, by NodePool name (a pool's
        #: name, or ``<pool>-<gpu>`` for a pool with a NodePool per GPU model).
        self.pool_manifests: dict[str, eks.KubernetesManifest] = {}
        #: One manifest per NodeOverlay, by NodePool name and GPU count. Separate resources
        #: because aws-cdk-lib's kubectl handler prunes only kubectl's default kinds on update:
        #: an overlay left out of a shared manifest would stay on the cluster, while a removed
        #: resource is deleted by CloudFormation (``kubectl delete``).
        self.overlay_manifests: dict[str, dict[int, eks.KubernetesManifest]] = {}
        #: The NodePool names of each pool.
        self.node_pool_names: dict[str, list[str]] = {}
        for pool_name, chart in charts.pools.items():
            self.node_pool_names[pool_name] = list(chart.node_pools)
            for name, objects in chart.node_pools.items():
                manifest = self._add_manifest(
                    f"Pool-{name}", [objects.node_class.to_json(), objects.node_pool.to_json()]
                )
                overlays = {
                    count: self._add_manifest(
                        f"Overlay-{objects.spec.overlay_name(count)}",
                        [overlay.to_json()],
                        # Adopts an overlay that an earlier release kept in the pool's manifest.
                        overwrite=True,
                    )
                    for count, overlay in objects.overlays.items()
                }
                for resource in (manifest, *overlays.values()):
                    if self.karpenter.chart is not None:
                        resource.node.add_dependency(self.karpenter.chart)
                if self.spot_service_linked_role is not None:
                    # The role exists before a pool can ask Karpenter for a spot instance.
                    manifest.node.add_dependency(self.spot_service_linked_role)
                self.pool_manifests[name] = manifest
                self.overlay_manifests[name] = overlays

        self.device_plugin_chart: eks.HelmChart | None = None
        self.device_plugin_config: eks.KubernetesManifest | None = None
        if charts.device_plugin_config is not None and charts.device_plugin_values is not None:
            self._add_device_plugin(
                charts.device_plugin_config,
                deep_merge(charts.device_plugin_values, device_plugin_values or {}),
            )

        #: With ``monitoring``: the namespace and dashboard manifest, and the DCGM exporter chart.
        self.monitoring_manifest: eks.KubernetesManifest | None = None
        self.monitoring_chart: eks.HelmChart | None = None
        if self.setup.monitoring is not None:
            self._add_monitoring(self.setup.monitoring)

        #: Sample workload manifests by pool name.
        self.sample_workloads: dict[str, eks.KubernetesManifest] = {}
        if sample_workload is None:
            sample_workload = isinstance(cluster, eks.Cluster)
        if sample_workload:
            self.add_sample_workload(self.pools[0])

    def add_sample_workload(
        self, pool: GpuPool | str, *, replicas: int | None = None
    ) -> eks.KubernetesManifest:
        """Deploy the CUDA n-body sample on ``pool``: one pod per slice of one node by default.

        :param pool: One of this construct's pools, or its name.
        :param replicas: Pods to run. Default: slices per node of the pool's smallest instance.
        """
        name = pool if isinstance(pool, str) else pool.name
        by_name = {p.name: p for p in self.pools}
        if name not in by_name or (isinstance(pool, GpuPool) and by_name[name] != pool):
            raise ConfigurationError(
                field="GpuSharing.add_sample_workload.pool",
                value=name,
                rule="the sample must run on one of this construct's pools",
                fix=f"use one of {sorted(by_name)}",
            )
        if name in self.sample_workloads:
            raise ConfigurationError(
                field="GpuSharing.add_sample_workload.pool",
                value=name,
                rule="this pool already has a sample workload",
                fix="pass replicas= to the first call instead of adding a second sample",
            )
        chart = SampleWorkloadChart(
            self._cdk8s_app,
            sample_chart_id(name),
            pool=by_name[name],
            replicas=replicas,
            # Several samples share one namespace; only the first manifest creates it.
            create_namespace=not self.sample_workloads,
        )
        manifest = self._add_chart(f"Sample-{name}", chart)
        for node_pool in self.node_pool_names[name]:
            manifest.node.add_dependency(self.pool_manifests[node_pool])
            for overlay in self.overlay_manifests[node_pool].values():
                manifest.node.add_dependency(overlay)
        if self.device_plugin_chart is not None:
            manifest.node.add_dependency(self.device_plugin_chart)
        for earlier in self.sample_workloads.values():
            manifest.node.add_dependency(earlier)  # the namespace comes with the first one
        self.sample_workloads[name] = manifest
        return manifest

    # -- internals --------------------------------------------------------------------------

    def _add_device_plugin(
        self, config_chart: DevicePluginConfigChart, values: Mapping[str, Any]
    ) -> None:
        self.device_plugin_config = self._add_chart("DevicePluginConfig", config_chart)
        self.device_plugin_chart = self._add_helm_release(
            "DevicePlugin",
            chart=NVIDIA_DEVICE_PLUGIN_CHART_NAME,
            repository=NVIDIA_DEVICE_PLUGIN_CHART_REPOSITORY,
            version=NVIDIA_DEVICE_PLUGIN_VERSION,
            release=DEVICE_PLUGIN_RELEASE,
            namespace=config_chart.namespace,
            values=values,
            after=self.device_plugin_config,
        )

    def _add_monitoring(self, monitoring: Monitoring) -> None:
        self.monitoring_manifest = self._add_chart(
            "Monitoring", MonitoringChart(self._cdk8s_app, "monitoring", monitoring=monitoring)
        )
        self.monitoring_chart = self._add_helm_release(
            "DcgmExporter",
            chart=DCGM_EXPORTER_CHART_NAME,
            repository=DCGM_EXPORTER_CHART_REPOSITORY,
            version=DCGM_EXPORTER_CHART_VERSION,
            release=DCGM_EXPORTER_RELEASE,
            namespace=monitoring.namespace,
            values=dcgm_exporter_values(
                self.pools,
                service_monitor=monitoring.service_monitor,
                service_monitor_labels=monitoring.service_monitor_labels,
            ),
            after=self.monitoring_manifest,
        )

    def _add_helm_release(
        self,
        id: str,
        *,
        chart: str,
        repository: str,
        version: str,
        release: str,
        namespace: str | None,
        values: Mapping[str, Any],
        after: eks.KubernetesManifest,
    ) -> eks.HelmChart:
        """A pinned chart, installed into the namespace the manifest ``after`` creates, and
        waited for (pods scheduled and ready) up to ``HELM_TIMEOUT``."""
        helm_chart = eks.HelmChart(
            self,
            id,
            cluster=self.cluster,
            chart=chart,
            repository=repository,
            version=version,
            release=release,
            namespace=namespace,
            create_namespace=False,
            values=dict(values),
            wait=True,
            timeout=HELM_TIMEOUT,
        )
        helm_chart.node.add_dependency(after)
        return helm_chart

    def _add_chart(self, id: str, chart: cdk8s.Chart) -> eks.KubernetesManifest:
        return self._add_manifest(id, chart.to_json())

    def _add_manifest(
        self, id: str, manifest: Sequence[dict[str, Any]], *, overwrite: bool = False
    ) -> eks.KubernetesManifest:
        manifest = list(manifest)
        size = len(json.dumps(manifest, separators=(",", ":")))
        if size > MAX_MANIFEST_BYTES:
            raise ConfigurationError(
                field=f"GpuSharing manifest {id}",
                value=f"{size} bytes",
                rule=f"a manifest travels in the kubectl Lambda event (262,144-byte limit, new and "
                f"old manifest together on updates; this library keeps each under "
                f"{MAX_MANIFEST_BYTES})",
                fix="split the pools over several GpuSharing constructs or shorten labels",
            )
        return eks.KubernetesManifest(
            self, id, cluster=self.cluster, manifest=manifest, overwrite=overwrite
        )
