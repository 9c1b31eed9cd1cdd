"""Kafka subscriber of the auth service: each request class to its use case, the outcome to a
reply.

Requests carry passwords and tokens, so nothing here logs a request's fields; the responder logs
only a request's kind, id and, for one that does not parse, where and why (never the input).
"""

from collections.abc import Awaitable, Callable
from typing import Any
from uuid import uuid4

from faststream.kafka import KafkaBroker

from tradelab_contracts.auth import AUTH_REQUEST_ADAPTER, AuthError, AuthReply, AuthRequest
from tradelab_contracts.base import correlation_of
from tradelab_contracts.topics import AUTH_REQUESTS
from tradelab_runtime.responder import Handler, Routes, serve_requests
from tradelab_runtime.sealing import BusKeys

from . import errors
from .service import USE_CASES, AuthDeps, Outcome

AUTH_GROUP = "auth"


def reply_to(cmd: AuthRequest, outcome: Outcome, bus: BusKeys) -> AuthReply:
    """Return the reply that carries ``outcome`` back to the sender of ``cmd``, issued tokens
    sealed for it (the reply's id is chosen first: the seal binds the tokens to it)."""
    message_id = uuid4()
    tokens = None if outcome.tokens is None else bus.seal_tokens(outcome.tokens, message_id)
    return AuthReply(
        message_id=message_id,
        request_id=cmd.message_id,
        correlation_id=correlation_of(cmd),
        ok=outcome.error is None,
        error=outcome.error,
        tokens=tokens,
        user=outcome.user,
        keys=outcome.keys,
    )


def _failed(cmd: AuthRequest, error: AuthError) -> AuthReply:
    # A failure carries nothing to seal, so it needs no bus keys (unlike `reply_to`).
    return AuthReply(
        request_id=cmd.message_id, correlation_id=correlation_of(cmd), ok=False, error=error
    )


def internal_error(cmd: AuthRequest) -> AuthReply:
    """Return the reply to a request whose use case failed unexpectedly."""
    return _failed(cmd, errors.INTERNAL)


def too_large(cmd: AuthRequest, message: str) -> AuthReply:
    """Return the reply to a request whose answer would not fit in a broker message."""
    return _failed(cmd, errors.reply_too_large(message))


def answering(
    use_case: Callable[[Any, AuthDeps], Awaitable[Outcome]], deps: AuthDeps
) -> Handler[AuthReply]:
    """Return a handler that runs ``use_case`` and answers its outcome (its events are in the
    outbox already, stored with the change they announce)."""

    async def run(cmd: AuthRequest) -> AuthReply:
        return reply_to(cmd, await use_case(cmd, deps), deps.bus)

    return run


def request_routes(deps: AuthDeps) -> Routes[AuthRequest, AuthReply]:
    """Return what the auth service answers: each request class and its use case."""
    return Routes(
        adapter=AUTH_REQUEST_ADAPTER,
        handlers={kind: answering(use_case, deps) for kind, use_case in USE_CASES.items()},
        internal_error=internal_error,
        too_large=too_large,
    )


def register_auth_handler(broker: KafkaBroker, deps: AuthDeps) -> None:
    """Subscribe the auth request handler on ``broker``.

    All replicas share the consumer group ``auth``, so each request is answered once. Offsets are
    committed after handling, also when handling failed: a request that broke once is not retried
    forever, and its sender already got an ``internal`` reply. One consumer per worker, partitions
    split between them: argon2 runs in threads, so two logins hash at once on two cores while
    offsets stay committed after handling.
    """
    serve_requests(
        broker,
        request_routes(deps),
        topic=AUTH_REQUESTS,
        group_id=AUTH_GROUP,
        clock=deps.clock,
        max_workers=deps.settings.request_workers,
        max_message_bytes=deps.settings.kafka_max_message_bytes,
    )
