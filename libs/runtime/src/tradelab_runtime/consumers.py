"""The failure policy every work consumer follows.

- A message that cannot be read (not JSON, not the contract) is a poison message: it is parked
  as a dead letter at once and its offset committed, so it never blocks its partition.
- A handler that raises is retried in place with exponential back-off, ``max_attempts`` times in
  all; then the consumer's ``on_give_up`` (if any) records the failure where its user sees it
  (a job failed, with its event), and the message is parked with the last error and the attempt
  count, and committed.
- Parking needs the database. When even that fails (the database is down, the usual cause of the
  failures before), the message is not committed: the consumer seeks back to it and reads it
  again after a pause, so nothing is lost while a dependency is away.

Handlers must be idempotent (they are: see docs/architecture.md "Delivery guarantees"): a
message is handled at least once.
"""

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from pydantic import BaseModel, ValidationError

from .dead_letters import DeadLetters, Letter
from .logging import get_logger

M = TypeVar("M", bound=BaseModel)
DEFAULT_FETCH_MAX_WAIT_MS = 500
"""aiokafka's own default."""
log = get_logger(__name__)
GiveUp = Callable[[M, Exception], Awaitable[None]]
"""Called with the message and the last error once its retries are spent, before parking it."""


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently a failing message is retried before it is parked."""

    max_attempts: int = 4
    first_delay_s: float = 0.5
    max_delay_s: float = 8.0
    redelivery_pause_s: float = 2.0
    """Pause before a message whose parking failed is read again."""

    def delay(self, attempt: int) -> float:
        """Back-off after failed attempt number ``attempt`` (1-based)."""
        return float(min(self.max_delay_s, self.first_delay_s * 2 ** (attempt - 1)))


def letter_of(message: KafkaMessage, message_id: Any = None) -> Letter:
    """What is kept of a raw message when it is parked."""
    raw = message.raw_message
    record = raw[0] if isinstance(raw, tuple) else raw
    return Letter(
        topic=record.topic,
        partition=record.partition,
        offset=record.offset,
        key=record.key,
        payload=message.body,
        message_id=message_id,
    )


async def handle_with_policy(
    message: KafkaMessage,
    model: type[M],
    handle: Callable[[M], Awaitable[None]],
    dead_letters: DeadLetters,
    policy: RetryPolicy,
    on_give_up: GiveUp[M] | None = None,
) -> None:
    """Parse and handle one message under the failure policy (see the module docstring)."""
    try:
        parsed = model.model_validate_json(message.body)
    except ValidationError as exc:
        log.warning("parking an unreadable message", topic=letter_of(message).topic)
        await _park(letter_of(message), f"unreadable: {exc}", 1, dead_letters, policy)
        return
    message_id = getattr(parsed, "message_id", None)
    for attempt in range(1, policy.max_attempts + 1):
        try:
            await handle(parsed)
        except Exception as exc:
            error = f"{type(exc).__name__}: {exc}"
            log.warning(
                "message handling failed",
                model=model.__name__,
                attempt=attempt,
                max_attempts=policy.max_attempts,
                error=error,
            )
            if attempt == policy.max_attempts:
                if on_give_up is not None:
                    await _give_up(on_give_up, parsed, exc)
                await _park(letter_of(message, message_id), error, attempt, dead_letters, policy)
                return
            await asyncio.sleep(policy.delay(attempt))
        else:
            return


async def _give_up(on_give_up: GiveUp[M], parsed: M, exc: Exception) -> None:
    try:
        await on_give_up(parsed, exc)
    except Exception:  # parked all the same; a replay of the dead letter handles it again
        log.exception("recording a message given up failed")


async def _park(
    letter: Letter, error: str, attempts: int, dead_letters: DeadLetters, policy: RetryPolicy
) -> None:
    try:
        await dead_letters.park(letter, error, attempts)
    except Exception:
        log.exception("could not park a dead letter; it will be read again", topic=letter.topic)
        await asyncio.sleep(policy.redelivery_pause_s)
        raise  # not committed: NACK_ON_ERROR seeks back to it
    log.error("message parked as a dead letter", topic=letter.topic, attempts=attempts)


def work_subscriber(
    broker: KafkaBroker,
    topic: str,
    *,
    group_id: str,
    model: type[M],
    handle: Callable[[M], Awaitable[None]],
    dead_letters: DeadLetters,
    policy: RetryPolicy | None = None,
    on_give_up: GiveUp[M] | None = None,
    fetch_max_wait_ms: int = DEFAULT_FETCH_MAX_WAIT_MS,
) -> None:
    """Subscribe a work consumer of ``topic`` in ``group_id`` under the failure policy.

    The offset is committed after the handler (or the parking) ends; "earliest" so a message
    published before the group first joined, or redelivered after a crash, is never skipped.
    ``fetch_max_wait_ms`` bounds an idle fetch: what a message arriving at an idle consumer may
    wait on the development broker (``broker.JOB_FETCH_MAX_WAIT_MS`` where a user waits).
    """
    chosen = policy or RetryPolicy()

    @broker.subscriber(
        topic,
        group_id=group_id,
        ack_policy=AckPolicy.NACK_ON_ERROR,
        auto_offset_reset="earliest",
        fetch_max_wait_ms=fetch_max_wait_ms,
    )
    async def on_message(message: KafkaMessage) -> None:
        await handle_with_policy(message, model, handle, dead_letters, chosen, on_give_up)
