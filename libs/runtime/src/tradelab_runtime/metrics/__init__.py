"""Prometheus metrics of a service: names (``names``), instruments (``instruments``), HTTP
timing (``http``) and the ``/metrics`` endpoint (``scrape``). See docs/monitoring.md."""

from .http import HttpMetricsMiddleware, route_template
from .instruments import CacheStats, ServiceMetrics
from .names import CacheResult, MetricName, series_names
from .scrape import lag_refresh, metrics_router, pool_refresh, refresh

__all__ = [
    "CacheResult",
    "CacheStats",
    "HttpMetricsMiddleware",
    "MetricName",
    "ServiceMetrics",
    "lag_refresh",
    "metrics_router",
    "pool_refresh",
    "refresh",
    "route_template",
    "series_names",
]
