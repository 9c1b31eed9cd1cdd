"""Quick backtests: validate, load, simulate against a deadline, write, answer; nothing recorded.

The synchronous form of a backtest job for small inputs. It runs the same simulation as
``worker.py`` (same bars loader, strategy signals and ``run_backtest``), so its summary equals that
of a job over the same bars. The requester chose the bars and result locations and deletes them:
the engine only reads and writes there. A run past its deadline is stopped between two chunks and
writes nothing, so a requester that already gave up finds nothing left behind.
"""

import asyncio
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from functools import partial

from pydantic import BaseModel, ValidationError

from tradelab_contracts.engine import BacktestSummary
from tradelab_contracts.engine_rpc import (
    EngineErrorCode,
    EngineReply,
    QuickBacktestResult,
    RunQuickBacktest,
)
from tradelab_engine.adapters.bars_loader import load_bars
from tradelab_engine.adapters.results_writer import write_equity, write_trades
from tradelab_engine.domain.simulate import BacktestCancelled as SimulationStopped
from tradelab_engine.domain.simulate import BacktestResult, ChunkCallback, run_backtest
from tradelab_engine.service import EngineDeps, error_reply, refusal, reply
from tradelab_engine.strategies.base import UnknownStrategyError
from tradelab_engine.strategies.catalogue import get_strategy
from tradelab_engine.strategy_resolution import StrategyRefusedError, resolve_strategy
from tradelab_runtime.deadlines import check_deadline
from tradelab_runtime.logging import get_logger
from tradelab_runtime.responder import RequestHandlers
from tradelab_runtime.storage import LocalObjectStore

log = get_logger(__name__)


@dataclass
class Deadline:
    """The ``on_chunk`` of a quick run: go on while the clock is before ``at``.

    ``pause_s`` is the test-only pacing of ``EngineSettings.chunk_pause_s``, slept after every
    chunk but the last, as jobs do.
    """

    at: float
    pause_s: float = 0.0
    now: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False)

    def __call__(self, done: int, total: int) -> bool:
        if self.pause_s and done < total:
            self.sleep(self.pause_s)
        return self.now() < self.at


@dataclass(frozen=True)
class QuickRun:
    """A finished quick run: the bars simulated and the result, its files written."""

    bars: int
    result: BacktestResult


def simulate_and_write(
    cmd: RunQuickBacktest,
    params: BaseModel,
    store: LocalObjectStore,
    *,
    chunk_bars: int,
    on_chunk: ChunkCallback,
) -> QuickRun:
    """Run in a worker thread: load the bars, simulate, write the equity curve and trades.

    Raises
    ------
    SimulationStopped
        When ``on_chunk`` stopped the run; no file is written then.
    OSError, ValueError, KeyError
        When the bars cannot be read.
    """
    bars = load_bars(store.path(cmd.bars_uri))
    signals = get_strategy(cmd.strategy).signals(bars, params)
    result = run_backtest(
        bars,
        signals,
        cmd.options,
        chunk_bars=chunk_bars,
        on_chunk=on_chunk,
        timeframe=cmd.timeframe,
    )
    equity_path, trades_path = store.path(cmd.equity_uri), store.path(cmd.trades_uri)
    for path in (equity_path, trades_path):
        path.parent.mkdir(parents=True, exist_ok=True)
    write_equity(equity_path, bars.time, bars.close, result.equity, result.cash, result.position)
    write_trades(trades_path, result.trades)
    return QuickRun(bars=len(bars), result=result)


def _timeout(cmd: RunQuickBacktest, detail: str) -> EngineReply:
    budget = f"The backtest ran past its time budget of {cmd.deadline_s:.1f} s"
    return error_reply(cmd, EngineErrorCode.TIMEOUT, f"{budget} ({detail}).")


async def run_quick_backtest(cmd: RunQuickBacktest, deps: EngineDeps) -> EngineReply:
    """Validate, simulate in a worker thread within ``cmd.deadline_s`` and answer the result."""
    started = time.monotonic()
    deadline = Deadline(at=started + cmd.deadline_s, pause_s=deps.chunk_pause_s)
    try:
        resolved = await resolve_strategy(
            deps.strategies, cmd.owner_id, cmd.strategy, cmd.parameters
        )
    except (UnknownStrategyError, ValidationError, StrategyRefusedError) as exc:
        return refusal(cmd, exc)
    # A saved strategy runs as ``rules`` with its rules; the reply says what ran.
    cmd = cmd.model_copy(update={"strategy": resolved.name})
    params = resolved.params
    try:
        async with asyncio.timeout(cmd.deadline_s):
            await deps.quick_slots.acquire()
    except TimeoutError:
        return _timeout(cmd, "every quick-backtest slot stayed busy")
    try:
        # The slot may have taken a while: no simulation for a requester that stopped waiting.
        check_deadline(cmd, deps.clock)
        run = await asyncio.to_thread(
            simulate_and_write,
            cmd,
            params,
            deps.store,
            chunk_bars=deps.chunk_bars,
            on_chunk=deadline,
        )
    except SimulationStopped as exc:
        return _timeout(cmd, f"stopped after {exc.done_bars} of {exc.total_bars} bars")
    except (OSError, ValueError, KeyError) as exc:
        log.warning("quick backtest bars unreadable", error=str(exc))
        return error_reply(cmd, EngineErrorCode.INTERNAL, "The bars could not be read.")
    finally:
        deps.quick_slots.release()
    result = QuickBacktestResult(
        strategy=cmd.strategy,
        parameters=params.model_dump(mode="json"),
        options=cmd.options,
        summary=BacktestSummary.model_validate(asdict(run.result.summary)),
        equity_uri=cmd.equity_uri,
        trades_uri=cmd.trades_uri,
        bars=run.bars,
        engine_version=deps.engine_version,
        duration_s=time.monotonic() - started,
    )
    return reply(cmd, quick=result)


def request_handlers(deps: EngineDeps) -> RequestHandlers[EngineReply]:
    """Return the handler of ``RunQuickBacktest``."""
    return {RunQuickBacktest: partial(run_quick_backtest, deps=deps)}
