"""Helpers shared by the e2e modules: synthetic bar files and WebSocket clients."""

import io
import json
import threading
from typing import Any

import numpy as np
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection
from websockets.sync.client import connect as ws_connect
from websockets.typing import Subprotocol

FINAL = {"completed", "failed", "cancelled"}


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
