"""The local object store moves files in atomically and stays inside its root."""

from pathlib import Path

import pytest

from tradelab_runtime.storage import LocalObjectStore

pytestmark = pytest.mark.integration


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
