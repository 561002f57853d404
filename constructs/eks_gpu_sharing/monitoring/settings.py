"""Opt-in monitoring settings (the config file's ``monitoring`` section)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final

from ..errors import ConfigurationError
from ..kubernetes_names import dns_label_error, label_key_error, label_value_error, require_name
from ..vocabulary import vocabulary

MONITORING_NAMESPACE: Final = "gpu-monitoring"
#: The label kube-prometheus-stack's Prometheus selects ServiceMonitors by, for a Helm release
#: named kube-prometheus-stack.
DEFAULT_SERVICE_MONITOR_LABELS: Final = {"release": "kube-prometheus-stack"}


@dataclass(frozen=True)
class Monitoring:
    """The NVIDIA DCGM exporter on the AL2023 GPU pools, a scrape configuration for a plain
    Prometheus and a Grafana dashboard. See the guide's "Monitoring".

    :param namespace: Namespace of the exporter and the dashboard ConfigMap.
        Default: ``gpu-monitoring``.
    :param service_monitor: Also let the chart create a ``ServiceMonitor`` (needs the Prometheus
        Operator's CRDs on the cluster). Default: False.
    :param service_monitor_labels: Labels of that ServiceMonitor, which the Prometheus Operator's
        ``serviceMonitorSelector`` must match: kube-prometheus-stack selects
        ``release: <its Helm release>`` by default (``serviceMonitorSelectorNilUsesHelmValues``).
        Default: ``{"release": "kube-prometheus-stack"}``.
    :param dashboard_namespace: Namespace of the dashboard ConfigMap. Grafana's dashboard
        sidecar (grafana chart ``sidecar.dashboards``, as in kube-prometheus-stack) watches its
        own namespace unless ``searchNamespace`` says otherwise: put it where your Grafana runs.
        Default: ``namespace``.
    """

    namespace: str = MONITORING_NAMESPACE
    service_monitor: bool = False
    service_monitor_labels: Mapping[str, str] = field(
        default_factory=lambda: dict(DEFAULT_SERVICE_MONITOR_LABELS)
    )
    dashboard_namespace: str | None = None

    def __post_init__(self) -> None:
        words = vocabulary()
        require_name(
            words.field("Monitoring", "namespace"),
            self.namespace,
            dns_label_error,
            fix=f"use e.g. {words.example('namespace', repr(MONITORING_NAMESPACE))}",
        )
        if self.dashboard_namespace is not None:
            require_name(
                words.field("Monitoring", "dashboard_namespace"),
                self.dashboard_namespace,
                dns_label_error,
                fix="use your Grafana's namespace, e.g. "
                + words.example("dashboard_namespace", repr("monitoring")),
            )
        labels_field = words.field("Monitoring", "service_monitor_labels")
        if not isinstance(self.service_monitor_labels, Mapping):
            raise ConfigurationError(
                field=labels_field,
                value=self.service_monitor_labels,
                rule="must be a mapping of label names to values",
                fix=words.example("service_monitor_labels", '{"release": "prometheus"}'),
            )
        for key, value in self.service_monitor_labels.items():
            if reason := label_key_error(key) or label_value_error(value):
                raise ConfigurationError(
                    field=f"{labels_field}[{key!r}]",
                    value=value,
                    rule=reason,
                    fix="use the labels your Prometheus's serviceMonitorSelector matches",
                )
        if not isinstance(self.service_monitor, bool):
            raise ConfigurationError(
                field=words.field("Monitoring", "service_monitor"),
                value=self.service_monitor,
                rule="must be true or false",
                fix=words.example("service_monitor", "False"),
            )

    @property
    def dashboard_config_map_namespace(self) -> str:
        """Where the dashboard ConfigMap goes: ``dashboard_namespace`` or ``namespace``."""
        return self.dashboard_namespace or self.namespace
