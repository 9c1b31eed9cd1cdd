"""Base classes and shared field types of every wire contract."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Self, TypeAlias
from uuid import UUID, uuid4

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    JsonValue,
    StringConstraints,
    model_validator,
)

JsonScalar: TypeAlias = float | int | str | bool
"""A JSON scalar carried as a strategy parameter value."""

Parameters: TypeAlias = dict[str, JsonValue]
"""Strategy parameters by name, e.g. ``{"fast": 10, "slow": 50}``; the ``rules`` strategy's are
JSON objects (its entry and exit conditions, `tradelab_contracts.rules`)."""

Sha256 = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]
"""A SHA-256 digest as 64 lowercase hexadecimal characters."""

StorageUri = Annotated[str, StringConstraints(min_length=1, max_length=2048)]
"""Where a file lives in the object store (``file://...`` or ``s3://...``)."""

StrategyName = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,63}$")]
"""A strategy's catalogue name, e.g. ``sma_cross``."""

IdempotencyKey = Annotated[str, StringConstraints(pattern=r"^[\x21-\x7e]{1,255}$")]
"""A client's ``Idempotency-Key``: 1 to 255 visible ASCII characters (no spaces or controls)."""

MetricName = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,63}$")]
"""A metric's name, e.g. ``sharpe`` or ``max_drawdown``."""

# numba's np.random.seed takes an unsigned 32-bit integer.
Seed = Annotated[int, Field(ge=0, le=2**32 - 1)]
"""A random seed; commands carry a concrete one so a redelivered command reproduces its result."""

ServiceName = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9-]{0,39}$")]
"""A service's name, e.g. ``engine``."""


def utc_now() -> datetime:
    """Return the current time as an aware UTC datetime."""
    return datetime.now(UTC)


class ContractModel(BaseModel):
    """Base of every model that travels on the wire, messages and their parts alike.

    Models are frozen so a message replays identically, and ignore unknown fields so a consumer
    keeps working when a producer adds a field (changes are additive). Infinite and NaN floats are
    refused at construction: JSON cannot carry them, and a producer failing loudly beats a consumer
    failing on ``null``; an undefined metric is sent as ``None`` instead.
    """

    model_config = ConfigDict(frozen=True, extra="ignore", allow_inf_nan=False)


class Message(ContractModel):
    """Envelope fields shared by every command and event.

    Subclasses override the ``schema_version`` default when they change shape additively.
    """

    schema_version: int = Field(
        default=1, ge=1, description="Version of this message's schema; bumped on additive change."
    )
    message_id: UUID = Field(
        default_factory=uuid4, description="Unique id of this message; consumers dedupe on it."
    )
    correlation_id: UUID | None = Field(
        default=None,
        description="Id tying a command to every event it causes (the originating message's id).",
    )
    occurred_at: AwareDatetime = Field(
        default_factory=utc_now, description="When the fact or request happened (event time)."
    )
    created_at: AwareDatetime = Field(
        default_factory=utc_now, description="When this message object was created."
    )


class Command(Message):
    """A request for a service to do something; named in the imperative (``RunBacktest``).

    Exactly one service handles a command; it may refuse it by publishing a failure event.
    """


class Request(Command):
    """A command answered over request/reply: someone waits for its reply, until ``deadline``.

    The requester sets ``deadline`` from how long it waits; a service that receives the request
    after it drops the request without doing its work, since nobody reads the answer any more.
    A request without one (from a producer older than the field) is answered whenever it
    arrives. Jobs are not requests: their submission is, but a submitted job runs to its end.
    """

    deadline: AwareDatetime | None = Field(
        default=None,
        description=(
            "When the requester stops waiting for the reply (UTC); past it the service drops the "
            "request without doing its work. None: no deadline (answered whenever it arrives)."
        ),
    )


class Event(Message):
    """A fact that has happened; named in the past tense (``BacktestCompleted``).

    Any number of services may consume an event; none may reject it.
    """


def correlation_of(cause: Message) -> UUID:
    """Return the correlation id a message caused by ``cause`` should carry.

    Parameters
    ----------
    cause
        The message being handled.

    Returns
    -------
    UUID
        ``cause.correlation_id`` when set, otherwise ``cause.message_id`` (``cause`` started the
        chain).
    """
    return cause.correlation_id or cause.message_id


class Reply(Event):
    """An answer to a request made over Kafka request/reply: ``error`` is set exactly when not ok.

    Subclasses declare ``error`` with their own error model.
    """

    request_id: UUID = Field(description="message_id of the request answered.")
    ok: bool = Field(description="Whether the request succeeded.")

    @model_validator(mode="after")
    def _error_iff_not_ok(self) -> Self:
        # A reply with both or neither would leave the gateway guessing the HTTP status.
        if self.ok == (getattr(self, "error", None) is not None):
            msg = f"a {type(self).__name__} carries an error exactly when ok is false"
            raise ValueError(msg)
        return self
