"""Kafka broker factory (FastStream over aiokafka)."""

import asyncio
import logging
from typing import Any

from faststream.kafka import KafkaBroker
from faststream.kafka.opentelemetry import KafkaTelemetryMiddleware
from faststream.kafka.prometheus import KafkaPrometheusMiddleware
from faststream.security import BaseSecurity
from opentelemetry.sdk.trace import TracerProvider
from prometheus_client import CollectorRegistry

from .metrics.names import KAFKA_PREFIX

RPC_FETCH_MAX_WAIT_MS = 10
"""Long-poll bound for request/reply consumers. aiokafka's default (500 ms) is what an idle fetch
may wait, and the development broker does not answer a waiting fetch early when data arrives, so a
request/reply round trip paid up to two such waits; 10 ms keeps it in single-digit milliseconds at
the cost of more idle fetches on loopback."""

JOB_FETCH_MAX_WAIT_MS = 20
"""Long-poll bound for the work consumers a user waits on (an upload's ingestion, a backtest's
turn, an optimisation's chunks, a completed run's analysis). At aiokafka's 500 ms each such hop
took ~150 ms at the median on the development broker (bench/latency.py); 20 ms takes ~5-7 ms
for about 1-2 % of a core per idle consumer. Consumers nobody waits on keep the default."""

GRACEFUL_TIMEOUT_S = 10.0
"""How long a stopping service waits for the handlers still running (then cancels them)."""


class ServiceBroker(KafkaBroker):
    """FastStream's Kafka broker, starting its subscribers all at once.

    Each aiokafka consumer's start waits until its group has assigned it partitions: seconds
    per group on the development broker. FastStream starts subscribers one after another, so a
    service's start-up took the sum of its groups' joins (about a minute for the engine's 13);
    started together it takes about the longest one.
    """

    async def start(self) -> None:
        await self.connect()
        await asyncio.gather(*(subscriber.start() for subscriber in self.subscribers))
        for publisher in self.publishers:
            await publisher.start()
        self.running = True


def make_broker(
    bootstrap: str,
    client_id: str,
    tracer_provider: TracerProvider | None = None,
    security: BaseSecurity | None = None,
    registry: CollectorRegistry | None = None,
) -> KafkaBroker:
    """Build a broker that carries trace context in message headers.

    ``security`` is the SASL/SCRAM login where the broker enforces ACLs
    (`tradelab_runtime.kafka_security.broker_security`); None on the development broker.

    ``acks="all"`` so an acknowledged publish survives a broker failover. The idempotent producer
    is left off: the development broker (Tansu) does not support it, and correctness comes from
    idempotent consumers instead (see docs/architecture.md).

    With ``registry``, messages received, handled and published are counted there per topic
    (``tradelab_kafka_*``, docs/monitoring.md).
    """
    middlewares: list[Any] = [KafkaTelemetryMiddleware(tracer_provider=tracer_provider)]
    if registry is not None:
        middlewares.append(
            KafkaPrometheusMiddleware(registry=registry, metrics_prefix=KAFKA_PREFIX)
        )
    return ServiceBroker(
        bootstrap.split(","),
        client_id=client_id,
        security=security,
        acks="all",
        enable_idempotence=False,
        graceful_timeout=GRACEFUL_TIMEOUT_S,
        middlewares=middlewares,
        # Through the root handler (structlog), and one line per message only when debugging.
        logger=logging.getLogger("faststream"),
        log_level=logging.DEBUG,
    )
