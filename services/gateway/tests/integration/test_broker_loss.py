"""With the broker gone, every REST call answers 503 problem+json with ``Retry-After``.

The test owns its broker, auth and gateway processes, so killing the broker leaves the session's
shared one alone.
"""

import asyncio
import os
import secrets
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tradelab_contracts.topics import ALL_TOPICS
from tradelab_devstack.kafka import TansuProcess
from tradelab_devstack.ports import free_port
from tradelab_devstack.services import ServiceProcess, wait_until_ready
from tradelab_devstack.stack import create_topics

pytestmark = pytest.mark.integration

RETRY_AFTER_S = 7
RPC_TIMEOUT_S = 2.0


@pytest.fixture
def broker(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[TansuProcess]:
    monkeypatch.setenv("TRADELAB_STATE_DIR", str(tmp_path))
    tansu = TansuProcess(log_path=tmp_path / "tansu.log")
    started = tansu.start()
    try:
        asyncio.run(create_topics(started.bootstrap, ALL_TOPICS))
        yield tansu
    finally:
        tansu.stop()


@pytest.fixture
def gateway_url(broker: TansuProcess, database_url: str, tmp_path: Path) -> Iterator[str]:
    env = {
        "KAFKA_BOOTSTRAP": f"127.0.0.1:{broker.port}",
        "DATABASE_URL": database_url,
        "OBJECT_STORE_URL": (tmp_path / "objects").as_uri(),
        "GATEWAY_RPC_TIMEOUT_S": str(RPC_TIMEOUT_S),
        "GATEWAY_RETRY_AFTER_S": str(RETRY_AFTER_S),
    }
    processes = [ServiceProcess(name, free_port(), env) for name in ("auth", "gateway")]
    try:
        for process in processes:
            process.start()
        wait_until_ready(processes, 90)
        yield processes[1].url
        assert processes[1].running(), "the gateway died with the broker"
    finally:
        for process in reversed(processes):
            process.stop()


def assert_unavailable(response: httpx.Response) -> None:
    assert response.status_code == 503, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["retry-after"] == str(RETRY_AFTER_S)
    assert response.json()["status"] == 503


def test_every_rest_call_answers_503_with_retry_after_while_the_broker_is_gone(
    broker: TansuProcess, gateway_url: str
) -> None:
    with httpx.Client(base_url=gateway_url, timeout=30) as client:
        credentials = {"email": f"u-{secrets.token_hex(4)}@example.com", "password": "x" * 12}
        registered = client.post("/api/v1/auth/register", json=credentials)
        assert registered.status_code == 201, registered.text
        bearer = {"Authorization": f"Bearer {registered.json()['access_token']}"}
        assert client.get("/api/v1/auth/me", headers=bearer).status_code == 200  # keys cached

        assert broker.pid is not None
        os.kill(broker.pid, signal.SIGKILL)
        broker.stop()  # reap it: nothing listens on its port any more

        calls = [
            ("POST", "/api/v1/auth/login", {"json": credentials}),
            ("POST", "/api/v1/auth/register", {"json": {**credentials, "email": "b@x.io"}}),
            ("GET", "/api/v1/auth/me", {"headers": bearer}),
            ("GET", "/api/v1/strategies", {"headers": bearer}),
            ("GET", "/api/v1/datasets", {"headers": bearer}),
            ("GET", "/api/v1/backtests", {"headers": bearer}),
        ]
        for method, path, kwargs in calls:
            started = time.monotonic()
            response = client.request(method, path, **kwargs)  # type: ignore[arg-type]
            assert_unavailable(response)
            assert time.monotonic() - started < RPC_TIMEOUT_S + 2, f"{path} took too long"

        assert client.get("/api/v1/system/health").status_code == 200
