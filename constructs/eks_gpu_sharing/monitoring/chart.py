"""The monitoring namespace and the dashboard as a ConfigMap (``70-monitoring.k8s.yaml``)."""

from __future__ import annotations

from typing import Final

import cdk8s
from cdk8s_plus_36 import k8s
from constructs import Construct

from ..k8s.common import CHART_PROPS, PodSecurityLevels, namespace_object
from .dashboard import dashboard_json
from .settings import Monitoring

#: The exporter reads GPU metrics through host paths and runs with ``SYS_ADMIN`` (for the
#: profiling metrics, the chart's ``securityContext``): only ``privileged`` admits it.
MONITORING_POD_SECURITY: Final = PodSecurityLevels(
    enforce="privileged", warn="privileged", audit="privileged"
)
#: ConfigMap of the dashboard; the label is the one Grafana's dashboard sidecar (as in the
#: kube-prometheus-stack chart) watches by default.
DASHBOARD_CONFIG_MAP: Final = "gpu-sharing-dashboard"
DASHBOARD_LABEL: Final = {"grafana_dashboard": "1"}
#: The dashboard's file name inside the ConfigMap and in the output folder.
DASHBOARD_FILE: Final = "gpu-sharing-dashboard.json"


class MonitoringChart(cdk8s.Chart):
    """The namespace of the DCGM exporter and the Grafana dashboard ConfigMap."""

    def __init__(self, scope: Construct, id: str, *, monitoring: Monitoring) -> None:
        super().__init__(scope, id, namespace=monitoring.namespace, **CHART_PROPS)
        self.namespace_object = namespace_object(
            self, "namespace", monitoring.namespace, pod_security=MONITORING_POD_SECURITY
        )
        self.dashboard = k8s.KubeConfigMap(
            self,
            "dashboard",
            metadata=k8s.ObjectMeta(
                name=DASHBOARD_CONFIG_MAP,
                namespace=monitoring.dashboard_config_map_namespace,
                labels=DASHBOARD_LABEL,
            ),
            data={DASHBOARD_FILE: dashboard_json()},
        )
