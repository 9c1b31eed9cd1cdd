"""Helpers shared by the e2e modules: users, GOOG uploads, synthetic bar files and WebSocket
clients."""

import io
import json
import secrets
import threading
from importlib.resources import files
from typing import Any

import httpx
import numpy as np
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection
from websockets.sync.client import connect as ws_connect
from websockets.typing import Subprotocol

from tests.polling import wait_for

FINAL = {"completed", "failed", "cancelled"}
GOOG = files("backtesting.test") / "GOOG.csv"


def auth(token: str) -> dict[str, str]:
    """The bearer header of a user's access token."""
    return {"Authorization": f"Bearer {token}"}


def forwarded_for(address: str | None = None) -> dict[str, str]:
    """An ``X-Forwarded-For`` header naming ``address`` (a random 10.x one by default).

    The e2e stack trusts 127.0.0.1 as a proxy, so this is the client address the gateway's
    per-address rate limits count under.
    """
    if address is None:
        address = "10." + ".".join(str(secrets.randbelow(256)) for _ in range(3))
    return {"X-Forwarded-For": address}


def assert_rate_limited(response: httpx.Response, limit: str) -> None:
    """``response`` is the gateway's 429 problem naming rate limit ``limit``, with a Retry-After."""
    assert response.status_code == 429, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert (response.json()["code"], response.json()["rate_limit"]) == ("rate_limited", limit)
    assert int(response.headers["retry-after"]) >= 1


def register(client: httpx.Client, prefix: str) -> str:
    """A new user's access token (registered from an address of its own)."""
    response = client.post(
        "/api/v1/auth/register",
        json={
            "email": f"{prefix}-{secrets.token_hex(6)}@example.com",
            "password": "correct horse battery",
        },
        headers=forwarded_for(),
    )
    assert response.status_code == 201, response.text
    token: str = response.json()["access_token"]
    return token


def upload_goog(client: httpx.Client, token: str) -> str:
    """GOOG daily, uploaded by the user and ready; its dataset id."""
    created = client.post(
        "/api/v1/datasets",
        headers=auth(token),
        files={"file": ("GOOG.csv", GOOG.read_bytes(), "text/csv")},
        data={"symbol": "GOOG"},
    )
    assert created.status_code in (200, 202), created.text
    dataset_id: str = created.json()["id"]

    def ready() -> str | None:
        body = client.get(f"/api/v1/datasets/{dataset_id}", headers=auth(token)).json()
        assert body["status"] != "failed", body
        return dataset_id if body["status"] == "ready" else None

    return wait_for(ready, 60, "GOOG ingested")


def run_to_end(client: httpx.Client, token: str, body: dict[str, Any]) -> dict[str, Any]:
    """Submit a backtest and wait until it ends; the ended run."""
    response = client.post("/api/v1/backtests", headers=auth(token), json=body)
    assert response.status_code == 202, response.text
    run_id = response.json()["id"]

    def finished() -> dict[str, Any] | None:
        run: dict[str, Any] = client.get(f"/api/v1/backtests/{run_id}", headers=auth(token)).json()
        return run if run["status"] in FINAL else None

    return wait_for(finished, 60, f"backtest {run_id} finished")


def minute_bars_csv(n: int, seed: int) -> bytes:
    """A random-walk series of ``n`` one-minute bars as CSV."""
    rng = np.random.default_rng(seed)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.001, n)))
    open_ = np.concatenate(([100.0], close[:-1]))
    high = np.maximum(open_, close) * 1.0005
    low = np.minimum(open_, close) * 0.9995
    start = np.datetime64("2024-01-02T00:00")
    times = start + np.arange(n).astype("timedelta64[m]")
    out = io.StringIO()
    out.write("timestamp,open,high,low,close,volume\n")
    for row in zip(times, open_, high, low, close, strict=True):
        out.write(f"{row[0]}Z,{row[1]:.6f},{row[2]:.6f},{row[3]:.6f},{row[4]:.6f},1000\n")
    return out.getvalue().encode()


def ws_url(http_url: str, path: str) -> str:
    return http_url.replace("http://", "ws://", 1) + path


def connect(url: str, **kwargs: Any) -> ClientConnection:
    """Open a socket the caller closes (sockets here outlive any one ``with`` block)."""
    return ws_connect(url, legacy=True, **kwargs)


def protocols(token: str) -> list[Subprotocol]:
    """The subprotocols that carry an access token (docs/websocket.md)."""
    return [Subprotocol("tradelab.v1"), Subprotocol(f"bearer.{token}")]


def read_until_closed(socket: ClientConnection, timeout_s: float = 15) -> int | None:
    """Read (and ignore) messages until the server closes; return the close code."""
    try:
        while True:
            socket.recv(timeout=timeout_s)
    except ConnectionClosed:
        pass
    code: int | None = socket.close_code
    return code


def open_socket(base_url: str, path: str, token: str) -> ClientConnection:
    """Connect with the token as a subprotocol and read the ``ready`` message."""
    socket = connect(ws_url(base_url, path), subprotocols=protocols(token), open_timeout=10)
    assert socket.subprotocol == "tradelab.v1"
    ready = json.loads(socket.recv(timeout=10))
    assert ready["type"] == "ready"
    return socket


class Collector:
    """Reads a socket in a thread until it closes, answering pings, keeping job messages."""

    def __init__(self, socket: ClientConnection) -> None:
        self.socket = socket
        self.messages: list[dict[str, Any]] = []
        self.close_code: int | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            for raw in self.socket:
                message = json.loads(raw)
                if message["type"] == "ping":
                    self.socket.send(json.dumps({"type": "pong"}))
                else:
                    self.messages.append(message)
        except ConnectionClosed:
            pass
        self.close_code = self.socket.close_code

    def events(self, run_id: str) -> list[dict[str, Any]]:
        return [m for m in self.messages if m.get("run_id") == run_id]

    def final_of(self, run_id: str) -> dict[str, Any] | None:
        return next((m for m in self.events(run_id) if m["type"] in FINAL), None)

    def close(self) -> None:
        self.socket.close()
        self._thread.join(10)
