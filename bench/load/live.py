"""The load scenario's WebSocket client: one ``/api/v1/ws`` connection of a user."""

import json
import time

from websockets.sync.client import ClientConnection
from websockets.typing import Subprotocol

FINAL = {"completed", "failed", "cancelled"}


def protocols(token: str) -> list[Subprotocol]:
    """The subprotocols that carry an access token (docs/websocket.md)."""
    return [Subprotocol("tradelab.v1"), Subprotocol(f"bearer.{token}")]


class Live:
    """One ``/api/v1/ws`` connection: answers pings, keeps the final event of each job."""

    def __init__(self, socket: ClientConnection) -> None:
        self.socket = socket
        ready = json.loads(socket.recv(timeout=30))
        if ready.get("type") != "ready":
            msg = f"expected ready, got {ready.get('type')}"
            raise RuntimeError(msg)
        self.finals: dict[str, tuple[str, float]] = {}

    def read(self, timeout_s: float) -> None:
        """Handle messages for up to ``timeout_s`` (at least one read)."""
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                message = json.loads(
                    self.socket.recv(timeout=max(0.0, deadline - time.monotonic()))
                )
            except TimeoutError:
                return
            if message.get("type") == "ping":
                self.socket.send('{"type": "pong"}')
            elif message.get("type") in FINAL and "run_id" in message:
                self.finals[message["run_id"]] = (message["type"], time.perf_counter())
            if time.monotonic() >= deadline:
                return

    def final(self, run_id: str, deadline_s: float) -> tuple[str, float] | None:
        """Wait for the job's final event: (type, when received) or None past the deadline."""
        deadline = time.monotonic() + deadline_s
        while run_id not in self.finals and time.monotonic() < deadline:
            self.read(min(1.0, deadline - time.monotonic()))
        return self.finals.pop(run_id, None)

    def close(self) -> None:
        """Close the socket."""
        self.socket.close()
