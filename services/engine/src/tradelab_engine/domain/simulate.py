"""Run a backtest: bars and signals in, equity curve, trades and summary out.

Typed wrapper around the numba kernels of ``kernels/portfolio_nb.py``: it checks inputs, turns
``EngineOptions`` into kernel parameters, runs the kernel chunk by chunk (``on_chunk`` reports
progress and may cancel) and summarises the result. Conventions: ``docs/engine.md``.
"""

from __future__ import annotations

import time as _time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from tradelab_contracts.engine import EngineOptions
from tradelab_engine.domain.bars import Bars, BoolArray, FloatArray
from tradelab_engine.domain.records import TradeRecords, empty_trades, fill_trade_times
from tradelab_engine.domain.summary import Summary, summarise
from tradelab_engine.kernels.portfolio_nb import (
    SimParams,
    SimState,
    initial_state_nb,
    record_open_trade_nb,
    simulate_chunk_nb,
)

ChunkCallback = Callable[[int, int], bool]


class SignalsLike(Protocol):
    """Entry and exit flags per bar, taken at the bar's close (``strategies.base.Signals``)."""

    @property
    def entries(self) -> BoolArray:
        """True where the strategy wants to be long (or to leave a short)."""
        ...

    @property
    def exits(self) -> BoolArray:
        """True where the strategy wants to leave a long (or to go short, when allowed)."""
        ...


class BacktestCancelled(Exception):
    """``on_chunk`` asked to stop; no result is produced."""

    def __init__(self, done_bars: int, total_bars: int) -> None:
        super().__init__(f"backtest cancelled after {done_bars} of {total_bars} bars")
        self.done_bars = done_bars
        self.total_bars = total_bars


@dataclass(frozen=True)
class BacktestResult:
    """Per-bar columns at each close, the trade records and the headline summary.

    ``trades`` holds closed trades in order, then the position still open at the end (if any)
    as a record with ``is_open`` set; see ``domain/records.py`` for the layout.
    """

    equity: FloatArray
    cash: FloatArray
    position: FloatArray
    trades: TradeRecords
    both_hit_rule: str
    both_hit_bars: int
    summary: Summary


def kernel_params(options: EngineOptions) -> SimParams:
    """Translate engine options into the kernel's parameter tuple (NaN for an unset stop)."""

    def fraction(value: float | None) -> float:
        return np.nan if value is None else float(value)

    return SimParams(
        fee_rate=float(options.fee_rate),
        fixed_fee=float(options.fixed_fee),
        slippage=float(options.slippage_bps) / 10_000.0,
        size=float(options.size),
        by_units=options.sizing == "units",
        whole_units=bool(options.whole_units),
        allow_short=bool(options.allow_short),
        stop_loss=fraction(options.stop_loss),
        take_profit=fraction(options.take_profit),
        trailing_stop=fraction(options.trailing_stop),
        target_first=options.both_hit_rule == "target_first",
        fill_at_close=options.fill_at == "close",
    )


def _flags(values: BoolArray, n: int, name: str) -> BoolArray:
    flags = np.ascontiguousarray(values, dtype=np.bool_)
    if flags.shape != (n,):
        msg = f"{name} has shape {flags.shape}, expected ({n},) like the bars"
        raise ValueError(msg)
    return flags


def _column(values: FloatArray) -> FloatArray:
    return np.ascontiguousarray(values, dtype=np.float64)


def run_backtest(
    bars: Bars,
    signals: SignalsLike,
    options: EngineOptions,
    *,
    chunk_bars: int = 50_000,
    on_chunk: ChunkCallback | None = None,
    timeframe: str | None = None,
) -> BacktestResult:
    """Simulate ``signals`` over ``bars`` under ``options``.

    Parameters
    ----------
    bars
        At least one bar.
    signals
        Boolean ``entries`` and ``exits``, one per bar, computed at each bar's close.
    options
        Fills, costs, sizing, shorting and stops.
    chunk_bars
        Bars per kernel call; results do not depend on it.
    on_chunk
        Called as ``on_chunk(done_bars, total_bars)`` after each chunk; returning False
        cancels the run by raising ``BacktestCancelled``.
    timeframe
        Bar size (``"1d"``, ``"5m"``...) for annualising the Sharpe ratio; inferred from
        ``bars.time`` when None.

    Raises
    ------
    BacktestCancelled
        When ``on_chunk`` returns False.
    ValueError
        On empty bars, mismatched signal lengths or a non-positive ``chunk_bars``.
    """
    n = len(bars)
    if n == 0:
        msg = "cannot backtest zero bars"
        raise ValueError(msg)
    if chunk_bars < 1:
        msg = "chunk_bars must be at least 1"
        raise ValueError(msg)
    entries = _flags(signals.entries, n, "entries")
    exits = _flags(signals.exits, n, "exits")
    params = kernel_params(options)
    time = np.ascontiguousarray(bars.time, dtype=np.int64)
    open_, high, low, close = (_column(c) for c in (bars.open, bars.high, bars.low, bars.close))
    capacity = int(np.count_nonzero(entries))
    if params.allow_short:
        capacity += int(np.count_nonzero(exits))
    equity, cash, position = np.empty(n), np.empty(n), np.empty(n)
    trades = empty_trades(capacity)
    state: SimState = initial_state_nb(float(options.initial_cash))
    for start in range(0, n, chunk_bars):
        stop = min(start + chunk_bars, n)
        state = simulate_chunk_nb(
            state,
            start,
            stop,
            open_,
            high,
            low,
            close,
            entries,
            exits,
            params,
            equity,
            cash,
            position,
            trades,
        )
        if on_chunk is not None and not on_chunk(stop, n):
            raise BacktestCancelled(stop, n)
    count = int(record_open_trade_nb(state, close, trades))
    records = trades[:count].copy()
    fill_trade_times(records, time)
    summary = summarise(
        equity,
        position,
        records,
        initial_cash=float(options.initial_cash),
        fees_paid=float(state.fees_paid),
        time=time,
        timeframe=timeframe,
        both_hit_bars=int(state.both_hit_count),
    )
    return BacktestResult(
        equity=equity,
        cash=cash,
        position=position,
        trades=records,
        both_hit_rule=options.both_hit_rule,
        both_hit_bars=int(state.both_hit_count),
        summary=summary,
    )


@dataclass(frozen=True)
class _Flags:
    entries: BoolArray
    exits: BoolArray


def compile_kernels() -> float:
    """JIT-compile (or load from the numba cache) every kernel on tiny data; return seconds."""
    started = _time.perf_counter()
    close = np.array([10.0, 11.0, 9.0, 12.0, 8.0, 13.0, 12.5, 11.0])
    bars = Bars.from_close(close)
    flags = _Flags(
        entries=np.array([1, 0, 0, 1, 0, 0, 1, 0], dtype=np.bool_),
        exits=np.array([0, 1, 0, 0, 1, 0, 0, 1], dtype=np.bool_),
    )
    variants = (
        EngineOptions(),
        EngineOptions(fill_at="close", allow_short=True, stop_loss=0.1, take_profit=0.1),
    )
    for options in variants:
        run_backtest(bars, flags, options, chunk_bars=3, timeframe="1d")
    return _time.perf_counter() - started
