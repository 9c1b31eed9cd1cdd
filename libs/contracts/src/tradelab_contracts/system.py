"""Operational messages: service heartbeats and dead letters."""

from __future__ import annotations

from enum import StrEnum
from uuid import UUID

from pydantic import AwareDatetime, Field

from tradelab_contracts.base import ContractModel, Event, ServiceName

DEAD_LETTER_PAYLOAD_CHARS = 16_384
"""Most characters of a dead-lettered payload kept: enough to diagnose, small enough for Kafka."""

DEAD_LETTER_ERROR_CHARS = 4_096
"""Most characters of a dead-lettered message's error text."""


class ServiceStatus(StrEnum):
    """Health a service instance reports about itself."""

    UP = "up"
    DEGRADED = "degraded"
    STOPPING = "stopping"


class PoolStats(ContractModel):
    """The instance's database connection pool (SQLAlchemy's queue pool)."""

    size: int = Field(ge=0, description="Connections the pool keeps open at most, overflow apart.")
    checked_out: int = Field(ge=0, description="Connections in use by the service right now.")
    idle: int = Field(ge=0, description="Open connections waiting in the pool.")
    overflow: int = Field(
        description="Connections open beyond ``size`` (negative: that many not opened yet)."
    )


class ProcessStats(ContractModel):
    """What one service process uses of its host, sampled when its heartbeat is built."""

    pid: int = Field(ge=0, description="Operating-system process id.")
    cpu_percent: float = Field(
        ge=0,
        description="CPU used since the previous heartbeat, in percent of one core (above 100 "
        "with several threads busy).",
    )
    cpu_time_s: float = Field(ge=0, description="User plus system CPU seconds since start.")
    rss_bytes: int = Field(ge=0, description="Resident memory.")
    threads: int = Field(ge=0, description="Operating-system threads.")
    open_files: int = Field(ge=0, description="Open files (sockets excluded).")
    uptime_s: float = Field(ge=0, description="Seconds since the process started.")
    db_pool: PoolStats | None = Field(
        default=None, description="Its database pool; None for a service without a database."
    )


class ServiceHeartbeat(Event):
    """A service instance reported that it is alive, and how healthy it is."""

    service: ServiceName = Field(description="Service name, e.g. 'engine'.")
    instance_id: str = Field(
        min_length=1, max_length=128, description="Id of this instance (e.g. the pod name)."
    )
    status: ServiceStatus = Field(description="Overall health of the instance.")
    version: str = Field(min_length=1, max_length=64, description="Version of the running code.")
    started_at: AwareDatetime = Field(description="When the instance started.")
    interval_s: float = Field(
        gt=0, description="Seconds until the next heartbeat; missing ~3 means the instance is down."
    )
    checks: dict[str, bool] = Field(
        default_factory=dict,
        description="Dependency checks by name, e.g. {'broker': true, 'database': true}.",
    )
    process: ProcessStats | None = Field(
        default=None,
        description="CPU and memory of the instance's process (None from older instances).",
    )


class DeadLettered(Event):
    """A consumer gave up on a message after its retries and parked it here."""

    service: ServiceName = Field(description="Service whose consumer gave up.")
    original_topic: str = Field(min_length=1, max_length=249, description="Topic it was read from.")
    original_partition: int | None = Field(
        default=None, ge=0, description="Partition it was read from, when known."
    )
    original_offset: int | None = Field(
        default=None, ge=0, description="Offset it was read at, when known."
    )
    original_message_id: UUID | None = Field(
        default=None, description="Its message_id, or None when it could not be parsed."
    )
    payload: str = Field(
        max_length=DEAD_LETTER_PAYLOAD_CHARS,
        description="The raw payload decoded as UTF-8 with replacement, truncated (see "
        "payload_preview).",
    )
    error: str = Field(
        max_length=DEAD_LETTER_ERROR_CHARS, description="Last error, truncated (no secrets)."
    )
    attempts: int = Field(ge=1, description="How many times handling was attempted.")


def payload_preview(raw: bytes, limit: int = DEAD_LETTER_PAYLOAD_CHARS) -> str:
    """Decode a raw payload for `DeadLettered.payload`.

    Parameters
    ----------
    raw
        The message value as read from Kafka.
    limit
        Most characters kept.

    Returns
    -------
    str
        ``raw`` decoded as UTF-8, undecodable bytes replaced, cut to ``limit`` characters.
    """
    # A character is at most 4 bytes, so the first ``limit`` characters lie in this prefix; not
    # decoding the rest keeps a multi-megabyte poison message cheap.
    return raw[: limit * 4].decode("utf-8", errors="replace")[:limit]


def error_preview(error: BaseException | str, limit: int = DEAD_LETTER_ERROR_CHARS) -> str:
    """Render an error for `DeadLettered.error`, cut to ``limit`` characters."""
    text = error if isinstance(error, str) else f"{type(error).__name__}: {error}"
    return text[:limit]
