"""The NVIDIA device plugin's sharing profiles (ConfigMap) and its Helm values (chart 0.20.0).

The AL2023 pools are served by the plugin's Helm DaemonSet. Its config-manager sidecar reads the
node label ``nvidia.com/device-plugin.config`` (set by each pool's NodePool) and picks that key
of one ConfigMap, which holds a v1 config per distinct sharing profile. Bottlerocket pools have
the plugin built into the OS (configured through user data) and are kept out of the DaemonSet.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from typing import Any, Final

import cdk8s
import yaml
from cdk8s_plus_36 import k8s
from constructs import Construct

from ..backends import DEVICE_PLUGIN_NAMESPACE
from ..errors import ConfigurationError
from ..kubernetes_names import dns_subdomain_error, require_name
from ..labels import GPU_TAINT_KEY, ISOLATION_TAINT_KEY, POOL_LABEL
from ..plan import plan_pool
from ..pool import GpuPool
from ..sharing import DEFAULT_PROFILE, MPS_CAPABLE_LABEL
from .common import CHART_PROPS, PodSecurityLevels, namespace_object

#: Requests and limits of the plugin container. NVIDIA publishes none (the chart's default is
#: ``{}``); the plugin is one small Go process per node. Override with ``device_plugin_values``.
DEVICE_PLUGIN_RESOURCES: Final = {
    "requests": {"cpu": "50m", "memory": "64Mi"},
    "limits": {"memory": "256Mi"},
}

#: The device plugin mounts the kubelet's device-plugin folder (hostPath); with MPS its control
#: daemon needs the host's PID namespace, and GPU feature discovery runs privileged: only the
#: ``privileged`` Pod Security Standard admits them.
DEVICE_PLUGIN_POD_SECURITY: Final = PodSecurityLevels(
    enforce="privileged", warn="privileged", audit="privileged"
)

#: Name of the ConfigMap with one key per sharing profile.
DEVICE_PLUGIN_CONFIG_MAP: Final = "nvidia-device-plugin-config"
#: Pod-template annotation carrying the ConfigMap hash: the plugin does not reload its config,
#: so a changed hash rolls its pods.
CONFIG_HASH_ANNOTATION: Final = "eks-gpu-sharing.io/config-hash"


def _daemonset_pools(pools: Sequence[GpuPool]) -> list[GpuPool]:
    return [p for p in pools if p.uses_device_plugin_daemonset]


def device_plugin_config_data(pools: Sequence[GpuPool]) -> dict[str, str]:
    """The ConfigMap ``data``: each AL2023 NodePool's sharing under its own key (``pool-<name>``;
    a pool with slices per GPU model has a NodePool, and a key, per model).

    The unshared profile (``exclusive``) is always present: it is the chart's ``config.default``
    for GPU nodes without the config label. Values are the device plugin's v1 config as YAML.
    """
    data = {DEFAULT_PROFILE.profile_name: _to_yaml(DEFAULT_PROFILE.device_plugin_config())}
    for pool in _daemonset_pools(pools):
        for plan in plan_pool(pool).node_pools:
            data[plan.device_plugin_config_key] = _to_yaml(plan.sharing.device_plugin_config())
    return dict(sorted(data.items()))


def config_data_hash(data: dict[str, str]) -> str:
    """A stable SHA-256 (hex) of ConfigMap data."""
    canonical = json.dumps(data, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def _to_yaml(document: dict[str, Any]) -> str:
    return yaml.safe_dump(document, sort_keys=False, default_flow_style=False)


class DevicePluginConfigChart(cdk8s.Chart):
    """The device plugin's namespace and the ConfigMap of sharing profiles.

    :param pools: All GPU pools (Bottlerocket pools contribute nothing).
    :param namespace: Default: ``nvidia-device-plugin``.
    :param config_map_name: Default: ``nvidia-device-plugin-config``.
    :param create_namespace: Also create the namespace. Default: True.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        pools: Sequence[GpuPool],
        namespace: str = DEVICE_PLUGIN_NAMESPACE,
        config_map_name: str = DEVICE_PLUGIN_CONFIG_MAP,
        create_namespace: bool = True,
    ) -> None:
        require_name(
            "DevicePluginConfigChart.namespace", namespace, fix="use e.g. 'nvidia-device-plugin'"
        )
        require_name(
            "DevicePluginConfigChart.config_map_name",
            config_map_name,
            dns_subdomain_error,
            fix="use e.g. 'nvidia-device-plugin-config'",
        )
        data = device_plugin_config_data(pools)
        # The chart's namespace (``self.namespace``) goes on every namespaced object.
        super().__init__(scope, id, namespace=namespace, **CHART_PROPS)
        #: The ConfigMap's name (what the Helm values' ``config.name`` must be).
        self.config_map_name = config_map_name
        #: The profile nodes without the config label get.
        self.default_profile: str = DEFAULT_PROFILE.profile_name
        #: SHA-256 (hex) of the ConfigMap data; put into the plugin's pod annotations.
        self.config_hash = config_data_hash(data)
        self.namespace_object: k8s.KubeNamespace | None = None
        if create_namespace:
            self.namespace_object = namespace_object(
                self, "namespace", namespace, pod_security=DEVICE_PLUGIN_POD_SECURITY
            )
        self.config_map = k8s.KubeConfigMap(
            self,
            "config",
            metadata=k8s.ObjectMeta(name=config_map_name),
            data=data,
        )


