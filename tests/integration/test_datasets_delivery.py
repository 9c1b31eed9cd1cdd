"""The datasets service against a real PostgreSQL: every event leaves through the outbox with the
change it announces, exactly once, and no dataset stays pending forever."""

import hashlib
import importlib.resources
import shutil
import uuid
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import pytest
import pytest_asyncio
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from tradelab_contracts.datasets import (
    DatasetDeclaration,
    DatasetIngested,
    DatasetRejected,
    DatasetRejectReason,
    DatasetUploaded,
)
from tradelab_contracts.datasets_rpc import DatasetStatus, RegisterUpload
from tradelab_contracts.topics import reply_topic
from tradelab_datasets import service
from tradelab_datasets.adapters.repository import DatasetRepository
from tradelab_datasets.adapters.tables import SCHEMA
from tradelab_datasets.domain.bounds import Limits
from tradelab_datasets.service import Deps, ingest, register_upload
from tradelab_datasets.sweeper import RedriveTerms, sweep_once
from tradelab_runtime.migrations import upgrade_to_head
from tradelab_runtime.storage import LocalObjectStore

from .engine_support import MovingClock
from .outbox_support import OutboxRecorder

pytestmark = pytest.mark.integration
TERMS = RedriveTerms(redrive_after_s=60, max_redrives=2)


@pytest_asyncio.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    db = create_async_engine(database_url)
    await upgrade_to_head(db, "tradelab_datasets:migrations", SCHEMA)
    yield db
    await db.dispose()


def deps_of(engine: AsyncEngine, root: Path, clock: MovingClock) -> tuple[Deps, OutboxRecorder]:
    """The service's collaborators as one process has them, and what its relay sends."""
    recorder = OutboxRecorder(engine, SCHEMA)
    repo = DatasetRepository(engine, recorder.outbox)
    return Deps(repo=repo, store=LocalObjectStore(root), clock=clock), recorder


def stored_goog(store: LocalObjectStore) -> tuple[str, bytes]:
    """Store real daily GOOG bars where the gateway puts uploads; return the URI and bytes."""
    source = Path(str(importlib.resources.files("backtesting.test") / "GOOG.csv"))
    scratch = store.scratch_dir() / "goog.csv"
    shutil.copyfile(source, scratch)
    return store.put_file(f"uploads/{uuid.uuid4()}.csv", scratch), source.read_bytes()


class FailingStore(LocalObjectStore):
    """An object store that cannot be reached: every file put into it fails."""

    def put_file(self, key: str, source: Path) -> str:
        raise OSError("the object store is unreachable")


async def upload_goog(deps: Deps) -> RegisterUpload:
    """Upload and register real daily GOOG bars."""
    uri, data = stored_goog(deps.store)
    cmd = RegisterUpload(
        reply_to=reply_topic("gw-test"),
        owner_id=uuid.uuid4(),
        dataset_id=uuid.uuid4(),
        storage_uri=uri,
        filename="GOOG.csv",
        size_bytes=len(data),
        raw_sha256=hashlib.sha256(data).hexdigest(),
        declared=DatasetDeclaration(symbol="GOOG", timezone="America/New_York"),
    )
    reply = await register_upload(cmd, deps)
    assert reply.ok
    assert reply.created
    return cmd


