"""Erasing a folder of the object store: idempotent, keeps what it is told, tidies up."""

from pathlib import Path

from tradelab_runtime.erasure import remove_prefix
from tradelab_runtime.storage import LocalObjectStore


def put(store: LocalObjectStore, key: str, tmp_path: Path) -> str:
    source = tmp_path / "source"
    source.write_text(key)
    return store.put_file(key, source)


def test_removing_an_owner_folder_removes_its_files_and_empty_parents(tmp_path: Path) -> None:
    store = LocalObjectStore(tmp_path / "objects")
    put(store, "analytics/ann/run1/charts.json", tmp_path)
    put(store, "analytics/ann/run2/report.html", tmp_path)
    other = put(store, "analytics/bob/run3/charts.json", tmp_path)

    assert remove_prefix(store, "analytics/ann/run1") == 1
    assert remove_prefix(store, "analytics/ann") == 1
    assert remove_prefix(store, "analytics/ann") == 0  # a redelivery changes nothing

    assert not (store.root / "analytics" / "ann").exists()
    assert store.path(other).exists()


def test_files_to_keep_stay_and_everything_else_under_the_prefix_goes(tmp_path: Path) -> None:
    store = LocalObjectStore(tmp_path / "objects")
    shared = put(store, "backtests/ann/run1/a1/equity.parquet", tmp_path)
    put(store, "backtests/ann/run1/a1/trades.parquet", tmp_path)
    put(store, "backtests/ann/run2/a1/equity.parquet", tmp_path)

    assert remove_prefix(store, "backtests/ann", keep=frozenset({shared})) == 2

    files = [p for p in (store.root / "backtests").rglob("*") if p.is_file()]
    assert files == [store.path(shared)]
    assert not (store.root / "backtests" / "ann" / "run2").exists()
