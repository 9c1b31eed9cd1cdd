"""Transactional outbox: an event is stored in the same transaction as the state it announces, and
a relay publishes stored events in order, removing each once the broker has acknowledged it.

No state change without its event, no event without its state: a process that dies after the
commit leaves the row for the relay of whichever replica runs next, and a process that dies before
it leaves neither. Publication is at least once (a relay killed between the broker's ack and the
row's removal publishes it again), so consumers deduplicate (by ``message_id`` or a natural key).

One relay per schema publishes at a time (a transaction-scoped advisory lock), so events leave in
the order they were committed. The process that writes a row wakes its own relay at once; a poll
picks up rows other replicas left behind.

A row keeps the trace context of the transaction that wrote it (``trace_context``, added by each
service's migration with `tradelab_runtime.trace_context.add_trace_context_columns`), and the
relay publishes it under that context, so the trace that changed the state goes on through the
broker instead of a new one starting at the relay.
"""

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from uuid import UUID

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from tradelab_contracts.base import Message

from .logging import get_logger
from .trace_context import TRACE_CONTEXT_COLUMN, TraceCarrier, attached, current_trace_context

OUTBOX_TABLE = "outbox"
JSON_HEADERS = {"content-type": "application/json"}
log = get_logger(__name__)


def create_outbox_table(schema: str) -> None:
    """Create the outbox table inside an Alembic migration."""
    op.create_table(
        OUTBOX_TABLE,
        sa.Column("id", sa.BigInteger(), sa.Identity(), primary_key=True),
        sa.Column("topic", sa.Text(), nullable=False),
        sa.Column("key", sa.LargeBinary(), nullable=False),
        sa.Column("partition", sa.Integer()),
        sa.Column("payload", sa.LargeBinary(), nullable=False),
        sa.Column("message_id", sa.Uuid()),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        schema=schema,
    )


def outbox_table(schema: str) -> sa.TableClause:
    """The outbox of ``schema`` for queries."""
    return sa.table(
        OUTBOX_TABLE,
        sa.column("id", sa.BigInteger()),
        sa.column("topic", sa.Text()),
        sa.column("key", sa.LargeBinary()),
        sa.column("partition", sa.Integer()),
        sa.column("payload", sa.LargeBinary()),
        sa.column("message_id", sa.Uuid()),
        sa.column("created_at", sa.DateTime(timezone=True)),
        sa.column(TRACE_CONTEXT_COLUMN, JSONB(none_as_null=True)),
        schema=schema,
    )


@dataclass(frozen=True)
class PendingEvent:
    """One stored event, as the relay hands it to the broker."""

    id: int
    topic: str
    key: bytes
    partition: int | None
    payload: bytes
    message_id: UUID | None
    trace_context: TraceCarrier | None = None
    """The trace the event belongs to (the writer's), published as its parent."""


RawPublish = Callable[[PendingEvent], Awaitable[None]]
"""Publish one stored event and return once the broker has acknowledged it."""


async def add_raw(
    conn: AsyncConnection,
    schema: str,
    *,
    topic: str,
    key: bytes,
    payload: bytes,
    partition: int | None = None,
    message_id: UUID | None = None,
) -> None:
    """Store an already-serialised event in ``conn``'s transaction (a replayed dead letter),
    with the current trace context."""
    await conn.execute(
        sa.insert(outbox_table(schema)).values(
            topic=topic,
            key=key,
            partition=partition,
            payload=payload,
            message_id=message_id,
            trace_context=current_trace_context(),
        )
    )


