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


def test_delete_tree_removes_what_earlier_attempts_left_and_keeps_the_recorded_files(
    tmp_path: Path,
) -> None:
    store = LocalObjectStore(tmp_path / "objects")
    uris = {}
    for key in ("run/a1/equity.parquet", "run/a1/trades.parquet", "run/a2/equity.parquet"):
        source = tmp_path / "f"
        source.write_bytes(key.encode())
        uris[key] = store.put_file(key, source)
    other = tmp_path / "g"
    other.write_bytes(b"x")
    neighbour = store.put_file("runner/a1/equity.parquet", other)

    kept = frozenset({uris["run/a2/equity.parquet"]})
    assert store.delete_tree("run", keep=kept) == 2
    assert sorted(p.relative_to(store.root).as_posix() for p in store.root.rglob("*.parquet")) == [
        "run/a2/equity.parquet",
        "runner/a1/equity.parquet",
    ]
    assert not (store.root / "run" / "a1").exists()
    assert store.path(neighbour).read_bytes() == b"x"
    assert store.delete_tree("run") == 1
    assert not (store.root / "run").exists()
    assert store.delete_tree("never-written") == 0
