"""Live job events over WebSocket: two gateway replicas fan every event out to every client of the
owner, in order, then the run's analysis announcement; a client resumes with its last sequence
number; others' sockets get nothing; bad tokens, silence and unknown jobs are closed with the
documented codes."""

import json
import time
from collections.abc import Iterator
from functools import partial
from typing import Any
from uuid import uuid4

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from tests.e2e.helpers import (
    Collector,
    auth,
    connect,
    forwarded_for,
    minute_bars_csv,
    open_socket,
    protocols,
    read_until_closed,
    ws_url,
)
from tests.polling import wait_for
from tradelab_devstack.ports import free_port
from tradelab_devstack.services import ServiceProcess, wait_until_ready
from tradelab_devstack.stack import Stack

pytestmark = pytest.mark.e2e

BARS = 12_000  # 24 paced chunks of 500 bars: about 2.4 s, several progress events


class User:
    def __init__(self, client: httpx.Client) -> None:
        self.client = client
        response = client.post(
            "/api/v1/auth/register",
            json={"email": f"ws-{uuid4().hex[:8]}@example.com", "password": "correct horse b"},
        )
        assert response.status_code == 201, response.text
        body = response.json()
        self.token: str = body["access_token"]
        self.id: str = body["user"]["id"]

    def upload(self, csv: bytes) -> str:
        created = self.client.post(
            "/api/v1/datasets",
            headers=auth(self.token),
            files={"file": ("bars.csv", csv, "text/csv")},
        ).json()

        def ready() -> str | None:
            got = self.client.get(f"/api/v1/datasets/{created['id']}", headers=auth(self.token))
            return created["id"] if got.json()["status"] == "ready" else None

        return wait_for(ready, 60, "dataset ready")

    def submit(self, dataset_id: str, fast: int, via: str | None = None) -> str:
        body = {
            "dataset_id": dataset_id,
            "strategy": "sma_cross",
            "parameters": {"fast": fast, "slow": 100},
        }
        url = f"{via or ''}/api/v1/backtests"
        response = self.client.post(url, headers=auth(self.token), json=body)
        assert response.status_code == 202, response.text
        run_id: str = response.json()["id"]
        return run_id


@pytest.fixture(scope="module")
def client(stack: Stack) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=stack.gateway_url, timeout=10, headers=forwarded_for()) as http:
        yield http


@pytest.fixture(scope="module")
def owner(client: httpx.Client) -> User:
    return User(client)


@pytest.fixture(scope="module")
def dataset(owner: User) -> str:
    return owner.upload(minute_bars_csv(BARS, seed=3))


@pytest.fixture(scope="module")
def second_gateway(stack: Stack) -> Iterator[str]:
    """Another gateway replica on the same broker: its own reply topic and event consumer."""
    first = stack.processes["gateway"]
    replica = ServiceProcess("gateway", free_port(), first.env, instance="b")
    replica.start()
    try:
        wait_until_ready([replica], 120)
        yield replica.url
    finally:
        replica.stop()


def job_events(collector: Collector, run_id: str) -> list[dict[str, Any]]:
    """The job's numbered events, without its analysis announcement."""
    return [e for e in collector.events(run_id) if not e["type"].startswith("analysis.")]


def announced(collector: Collector, run_id: str) -> dict[str, Any] | None:
    """The run's ``analysis.ready``, once received."""
    return next((e for e in collector.events(run_id) if e["type"] == "analysis.ready"), None)


def sequences(events: list[dict[str, Any]]) -> list[int]:
    return [e["sequence"] for e in events]


def test_clients_on_two_replicas_get_every_event_in_order(
    stack: Stack, second_gateway: str, owner: User, dataset: str
) -> None:
    on_a = Collector(open_socket(stack.gateway_url, "/api/v1/ws", owner.token))
    on_b = Collector(open_socket(second_gateway, "/api/v1/ws", owner.token))
    try:
        time.sleep(6)  # let replica b's event consumer join before the first event
        # One job started through each replica.
        run_ids = [owner.submit(dataset, 10), owner.submit(dataset, 11, via=second_gateway)]

        def all_final() -> bool | None:
            finals = [c.final_of(r) for c in (on_a, on_b) for r in run_ids]
            return True if all(finals) else None

        wait_for(all_final, 60, "both final events on both replicas")
        for run_id in run_ids:
            seen_a, seen_b = job_events(on_a, run_id), job_events(on_b, run_id)
            # Both clients saw the same events, in order, ending with completed.
            assert sequences(seen_a) == sequences(seen_b)
            assert sequences(seen_a) == sorted(set(sequences(seen_a)))
            assert [e["type"] for e in seen_a][-1] == "completed"
            assert sum(e["type"] == "progress" for e in seen_a) >= 2
            assert all(e["type"] == "progress" for e in seen_a[:-1])
            run = owner.client.get(f"/api/v1/backtests/{run_id}", headers=auth(owner.token))
            assert seen_a[-1]["sequence"] == run.json()["sequence"]
            assert seen_a[-1]["summary"] == run.json()["summary"]
            # Then both replicas announce the analysis, with the metrics GET /analytics has.
            for collector in (on_a, on_b):
                ready = wait_for(partial(announced, collector, run_id), 60, "analysis.ready")
                analysis = owner.client.get(
                    f"/api/v1/analytics/{run_id}", headers=auth(owner.token)
                )
                assert ready["metrics"] == analysis.json()["metrics"]
                assert "sequence" not in ready
                assert collector.events(run_id)[-1] == ready
    finally:
        on_a.close()
        on_b.close()


