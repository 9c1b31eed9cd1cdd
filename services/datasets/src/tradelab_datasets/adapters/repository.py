"""Dataset metadata in PostgreSQL; every query is scoped to its owner.

Every write that an event announces stores the event in the service's outbox in the same
transaction (tradelab_runtime.outbox): no dataset changes without its event, and no event goes out
for a change that did not commit.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from tradelab_contracts.base import Message
from tradelab_contracts.datasets import DatasetUploaded
from tradelab_contracts.datasets_rpc import DatasetInfo, DatasetStatus, ListDatasets
from tradelab_datasets.domain.quotas import DatasetQuotas, Footprint
from tradelab_runtime import audit
from tradelab_runtime.outbox import Outbox
from tradelab_runtime.quotas import lock_owner

from .rows import info_of, uploaded_of
from .tables import SCHEMA, datasets

Announcement = tuple[Message, str, bytes]
"""An event with its topic and key, stored with the write it announces."""
PENDING = DatasetStatus.PENDING.value
STORING = (PENDING, DatasetStatus.READY.value)
"""Statuses whose upload counts against the stored-bytes quota (a rejected one keeps no file)."""


@dataclass(frozen=True)
class StalePending:
    """What one look at the datasets pending too long did."""

    redriven: int
    """Datasets whose upload was announced again."""
    exhausted: list[DatasetUploaded]
    """Datasets announced again too often already: to be rejected."""


@dataclass(frozen=True)
class DeletedDataset:
    """A deleted dataset and the files that may now be removed."""

    info: DatasetInfo
    raw_uri: str | None
    parquet_unused: bool


class DatasetRepository:
    """Reads and writes ``datasets.datasets``."""

    def __init__(self, engine: AsyncEngine, outbox: Outbox) -> None:
        self._engine = engine
        self.outbox = outbox

    async def _announce(self, conn: AsyncConnection, announcement: Announcement) -> None:
        message, topic, key = announcement
        await self.outbox.add(conn, message, topic, key)

    async def add_pending(
        self,
        upload: DatasetUploaded,
        now: datetime,
        announce: Announcement,
        quotas: DatasetQuotas,
    ) -> tuple[DatasetInfo, bool]:
        """Insert a pending dataset and store ``announce`` with it; return it and True, or the
        owner's same-bytes one and False (nothing announced, never refused).

        A new dataset is admitted against ``quotas`` under the owner's quota lock, so two
        uploads racing for the last place are counted one after the other.

        Raises
        ------
        tradelab_runtime.quotas.QuotaExceededError
            If the new dataset would take its owner over a quota.
        """
        async with self.outbox.begin() as conn:
            await lock_owner(conn, datasets.name, upload.owner_id)
            same = await self._same_bytes(conn, upload)
            if same is not None:
                return same, False
            quotas.admit(await _footprint(conn, upload.owner_id), upload.size_bytes)
            return await self._insert_pending(conn, upload, now, announce)

    async def _insert_pending(
        self,
        conn: AsyncConnection,
        upload: DatasetUploaded,
        now: datetime,
        announce: Announcement,
    ) -> tuple[DatasetInfo, bool]:
        declared = upload.declared
        values: dict[str, Any] = {
            "id": upload.dataset_id,
            "owner_id": upload.owner_id,
            "status": DatasetStatus.PENDING.value,
            "filename": upload.filename,
            "name": declared.name or upload.filename,
            "symbol": declared.symbol,
            "exchange": declared.exchange,
            "declared": declared.model_dump(mode="json"),
            "size_bytes": upload.size_bytes,
            "raw_sha256": upload.raw_sha256,
            "raw_uri": upload.storage_uri,
            "created_at": now,
            "updated_at": now,
            "correlation_id": upload.correlation_id,
            "dispatched_at": now,
        }
        stmt = insert(datasets).values(values).on_conflict_do_nothing().returning(datasets)
        row = (await conn.execute(stmt)).mappings().first()
        if row is None:  # a redelivery with these bytes was found above, under the owner's lock
            msg = f"dataset {upload.dataset_id} exists with other bytes"
            raise RuntimeError(msg)
        await self._announce(conn, announce)
        await audit.record(
            conn, SCHEMA, upload.owner_id, "dataset.uploaded", "dataset", upload.dataset_id
        )
        return info_of(row), True

    @staticmethod
    async def _same_bytes(conn: AsyncConnection, upload: DatasetUploaded) -> DatasetInfo | None:
        existing = await conn.execute(
            sa.select(datasets).where(
                datasets.c.owner_id == upload.owner_id,
                datasets.c.raw_sha256 == upload.raw_sha256,
            )
        )
        row = existing.mappings().first()
        return info_of(row) if row is not None else None

    async def footprint(self, owner_id: UUID) -> Footprint:
        """What ``owner_id`` keeps now (for quota usage and the pre-upload check)."""
        async with self._engine.connect() as conn:
            return await _footprint(conn, owner_id)

    async def get(self, owner_id: UUID, dataset_id: UUID) -> DatasetInfo | None:
        """Return the owner's dataset, or None (also for another user's dataset)."""
        async with self._engine.connect() as conn:
            result = await conn.execute(
                sa.select(datasets).where(
                    datasets.c.id == dataset_id, datasets.c.owner_id == owner_id
                )
            )
            row = result.mappings().first()
        return info_of(row) if row is not None else None

    async def raw_uri(self, dataset_id: UUID) -> str | None:
        """Return where a dataset's raw upload lives (None once ingested or deleted)."""
        async with self._engine.connect() as conn:
            uri: str | None = await conn.scalar(
                sa.select(datasets.c.raw_uri).where(datasets.c.id == dataset_id)
            )
            return uri

    async def start_ingestion(self, dataset_id: UUID) -> int | None:
        """Count one more ingestion started on a pending dataset and return how many started
        without ending, this one included; None once ingested, rejected or deleted.

        Committed before the file is read, so a process killed while decoding it (its offset
        never committed, the upload read again after the restart) leaves the count raised.
        """
        t = datasets
        stmt = (
            sa.update(t)
            .where(t.c.id == dataset_id, t.c.status == PENDING, t.c.raw_uri.is_not(None))
            .values(ingest_starts=t.c.ingest_starts + 1)
            .returning(t.c.ingest_starts)
        )
        async with self._engine.begin() as conn:
            starts: int | None = await conn.scalar(stmt)
            return starts

    async def end_ingestion(self, dataset_id: UUID) -> None:
        """Take back a started ingestion that ended by raising (a transient failure, retried):
        only starts that never ended count towards giving up."""
        t = datasets
        stmt = (
            sa.update(t)
            .where(t.c.id == dataset_id, t.c.ingest_starts > 0)
            .values(ingest_starts=t.c.ingest_starts - 1)
        )
        async with self._engine.begin() as conn:
            await conn.execute(stmt)

    async def page(self, query: ListDatasets) -> tuple[list[DatasetInfo], int]:
        """Return one page of the owner's datasets (newest first) and the total matching."""
        where = [datasets.c.owner_id == query.owner_id]
        if query.symbol:
            where.append(datasets.c.symbol == query.symbol)
        if query.timeframe:
            where.append(datasets.c.timeframe == query.timeframe)
        async with self._engine.connect() as conn:
            total = await conn.scalar(sa.select(sa.func.count()).where(*where))
            rows = await conn.execute(
                sa.select(datasets)
                .where(*where)
                .order_by(datasets.c.created_at.desc(), datasets.c.id)
                .limit(query.limit)
                .offset(query.offset)
            )
            return [info_of(r) for r in rows.mappings()], int(total or 0)

    async def finish(
        self, dataset_id: UUID, values: dict[str, Any], now: datetime, announce: Announcement
    ) -> DatasetInfo | None:
        """Move a pending dataset to ready or rejected and store ``announce`` with it; None (and
        nothing announced) if it is no longer pending."""
        stmt = (
            sa.update(datasets)
            .where(datasets.c.id == dataset_id, datasets.c.status == PENDING)
            .values(**values, raw_uri=None, updated_at=now)
            .returning(datasets)
        )
        async with self.outbox.begin() as conn:
            row = (await conn.execute(stmt)).mappings().first()
            if row is not None:
                await self._announce(conn, announce)
                await self._audit_finish(conn, row)
        return info_of(row) if row is not None else None

    @staticmethod
    async def _audit_finish(conn: AsyncConnection, row: sa.RowMapping) -> None:
        ready = row["status"] == DatasetStatus.READY.value
        action = "dataset.ingested" if ready else "dataset.rejected"
        detail = {"rows": row["rows"]} if ready else {"reason": row["reject_reason"]}
        await audit.record(conn, SCHEMA, row["owner_id"], action, "dataset", row["id"], detail)

    async def redrive_stale(
        self,
        before: datetime,
        now: datetime,
        max_redrives: int,
        announce: Callable[[DatasetUploaded], Announcement],
        batch: int = 100,
    ) -> StalePending | None:
        """Announce again the upload of each dataset pending since before ``before``, unless it
        was announced again ``max_redrives`` times already (then it is returned, to be rejected).

        One replica at a time (an advisory lock); None when another one holds it.
        """
        t = datasets
        async with self.outbox.begin() as conn:
            lock = sa.func.pg_try_advisory_xact_lock(sa.func.hashtext(f"sweep:{t.fullname}"))
            if not await conn.scalar(sa.select(lock)):
                return None
            stale = sa.or_(t.c.dispatched_at.is_(None), t.c.dispatched_at < before)
            rows = await conn.execute(
                sa.select(t)
                .where(t.c.status == PENDING, stale)
                .order_by(t.c.dispatched_at)
                .limit(batch)
                .with_for_update(skip_locked=True)
            )
            redriven, exhausted = 0, []
            for row in rows.mappings().all():
                upload = uploaded_of(row)
                again = row["redrives"] < max_redrives
                await conn.execute(
                    sa.update(t)
                    .where(t.c.id == row["id"])
                    .values(dispatched_at=now, redrives=t.c.redrives + int(again))
                )
                if again:
                    await self._announce(conn, announce(upload))
                    redriven += 1
                else:
                    exhausted.append(upload)
            return StalePending(redriven, exhausted)

    async def delete(
        self, owner_id: UUID, dataset_id: UUID, announce: Announcement
    ) -> DeletedDataset | None:
        """Delete the owner's dataset and store ``announce`` with it; say which of its files
        nothing references any more."""
        stmt = (
            sa.delete(datasets)
            .where(datasets.c.id == dataset_id, datasets.c.owner_id == owner_id)
            .returning(datasets)
        )
        async with self.outbox.begin() as conn:
            row = (await conn.execute(stmt)).mappings().first()
            if row is None:
                return None
            await self._announce(conn, announce)
            await audit.record(conn, SCHEMA, owner_id, "dataset.deleted", "dataset", dataset_id)
            info = info_of(row)
            parquet_unused = info.storage_uri is not None and not await self._referenced(
                conn, info.storage_uri
            )
        return DeletedDataset(info, row["raw_uri"], parquet_unused)

    async def is_referenced(self, storage_uri: str) -> bool:
        """Return whether any dataset uses this Parquet file (files are content-addressed)."""
        async with self._engine.connect() as conn:
            return await self._referenced(conn, storage_uri)

    @staticmethod
    async def _referenced(conn: AsyncConnection, storage_uri: str) -> bool:
        count = await conn.scalar(
            sa.select(sa.func.count()).where(datasets.c.storage_uri == storage_uri)
        )
        return bool(count)


async def _footprint(conn: AsyncConnection, owner_id: UUID) -> Footprint:
    stored = sa.case((datasets.c.status.in_(STORING), datasets.c.size_bytes), else_=0)
    row = (
        await conn.execute(
            sa.select(sa.func.count(), sa.func.coalesce(sa.func.sum(stored), 0)).where(
                datasets.c.owner_id == owner_id
            )
        )
    ).one()
    return Footprint(datasets=int(row[0]), stored_bytes=int(row[1]))
