"""Quick backtests: the same simulation as a job, stopped at its deadline, nothing written then."""

import asyncio
import math
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import numpy as np
import polars as pl
import pytest

from services.engine.tests.unit.market_data import goog_bars
from tradelab_contracts.base import Message
from tradelab_contracts.engine import EngineOptions
from tradelab_contracts.engine_rpc import EngineErrorCode, QuickBacktestReply, RunQuickBacktest
from tradelab_engine.backtests.quick import Deadline, run_quick_backtest, simulate_and_write
from tradelab_engine.domain.simulate import BacktestCancelled, run_backtest
from tradelab_engine.service import EngineDeps
from tradelab_engine.strategies.catalogue import get_strategy, validate_parameters
from tradelab_runtime.clock import SystemClock
from tradelab_runtime.deadlines import DeadlineExceededError
from tradelab_runtime.storage import LocalObjectStore

REPLY_TOPIC = "gateway.rpc.reply-test.v1"
OPTIONS = EngineOptions(fee_rate=0.001)
PARAMETERS = {"fast": 10, "slow": 50}
NOON = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


@pytest.fixture
def store(tmp_path: Path) -> LocalObjectStore:
    """An object store holding GOOG's bars as the datasets service writes them."""
    bars = goog_bars()
    store = LocalObjectStore(tmp_path)
    frame = pl.DataFrame(
        {
            "time": pl.Series(bars.time).cast(pl.Datetime("ns", "UTC")),
            "open": bars.open,
            "high": bars.high,
            "low": bars.low,
            "close": bars.close,
            "volume": bars.volume,
        }
    )
    path = tmp_path / "quick" / "q.bars.parquet"
    path.parent.mkdir()
    frame.write_parquet(path)
    return store


def command(store: LocalObjectStore, **changes: Any) -> RunQuickBacktest:
    fields: dict[str, Any] = {
        "reply_to": REPLY_TOPIC,
        "owner_id": "00000000-0000-0000-0000-000000000001",
        "bars_uri": store.uri("quick/q.bars.parquet"),
        "equity_uri": store.uri("quick/q.equity.parquet"),
        "trades_uri": store.uri("quick/q.trades.parquet"),
        "timeframe": "1d",
        "strategy": "sma_cross",
        "parameters": PARAMETERS,
        "options": OPTIONS,
        "deadline_s": 30,
    }
    return RunQuickBacktest.model_validate(fields | changes)


def written(store: LocalObjectStore) -> list[str]:
    return sorted(p.name for p in (store.root / "quick").iterdir())


def test_deadline_lets_chunks_run_until_the_clock_passes_it_pausing_between_them() -> None:
    clock, slept = [0.0], list[float]()
    deadline = Deadline(at=1.0, pause_s=0.1, now=lambda: clock[0], sleep=slept.append)
    assert deadline(500, 2000)
    clock[0] = 1.0
    assert not deadline(1000, 2000)
    assert not deadline(2000, 2000)  # even the last chunk: past the deadline nothing is written
    assert slept == [0.1, 0.1]  # no pause after the last chunk


def test_quick_run_equals_the_simulation_of_a_job_and_writes_both_files(
    store: LocalObjectStore,
) -> None:
    cmd = command(store)
    params = validate_parameters("sma_cross", PARAMETERS)
    run = simulate_and_write(cmd, params, store, chunk_bars=500, on_chunk=Deadline(at=math.inf))
    bars = goog_bars()
    expected = run_backtest(
        bars, get_strategy("sma_cross").signals(bars, params), OPTIONS, timeframe="1d"
    )
    assert run.bars == len(bars)
    assert run.result.summary == expected.summary
    assert written(store) == ["q.bars.parquet", "q.equity.parquet", "q.trades.parquet"]
    equity = pl.read_parquet(store.path(cmd.equity_uri))["equity"].to_numpy()
    np.testing.assert_array_equal(equity, expected.equity)
    assert pl.read_parquet(store.path(cmd.trades_uri)).height == len(expected.trades)


def test_a_run_past_its_deadline_stops_and_writes_nothing(store: LocalObjectStore) -> None:
    params = validate_parameters("sma_cross", PARAMETERS)
    with pytest.raises(BacktestCancelled) as stopped:
        simulate_and_write(command(store), params, store, chunk_bars=500, on_chunk=Deadline(at=0))
    assert stopped.value.done_bars == 500
    assert written(store) == ["q.bars.parquet"]


def deps(store: LocalObjectStore) -> EngineDeps:
    async def publish(message: Message, topic: str, key: bytes) -> None:
        raise AssertionError("a quick backtest publishes nothing")

    return EngineDeps(
        repo=cast(Any, None),  # a quick backtest records nothing
        store=store,
        publish=publish,
        clock=SystemClock(),
        worker="engine-test",
        engine_version="0.0.0-test",
        chunk_bars=500,
    )


@pytest.mark.asyncio
async def test_quick_reply_carries_the_summary_validated_parameters_and_file_uris(
    store: LocalObjectStore,
) -> None:
    cmd = command(store, parameters={"fast": 10})
    reply = await run_quick_backtest(cmd, deps(store))
    assert reply.ok, reply.error
    assert isinstance(reply, QuickBacktestReply)
    assert reply.quick is not None
    assert reply.quick.parameters["fast"] == 10
    assert set(reply.quick.parameters) >= {"fast", "slow"}  # defaults filled in
    assert (reply.quick.equity_uri, reply.quick.trades_uri) == (cmd.equity_uri, cmd.trades_uri)
    assert reply.quick.bars == len(goog_bars())
    assert reply.quick.summary.trades > 0


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("change", "field"),
    [({"strategy": "no_such"}, "strategy"), ({"parameters": {"fast": 50, "slow": 10}}, None)],
)
async def test_quick_refuses_what_a_submission_refuses(
    store: LocalObjectStore, change: dict[str, Any], field: str | None
) -> None:
    reply = await run_quick_backtest(command(store, **change), deps(store))
    assert reply.error is not None
    assert reply.error.code is EngineErrorCode.INVALID
    if field:
        assert reply.error.errors[0]["field"] == field
    assert written(store) == ["q.bars.parquet"]


@pytest.mark.asyncio
async def test_quick_past_its_deadline_answers_timeout_with_how_far_it_got(
    store: LocalObjectStore,
) -> None:
    slow = deps(store)
    slow.chunk_pause_s = 0.05
    reply = await run_quick_backtest(command(store, deadline_s=0.12), slow)
    assert reply.error is not None
    assert reply.error.code is EngineErrorCode.TIMEOUT
    assert "stopped after" in reply.error.message
    assert written(store) == ["q.bars.parquet"]


class StillClock:
    def now(self) -> datetime:
        return NOON


@pytest.mark.asyncio
async def test_quick_whose_requester_stopped_waiting_simulates_nothing_and_frees_its_slot(
    store: LocalObjectStore,
) -> None:
    late = deps(store)
    late.clock, late.quick_slots = StillClock(), asyncio.Semaphore(1)
    with pytest.raises(DeadlineExceededError):
        await run_quick_backtest(command(store, deadline=NOON - timedelta(seconds=1)), late)
    assert written(store) == ["q.bars.parquet"]
    assert not late.quick_slots.locked()
