"""Read the engine's result Parquet files into numpy columns (and write JSON/HTML objects)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import orjson
import polars as pl

from tradelab_runtime.storage import LocalObjectStore

NAT = np.iinfo(np.int64).min
TRADE_COLUMNS = (
    "pnl",
    "return",
    "bars_held",
    "is_open",
    "entry_fee",
    "exit_fee",
    "entry_price",
    "exit_price",
)


@dataclass(frozen=True)
class EquityFile:
    """The per-bar columns analytics uses; ``close`` is None in files written before it was."""

    time_ns: npt.NDArray[np.int64]
    equity: npt.NDArray[np.float64]
    close: npt.NDArray[np.float64] | None


def read_equity(path: Path) -> EquityFile:
    """Read time (as int64 ns UTC), equity and, when present, the asset's close."""
    frame = pl.read_parquet(path)
    close = frame["close"].to_numpy().astype(np.float64) if "close" in frame.columns else None
    return EquityFile(
        time_ns=frame["time"].dt.epoch("ns").to_numpy().astype(np.int64),
        equity=frame["equity"].to_numpy().astype(np.float64),
        close=close,
    )


def read_trades(path: Path) -> dict[str, npt.NDArray[Any]]:
    """Read the trade columns as numpy arrays; times as int64 ns with NaT for an open exit."""
    frame = pl.read_parquet(path)
    columns: dict[str, npt.NDArray[Any]] = {
        name: frame[name].to_numpy() for name in TRADE_COLUMNS if name in frame.columns
    }
    for name in ("entry_time", "exit_time"):
        if name in frame.columns:
            stamps = frame[name].dt.epoch("ns").fill_null(NAT)
            columns[f"{name}_ns"] = stamps.to_numpy().astype(np.int64)
    return columns


def put_text(store: LocalObjectStore, key: str, text: str | bytes) -> str:
    """Write ``text`` (bytes: UTF-8 already) as the object ``key`` (atomically); its URI."""
    scratch = store.scratch_dir() / f"{uuid.uuid4()}.tmp"
    scratch.write_bytes(text if isinstance(text, bytes) else text.encode())
    return store.put_file(key, scratch)


def put_json(store: LocalObjectStore, key: str, value: Any) -> str:
    """Write ``value`` as compact, strict JSON under ``key`` and return its URI.

    orjson (4x the standard library's speed on a 5,000-bar run's charts) writes a NaN or an
    infinity as null; the charts hold None for those already (``charts.json_floats``)."""
    return put_text(store, key, orjson.dumps(value))


def get_json(store: LocalObjectStore, uri: str) -> Any:
    """Read a JSON object written by :func:`put_json`."""
    return orjson.loads(store.path(uri).read_bytes())
