"""Kafka subscriber of the auth service: parse the request, run its use case, publish the reply.

Requests carry passwords and tokens, so nothing here logs a request's fields: only its kind, id
and, for a request that does not parse, where and why validation failed (never the input).
"""

import asyncio

from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from pydantic import ValidationError

from tradelab_contracts.auth import AUTH_REQUEST_ADAPTER, AuthReply, AuthRequest
from tradelab_contracts.base import correlation_of
from tradelab_contracts.topics import AUTH_REQUESTS, AUTH_USER_REGISTERED, is_reply_topic
from tradelab_runtime.broker import RPC_FETCH_MAX_WAIT_MS
from tradelab_runtime.logging import get_logger

from . import errors
from .service import AuthDeps, Outcome, handle

AUTH_GROUP = "auth"
PUBLISH_TIMEOUT_S = 10.0
"""Bound on one publish: a reply topic deleted by a stopped gateway would otherwise stall the
consumer for the producer's whole metadata timeout."""
log = get_logger(__name__)


def parse_request(body: bytes) -> AuthRequest | None:
    """Return the request in ``body``, or None (logged) when it cannot be answered."""
    try:
        cmd = AUTH_REQUEST_ADAPTER.validate_json(body)
    except ValidationError as exc:
        # include_input=False: the input may hold a password.
        problems = [(e["loc"], e["type"]) for e in exc.errors(include_input=False)]
        log.warning("dropping an auth request that does not parse", problems=problems)
        return None
    if not is_reply_topic(cmd.reply_to):
        # Replies carry tokens: only a gateway's reply topic may receive them.
        log.warning("dropping an auth request with a foreign reply topic", kind=cmd.kind)
        return None
    return cmd


async def answer(cmd: AuthRequest, deps: AuthDeps) -> Outcome:
    """Run ``cmd``; an unexpected failure is logged and answered ``internal``, never raised."""
    try:
        return await handle(cmd, deps)
    except Exception:
        log.exception("auth request failed", kind=cmd.kind, request_id=str(cmd.message_id))
        return Outcome(error=errors.INTERNAL)


def reply_to(cmd: AuthRequest, outcome: Outcome) -> AuthReply:
    """Return the reply that carries ``outcome`` back to the sender of ``cmd``."""
    return AuthReply(
        request_id=cmd.message_id,
        correlation_id=correlation_of(cmd),
        ok=outcome.error is None,
        error=outcome.error,
        tokens=outcome.tokens,
        user=outcome.user,
        keys=outcome.keys,
    )


def register_auth_handler(broker: KafkaBroker, deps: AuthDeps) -> None:
    """Subscribe the auth request handler on ``broker``.

    All replicas share the consumer group ``auth``, so each request is answered once. Offsets are
    committed after handling (``AckPolicy.ACK``), also when handling failed: a request that broke
    once is not retried forever, and its sender already got an ``internal`` reply.
    """

    @broker.subscriber(
        AUTH_REQUESTS,
        group_id=AUTH_GROUP,
        ack_policy=AckPolicy.ACK,
        fetch_max_wait_ms=RPC_FETCH_MAX_WAIT_MS,
        # One consumer per worker, partitions split between them: argon2 runs in threads, so two
        # logins hash at once on two cores while offsets stay committed after handling.
        max_workers=deps.settings.request_workers,
    )
    async def on_auth_request(message: KafkaMessage) -> None:
        cmd = parse_request(message.body)
        if cmd is None:
            return
        outcome = await answer(cmd, deps)
        try:
            async with asyncio.timeout(PUBLISH_TIMEOUT_S):
                for event in outcome.events:
                    key = str(event.user_id).encode()
                    await broker.publish(event, AUTH_USER_REGISTERED, key=key)
                reply = reply_to(cmd, outcome)
                await broker.publish(reply, cmd.reply_to, key=str(cmd.message_id).encode())
        except TimeoutError:
            log.warning("auth reply not delivered in time", kind=cmd.kind, topic=cmd.reply_to)