def test_a_client_resumes_after_a_disconnect_and_gets_the_final_event(
    stack: Stack, second_gateway: str, owner: User, dataset: str
) -> None:
    run_id = owner.submit(dataset, 12)
    first = open_socket(stack.gateway_url, f"/api/v1/ws/jobs/{run_id}", owner.token)
    snapshot = json.loads(first.recv(timeout=10))
    assert snapshot["type"] == "snapshot"
    assert snapshot["job"]["id"] == run_id
    last = snapshot["job"]["sequence"]
    while True:  # read until the first progress event, then drop the connection
        message = json.loads(first.recv(timeout=30))
        if message["type"] == "progress":
            last = message["sequence"]
            break
    first.close()

    # Reconnect to the other replica with the last sequence seen.
    second = Collector(
        open_socket(second_gateway, f"/api/v1/ws/jobs/{run_id}?after={last}", owner.token)
    )
    wait_for(lambda: second.close_code, 60, "the resumed socket closed after the analysis")
    assert second.close_code == 1000
    # The socket stays open after completed until the run's analysis is announced.
    assert second.events(run_id)[-1]["type"] == "analysis.ready"
    resumed = job_events(second, run_id)
    assert resumed[-1]["type"] == "completed"
    assert all(e["sequence"] > last for e in resumed)
    assert sequences(resumed) == sorted(set(sequences(resumed)))

    # Long after the end, resuming still delivers the final event (rebuilt from the stored run)
    # and the analysis announcement (rebuilt from the stored analysis).
    late = Collector(
        open_socket(stack.gateway_url, f"/api/v1/ws/jobs/{run_id}?after={last}", owner.token)
    )
    wait_for(lambda: late.close_code, 30, "the late socket closed")
    assert [m["type"] for m in late.messages] == ["snapshot", "completed", "analysis.ready"]
    assert late.messages[1]["sequence"] == resumed[-1]["sequence"]
    assert late.messages[1]["summary"] == resumed[-1]["summary"]
    assert late.messages[2]["metrics"] == second.events(run_id)[-1]["metrics"]
    # A client that already has the final event gets the snapshot and the announcement only.
    done = Collector(
        open_socket(
            stack.gateway_url,
            f"/api/v1/ws/jobs/{run_id}?after={resumed[-1]['sequence']}",
            owner.token,
        )
    )
    wait_for(lambda: done.close_code, 30, "the up-to-date socket closed")
    assert [m["type"] for m in done.messages] == ["snapshot", "analysis.ready"]


def test_another_users_sockets_receive_nothing_of_the_job(
    stack: Stack, client: httpx.Client, owner: User, dataset: str
) -> None:
    stranger = User(client)
    watching = Collector(open_socket(stack.gateway_url, "/api/v1/ws", stranger.token))
    mine = Collector(open_socket(stack.gateway_url, "/api/v1/ws", owner.token))
    try:
        time.sleep(1)
        run_id = owner.submit(dataset, 13)
        wait_for(lambda: mine.final_of(run_id), 60, "the owner's final event")
        # The owner hears of the analysis after completed; the stranger hears nothing at all.
        ready = wait_for(lambda: announced(mine, run_id), 60, "the owner's analysis.ready")
        assert [e["type"] for e in mine.events(run_id)][-2:] == ["completed", "analysis.ready"]
        assert ready["run_id"] == run_id
        assert watching.messages == []  # no snapshot, no event: nothing of the owner's
        peek = connect(
            ws_url(stack.gateway_url, f"/api/v1/ws/jobs/{run_id}"),
            subprotocols=protocols(stranger.token),
        )
        assert json.loads(peek.recv(timeout=10))["type"] == "ready"
        assert read_until_closed(peek) == 4404
    finally:
        watching.close()
        mine.close()


def refused_with(url: str, token: str | None = None) -> int | None:
    """Connect (with ``token`` as a subprotocol), read until the server closes, return the code."""
    return read_until_closed(
        connect(url, open_timeout=10, subprotocols=protocols(token) if token else None)
    )


def test_bad_expired_or_missing_tokens_and_silence_are_closed(
    stack: Stack, client: httpx.Client, owner: User, signing_key: Ed25519PrivateKey
) -> None:
    url = ws_url(stack.gateway_url, "/api/v1/ws")
    kid = client.get("/.well-known/jwks.json").json()["keys"][0]["kid"]
    now = int(time.time())
    expired = jwt.encode(
        {
            "iss": "tradelab-auth",
            "aud": "tradelab-api",
            "sub": owner.id,
            "iat": now - 3600,
            "exp": now - 1800,
            "jti": uuid4().hex,
        },
        signing_key,
        algorithm="EdDSA",
        headers={"kid": kid},
    )
    assert refused_with(url, expired) == 4401
    assert refused_with(url, "not-a-jwt") == 4401
    tampered = owner.token[:-4] + ("AAAA" if not owner.token.endswith("AAAA") else "BBBB")
    assert refused_with(url, tampered) == 4401

    # Token as the first message works; a first message of another type is a policy violation.
    socket = connect(url, open_timeout=10)
    socket.send(json.dumps({"type": "auth", "token": owner.token}))
    assert json.loads(socket.recv(timeout=10))["type"] == "ready"
    socket.close()
    wrong = connect(url, open_timeout=10)
    wrong.send(json.dumps({"type": "hello"}))
    assert read_until_closed(wrong) == 1008

    # No auth at all: closed after the auth timeout (2 s in the e2e stack).
    assert refused_with(url) == 4408
    # Authenticated but silent (pings unanswered): closed after the idle timeout (5 s here).
    silent = open_socket(stack.gateway_url, "/api/v1/ws", owner.token)
    assert read_until_closed(silent) == 4408  # pings arrive; we never answer
