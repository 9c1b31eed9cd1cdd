"""The whole stack as context managers: used by ``make up`` and by the end-to-end tests."""

import asyncio
import contextlib
import os
import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

from aiokafka.admin import AIOKafkaAdminClient

from tradelab_contracts.topics import ALL_TOPICS, TopicSpec
from tradelab_runtime.kafka_admin import delete_topics, ensure_topics
from tradelab_runtime.retry import retry_until

from .kafka import KafkaBroker, kafka_broker
from .ports import free_port, port_open
from .postgres import PostgresServer, create_database, drop_database, postgres_server
from .redis import RedisServer, redis_server
from .services import DEFAULT_PORTS, SERVICES, ServiceProcess, wait_until_ready
from .state import dev_bus_keys, dev_signing_key, reap_leftovers, state_dir


async def create_topics(bootstrap: str, specs: tuple[TopicSpec, ...]) -> None:
    """Create every topic, waiting for a broker that is still coming up."""

    async def create() -> None:
        await ensure_topics(bootstrap, specs)

    await retry_until("broker", create, deadline_s=30)


async def partition_counts(bootstrap: str, names: list[str]) -> dict[str, int]:
    """Return the partition count of each existing topic among ``names``."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap.split(","), client_id="tradelab-dev")
    await admin.start()
    try:
        described = await admin.describe_topics(names)
    finally:
        await admin.close()
    return {t["topic"]: len(t["partitions"]) for t in described if t["error_code"] == 0}


async def restore_topics(
    bootstrap: str, specs: tuple[TopicSpec, ...], attempts: int = 10
) -> list[str]:
    """Create the topics on a broker that came back empty; return those created twice.

    Services still running reconnect on their own, and a client that publishes before the
    topics exist has the broker auto-create one with 4 partitions: such a topic is deleted and
    created again with its own count. A publisher can win that race again between the delete
    and the create (heartbeats come every few seconds from every service), so this repeats
    until every count is right, ``attempts`` times at most.
    """
    await create_topics(bootstrap, specs)
    wanted = {spec.name: spec for spec in specs}
    recreated: list[str] = []
    for _ in range(attempts):
        counts = await partition_counts(bootstrap, list(wanted))
        wrong = [name for name, count in counts.items() if count != wanted[name].partitions]
        if not wrong:
            break
        recreated += [name for name in wrong if name not in recreated]
        await delete_topics(bootstrap, wrong)
        await create_topics(bootstrap, tuple(wanted[name] for name in wrong))
    return recreated


@dataclass
class Stack:
    """Running service processes over a database and a broker."""

    database_url: str
    kafka_bootstrap: str
    processes: dict[str, ServiceProcess] = field(default_factory=dict)
    startup_s: float = 0.0

    @property
    def gateway_url(self) -> str:
        """Base URL of the gateway."""
        return self.processes["gateway"].url


@contextlib.contextmanager
def running_services(
    database_url: str,
    kafka_bootstrap: str,
    *,
    ports: dict[str, int] | None = None,
    extra_env: dict[str, str] | None = None,
    ready_deadline_s: float = 120,
    redis_url: str | None = None,
) -> Iterator[Stack]:
    """Start the five services against existing infrastructure; stop them on exit.

    ``redis_url`` is the gateway's rate-limit store (GATEWAY_REDIS_URL; its default otherwise).
    """
    started = time.monotonic()
    ports = ports or DEFAULT_PORTS
    objects = os.environ.get("OBJECT_STORE_URL") or (state_dir() / "objects").as_uri()
    env = {
        "DATABASE_URL": database_url,
        "KAFKA_BOOTSTRAP": kafka_bootstrap,
        "OBJECT_STORE_URL": objects,
        **({"GATEWAY_REDIS_URL": redis_url} if redis_url else {}),
        **(extra_env or {}),
    }
    own_env = {name: dict(env) for name in SERVICES}
    if not os.environ.get("AUTH_SIGNING_KEYS") and "AUTH_SIGNING_KEYS" not in env:
        # Tokens outlive a restart of auth; only auth is given the key.
        own_env["auth"]["AUTH_SIGNING_KEYS"] = dev_signing_key()
    if not os.environ.get("BUS_KEYS") and "BUS_KEYS" not in env:
        # Only the two ends of the credential exchange hold the key that seals it.
        for name in ("gateway", "auth"):
            own_env[name]["BUS_KEYS"] = dev_bus_keys()
    stack = Stack(database_url, kafka_bootstrap)
    for name in SERVICES:
        stack.processes[name] = ServiceProcess(name, ports[name], own_env[name])
    try:
        for proc in stack.processes.values():
            proc.start()
        wait_until_ready(list(stack.processes.values()), ready_deadline_s)
        stack.startup_s = time.monotonic() - started
        yield stack
    finally:
        for proc in reversed(list(stack.processes.values())):
            proc.stop()


@dataclass(frozen=True)
class Infrastructure:
    """The database server, broker and Redis the stack runs on."""

    postgres: PostgresServer
    kafka: KafkaBroker
    redis: RedisServer


@contextlib.contextmanager
def running_stack(
    *,
    database: str = "tradelab",
    allow_docker: bool = False,
    ready_deadline_s: float = 120,
    ports: dict[str, int] | None = None,
) -> Iterator[tuple[Infrastructure, Stack]]:
    """Start (or reuse) PostgreSQL, the broker and Redis, create topics, start every service."""
    started = time.monotonic()
    reap_leftovers()
    with (
        postgres_server(allow_docker=allow_docker, prefer_local=True) as pg,
        kafka_broker(allow_docker=allow_docker, port=preferred_port(9092)) as kafka,
        redis_server() as redis,
    ):
        asyncio.run(create_database(pg, database))
        asyncio.run(create_topics(kafka.bootstrap, ALL_TOPICS))
        with running_services(
            pg.sqlalchemy_url(database),
            kafka.bootstrap,
            ports=ports,
            ready_deadline_s=ready_deadline_s,
            redis_url=redis.url,
        ) as stack:
            stack.startup_s = time.monotonic() - started
            yield Infrastructure(pg, kafka, redis), stack


@contextlib.contextmanager
def throwaway_stack(
    name: str, extra_env: dict[str, str], *, ready_deadline_s: float = 600
) -> Iterator[tuple[str, Stack]]:
    """A stack of its own for a benchmark or soak, with the libpq DSN of its database.

    A throwaway PostgreSQL cluster and database, a Tansu broker with every topic, Redis with
    rate-limit keys under a prefix of their own, the five services on free ports with
    ``extra_env``; all of it stopped and the database dropped on exit.
    """
    database = f"{name}_{secrets.token_hex(4)}"
    with (
        postgres_server(
            allow_docker=False, prefer_local=False, cluster_name=f"postgres-{name}"
        ) as pg,
        kafka_broker(allow_docker=False) as kafka,
        redis_server() as redis,
    ):
        asyncio.run(create_database(pg, database))
        asyncio.run(create_topics(kafka.bootstrap, ALL_TOPICS))
        extra_env = {"GATEWAY_RATE_LIMIT_PREFIX": database, **extra_env}
        try:
            with running_services(
                pg.sqlalchemy_url(database),
                kafka.bootstrap,
                ports={service: free_port() for service in SERVICES},
                extra_env=extra_env,
                ready_deadline_s=ready_deadline_s,
                redis_url=redis.url,
            ) as stack:
                yield pg.dsn(database), stack
        finally:
            asyncio.run(drop_database(pg, database))


def preferred_port(port: int) -> int | None:
    """Return ``port`` when it is free (a stable address for other tools), else None (any)."""
    return None if port_open("127.0.0.1", port) else port


def env_flag(name: str) -> bool:
    """Read a yes/no environment variable."""
    return os.environ.get(name, "").lower() in {"1", "true", "yes"}
