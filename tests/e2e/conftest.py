"""The whole stack as processes, started once for the e2e session on free ports."""

import asyncio
import secrets
from collections.abc import Iterator

import httpx
import pytest

from tradelab_devstack.kafka import KafkaBroker
from tradelab_devstack.ports import free_port
from tradelab_devstack.postgres import PostgresServer, create_database, drop_database
from tradelab_devstack.services import SERVICES
from tradelab_devstack.stack import Stack, running_services


@pytest.fixture(scope="session")
def stack(pg_server: PostgresServer, kafka: KafkaBroker) -> Iterator[Stack]:
    """Every service running against the session's database server and broker."""
    database = f"e2e_{secrets.token_hex(4)}"
    asyncio.run(create_database(pg_server, database))
    ports = {name: free_port() for name in SERVICES}
    try:
        with running_services(
            pg_server.sqlalchemy_url(database), kafka.bootstrap, ports=ports
        ) as running:
            yield running
    finally:
        asyncio.run(drop_database(pg_server, database))


@pytest.fixture
def gateway(stack: Stack) -> Iterator[httpx.Client]:
    """An HTTP client on the gateway."""
    with httpx.Client(base_url=stack.gateway_url, timeout=10) as client:
        yield client
