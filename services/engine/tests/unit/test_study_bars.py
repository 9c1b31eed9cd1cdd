"""The bars a Monte Carlo study is counted for at submission: its horizon, else its source's
length (rows written here), and 0 for a source that cannot be read (the worker fails it)."""

import asyncio
from pathlib import Path
from uuid import uuid4

import polars as pl
import pytest

from tradelab_contracts.montecarlo import MonteCarloMethod, MonteCarloSpec
from tradelab_engine.montecarlo.work import study_bars
from tradelab_runtime.storage import LocalObjectStore


def gbm_spec(dataset_uri: str, horizon_bars: int | None = None) -> MonteCarloSpec:
    return MonteCarloSpec(
        simulation_id=uuid4(),
        owner_id=uuid4(),
        method=MonteCarloMethod.GBM_PATHS,
        n_simulations=10,
        seed=1,
        dataset_id=uuid4(),
        dataset_uri=dataset_uri,
        dataset_sha256="0" * 64,
        strategy="sma_cross",
        horizon_bars=horizon_bars,
    )


def bars_of(spec: MonteCarloSpec, store: LocalObjectStore) -> int:
    return asyncio.run(study_bars(spec, None, store))


def test_a_gbm_study_counts_the_rows_of_its_dataset(tmp_path: Path) -> None:
    store = LocalObjectStore(tmp_path)
    uri = store.uri("bars.parquet")
    pl.DataFrame({"close": [float(i) for i in range(1, 1_235)]}).write_parquet(store.path(uri))
    assert bars_of(gbm_spec(uri), store) == 1_234


def test_a_horizon_is_counted_whatever_the_source(tmp_path: Path) -> None:
    store = LocalObjectStore(tmp_path)
    assert bars_of(gbm_spec(store.uri("absent.parquet"), horizon_bars=77), store) == 77


@pytest.mark.parametrize("content", [None, b"PAR1 not a parquet file PAR1", b"time,close\n"])
def test_a_source_that_cannot_be_read_counts_no_bars(tmp_path: Path, content: bytes | None) -> None:
    store = LocalObjectStore(tmp_path)
    uri = store.uri("source.parquet")
    if content is not None:
        store.path(uri).write_bytes(content)
    assert bars_of(gbm_spec(uri), store) == 0
