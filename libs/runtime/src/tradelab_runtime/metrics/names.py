"""Every metric name the platform exports, in one place (services, the dashboard and the docs
spell them from here), with the label names they carry.

Label values are always bounded: route templates, topics, consumer groups, job kinds, outcomes,
cache names. Never a user id, a dataset id or a raw path.
"""

from enum import StrEnum

PREFIX = "tradelab"
KAFKA_PREFIX = f"{PREFIX}_kafka"
"""Prefix of the message metrics FastStream's Prometheus middleware writes."""


class MetricName(StrEnum):
    """A metric family's name as Prometheus stores it (histograms add ``_bucket``, ``_sum`` and
    ``_count``; counters are named with their ``_total`` suffix)."""

    HTTP_REQUEST_DURATION = f"{PREFIX}_http_request_duration_seconds"
    KAFKA_RECEIVED = f"{KAFKA_PREFIX}_received_messages_total"
    KAFKA_RECEIVED_SIZE = f"{KAFKA_PREFIX}_received_messages_size_bytes"
    KAFKA_IN_PROCESS = f"{KAFKA_PREFIX}_received_messages_in_process"
    KAFKA_PROCESSED = f"{KAFKA_PREFIX}_received_processed_messages_total"
    KAFKA_HANDLER_DURATION = f"{KAFKA_PREFIX}_received_processed_messages_duration_seconds"
    KAFKA_HANDLER_EXCEPTIONS = f"{KAFKA_PREFIX}_received_processed_messages_exceptions_total"
    KAFKA_PUBLISHED = f"{KAFKA_PREFIX}_published_messages_total"
    KAFKA_PUBLISH_DURATION = f"{KAFKA_PREFIX}_published_messages_duration_seconds"
    KAFKA_PUBLISH_EXCEPTIONS = f"{KAFKA_PREFIX}_published_messages_exceptions_total"
    KAFKA_CONSUMER_LAG = f"{KAFKA_PREFIX}_consumer_lag"
    JOB_QUEUE_DEPTH = f"{PREFIX}_job_queue_depth"
    JOB_DURATION = f"{PREFIX}_job_duration_seconds"
    JOBS_FINISHED = f"{PREFIX}_jobs_finished_total"
    JOB_TURNS = f"{PREFIX}_job_turns_total"
    CACHE_REQUESTS = f"{PREFIX}_cache_requests_total"
    DB_POOL_CHECKED_OUT = f"{PREFIX}_db_pool_checked_out"
    DB_POOL_SIZE = f"{PREFIX}_db_pool_size"
    INGEST_ROWS = f"{PREFIX}_ingest_rows_total"
    INGEST_DURATION = f"{PREFIX}_ingest_duration_seconds"
    SCRAPE_REFRESH_ERRORS = f"{PREFIX}_metrics_refresh_errors_total"


HISTOGRAMS = frozenset(
    {
        MetricName.HTTP_REQUEST_DURATION,
        MetricName.KAFKA_RECEIVED_SIZE,
        MetricName.KAFKA_HANDLER_DURATION,
        MetricName.KAFKA_PUBLISH_DURATION,
        MetricName.JOB_DURATION,
        MetricName.INGEST_DURATION,
    }
)


def series_names() -> frozenset[str]:
    """Every series name a query may use: the families, plus each histogram's derived series."""
    names = {str(name) for name in MetricName}
    for name in HISTOGRAMS:
        names |= {f"{name}_bucket", f"{name}_sum", f"{name}_count"}
    return frozenset(names)


class CacheResult(StrEnum):
    """The ``result`` label of ``tradelab_cache_requests_total``."""

    HIT = "hit"
    MISS = "miss"


UNMATCHED_ROUTE = "<unmatched>"
"""The ``route`` label of a request no route matched (a 404, say): never the raw path."""
