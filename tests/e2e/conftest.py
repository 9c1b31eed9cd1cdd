"""The whole stack as processes, started once for the e2e session on free ports."""

import asyncio
import secrets
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat

from tests.e2e.helpers import forwarded_for
from tests.e2e.otlp_receiver import OtlpReceiver
from tradelab_devstack.kafka import KafkaBroker
from tradelab_devstack.ports import free_port
from tradelab_devstack.postgres import PostgresServer, create_database, drop_database
from tradelab_devstack.redis import RedisServer
from tradelab_devstack.services import SERVICES
from tradelab_devstack.stack import Stack, running_services

E2E_ENV = {
    # The rate limits keep their defaults, so the abuse tests meet the real ones. The tests act as
    # the proxy in front of the gateway (127.0.0.1 is trusted) and name a client address of
    # their own in X-Forwarded-For: each test's `gateway` client has one, and every
    # `helpers.register` call another, so tests never share a per-address count.
    "GATEWAY_TRUSTED_PROXIES": '["127.0.0.1/32"]',
    "GATEWAY_RPC_TIMEOUT_S": "3",
    "GATEWAY_MAX_UPLOAD_BYTES": str(5 * 1024 * 1024),
    # Equity answered as JSON is thinned to this (GOOG has 2,148 bars).
    "GATEWAY_EQUITY_MAX_POINTS": "1000",
    # Quick backtests: 4 MiB files (a 40,000-bar CSV fits, 413 is quick to reach) and a 5 s
    # budget, which the paced 40,000-bar run (8 s) exceeds.
    "GATEWAY_QUICK_MAX_UPLOAD_BYTES": str(4 * 1024 * 1024),
    "GATEWAY_QUICK_TIMEOUT_S": "5",
    # Backtests pause 0.1 s after every 500 bars (test-only pacing, refused in production), so
    # a run can be watched, cancelled and killed mid-way: GOOG takes 0.4 s, 40,000 bars 8 s.
    "ENGINE_CHUNK_BARS": "500",
    "ENGINE_CHUNK_PAUSE_S": "0.1",
    # Small optimisation chunks (each also paused 0.1 s) so a grid spans many chunks.
    "ENGINE_OPTIMIZATION_CHUNK_SIZE": "20",
    # Short leases and sweeps so a killed engine's job is taken over within seconds, and quick
    # retries so a failing message is parked quickly.
    "ENGINE_LEASE_S": "4",
    "ENGINE_SWEEP_INTERVAL_S": "1",
    "ENGINE_REDISPATCH_AFTER_S": "15",
    "RETRY_FIRST_DELAY_S": "0.2",
    # Short WebSocket timers so the close codes are reached quickly.
    "GATEWAY_WS_AUTH_TIMEOUT_S": "2",
    "GATEWAY_WS_PING_INTERVAL_S": "1",
    "GATEWAY_WS_IDLE_TIMEOUT_S": "5",
    # Low quotas so tests/e2e/test_quotas.py reaches each with a few requests; each stays above
    # what any other e2e module's user holds at once (16 backtests in test_engine_failover, three
    # studies in test_monte_carlo, uploads of at most a few MiB).
    "DATASETS_QUOTA_DATASETS": "6",
    "DATASETS_QUOTA_STORED_BYTES": str(4 * 1024 * 1024),
    "ENGINE_QUOTA_BACKTESTS": "16",
    "ENGINE_QUOTA_OPTIMIZATIONS": "4",
    "ENGINE_QUOTA_WALK_FORWARD": "2",
    "ENGINE_QUOTA_MONTE_CARLO": "6",
    "ENGINE_QUOTA_SAVED_STRATEGIES": "5",
    # Public keys cached 2 s, so a signing key removed from auth is refused quickly.
    "GATEWAY_JWKS_TTL_S": "2",
    # The first administrator, created by auth at start-up (tests/e2e/test_performance.py).
    "AUTH_ADMIN_EMAIL": "admin@example.com",
    "AUTH_ADMIN_PASSWORD": "e2e admin password",
}


@pytest.fixture(scope="session")
def signing_key() -> Ed25519PrivateKey:
    """The auth service's signing key, known to the tests so they can forge tokens with it."""
    return Ed25519PrivateKey.generate()


@pytest.fixture(scope="session")
def object_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The object store directory the stack's services share."""
    return tmp_path_factory.mktemp("objects")


@pytest.fixture(scope="session")
def otlp_receiver() -> Iterator[OtlpReceiver]:
    """Where every service of the stack exports its spans (tests/e2e/test_traces.py reads them).

    Every e2e test's spans come here, a few milliseconds of protobuf decoding per batch, kept
    as small records: cheaper than a second stack for the one module that reads them.
    """
    with OtlpReceiver() as receiver:
        yield receiver


@pytest.fixture(scope="session")
def stack(
    otlp_receiver: OtlpReceiver,
    pg_server: PostgresServer,
    kafka: KafkaBroker,
    redis: RedisServer,
    signing_key: Ed25519PrivateKey,
    object_store: Path,
) -> Iterator[Stack]:
    """Every service running against the session's database server, broker and Redis.

    Its rate-limit keys live under a prefix of their own (the database's name), so test runs
    sharing one Redis never count each other's requests.
    """
    pem = signing_key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()).decode()
    database = f"e2e_{secrets.token_hex(4)}"
    asyncio.run(create_database(pg_server, database))
    ports = {name: free_port() for name in SERVICES}
    try:
        with running_services(
            pg_server.sqlalchemy_url(database),
            kafka.bootstrap,
            ports=ports,
            redis_url=redis.url,
            extra_env={
                **E2E_ENV,
                "GATEWAY_RATE_LIMIT_PREFIX": database,
                "AUTH_SIGNING_KEYS": pem,
                "OBJECT_STORE_URL": object_store.as_uri(),
                "OTEL_EXPORTER_OTLP_ENDPOINT": otlp_receiver.endpoint,
                "OTEL_BSP_SCHEDULE_DELAY": "100",  # ms between exports (default 5 s)
            },
        ) as running:
            yield running
    finally:
        asyncio.run(drop_database(pg_server, database))


@pytest.fixture
def gateway(stack: Stack) -> Iterator[httpx.Client]:
    """An HTTP client on the gateway, from a client address of the test's own."""
    with httpx.Client(base_url=stack.gateway_url, timeout=10, headers=forwarded_for()) as client:
        yield client


@pytest.fixture
def user_token(gateway: httpx.Client) -> str:
    """A freshly registered user's access token."""
    email = f"user-{secrets.token_hex(4)}@example.com"
    response = gateway.post(
        "/api/v1/auth/register", json={"email": email, "password": "correct horse battery"}
    )
    assert response.status_code == 201, response.text
    token: str = response.json()["access_token"]
    return token


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test in this folder ``e2e``, so ``make unit`` and ``make integration`` never
    start the stack because a module forgot its ``pytestmark``."""
    here = Path(__file__).parent
    for item in items:
        if item.path.is_relative_to(here):
            item.add_marker(pytest.mark.e2e)
