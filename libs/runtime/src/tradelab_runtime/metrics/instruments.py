"""The platform's own instruments (FastStream's message metrics are registered by its middleware,
``tradelab_runtime.broker``), all in one registry per process."""

from collections.abc import Awaitable, Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from .names import CacheResult, MetricName

JOB_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 900, 3600)
"""Seconds: a cached backtest ends in milliseconds, a large grid in minutes."""

Refresh = Callable[[], Awaitable[None]]
"""Brings gauges up to date just before a scrape is answered."""


class CacheStats:
    """Hits and misses of one named cache; feed it per lookup or in bulk."""

    def __init__(self, counter: Counter, cache: str) -> None:
        self._hits = counter.labels(cache=cache, result=CacheResult.HIT.value)
        self._misses = counter.labels(cache=cache, result=CacheResult.MISS.value)

    def hit(self) -> None:
        """Count one lookup answered from the cache."""
        self._hits.inc()

    def miss(self) -> None:
        """Count one lookup the cache could not answer."""
        self._misses.inc()

    def record(self, hits: int = 0, misses: int = 0) -> None:
        """Count several lookups at once (e.g. deltas read from another cache's statistics)."""
        if hits:
            self._hits.inc(hits)
        if misses:
            self._misses.inc(misses)


class ServiceMetrics:
    """The metrics of one service process, in a registry of its own (never the global default:
    several apps share a test process).

    ``refreshes`` run before each scrape is rendered (consumer lag, pool use, queue depth).
    """

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        self.refreshes: list[Refresh] = []
        r = self.registry
        self.http_duration = Histogram(
            MetricName.HTTP_REQUEST_DURATION,
            "HTTP requests by method, route template and status, in seconds.",
            ["method", "route", "status"],
            registry=r,
        )
        self.consumer_lag = Gauge(
            MetricName.KAFKA_CONSUMER_LAG,
            "Messages not yet committed per consumer group and topic, read at scrape time.",
            ["group", "topic"],
            registry=r,
        )
        self.job_queue_depth = Gauge(
            MetricName.JOB_QUEUE_DEPTH,
            "Jobs waiting or running per kind and state, read at scrape time.",
            ["kind", "state"],
            registry=r,
        )
        self.job_duration = Histogram(
            MetricName.JOB_DURATION,
            "Time from submission to the end of a job, per kind, in seconds.",
            ["kind"],
            buckets=JOB_BUCKETS,
            registry=r,
        )
        self.jobs_finished = Counter(
            MetricName.JOBS_FINISHED,
            "Jobs ended, per kind and outcome (completed, failed, cancelled).",
            ["kind", "outcome"],
            registry=r,
        )
        self.job_turns = Counter(
            MetricName.JOB_TURNS,
            "Job turns taken per kind and path: `direct` by the replica that accepted the "
            "submission, `message` by the consumer of the job's message.",
            ["kind", "path"],
            registry=r,
        )
        self.cache_requests = Counter(
            MetricName.CACHE_REQUESTS,
            "Cache lookups per cache and result (hit or miss).",
            ["cache", "result"],
            registry=r,
        )
        self.db_pool_checked_out = Gauge(
            MetricName.DB_POOL_CHECKED_OUT,
            "Database connections in use, read at scrape time.",
            registry=r,
        )
        self.db_pool_size = Gauge(
            MetricName.DB_POOL_SIZE,
            "Connections the database pool keeps (overflow not counted).",
            registry=r,
        )
        self.ingest_rows = Counter(
            MetricName.INGEST_ROWS, "Rows of datasets ingested (ready).", registry=r
        )
        self.ingest_duration = Histogram(
            MetricName.INGEST_DURATION,
            "Time to validate, normalise and store one upload, per outcome, in seconds.",
            ["outcome"],
            buckets=JOB_BUCKETS,
            registry=r,
        )
        self.refresh_errors = Counter(
            MetricName.SCRAPE_REFRESH_ERRORS,
            "Scrape-time refreshes that failed (the gauge keeps its last value).",
            registry=r,
        )

    def cache(self, name: str) -> CacheStats:
        """The hit/miss counts of the cache called ``name`` (a fixed name, not a key)."""
        return CacheStats(self.cache_requests, name)

    def job_finished(self, kind: str, outcome: str, seconds: float | None) -> None:
        """Count a job of ``kind`` that ended with ``outcome`` after ``seconds`` (None: unknown)."""
        self.jobs_finished.labels(kind=kind, outcome=outcome).inc()
        if seconds is not None:
            self.job_duration.labels(kind=kind).observe(max(0.0, seconds))

    def turn_taken(self, kind: str, path: str) -> None:
        """Count one turn of a ``kind`` job taken by ``path`` (``direct`` or ``message``)."""
        self.job_turns.labels(kind=kind, path=path).inc()

    def ingested(self, outcome: str, rows: int, seconds: float) -> None:
        """Count one ingestion that ended with ``outcome`` (``ready``/``rejected``)."""
        self.ingest_duration.labels(outcome=outcome).observe(seconds)
        self.ingest_rows.inc(rows)
