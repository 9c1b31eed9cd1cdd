"""Kafka topic names, one constant each: an inline topic string silently loses messages on a typo.

Names are ``<domain>.<entity>.<event>.v<N>``. A rename or incompatible change is a new topic with a
new version suffix, never an edit of an existing one. Messages about one job are keyed by the job's
id so they stay ordered on one partition.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# Partition counts: low-volume facts need no parallelism; job requests spread over a few engine
# consumers; optimisation chunks are the unit of scale-out across many engine consumers.
_LOW = 1
_JOBS = 4
_CHUNKS = 16

SHORT_RETENTION_MS = 10 * 60 * 1000
"""How long the broker keeps request/reply topics that carry credentials (sealed, but a leaked
bus key must not unlock weeks of history): a reply is useless after the gateway's RPC timeout."""
SHORT_SEGMENT_MS = 5 * 60 * 1000
"""Segment roll time of those topics: Kafka deletes whole closed segments only, so without it the
retention above would wait for the default 7-day roll."""
SHORT_RETENTION: tuple[tuple[str, str], ...] = (
    ("retention.ms", str(SHORT_RETENTION_MS)),
    ("segment.ms", str(SHORT_SEGMENT_MS)),
)
"""Per-topic configs of the credential-carrying topics (the auth requests, the reply topics)."""

SYSTEM_HEARTBEAT = "system.service.heartbeat.v1"
SYSTEM_DEAD_LETTERED = "system.message.dead-lettered.v1"

AUTH_REQUESTS = "auth.rpc.request.v1"
AUTH_USER_REGISTERED = "auth.user.registered.v1"
AUTH_USER_DELETED = "auth.user.deleted.v1"

DATASETS_REQUESTS = "datasets.rpc.request.v1"
DATASET_UPLOADED = "datasets.dataset.uploaded.v1"
DATASET_INGESTED = "datasets.dataset.ingested.v1"
DATASET_REJECTED = "datasets.dataset.rejected.v1"
DATASET_DELETED = "datasets.dataset.deleted.v1"

ENGINE_REQUESTS = "engine.rpc.request.v1"
BACKTEST_REQUESTED = "engine.backtest.requested.v1"
BACKTEST_PROGRESS = "engine.backtest.progress.v1"
BACKTEST_COMPLETED = "engine.backtest.completed.v1"
BACKTEST_FAILED = "engine.backtest.failed.v1"
BACKTEST_CANCEL_REQUESTED = "engine.backtest.cancel-requested.v1"
BACKTEST_CANCELLED = "engine.backtest.cancelled.v1"
BACKTEST_DELETED = "engine.backtest.deleted.v1"

OPTIMIZATION_REQUESTED = "engine.optimization.requested.v1"
OPTIMIZATION_CHUNK_REQUESTED = "engine.optimization.chunk-requested.v1"
OPTIMIZATION_CHUNK_COMPLETED = "engine.optimization.chunk-completed.v1"
OPTIMIZATION_PROGRESS = "engine.optimization.progress.v1"
OPTIMIZATION_COMPLETED = "engine.optimization.completed.v1"
OPTIMIZATION_FAILED = "engine.optimization.failed.v1"
OPTIMIZATION_CANCEL_REQUESTED = "engine.optimization.cancel-requested.v1"
OPTIMIZATION_CANCELLED = "engine.optimization.cancelled.v1"

MONTECARLO_REQUESTED = "engine.montecarlo.requested.v1"
MONTECARLO_PROGRESS = "engine.montecarlo.progress.v1"
MONTECARLO_COMPLETED = "engine.montecarlo.completed.v1"
MONTECARLO_FAILED = "engine.montecarlo.failed.v1"
MONTECARLO_CANCEL_REQUESTED = "engine.montecarlo.cancel-requested.v1"
MONTECARLO_CANCELLED = "engine.montecarlo.cancelled.v1"

ANALYTICS_REQUESTS = "analytics.rpc.request.v1"
REPORT_READY = "analytics.report.ready.v1"
REPORT_FAILED = "analytics.report.failed.v1"


@dataclass(frozen=True, slots=True)
class TopicSpec:
    """How a topic is created.

    Parameters
    ----------
    name
        The topic name (one of this module's constants).
    partitions
        Partition count at creation; the upper bound on consumers sharing the work.
    description
        What the topic carries and who consumes it.
    configs
        Per-topic broker configs set at creation, as ``(name, value)`` pairs (e.g. retention).
    """

    name: str
    partitions: int
    description: str
    configs: tuple[tuple[str, str], ...] = ()


