"""The whole stack as processes, started once for the e2e session on free ports."""

import asyncio
import secrets
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat

from tradelab_devstack.kafka import KafkaBroker
from tradelab_devstack.ports import free_port
from tradelab_devstack.postgres import PostgresServer, create_database, drop_database
from tradelab_devstack.services import SERVICES
from tradelab_devstack.stack import Stack, running_services

E2E_ENV = {
    # Low limits so throttling is reached quickly; the per-address limit stays high because every
    # test logs in from 127.0.0.1.
    "AUTH_THROTTLE_MAX_FAILURES_PER_EMAIL": "3",
    "AUTH_THROTTLE_MAX_FAILURES_PER_IP": "1000",
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
    # Public keys cached 2 s, so a signing key removed from auth is refused quickly.
    "GATEWAY_JWKS_TTL_S": "2",
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
def stack(
    pg_server: PostgresServer,
    kafka: KafkaBroker,
    signing_key: Ed25519PrivateKey,
    object_store: Path,
) -> Iterator[Stack]:
    """Every service running against the session's database server and broker."""
    pem = signing_key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()).decode()
    database = f"e2e_{secrets.token_hex(4)}"
    asyncio.run(create_database(pg_server, database))
    ports = {name: free_port() for name in SERVICES}
    try:
        with running_services(
            pg_server.sqlalchemy_url(database),
            kafka.bootstrap,
            ports=ports,
            extra_env={
                **E2E_ENV,
                "AUTH_SIGNING_KEYS": pem,
                "OBJECT_STORE_URL": object_store.as_uri(),
            },
        ) as running:
            yield running
    finally:
        asyncio.run(drop_database(pg_server, database))


@pytest.fixture
def gateway(stack: Stack) -> Iterator[httpx.Client]:
    """An HTTP client on the gateway."""
    with httpx.Client(base_url=stack.gateway_url, timeout=10) as client:
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
