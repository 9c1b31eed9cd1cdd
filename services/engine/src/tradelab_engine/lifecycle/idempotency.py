"""Idempotency keys where jobs are stored: the columns a keyed submission writes, the earlier job
a key names, and the insert the unique (owner, key) index refused.

The use cases' side (answer the earlier job or refuse the key) is ``tradelab_engine.idempotency``.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from tradelab_contracts.engine_rpc import IdempotentSubmit
from tradelab_engine.adapters.tables import idempotency_index

JobT = TypeVar("JobT")


@dataclass(frozen=True)
class Earlier(Generic[JobT]):
    """The job an owner's key already names, and the hash of the request that created it."""

    job: JobT
    request_sha256: str | None


class IdempotencyKeyTakenError(Exception):
    """Another submission stored a job under the same owner, kind and key first."""


def key_columns(cmd: IdempotentSubmit) -> dict[str, Any]:
    """The idempotency columns of the job ``cmd`` creates (NULL without a key)."""
    return {"idempotency_key": cmd.idempotency_key, "request_sha256": cmd.request_sha256}


def keyed(table: sa.Table, owner_id: Any, key: str) -> sa.Select[Any]:
    """Select the owner's job of ``table`` submitted with ``key``."""
    return sa.select(table).where(table.c.owner_id == owner_id, table.c.idempotency_key == key)


@contextmanager
def key_conflicts(table: sa.Table) -> Iterator[None]:
    """Turn an insert into ``table`` that its (owner, key) index refused into
    `IdempotencyKeyTakenError`; any other integrity error passes unchanged."""
    try:
        yield
    except IntegrityError as exc:
        if idempotency_index(table.name) in str(exc.orig):
            raise IdempotencyKeyTakenError(table.name) from exc
        raise