ALL_TOPICS: tuple[TopicSpec, ...] = (
    TopicSpec(SYSTEM_HEARTBEAT, _LOW, "Periodic liveness of every service instance."),
    TopicSpec(SYSTEM_DEAD_LETTERED, _LOW, "Messages a consumer gave up on after its retries."),
    TopicSpec(
        AUTH_REQUESTS,
        _JOBS,
        "Auth commands from gateways (secrets sealed); replies go to reply topics.",
        SHORT_RETENTION,
    ),
    TopicSpec(AUTH_USER_REGISTERED, _LOW, "A user account was created."),
    TopicSpec(
        AUTH_USER_DELETED, _LOW, "A user account was deleted; every service erases its data."
    ),
    TopicSpec(DATASETS_REQUESTS, _JOBS, "Dataset queries from gateways; replies to reply topics."),
    TopicSpec(DATASET_UPLOADED, _JOBS, "A raw file was stored and awaits ingestion."),
    TopicSpec(DATASET_INGESTED, _LOW, "A dataset was validated, normalised and stored as Parquet."),
    TopicSpec(DATASET_REJECTED, _LOW, "An uploaded file could not be ingested."),
    TopicSpec(DATASET_DELETED, _LOW, "A dataset was deleted by its owner."),
    TopicSpec(ENGINE_REQUESTS, _JOBS, "Catalogue and run queries from gateways."),
    TopicSpec(BACKTEST_REQUESTED, _JOBS, "Backtest jobs for the engine consumer group."),
    TopicSpec(BACKTEST_PROGRESS, _JOBS, "Backtest progress; every gateway replica reads all."),
    TopicSpec(BACKTEST_COMPLETED, _LOW, "Backtest results: summary and result file URIs."),
    TopicSpec(BACKTEST_FAILED, _LOW, "Backtests that ended in error."),
    TopicSpec(BACKTEST_CANCEL_REQUESTED, _LOW, "Requests to cancel a running backtest."),
    TopicSpec(BACKTEST_CANCELLED, _LOW, "Backtests stopped on request."),
    TopicSpec(BACKTEST_DELETED, _LOW, "A finished backtest was deleted; analytics drops its data."),
    TopicSpec(OPTIMIZATION_REQUESTED, _JOBS, "Optimisation jobs for the coordinator."),
    TopicSpec(OPTIMIZATION_CHUNK_REQUESTED, _CHUNKS, "Batches of combinations to evaluate."),
    TopicSpec(OPTIMIZATION_CHUNK_COMPLETED, _CHUNKS, "Metrics of an evaluated batch."),
    TopicSpec(OPTIMIZATION_PROGRESS, _JOBS, "Optimisation progress and best result so far."),
    TopicSpec(OPTIMIZATION_COMPLETED, _LOW, "Optimisation results: best parameters, results URI."),
    TopicSpec(OPTIMIZATION_FAILED, _LOW, "Optimisations that ended in error."),
    TopicSpec(OPTIMIZATION_CANCEL_REQUESTED, _LOW, "Requests to cancel a running optimisation."),
    TopicSpec(OPTIMIZATION_CANCELLED, _LOW, "Optimisations stopped on request."),
    TopicSpec(MONTECARLO_REQUESTED, _JOBS, "Monte Carlo jobs for the engine consumer group."),
    TopicSpec(MONTECARLO_PROGRESS, _JOBS, "Monte Carlo progress."),
    TopicSpec(MONTECARLO_COMPLETED, _LOW, "Monte Carlo results: percentiles and probabilities."),
    TopicSpec(MONTECARLO_FAILED, _LOW, "Monte Carlo studies that ended in error."),
    TopicSpec(MONTECARLO_CANCEL_REQUESTED, _LOW, "Requests to cancel a running Monte Carlo study."),
    TopicSpec(MONTECARLO_CANCELLED, _LOW, "Monte Carlo studies stopped on request."),
    TopicSpec(ANALYTICS_REQUESTS, _JOBS, "Analysis queries from gateways."),
    TopicSpec(
        REPORT_READY,
        _LOW,
        "Analytics computed a run's metrics and report; every gateway replica reads all.",
    ),
    TopicSpec(
        REPORT_FAILED,
        _LOW,
        "Analytics could not compute a run's report; every gateway replica reads all.",
    ),
)

REPLY_TOPIC_PARTITIONS = 1
"""Partition count of a gateway instance's reply topic: one consumer reads it."""

_INSTANCE_ID = re.compile(r"[a-z0-9-]{1,40}")
_REPLY_TOPIC = re.compile(r"gateway\.rpc\.reply-[a-z0-9-]{1,40}\.v1")


def reply_topic(instance_id: str) -> str:
    """Return the reply topic of one gateway instance.

    Each gateway replica consumes its own reply topic, so a reply reaches the replica holding the
    waiting HTTP request.

    Parameters
    ----------
    instance_id
        The gateway instance id: 1 to 40 characters of ``[a-z0-9-]``.

    Returns
    -------
    str
        ``gateway.rpc.reply-<instance_id>.v1``.

    Raises
    ------
    ValueError
        If ``instance_id`` is not a valid instance id.
    """
    if not _INSTANCE_ID.fullmatch(instance_id):
        msg = f"instance id must match [a-z0-9-]{{1,40}}, got {instance_id!r}"
        raise ValueError(msg)
    return f"gateway.rpc.reply-{instance_id}.v1"


def is_reply_topic(topic: str) -> bool:
    """Return whether ``topic`` is a gateway instance's reply topic (see `reply_topic`)."""
    return _REPLY_TOPIC.fullmatch(topic) is not None


def reply_topic_spec(instance_id: str) -> TopicSpec:
    """Return how to create the reply topic of one gateway instance (see `reply_topic`)."""
    return TopicSpec(
        reply_topic(instance_id),
        REPLY_TOPIC_PARTITIONS,
        f"Auth replies for gateway instance {instance_id}.",
        SHORT_RETENTION,
    )
