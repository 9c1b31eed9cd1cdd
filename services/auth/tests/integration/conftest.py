"""One auth service per test module: starting one costs a consumer-group join (seconds)."""

import asyncio
import secrets
from collections.abc import AsyncIterator, Iterator

import pytest
import pytest_asyncio

from services.auth.tests.integration.kafka_client import (
    AuthClient,
    auth_settings,
    running_auth,
)
from tradelab_auth.settings import AuthSettings
from tradelab_devstack.kafka import KafkaBroker
from tradelab_devstack.postgres import PostgresServer, create_database, drop_database

MODULE_SETTINGS = {"jwt_audience": "tradelab-test-api"}


@pytest.fixture(scope="module")
def module_database_url(pg_server: PostgresServer) -> Iterator[str]:
    """An empty database shared by one module's tests (each uses its own e-mail addresses)."""
    name = f"test_auth_{secrets.token_hex(6)}"
    asyncio.run(create_database(pg_server, name))
    yield pg_server.sqlalchemy_url(name)
    asyncio.run(drop_database(pg_server, name))


@pytest.fixture(scope="module")
def module_settings(module_database_url: str, kafka: KafkaBroker) -> AuthSettings:
    """Settings of the module's auth service: fast argon2, a test audience."""
    return auth_settings(module_database_url, kafka.bootstrap, **MODULE_SETTINGS)


@pytest_asyncio.fixture(scope="module")
async def auth(module_settings: AuthSettings) -> AsyncIterator[tuple[AuthClient, str]]:
    """A running auth service and a client with its reply topic."""
    async with running_auth(module_settings) as pair:
        yield pair
