"""Pytest fixtures that give tests the real infrastructure, starting it when it is not there.

``KAFKA_BOOTSTRAP`` / ``DATABASE_URL`` / ``REDIS_URL`` are used when set; otherwise containers
when a Docker engine answers; otherwise a Tansu broker and a throwaway PostgreSQL cluster started
here; Redis is the local one when it answers, else a ``redis-server`` started here. Nothing is
ever skipped for lack of infrastructure.
"""

import asyncio
import gc
import secrets
from collections.abc import Iterator

import pytest

from tradelab_contracts.topics import ALL_TOPICS

from .kafka import KafkaBroker, kafka_broker
from .postgres import PostgresServer, create_database, drop_database, postgres_server
from .redis import RedisServer, redis_server
from .stack import create_topics


@pytest.fixture(autouse=True)
def _collect_what_the_test_left(request: pytest.FixtureRequest) -> Iterator[None]:
    """Collect garbage after every integration and e2e test, so an unclosed socket, transport
    or Kafka client fails the test that left it (warnings are errors) instead of surfacing,
    unattributed, when the session ends."""
    yield
    node = request.node
    if node.get_closest_marker("integration") or node.get_closest_marker("e2e"):
        gc.collect()


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PostgresServer]:
    """A PostgreSQL server for the whole session."""
    with postgres_server(allow_docker=True, prefer_local=False, cluster_name="postgres-test") as pg:
        yield pg


@pytest.fixture(scope="session")
def kafka() -> Iterator[KafkaBroker]:
    """A Kafka-protocol broker for the whole session, with the stack's topics created."""
    with kafka_broker(allow_docker=True) as broker:
        asyncio.run(create_topics(broker.bootstrap, ALL_TOPICS))
        yield broker


@pytest.fixture(scope="session")
def redis() -> Iterator[RedisServer]:
    """A Redis for the whole session (``REDIS_URL``, the local one, or one started here).

    Tests share it: each keeps its keys under a prefix of its own.
    """
    with redis_server() as server:
        yield server


@pytest.fixture
def database_url(pg_server: PostgresServer) -> Iterator[str]:
    """An empty database of its own for one test (SQLAlchemy asyncpg URL); dropped afterwards."""
    name = f"test_{secrets.token_hex(6)}"
    asyncio.run(create_database(pg_server, name))
    yield pg_server.sqlalchemy_url(name)
    asyncio.run(drop_database(pg_server, name))
