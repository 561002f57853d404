"""The Kubernetes side of eks-gpu-sharing: cdk8s charts derived from ``GpuPool`` descriptions.

Pure Kubernetes (no ``aws_cdk`` import): the same charts go into CDK's ``add_cdk8s_chart`` and
into ``cdk8s synth`` for plain YAML.

* :class:`GpuPoolChart`: EC2NodeClass, NodePool and NodeOverlays of one pool.
* :class:`DevicePluginConfigChart`, :func:`device_plugin_helm_values`: the NVIDIA device
  plugin's profiles and the Helm values that serve exactly the AL2023 pools.
* :class:`SampleWorkloadChart`: a CUDA n-body Job that fills one node with slices.
* :class:`GuardrailsChart`: an opt-in ValidatingAdmissionPolicy for pods on GPU pools.
* :func:`build_gpu_sharing_charts`: all pool and device plugin charts of a setup, as both the
  CDK construct and the plain-YAML renderer build them.
"""

from __future__ import annotations

from ..backends import DEVICE_PLUGIN_NAMESPACE, DEVICE_PLUGIN_RELEASE
from ..k8s_namespaces import SAMPLE_WORKLOAD_NAMESPACE
from ..plan import sample_replicas
from .common import COMMON_LABELS
from .device_plugin import (
    CONFIG_HASH_ANNOTATION,
    DEVICE_PLUGIN_CONFIG_MAP,
    DevicePluginConfigChart,
    config_data_hash,
    device_plugin_config_data,
    device_plugin_helm_values,
)
from .gpu_pool_chart import GpuPoolChart, overlay_name
from .gpu_sharing_charts import GpuSharingCharts, build_gpu_sharing_charts, sample_chart_id
from .guardrails import GuardrailsChart
from .sample_workload import (
    SAMPLE_NUM_BODIES,
    SampleWorkloadChart,
    sample_workload_name,
)

__all__ = [
    "COMMON_LABELS",
    "CONFIG_HASH_ANNOTATION",
    "DEVICE_PLUGIN_CONFIG_MAP",
    "DEVICE_PLUGIN_NAMESPACE",
    "DEVICE_PLUGIN_RELEASE",
    "SAMPLE_NUM_BODIES",
    "SAMPLE_WORKLOAD_NAMESPACE",
    "DevicePluginConfigChart",
    "GpuPoolChart",
    "GpuSharingCharts",
    "GuardrailsChart",
    "SampleWorkloadChart",
    "build_gpu_sharing_charts",
    "config_data_hash",
    "device_plugin_config_data",
    "device_plugin_helm_values",
    "overlay_name",
    "sample_chart_id",
    "sample_replicas",
    "sample_workload_name",
]
