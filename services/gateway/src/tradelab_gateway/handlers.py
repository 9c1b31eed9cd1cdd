"""Kafka subscribers of the gateway: thin, they hand messages to the domain."""

from datetime import timedelta

from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from pydantic import ValidationError

from tradelab_contracts.analytics import ReportFailed, ReportReady
from tradelab_contracts.auth import UserDeleted
from tradelab_contracts.datasets import DatasetDeleted
from tradelab_contracts.engine import (
    BacktestCancelled,
    BacktestCompleted,
    BacktestFailed,
    BacktestProgress,
)
from tradelab_contracts.montecarlo import (
    MonteCarloCancelled,
    MonteCarloCompleted,
    MonteCarloFailed,
    MonteCarloProgress,
)
from tradelab_contracts.optimization import (
    OptimizationCancelled,
    OptimizationCompleted,
    OptimizationFailed,
    OptimizationProgress,
)
from tradelab_contracts.system import ServiceHeartbeat
from tradelab_contracts.topics import (
    AUTH_USER_DELETED,
    BACKTEST_CANCELLED,
    BACKTEST_COMPLETED,
    BACKTEST_FAILED,
    BACKTEST_PROGRESS,
    DATASET_DELETED,
    MONTECARLO_CANCELLED,
    MONTECARLO_COMPLETED,
    MONTECARLO_FAILED,
    MONTECARLO_PROGRESS,
    OPTIMIZATION_CANCELLED,
    OPTIMIZATION_COMPLETED,
    OPTIMIZATION_FAILED,
    OPTIMIZATION_PROGRESS,
    REPORT_FAILED,
    REPORT_READY,
    SYSTEM_HEARTBEAT,
)
from tradelab_runtime.broker import RPC_FETCH_MAX_WAIT_MS
from tradelab_runtime.clock import Clock
from tradelab_runtime.logging import get_logger

from .adapters.dataset_cache import ReadyDatasetCache
from .domain.hub import EventHub
from .domain.job_events import JobEvent, JobMessage, analysis_event, job_event
from .domain.service_registry import ServiceRegistry

log = get_logger(__name__)
JOB_EVENT_TYPES: dict[str, type[JobMessage]] = {
    BACKTEST_PROGRESS: BacktestProgress,
    BACKTEST_COMPLETED: BacktestCompleted,
    BACKTEST_FAILED: BacktestFailed,
    BACKTEST_CANCELLED: BacktestCancelled,
    OPTIMIZATION_PROGRESS: OptimizationProgress,
    OPTIMIZATION_COMPLETED: OptimizationCompleted,
    OPTIMIZATION_FAILED: OptimizationFailed,
    OPTIMIZATION_CANCELLED: OptimizationCancelled,
    MONTECARLO_PROGRESS: MonteCarloProgress,
    MONTECARLO_COMPLETED: MonteCarloCompleted,
    MONTECARLO_FAILED: MonteCarloFailed,
    MONTECARLO_CANCELLED: MonteCarloCancelled,
}
ANALYSIS_EVENT_TYPES: dict[str, type[ReportReady] | type[ReportFailed]] = {
    REPORT_READY: ReportReady,
    REPORT_FAILED: ReportFailed,
}

FORGET_AFTER = timedelta(hours=1)


def register_heartbeat_subscriber(
    broker: KafkaBroker, registry: ServiceRegistry, clock: Clock, instance_id: str
) -> None:
    """Feed every heartbeat to ``registry``.

    Each replica consumes in a group of its own so that every replica sees every heartbeat, and
    starts from the latest offset: older beats say nothing about now.
    """

    @broker.subscriber(
        SYSTEM_HEARTBEAT, group_id=f"gateway-heartbeats-{instance_id}", auto_offset_reset="latest"
    )
    async def on_heartbeat(beat: ServiceHeartbeat) -> None:
        now = clock.now()
        registry.observe(beat, now)
        registry.forget_older_than(now - FORGET_AFTER)


def register_dataset_cache_subscriber(
    broker: KafkaBroker, cache: ReadyDatasetCache, group_id: str = "gateway-dataset-cache"
) -> None:
    """Drop deleted datasets from the shared cache of ready ones, whichever path deleted them.

    One group for every replica (the cache is shared, one drop is enough), from the earliest
    offset so a deletion announced while no gateway ran is still applied.
    """

    @broker.subscriber(
        DATASET_DELETED,
        AUTH_USER_DELETED,
        group_id=group_id,
        auto_offset_reset="earliest",
    )
    async def on_deleted(message: KafkaMessage) -> None:
        topic = message.raw_message.topic  # type: ignore[union-attr]
        try:
            if topic == AUTH_USER_DELETED:
                await cache.forget_owner(UserDeleted.model_validate_json(message.body).user_id)
            else:
                deleted = DatasetDeleted.model_validate_json(message.body)
                await cache.forget(deleted.owner_id, deleted.dataset_id)
        except ValidationError:
            log.warning("dropping an unreadable deletion event", topic=topic)


def socket_event(topic: str, body: bytes) -> JobEvent:
    """The WebSocket message of one consumed event (KeyError, ValidationError if unreadable)."""
    if topic in ANALYSIS_EVENT_TYPES:
        return analysis_event(ANALYSIS_EVENT_TYPES[topic].model_validate_json(body))
    return job_event(JOB_EVENT_TYPES[topic].model_validate_json(body))


def register_job_event_subscriber(broker: KafkaBroker, hub: EventHub, instance_id: str) -> None:
    """Feed every job event, and analytics' report-ready and report-failed, to this replica's
    WebSocket hub.

    Like heartbeats, each replica reads in a group of its own (every replica sees every event, and
    delivers it to the sockets it holds), from the latest offset: a socket that connects later
    gets the job's state from the engine, not from old events. One consumer for all the topics,
    long-polling briefly so events reach sockets without delay.
    """

    @broker.subscriber(
        *JOB_EVENT_TYPES,
        *ANALYSIS_EVENT_TYPES,
        group_id=f"gateway-events-{instance_id}",
        auto_offset_reset="latest",
        fetch_max_wait_ms=RPC_FETCH_MAX_WAIT_MS,
    )
    async def on_job_event(message: KafkaMessage) -> None:
        topic = message.raw_message.topic  # type: ignore[union-attr]
        try:
            event = socket_event(topic, message.body)
        except (KeyError, ValidationError):
            log.warning("dropping an unreadable job event", topic=topic)
            return
        hub.dispatch(event)
