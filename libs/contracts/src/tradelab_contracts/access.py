"""Which topics each service may read and write: the source of the broker's per-service ACLs.

Where Kafka runs with SASL/SCRAM (docker-compose.yml, infra/k8s), every service logs in as its own
principal (``User:<service>``) and may touch only what is listed here; ``scripts/kafka-access``
turns this table into the broker's users, topics and ACLs (infra/k8s/kafka-access.sh).

- A service reads the topics it subscribes to (`ServiceAccess.consumes`), in consumer groups whose
  names start with its own name.
- A service writes the events of its own domain (topics named ``<service>.*`` other than its
  request topic), its heartbeats and dead letters; the gateway writes the four request topics.
- Replies go to the gateway instances' reply topics (``gateway.rpc.reply-*``): every responder may
  write them; only the gateway reads, creates and deletes them.
"""

from __future__ import annotations

from dataclasses import dataclass

from tradelab_contracts import topics as t

REPLY_TOPIC_PREFIX = "gateway.rpc.reply-"
"""Every gateway instance's reply topic starts with this (`topics.reply_topic`)."""

REQUEST_TOPICS = (t.AUTH_REQUESTS, t.DATASETS_REQUESTS, t.ENGINE_REQUESTS, t.ANALYTICS_REQUESTS)
_EVERY_SERVICE_WRITES = (t.SYSTEM_HEARTBEAT, t.SYSTEM_DEAD_LETTERED)
_JOB_EVENTS = (
    t.BACKTEST_PROGRESS,
    t.BACKTEST_COMPLETED,
    t.BACKTEST_FAILED,
    t.BACKTEST_CANCELLED,
    t.OPTIMIZATION_PROGRESS,
    t.OPTIMIZATION_COMPLETED,
    t.OPTIMIZATION_FAILED,
    t.OPTIMIZATION_CANCELLED,
    t.MONTECARLO_PROGRESS,
    t.MONTECARLO_COMPLETED,
    t.MONTECARLO_FAILED,
    t.MONTECARLO_CANCELLED,
)


@dataclass(frozen=True, slots=True)
class ServiceAccess:
    """What one service's Kafka principal may do."""

    service: str
    consumes: tuple[str, ...]
    responds: bool = True
    """Whether it answers requests (writes the gateway reply topics)."""

    @property
    def principal(self) -> str:
        """The Kafka principal the service logs in as."""
        return f"User:{self.service}"

    @property
    def group_prefix(self) -> str:
        """Every consumer group of the service starts with its name."""
        return self.service

    @property
    def produces(self) -> tuple[str, ...]:
        """Topics the service writes (reply topics aside, see `responds`)."""
        if self.service == "gateway":
            return (*REQUEST_TOPICS, *_EVERY_SERVICE_WRITES)
        own = tuple(
            spec.name
            for spec in t.ALL_TOPICS
            if spec.name.startswith(f"{self.service}.") and spec.name not in REQUEST_TOPICS
        )
        return (*own, *_EVERY_SERVICE_WRITES)


SERVICE_ACCESS: tuple[ServiceAccess, ...] = (
    ServiceAccess(
        "gateway",
        (
            *_JOB_EVENTS,
            t.REPORT_READY,
            t.REPORT_FAILED,
            t.SYSTEM_HEARTBEAT,
            t.DATASET_DELETED,
            t.AUTH_USER_DELETED,
        ),
        responds=False,
    ),
    ServiceAccess("auth", (t.AUTH_REQUESTS,)),
    ServiceAccess("datasets", (t.DATASETS_REQUESTS, t.DATASET_UPLOADED, t.AUTH_USER_DELETED)),
    ServiceAccess(
        "engine",
        (
            t.ENGINE_REQUESTS,
            t.BACKTEST_REQUESTED,
            t.BACKTEST_CANCEL_REQUESTED,
            t.OPTIMIZATION_REQUESTED,
            t.OPTIMIZATION_CHUNK_REQUESTED,
            t.MONTECARLO_REQUESTED,
            t.MONTECARLO_CANCEL_REQUESTED,
            t.DATASET_DELETED,
            t.AUTH_USER_DELETED,
        ),
    ),
    ServiceAccess(
        "analytics",
        (t.ANALYTICS_REQUESTS, t.BACKTEST_COMPLETED, t.BACKTEST_DELETED, t.AUTH_USER_DELETED),
    ),
)
"""Every service's access, in the order the services are listed elsewhere."""
