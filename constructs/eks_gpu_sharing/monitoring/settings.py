"""Opt-in monitoring settings (the config file's ``monitoring`` section)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from ..errors import ConfigurationError
from ..kubernetes_names import dns_label_error, require_name
from ..vocabulary import vocabulary

MONITORING_NAMESPACE: Final = "gpu-monitoring"


@dataclass(frozen=True)
class Monitoring:
    """The NVIDIA DCGM exporter on the AL2023 GPU pools, a scrape configuration for a plain
    Prometheus and a Grafana dashboard. See the guide's "Monitoring".

    :param namespace: Namespace of the exporter and the dashboard ConfigMap.
        Default: ``gpu-monitoring``.
    :param service_monitor: Also let the chart create a ``ServiceMonitor`` (needs the Prometheus
        Operator's CRDs on the cluster). Default: False.
    """

    namespace: str = MONITORING_NAMESPACE
    service_monitor: bool = False

    def __post_init__(self) -> None:
        words = vocabulary()
        require_name(
            words.field("Monitoring", "namespace"),
            self.namespace,
            dns_label_error,
            fix=f"use e.g. {words.example('namespace', repr(MONITORING_NAMESPACE))}",
        )
        if not isinstance(self.service_monitor, bool):
            raise ConfigurationError(
                field=words.field("Monitoring", "service_monitor"),
                value=self.service_monitor,
                rule="must be true or false",
                fix=words.example("service_monitor", "False"),
            )
