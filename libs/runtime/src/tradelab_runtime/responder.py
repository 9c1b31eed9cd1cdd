"""The one request/reply responder every service answers the gateway with.

A service describes what it answers as `Routes`: how to read a request, one handler per request
class and the reply for an unexpected failure. `Responder` does the rest, the same way for every
service: parse (an unreadable request is dropped with a warning that never logs its input, since
auth requests carry passwords), refuse a reply topic that is not a gateway's, drop a request
whose deadline has passed (`tradelab_runtime.deadlines`: logged and counted, never answered, since
nobody waits), dispatch by type, turn an exception into the internal-error reply, bound how many
are answered at once, encode the reply, answer a typed ``reply_too_large`` error instead of one
that would not fit in a broker message, and publish it to ``cmd.reply_to`` keyed by the request's
id. `serve_requests` subscribes one.
"""

import asyncio
from collections.abc import Awaitable, Callable, Collection, Coroutine, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, Protocol, TypeAlias, TypeVar
from uuid import UUID

from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from opentelemetry import metrics
from pydantic import BaseModel, TypeAdapter, ValidationError

from tradelab_contracts.registry import UNION_MEMBERS
from tradelab_contracts.topics import is_reply_topic

from .broker import RPC_FETCH_MAX_WAIT_MS
from .clock import Clock, SystemClock
from .deadlines import EXPIRED_COUNTER, DeadlineExceededError, check_deadline
from .logging import get_logger
from .outbox import JSON_HEADERS

PUBLISH_TIMEOUT_S = 10.0
"""Bound on publishing one reply: a reply topic deleted by a stopped gateway would otherwise stall
the consumer for the producer's whole metadata timeout."""

DEFAULT_MAX_MESSAGE_BYTES = 1024 * 1024
"""The broker's ``message.max.bytes`` unless configured (``KAFKA_MAX_MESSAGE_BYTES``); Kafka's
default, and aiokafka's ``max_request_size``."""
HEADROOM_BYTES = 16 * 1024
"""Kept free of a reply's JSON for its key, headers (trace context) and record-batch framing."""

log = get_logger(__name__)


class Request(Protocol):
    """What the responder reads of any request: its kind, id, deadline and where to answer."""

    @property
    def kind(self) -> str: ...

    @property
    def message_id(self) -> UUID: ...

    @property
    def reply_to(self) -> str: ...

    @property
    def deadline(self) -> datetime | None: ...


Req = TypeVar("Req", bound=Request)
Rep = TypeVar("Rep", bound=BaseModel)

Handler: TypeAlias = Callable[[Any], Awaitable[Rep]]
"""Answers one request class (typed ``Any`` because each handler takes its own class)."""

RequestHandlers: TypeAlias = Mapping[type[Any], Handler[Rep]]
"""Request class -> its handler."""

Publish: TypeAlias = Callable[[bytes, str, bytes], Awaitable[None]]
"""Publish an encoded (JSON) reply to a topic under a key."""


def json_bytes(model: BaseModel) -> bytes:
    """Return ``model``'s JSON as UTF-8 bytes, the bytes a broker message carries.

    What ``model_dump_json().encode()`` returns, without decoding the serializer's bytes into a
    str and encoding them back (every reply, up to a broker message's size, passes here).
    """
    return model.__pydantic_serializer__.to_json(model)


def merge_handlers(*tables: RequestHandlers[Rep]) -> dict[type[Any], Handler[Rep]]:
    """Return one table of ``tables``; a request class handled twice is a wiring error."""
    merged: dict[type[Any], Handler[Rep]] = {}
    for table in tables:
        twice = merged.keys() & table.keys()
        if twice:
            msg = f"requests handled twice: {sorted(t.__name__ for t in twice)}"
            raise ValueError(msg)
        merged.update(table)
    return merged


