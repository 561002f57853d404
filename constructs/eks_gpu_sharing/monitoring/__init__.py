"""Opt-in GPU monitoring: the NVIDIA DCGM exporter chart's values, a Prometheus scrape
configuration and a Grafana dashboard (the guide's "Monitoring")."""

from __future__ import annotations

from .exporter import (
    DCGM_EXPORTER_RELEASE,
    check_monitored_pools,
    dcgm_exporter_values,
    prometheus_scrape_config,
)
from .settings import MONITORING_NAMESPACE, Monitoring

__all__ = [
    "ATTRIBUTION_NOTE",
    "DASHBOARD_CONFIG_MAP",
    "DASHBOARD_FILE",
    "DCGM_EXPORTER_RELEASE",
    "MONITORING_NAMESPACE",
    "PANELS",
    "Monitoring",
    "MonitoringChart",
    "check_monitored_pools",
    "dashboard_json",
    "dcgm_exporter_values",
    "gpu_sharing_dashboard",
    "prometheus_scrape_config",
    "queries",
    "resolved",
]

# The chart (cdk8s) and the dashboard (Grafana's SDK) load on first use: `Monitoring`, which
# `import eks_gpu_sharing` exports, must not pull them into every import of the package.
_LAZY = {
    "DASHBOARD_CONFIG_MAP": ".chart",
    "DASHBOARD_FILE": ".chart",
    "MonitoringChart": ".chart",
    "ATTRIBUTION_NOTE": ".dashboard",
    "PANELS": ".dashboard",
    "dashboard_json": ".dashboard",
    "gpu_sharing_dashboard": ".dashboard",
    "queries": ".dashboard",
    "resolved": ".dashboard",
}


def __getattr__(name: str) -> object:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
