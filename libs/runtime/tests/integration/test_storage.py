"""The local object store writes atomically, enforces size limits and stays inside its root."""

import hashlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tradelab_runtime.storage import LocalObjectStore, ObjectTooLargeError

pytestmark = pytest.mark.integration


async def chunks(*parts: bytes) -> AsyncIterator[bytes]:
    for part in parts:
        yield part


@pytest.mark.asyncio
async def test_streamed_object_is_stored_with_its_size_and_hash(tmp_path: Path) -> None:
    store = LocalObjectStore(tmp_path)
    stored = await store.write_stream("raw/a.csv", chunks(b"date,close\n", b"2024-01-02,1\n"), 100)
    data = b"date,close\n2024-01-02,1\n"
    assert stored.size_bytes == len(data)
    assert stored.sha256 == hashlib.sha256(data).hexdigest()
    assert store.path(stored.uri).read_bytes() == data


@pytest.mark.asyncio
async def test_object_over_the_limit_leaves_nothing_behind(tmp_path: Path) -> None:
    store = LocalObjectStore(tmp_path)
    with pytest.raises(ObjectTooLargeError):
        await store.write_stream("raw/big.csv", chunks(b"x" * 60, b"x" * 60), 100)
    assert list((tmp_path / "raw").iterdir()) == []


def test_keys_and_uris_cannot_escape_the_root(tmp_path: Path) -> None:
    store = LocalObjectStore(tmp_path / "objects")
    with pytest.raises(ValueError, match="invalid object key"):
        store.uri("../outside")
    with pytest.raises(ValueError, match="outside the object store"):
        store.path((tmp_path / "secret.txt").as_uri())


def test_file_url_opens_a_store_at_that_path(tmp_path: Path) -> None:
    store = LocalObjectStore.from_url((tmp_path / "s").as_uri())
    assert store.root == (tmp_path / "s").resolve()
    with pytest.raises(ValueError, match="only file://"):
        LocalObjectStore.from_url("s3://bucket/prefix")


def test_delete_of_a_missing_object_is_fine(tmp_path: Path) -> None:
    store = LocalObjectStore(tmp_path)
    source = tmp_path / "f.parquet"
    source.write_bytes(b"PAR1")
    uri = store.put_file("datasets/x.parquet", source)
    assert not source.exists()
    store.delete(uri)
    store.delete(uri)
    assert not store.path(uri).exists()
