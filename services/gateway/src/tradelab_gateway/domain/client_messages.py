"""What a WebSocket client sent, read without trusting it: bounded in size, and answered with
fixed messages that never repeat the client's input (docs/websocket.md)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

INVALID_MESSAGE: dict[str, Any] = {"type": "error", "message": "messages must be JSON objects"}
"""The answer to a message that is not a JSON object (binary included)."""
UNKNOWN_MESSAGE: dict[str, Any] = {"type": "error", "message": "unknown message type"}
"""The answer to a JSON object whose ``type`` the server does not know."""


class ClientMessageKind(StrEnum):
    """What a client message is, as far as the server cares."""

    AUTH = "auth"
    PING = "ping"
    PONG = "pong"
    TOO_BIG = "too_big"
    INVALID = "invalid"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class ClientMessage:
    """One client message: its kind, and the token of an ``auth`` message (None if missing)."""

    kind: ClientMessageKind
    token: str | None = None


def _too_big(data: str | bytes, max_bytes: int) -> bool:
    if isinstance(data, bytes):
        return len(data) > max_bytes
    # Each character is at least one byte: the length alone refuses most without encoding.
    return len(data) > max_bytes or len(data.encode()) > max_bytes


def read_client_message(data: str | bytes | None, max_bytes: int) -> ClientMessage:
    """Classify a received WebSocket message (``data`` is its text or bytes).

    Only text messages of at most ``max_bytes`` bytes holding a JSON object are read; the
    ``type`` decides the kind.
    """
    if data is not None and _too_big(data, max_bytes):
        return ClientMessage(ClientMessageKind.TOO_BIG)
    if not isinstance(data, str):
        return ClientMessage(ClientMessageKind.INVALID)
    try:
        message = json.loads(data)
    except (ValueError, RecursionError):  # RecursionError: nesting deeper than the parser goes
        return ClientMessage(ClientMessageKind.INVALID)
    if not isinstance(message, dict):
        return ClientMessage(ClientMessageKind.INVALID)
    match message.get("type"):
        case "ping":
            return ClientMessage(ClientMessageKind.PING)
        case "pong":
            return ClientMessage(ClientMessageKind.PONG)
        case "auth":
            token = message.get("token")
            return ClientMessage(
                ClientMessageKind.AUTH, token if isinstance(token, str) and token else None
            )
        case _:
            return ClientMessage(ClientMessageKind.UNKNOWN)