@dataclass(frozen=True)
class Routes(Generic[Req, Rep]):
    """What one service answers.

    Attributes
    ----------
    adapter
        Reads a request (the contract's discriminated union).
    handlers
        The handler of each request class.
    internal_error
        The reply to a request whose handler raised.
    too_large
        The reply (an error with the code ``reply_too_large``, whose message is the second
        argument) to a request whose reply would not fit in a broker message.
    background
        Request classes answered off the consumer (they take seconds; their handlers bound
        their own concurrency), so the requests behind them are answered meanwhile.
    """

    adapter: TypeAdapter[Req]
    handlers: RequestHandlers[Rep]
    internal_error: Callable[[Req], Rep]
    too_large: Callable[[Req, str], Rep]
    background: frozenset[type[Any]] = frozenset()

    def check_covers(self, kinds: Collection[type[Any]]) -> None:
        """Raise unless every class in ``kinds`` has a handler (at start, not at first use)."""
        missing = [k.__name__ for k in kinds if k not in self.handlers]
        stray = [k.__name__ for k in self.background if k not in self.handlers]
        if missing or stray:
            msg = f"requests without a handler: {missing or stray}"
            raise ValueError(msg)


class Responder(Generic[Req, Rep]):
    """Answers the requests of one service (see the module docstring).

    With ``concurrency`` 1 a request is answered on the consumer, before its offset is committed;
    above 1, up to that many are answered at once in tasks (the consumer waits for a free slot,
    so a burst waits in the topic, not in memory). A request's deadline is checked on ``clock``
    when its turn comes, after any wait for a slot; drops are counted on ``meter_provider``'s
    `EXPIRED_COUNTER` (the global provider when None: a no-op until one is configured). A reply
    whose JSON exceeds ``max_message_bytes`` less `HEADROOM_BYTES` is logged and replaced by the
    route's ``too_large`` error, so the requester learns why instead of timing out on a producer
    error.
    """

    def __init__(
        self,
        routes: Routes[Req, Rep],
        publish: Publish,
        concurrency: int = 1,
        max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES,
        *,
        clock: Clock | None = None,
        meter_provider: metrics.MeterProvider | None = None,
    ):
        if concurrency < 1:
            msg = f"concurrency must be at least 1, not {concurrency}"
            raise ValueError(msg)
        if max_message_bytes <= 2 * HEADROOM_BYTES:
            msg = f"max_message_bytes must exceed {2 * HEADROOM_BYTES}, not {max_message_bytes}"
            raise ValueError(msg)
        self.routes = routes
        self.max_reply_bytes = max_message_bytes - HEADROOM_BYTES
        self._publish = publish
        self._clock = clock or SystemClock()
        meter = (meter_provider or metrics.get_meter_provider()).get_meter(__name__)
        self._expired = meter.create_counter(
            EXPIRED_COUNTER,
            unit="{request}",
            description="Requests dropped unanswered because their deadline had passed.",
        )
        self._slots = asyncio.Semaphore(concurrency) if concurrency > 1 else None
        self._tasks: set[asyncio.Task[None]] = set()

    async def receive(self, body: bytes) -> None:
        """Answer the request in ``body`` (now or in a task), or drop it if unreadable."""
        cmd = self.parse(body)
        if cmd is None:
            return
        if type(cmd) in self.routes.background:
            self._spawn(self.respond(cmd))
        elif self._slots is None:
            await self.respond(cmd)
        else:
            await self._slots.acquire()
            self._spawn(self._respond_in_slot(cmd, self._slots))

    def parse(self, body: bytes) -> Req | None:
        """Return the request in ``body``, or None (logged without its input) if unanswerable."""
        try:
            cmd = self.routes.adapter.validate_json(body)
        except ValidationError as exc:
            # include_input=False: an auth request's input may hold a password.
            problems = [(e["loc"], e["type"]) for e in exc.errors(include_input=False)]
            log.warning("dropping a request that does not parse", problems=problems)
            return None
        if not is_reply_topic(cmd.reply_to):
            # Replies carry tokens and users' data: only a gateway's reply topic may receive them.
            log.warning("dropping a request with a foreign reply topic", kind=cmd.kind)
            return None
        return cmd

    async def answer(self, cmd: Req) -> Rep:
        """Return the reply to ``cmd``; an unexpected failure is logged and answered internal."""
        try:
            return await self.routes.handlers[type(cmd)](cmd)
        except DeadlineExceededError:
            raise  # the handler found it late before an expensive step: drop, do not answer
        except Exception:
            log.exception("request failed", kind=cmd.kind, request_id=str(cmd.message_id))
            return self.routes.internal_error(cmd)

    def encode(self, cmd: Req, reply: Rep) -> bytes:
        """Return ``reply`` as JSON, or the ``too_large`` error's if it would not fit (logged)."""
        body = json_bytes(reply)
        if len(body) <= self.max_reply_bytes:
            return body
        log.error(
            "reply too large for the broker",
            kind=cmd.kind,
            request_id=str(cmd.message_id),
            reply_bytes=len(body),
            max_reply_bytes=self.max_reply_bytes,
        )
        detail = (
            f"The answer would take {len(body):,} bytes; at most {self.max_reply_bytes:,} fit "
            "in one broker message. Ask for less (a smaller page)."
        )
        return json_bytes(self.routes.too_large(cmd, detail))

    async def respond(self, cmd: Req) -> None:
        """Answer ``cmd`` and publish the reply; a reply that cannot be delivered is logged.

        A request past its deadline, on arrival or at a handler's own check, is dropped instead.
        """
        try:
            check_deadline(cmd, self._clock)  # on arrival, after any wait for a slot
            body = self.encode(cmd, await self.answer(cmd))
        except DeadlineExceededError:
            self._drop_late(cmd)
            return
        try:
            async with asyncio.timeout(PUBLISH_TIMEOUT_S):
                await self._publish(body, cmd.reply_to, cmd.message_id.bytes)
        except TimeoutError:
            log.warning("reply not delivered in time", kind=cmd.kind, topic=cmd.reply_to)
        except Exception:
            log.exception("reply not delivered", kind=cmd.kind, topic=cmd.reply_to)

    def _drop_late(self, cmd: Req) -> None:
        # Its requester has answered 503 already and may retry: doing the work now would only
        # add load while the service is behind.
        log.warning(
            "dropping a request past its deadline",
            kind=cmd.kind,
            request_id=str(cmd.message_id),
            deadline=None if cmd.deadline is None else cmd.deadline.isoformat(),
        )
        self._expired.add(1, {"kind": cmd.kind})

    async def drain(self) -> None:
        """Wait for the requests being answered in tasks."""
        while self._tasks:
            await asyncio.gather(*self._tasks)

    async def _respond_in_slot(self, cmd: Req, slots: asyncio.Semaphore) -> None:
        try:
            await self.respond(cmd)
        finally:
            slots.release()

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(work)
        self._tasks.add(task)  # the loop keeps only weak references to tasks
        task.add_done_callback(self._tasks.discard)


