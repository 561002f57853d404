"""Opt-in GPU monitoring: the NVIDIA DCGM exporter chart's values, a Prometheus scrape
configuration and a Grafana dashboard (the guide's "Monitoring")."""

from __future__ import annotations

from .chart import DASHBOARD_CONFIG_MAP, DASHBOARD_FILE, MonitoringChart
from .dashboard import ATTRIBUTION_NOTE, PANELS, gpu_sharing_dashboard, queries
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
    "dcgm_exporter_values",
    "gpu_sharing_dashboard",
    "prometheus_scrape_config",
    "queries",
]