class Outbox:
    """A service's outbox: write events in transactions, relay them to the broker.

    Parameters
    ----------
    engine
        The service's database engine.
    schema
        The service's PostgreSQL schema, which holds its ``outbox`` table.
    publish
        Publishes one stored event and returns when the broker acknowledged it.
    poll_interval_s
        How often the relay looks for rows other processes committed.
    batch_size
        Most rows published per transaction.
    publish_timeout_s
        How long one publication may take before the batch is abandoned (and retried later).
    """

    def __init__(
        self,
        engine: AsyncEngine,
        schema: str,
        publish: RawPublish,
        *,
        poll_interval_s: float = 0.5,
        batch_size: int = 200,
        publish_timeout_s: float = 10.0,
    ) -> None:
        self.schema = schema
        self._engine = engine
        self._table = outbox_table(schema)
        self._publish = publish
        self._poll_interval_s = poll_interval_s
        self._batch_size = batch_size
        self._publish_timeout_s = publish_timeout_s
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    @contextlib.asynccontextmanager
    async def begin(self) -> AsyncIterator[AsyncConnection]:
        """Open a transaction whose events are relayed as soon as it commits."""
        async with self._engine.begin() as conn:
            yield conn
        self._wake.set()

    async def add(
        self,
        conn: AsyncConnection,
        message: Message,
        topic: str,
        key: bytes,
        partition: int | None = None,
    ) -> None:
        """Store ``message`` for ``topic`` in ``conn``'s transaction."""
        await add_raw(
            conn,
            self.schema,
            topic=topic,
            key=key,
            payload=message.model_dump_json().encode(),
            partition=partition,
            message_id=message.message_id,
        )

    def wake(self) -> None:
        """Make the relay look for rows now (after a transaction opened elsewhere committed)."""
        self._wake.set()

    async def relay_once(self) -> int | None:
        """Publish one batch of pending rows in order and remove them.

        Returns the number of rows published, or None when another process holds the relay.
        """
        async with self._engine.begin() as conn:
            lock = sa.select(sa.func.pg_try_advisory_xact_lock(sa.func.hashtext(self._lock_name)))
            if not await conn.scalar(lock):
                return None
            t = self._table
            rows = await conn.execute(
                sa.select(
                    t.c.id,
                    t.c.topic,
                    t.c.key,
                    t.c.partition,
                    t.c.payload,
                    t.c.message_id,
                    t.c.trace_context,
                )
                .order_by(t.c.id)
                .limit(self._batch_size)
            )
            pending = [PendingEvent(**row) for row in rows.mappings()]
            published: list[int] = []
            try:
                for event in pending:
                    with attached(event.trace_context):
                        async with asyncio.timeout(self._publish_timeout_s):
                            await self._publish(event)
                    published.append(event.id)
            finally:
                # What the broker acknowledged is removed even when a later row failed.
                if published:
                    sent = self._table.c.id.in_(published)
                    await conn.execute(sa.delete(self._table).where(sent))
            return len(published)

    @property
    def _lock_name(self) -> str:
        return f"tradelab-outbox:{self.schema}"

    async def pending_count(self) -> int:
        """How many events wait to be published (for tests and health)."""
        async with self._engine.connect() as conn:
            return int(await conn.scalar(sa.select(sa.func.count()).select_from(self._table)) or 0)

    async def wait_drained(self, timeout_s: float) -> bool:
        """Wait until every stored event is published (tests and failpoints); False on timeout."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout_s):
                while await self.pending_count():  # noqa: ASYNC110 - rows in another process
                    await asyncio.sleep(0.05)
                return True
        return False

    async def _run(self) -> None:
        delay = 0.0
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(delay or self._poll_interval_s):
                    await self._wake.wait()
            self._wake.clear()
            delay = await self._relay_step()

    async def _relay_step(self) -> float:
        """Relay what is pending; return how long to wait before the next look (0: poll)."""
        try:
            published = await self.relay_once()
        except Exception as exc:
            log.warning("outbox relay failed; retrying", schema=self.schema, error=str(exc))
            return min(5.0, self._poll_interval_s * 4)
        if published is None:
            return 0.02  # another replica is relaying: look again soon for rows it missed
        if published == self._batch_size:
            self._wake.set()  # more rows are waiting
        return 0.0

    def start(self) -> None:
        """Start relaying in the background."""
        self._task = asyncio.create_task(self._run(), name=f"outbox-{self.schema}")
        self._wake.set()

    async def stop(self) -> None:
        """Stop relaying (rows left are published by the next process)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