def serve_requests(
    broker: KafkaBroker,
    routes: Routes[Req, Rep],
    *,
    topic: str,
    group_id: str,
    clock: Clock,
    concurrency: int = 1,
    max_workers: int | None = None,
    meter_provider: metrics.MeterProvider | None = None,
    max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES,
) -> Responder[Req, Rep]:
    """Subscribe a `Responder` for ``routes`` to ``topic`` on ``broker`` and return it.

    All replicas share ``group_id``, so each request is answered once. A request is acknowledged
    when the consumer is done with it (after answering, or once handed to a task): one that broke
    is not retried forever (its sender got the internal-error reply), and one lost with its
    replica is not redelivered (its sender times out, 503, and may retry). ``max_workers`` runs
    that many consumers, partitions split between them (FastStream's concurrent subscriber).
    ``clock`` decides whether a request's deadline has passed (the service's injected clock).
    ``max_message_bytes`` is the broker's ``message.max.bytes`` (see `Responder`).
    """
    routes.check_covers(UNION_MEMBERS[topic])

    async def publish(body: bytes, reply_topic: str, key: bytes) -> None:
        # Encoded (and measured) by the responder; the header FastStream would have set.
        await broker.publish(body, reply_topic, key=key, headers=JSON_HEADERS)

    responder = Responder(
        routes,
        publish,
        concurrency,
        max_message_bytes,
        clock=clock,
        meter_provider=meter_provider,
    )

    @broker.subscriber(
        topic,
        group_id=group_id,
        ack_policy=AckPolicy.ACK,
        fetch_max_wait_ms=RPC_FETCH_MAX_WAIT_MS,
        max_workers=max_workers,
    )
    async def on_request(message: KafkaMessage) -> None:
        await responder.receive(message.body)

    return responder
