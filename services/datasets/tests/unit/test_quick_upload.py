"""Quick uploads are checked and normalised as dataset uploads are, and nothing is recorded."""

import asyncio
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import polars as pl
import pytest

from tradelab_contracts.datasets import DatasetDeclaration, DatasetRejectReason
from tradelab_contracts.datasets_rpc import DatasetsErrorCode, NormaliseQuickUpload
from tradelab_datasets.domain import IngestError, ingest_file
from tradelab_datasets.service import Deps, normalise_quick_upload
from tradelab_runtime.clock import SystemClock
from tradelab_runtime.deadlines import DeadlineExceededError
from tradelab_runtime.storage import LocalObjectStore

from .conftest import WriteUpload

NOON = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


def deps(root: Path) -> Deps:
    # The repository (and its outbox) is never touched: a quick upload registers and announces
    # nothing.
    store = LocalObjectStore(root)
    return Deps(repo=cast(Any, None), store=store, clock=SystemClock())


def stored(store: LocalObjectStore, source: Path | bytes) -> Path:
    """Put an upload (a file's content, or the content itself) where the gateway puts it."""
    path = store.root / "quick" / "q.upload"
    path.parent.mkdir(exist_ok=True)
    path.write_bytes(source.read_bytes() if isinstance(source, Path) else source)
    return path


def written(store: LocalObjectStore) -> list[str]:
    return sorted(p.name for p in (store.root / "quick").iterdir())


def command(store: LocalObjectStore, upload: Path, **changes: Any) -> NormaliseQuickUpload:
    fields: dict[str, Any] = {
        "reply_to": "gateway.rpc.reply-test.v1",
        "owner_id": "00000000-0000-0000-0000-000000000001",
        "upload_uri": upload.as_uri(),
        "bars_uri": store.uri("quick/q.bars.parquet"),
        "declared": DatasetDeclaration(timeframe="1h"),
        "deadline_s": 30,
    }
    return NormaliseQuickUpload.model_validate(fields | changes)


@pytest.mark.asyncio
async def test_goog_is_normalised_into_the_bars_an_ingestion_would_store(
    tmp_path: Path, goog_csv: Path
) -> None:
    services = deps(tmp_path / "objects")
    upload = stored(services.store, goog_csv)
    reply = await normalise_quick_upload(command(services.store, upload), services)
    assert reply.ok, reply.error
    assert reply.quick is not None
    expected = ingest_file(goog_csv, DatasetDeclaration(timeframe="1h"))
    assert (reply.quick.rows, reply.quick.timeframe) == (expected.rows, "1d")
    assert reply.quick.warnings == list(expected.warnings)  # declared 1h, detected 1d
    bars = pl.read_parquet(services.store.path(reply.quick.bars_uri))
    assert bars.equals(expected.frame)


@pytest.mark.asyncio
async def test_a_refused_file_gets_the_reason_and_message_of_a_rejected_upload(
    tmp_path: Path, write_upload: WriteUpload
) -> None:
    content = "time,open\n2024-01-01,1\n2024-01-02,2\n"
    with pytest.raises(IngestError) as rejected:
        ingest_file(write_upload(content))
    services = deps(tmp_path / "objects")
    upload = stored(services.store, content.encode())
    reply = await normalise_quick_upload(command(services.store, upload), services)
    assert reply.error is not None
    assert reply.error.code is DatasetsErrorCode.REJECTED
    assert reply.error.reason is rejected.value.reason is DatasetRejectReason.NO_CLOSE_COLUMN
    assert reply.error.message == rejected.value.message
    assert written(services.store) == ["q.upload"]


@pytest.mark.asyncio
async def test_past_the_deadline_the_bars_are_not_written(tmp_path: Path, goog_csv: Path) -> None:
    services = deps(tmp_path / "objects")
    upload = stored(services.store, goog_csv)
    reply = await normalise_quick_upload(command(services.store, upload, deadline_s=1e-6), services)
    assert reply.error is not None
    assert reply.error.code is DatasetsErrorCode.TIMEOUT
    assert written(services.store) == ["q.upload"]


class StillClock:
    def now(self) -> datetime:
        return NOON


@pytest.mark.asyncio
async def test_a_quick_upload_whose_requester_stopped_waiting_is_not_decoded(
    tmp_path: Path, goog_csv: Path
) -> None:
    services = replace(
        deps(tmp_path / "objects"), clock=StillClock(), quick_slots=asyncio.Semaphore(1)
    )
    upload = stored(services.store, goog_csv)
    late = command(services.store, upload, deadline=NOON - timedelta(seconds=1))
    with pytest.raises(DeadlineExceededError):
        await normalise_quick_upload(late, services)
    assert written(services.store) == ["q.upload"]
    assert not services.quick_slots.locked()