def _resources(served: Sequence[GpuPool]) -> dict[str, dict[str, str]]:
    """The plugin's requests and memory limit; no limit where a pool runs MPS.

    The chart gives its MPS control daemon the plugin's ``resources`` too (k8s-device-plugin
    v0.19.3 ``templates/daemonset-mps-control-daemon.yml``), and an OOM kill of that daemon ends
    every MPS client on the node: a leak of the plugin is the smaller risk there."""
    resources = {part: dict(amounts) for part, amounts in DEVICE_PLUGIN_RESOURCES.items()}
    # Nodes labelled for the control daemon (GFD's nvidia.com/mps.capable) run it.
    if any(MPS_CAPABLE_LABEL in p.sharing.device_plugin_node_labels() for p in served):
        del resources["limits"]
    return resources


def _toleration(taint: dict[str, str]) -> dict[str, str]:
    toleration = {"key": taint["key"], "effect": taint["effect"]}
    # One toleration for every pool's isolation taint: the plugin serves them all.
    if "value" in taint and taint["key"] != ISOLATION_TAINT_KEY:
        toleration |= {"operator": "Equal", "value": taint["value"]}
    else:
        toleration["operator"] = "Exists"
    return toleration


def device_plugin_helm_values(
    pools: Sequence[GpuPool],
    *,
    config_map_name: str = DEVICE_PLUGIN_CONFIG_MAP,
    config_hash: str | None = None,
) -> dict[str, Any]:
    """Values for the ``nvidia-device-plugin`` Helm chart 0.20.0 that serve ``pools``.

    * ``config``: the ConfigMap of :class:`DevicePluginConfigChart`, default profile
      ``exclusive``.
    * ``affinity`` replaces the chart's NFD-based default (Helm replaces lists, it does not
      merge them) with one that matches exactly the nodes of the AL2023 pools, by pool label;
      Bottlerocket nodes run their built-in plugin and must not get a second one.
    * ``tolerations``: the chart's defaults plus every extra taint of those pools.
    * ``podAnnotations``: the ConfigMap hash, when given, so a profile change restarts the pods.
    * ``resources`` of the plugin container (:data:`DEVICE_PLUGIN_RESOURCES`): requests so the
      scheduler and Karpenter count it, a memory limit so a leak cannot starve the node (none
      where a pool runs MPS: the chart gives the MPS control daemon the same resources).
    * ``gfd.enabled``: only when a pool's sharing needs GPU feature discovery (MPS: its control
      daemon selects GFD's labels); NFD,
      deployed with GFD, then also gets a toleration for the ``nvidia.com/gpu`` taint.

    :param pools: All GPU pools; at least one must be an AL2023 pool.
    :param config_map_name: Default: ``nvidia-device-plugin-config``.
    :param config_hash: ``DevicePluginConfigChart.config_hash``. Default: no annotation.
    """
    served = _daemonset_pools(pools)
    if not served:
        raise ConfigurationError(
            field="pools",
            value=[p.name for p in pools],
            rule="the device plugin DaemonSet serves AL2023 pools only and there is none "
            "(Bottlerocket runs its own plugin)",
            fix="deploy the device plugin only when a pool uses AmiFamily.AL2023",
        )
    extra_tolerations: list[dict[str, str]] = []
    for pool in served:
        for taint in pool.node_taints():
            toleration = _toleration(taint)
            if taint["key"] != GPU_TAINT_KEY and toleration not in extra_tolerations:
                extra_tolerations.append(toleration)

    def gpu_tolerations() -> list[dict[str, str]]:
        # Fresh dicts each time: shared ones would become YAML anchors in a values file.
        gpu = {"key": GPU_TAINT_KEY, "operator": "Exists", "effect": "NoSchedule"}
        return [gpu, *(dict(t) for t in extra_tolerations)]

    values: dict[str, Any] = {
        "config": {"name": config_map_name, "default": DEFAULT_PROFILE.profile_name},
        "affinity": {
            "nodeAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": {
                    "nodeSelectorTerms": [
                        {
                            "matchExpressions": [
                                {
                                    "key": POOL_LABEL,
                                    "operator": "In",
                                    "values": sorted(p.name for p in served),
                                }
                            ]
                        }
                    ]
                }
            }
        },
        "tolerations": [
            {"key": "CriticalAddonsOnly", "operator": "Exists"},
            *gpu_tolerations(),
        ],
        "resources": _resources(served),
    }
    if config_hash is not None:
        values["podAnnotations"] = {CONFIG_HASH_ANNOTATION: config_hash}
    if any(p.sharing.needs_gpu_feature_discovery for p in served):
        values["gfd"] = {"enabled": True}
        # NFD's worker tolerates nvidia.com/gpu only with value "present"; Karpenter's taint
        # has no value, so without this NFD never labels the GPU nodes and MPS never starts.
        # (`Exists` also covers the chart's "present" entry, which this list replaces.)
        values["nfd"] = {"worker": {"tolerations": gpu_tolerations()}}
    else:
        values["gfd"] = {"enabled": False}
    return values