@pytest.mark.asyncio
async def test_an_ingestion_committed_before_a_crash_is_announced_once_by_the_next_relay(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    clock = MovingClock()
    deps, first = deps_of(engine, tmp_path, clock)
    cmd = await upload_goog(deps)
    [upload] = await first.events(DatasetUploaded)
    assert (upload.dataset_id, upload.correlation_id) == (cmd.dataset_id, cmd.message_id)

    # The ingestion commits its dataset and event, then the process dies before its relay ran.
    await ingest(upload, deps)
    assert await first.outbox.pending_count() == 1
    assert [m for _, m in first.sent if isinstance(m, DatasetIngested)] == []

    # Its offset was never committed: another replica reads the upload again, a no-op.
    deps_b, second = deps_of(engine, tmp_path, clock)
    await ingest(upload, deps_b)
    assert await second.outbox.pending_count() == 1

    # That replica's relay publishes the stored event, once however often it runs.
    [ingested] = await second.events(DatasetIngested)
    assert await second.events(DatasetIngested) == [ingested]
    assert (ingested.dataset_id, ingested.correlation_id) == (cmd.dataset_id, cmd.message_id)
    info = await deps_b.repo.get(cmd.owner_id, cmd.dataset_id)
    assert info is not None
    assert (info.status, info.rows) == (DatasetStatus.READY, ingested.rows)
    assert not deps.store.path(cmd.storage_uri).exists()  # the raw upload is gone


@pytest.mark.asyncio
async def test_a_pending_dataset_is_announced_again_then_rejected_with_its_reason(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    clock = MovingClock()
    deps, recorder = deps_of(engine, tmp_path, clock)
    cmd = await upload_goog(deps)
    [first] = await recorder.events(DatasetUploaded)
    # The broker restarted empty: nobody ever ingests that message.

    clock.advance(TERMS.redrive_after_s - 1)
    swept = await sweep_once(deps, TERMS, clock.now())
    assert swept is not None
    assert (swept.redriven, swept.exhausted) == (0, [])

    for redrive in range(1, TERMS.max_redrives + 1):
        clock.advance(TERMS.redrive_after_s + 1)
        swept = await sweep_once(deps, TERMS, clock.now())
        assert swept is not None
        assert swept.redriven == 1
        again = await recorder.events(DatasetUploaded)
        assert len(again) == 1 + redrive
        # The same upload, rebuilt from the dataset's row, as a new message.
        assert again[-1].model_dump(exclude={"message_id", "occurred_at", "created_at"}) == (
            first.model_dump(exclude={"message_id", "occurred_at", "created_at"})
        )
        assert again[-1].message_id != first.message_id

    clock.advance(TERMS.redrive_after_s + 1)
    swept = await sweep_once(deps, TERMS, clock.now())
    assert swept is not None
    assert swept.redriven == 0
    [rejected] = await recorder.events(DatasetRejected)
    assert (rejected.dataset_id, rejected.reason_code) == (
        cmd.dataset_id,
        DatasetRejectReason.INTERNAL,
    )
    assert "upload it again" in rejected.message
    assert rejected.correlation_id == cmd.message_id
    info = await deps.repo.get(cmd.owner_id, cmd.dataset_id)
    assert info is not None
    assert (info.status, info.reject_message) == (DatasetStatus.REJECTED, rejected.message)
    assert not deps.store.path(cmd.storage_uri).exists()  # its raw file was removed

    # Nothing is pending any more: later sweeps and a late copy of the upload change nothing.
    clock.advance(10 * TERMS.redrive_after_s)
    assert await sweep_once(deps, TERMS, clock.now()) is not None
    await ingest(first, deps)
    assert len(await recorder.events(DatasetUploaded)) == 1 + TERMS.max_redrives
    assert len(await recorder.events(DatasetRejected)) == 1
    assert await recorder.events(DatasetIngested) == []


@pytest.mark.asyncio
async def test_an_ingestion_the_store_fails_raises_for_a_retry_and_the_dataset_stays_pending(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    clock = MovingClock()
    deps, recorder = deps_of(engine, tmp_path, clock)
    cmd = await upload_goog(deps)
    [upload] = await recorder.events(DatasetUploaded)

    failing = replace(deps, store=FailingStore(tmp_path))
    with pytest.raises(OSError, match="unreachable"):
        await ingest(upload, failing)
    info = await deps.repo.get(cmd.owner_id, cmd.dataset_id)
    assert info is not None
    assert info.status == DatasetStatus.PENDING  # not rejected for a transient fault
    assert await recorder.events(DatasetRejected) == []

    # Once the store is back, the retry (or the sweeper's redrive) ingests it.
    await ingest(upload, deps)
    assert len(await recorder.events(DatasetIngested)) == 1


@pytest.mark.asyncio
async def test_a_file_over_the_row_limit_is_rejected_for_it_and_its_redelivery_is_a_no_op(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    clock = MovingClock()
    deps, recorder = deps_of(engine, tmp_path, clock)
    bounded = replace(deps, limits=Limits(max_rows=100))  # GOOG holds 2,148 daily bars
    cmd = await upload_goog(deps)
    [upload] = await recorder.events(DatasetUploaded)

    await ingest(upload, bounded)
    info = await deps.repo.get(cmd.owner_id, cmd.dataset_id)
    assert info is not None
    assert (info.status, info.reject_reason) == (
        DatasetStatus.REJECTED,
        DatasetRejectReason.TOO_MANY_ROWS,
    )
    assert "at most 100 are allowed" in (info.reject_message or "")
    assert not deps.store.path(cmd.storage_uri).exists()  # the raw upload is gone

    # Its offset committed or not, the upload read again finds the dataset done.
    await ingest(upload, bounded)
    [rejected] = await recorder.events(DatasetRejected)
    assert rejected.reason_code is DatasetRejectReason.TOO_MANY_ROWS


@pytest.mark.asyncio
async def test_an_upload_whose_ingestions_keep_dying_is_rejected_unread_not_read_forever(
    engine: AsyncEngine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = MovingClock()
    deps, recorder = deps_of(engine, tmp_path, clock)
    cmd = await upload_goog(deps)
    [upload] = await recorder.events(DatasetUploaded)
    reads: list[Path] = []
    monkeypatch.setattr(service, "ingest_file", lambda path, *_: reads.append(path))

    # Each start is committed before the file is read; a process killed while reading it (for
    # memory, say) never ends its start, and its offset is never committed: what is left after
    # ``max_ingest_starts`` such deaths.
    for _ in range(deps.max_ingest_starts):
        assert await deps.repo.start_ingestion(cmd.dataset_id) is not None

    await ingest(upload, deps)
    assert reads == []  # rejected unread
    info = await deps.repo.get(cmd.owner_id, cmd.dataset_id)
    assert info is not None
    assert (info.status, info.reject_reason) == (
        DatasetStatus.REJECTED,
        DatasetRejectReason.INTERNAL,
    )
    assert "3 times and never finished" in (info.reject_message or "")
    assert not deps.store.path(cmd.storage_uri).exists()  # its raw file was removed
    [rejected] = await recorder.events(DatasetRejected)
    assert rejected.dataset_id == cmd.dataset_id
    assert await deps.repo.start_ingestion(cmd.dataset_id) is None  # nothing left to start


@pytest.mark.asyncio
async def test_ingestions_that_fail_and_are_retried_do_not_count_towards_giving_up(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    clock = MovingClock()
    deps, recorder = deps_of(engine, tmp_path, clock)
    cmd = await upload_goog(deps)
    [upload] = await recorder.events(DatasetUploaded)

    failing = replace(deps, store=FailingStore(tmp_path))
    for _ in range(2 * deps.max_ingest_starts):
        with pytest.raises(OSError, match="unreachable"):
            await ingest(upload, failing)

    await ingest(upload, deps)
    info = await deps.repo.get(cmd.owner_id, cmd.dataset_id)
    assert info is not None
    assert info.status == DatasetStatus.READY
    assert len(await recorder.events(DatasetIngested)) == 1
