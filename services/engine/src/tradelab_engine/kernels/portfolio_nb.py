"""Portfolio simulation kernel: one asset, signals in, equity curve and trade records out.

State-in/state-out (vectorbt ``portfolio/nb.py`` style): ``simulate_chunk_nb`` advances a
``SimState`` over bars ``[start, stop)`` and returns the new state, so a run can be split into
chunks (progress reports and cancellation between them) with results identical to one call.

Within a bar, events happen in time order:

1. open   - the order decided at the previous close fills (``fill_at="next_open"``);
2. intrabar - stops and targets of a position entered before this bar are checked against the
   bar's open (gaps), high and low; a trailing stop's extreme is then updated with the bar;
3. close  - the bar's signals are read; with ``fill_at="close"`` they fill now, otherwise they
   become the pending order for the next open; equity is marked at the close.

See ``docs/engine.md`` for every convention.
"""

from typing import NamedTuple

import numpy as np
from numba import njit

from tradelab_engine.domain.records import EXIT_OPEN_AT_END, EXIT_SIGNAL
from tradelab_engine.kernels.orders_nb import (
    close_fill_nb,
    open_fill_nb,
    signal_action_nb,
    stop_exit_nb,
    stop_keys_nb,
    write_trade_nb,
)


class SimState(NamedTuple):
    """Account and position between bars (all that a chunk needs from the previous one)."""

    next_index: int  # first bar not simulated yet
    cash: float
    units: float  # signed: > 0 long, < 0 short
    entry_index: int  # bar of the open position's entry fill; -1 when flat
    entry_price: float  # fill price of the entry, slippage included
    entry_fee: float
    extreme: float  # best price since entry for the trailing stop (high long, low short)
    pending: int  # order decided at the last close for the next open: +1 buy, -1 sell, 0
    fees_paid: float  # all fees so far, the open position's entry fee included
    trade_count: int  # closed trades written to out_trades
    both_hit_count: int  # bars where a stop and a target were both touched


class SimParams(NamedTuple):
    """Options as the kernel reads them; fractions are NaN when the option is off."""

    fee_rate: float
    fixed_fee: float
    slippage: float  # fraction (slippage_bps / 10_000)
    size: float
    by_units: bool
    whole_units: bool
    allow_short: bool
    stop_loss: float
    take_profit: float
    trailing_stop: float
    target_first: bool
    fill_at_close: bool


@njit(cache=True)
def initial_state_nb(initial_cash: float) -> SimState:
    """Return the state before the first bar: all cash, flat."""
    return SimState(0, initial_cash, 0.0, -1, np.nan, 0.0, np.nan, 0, 0.0, 0, 0)


@njit(cache=True)
def _with_position(
    s: SimState,
    cash: float,
    units: float,
    entry_index: int,
    entry_price: float,
    entry_fee: float,
    fees: float,
    trades: int,
    both_hit: int,
) -> SimState:
    return SimState(
        s.next_index,
        cash,
        units,
        entry_index,
        entry_price,
        entry_fee,
        entry_price,
        s.pending,
        s.fees_paid + fees,
        s.trade_count + trades,
        s.both_hit_count + both_hit,
    )


@njit(cache=True)
def _close_nb(
    s: SimState,
    i: int,
    raw_price: float,
    reason: int,
    p: SimParams,
    time: np.ndarray,
    out_trades: np.ndarray,
    both_hit: int,
) -> SimState:
    """Close the whole position at ``raw_price`` (slippage and fee applied) and record it."""
    cash, price, fee = close_fill_nb(
        s.cash, s.units, raw_price, p.fee_rate, p.fixed_fee, p.slippage
    )
    write_trade_nb(
        out_trades,
        s.trade_count,
        time,
        s.units,
        s.entry_index,
        s.entry_price,
        s.entry_fee,
        i,
        price,
        fee,
        reason,
    )
    return _with_position(s, cash, 0.0, -1, np.nan, 0.0, fee, 1, both_hit)


@njit(cache=True)
def _execute_nb(
    s: SimState, action: int, i: int, raw_price: float, p: SimParams, time: np.ndarray,
    out_trades: np.ndarray,
) -> SimState:  # fmt: skip
    """Execute a signal order: close an opposite position, then open one if allowed."""
    if action * s.units < 0.0:
        s = _close_nb(s, i, raw_price, EXIT_SIGNAL, p, time, out_trades, 0)
    if s.units != 0.0 or (action < 0 and not p.allow_short):
        return s
    d = float(action)
    cash, units, price, fee = open_fill_nb(
        s.cash, d, raw_price, p.fee_rate, p.fixed_fee, p.slippage, p.size, p.by_units,
        p.whole_units,
    )  # fmt: skip
    if units == 0.0:
        return s
    return _with_position(s, cash, units, i, price, fee, fee, 0, 0)


@njit(cache=True)
def _stops_nb(
    s: SimState, i: int, open_: float, high: float, low: float, p: SimParams,
    time: np.ndarray, out_trades: np.ndarray,
) -> SimState:  # fmt: skip
    """Exit at a stop or target touched in bar ``i``; else move the trailing extreme."""
    d = 1.0 if s.units > 0.0 else -1.0
    stop_key, stop_reason, target_key = stop_keys_nb(
        d, s.entry_price, s.extreme, p.stop_loss, p.take_profit, p.trailing_stop
    )
    price, reason, both = stop_exit_nb(
        d, stop_key, stop_reason, target_key, open_, high, low, p.target_first
    )
    if reason >= 0:
        return _close_nb(s, i, price, reason, p, time, out_trades, 1 if both else 0)
    favourable = high if d > 0.0 else low
    if d * favourable <= d * s.extreme:
        return s
    return SimState(
        s.next_index, s.cash, s.units, s.entry_index, s.entry_price, s.entry_fee, favourable,
        s.pending, s.fees_paid, s.trade_count, s.both_hit_count,
    )  # fmt: skip


@njit(cache=True)
def _with_pending(s: SimState, next_index: int, pending: int) -> SimState:
    return SimState(
        next_index, s.cash, s.units, s.entry_index, s.entry_price, s.entry_fee, s.extreme,
        pending, s.fees_paid, s.trade_count, s.both_hit_count,
    )  # fmt: skip


@njit(cache=True)
def simulate_chunk_nb(
    state: SimState,
    start: int,
    stop: int,
    time: np.ndarray,
    open_: np.ndarray,
    high: np.ndarray,
    low: np.ndarray,
    close: np.ndarray,
    entries: np.ndarray,
    exits: np.ndarray,
    params: SimParams,
    out_equity: np.ndarray,
    out_cash: np.ndarray,
    out_position: np.ndarray,
    out_trades: np.ndarray,
) -> SimState:
    """Simulate bars ``[start, stop)`` from ``state``; return the state after bar ``stop - 1``.

    Arrays are whole-run columns indexed by bar (``start`` must equal ``state.next_index``);
    ``out_*`` receive each bar's equity, cash and signed units at the close, ``out_trades`` one
    record per closed trade from index ``state.trade_count`` on. ``out_trades`` needs room for
    every trade: one per entry signal (plus one per exit signal when shorting).
    """
    if start != state.next_index:
        raise ValueError("chunk does not start where the state ended")
    has_stops = not (
        np.isnan(params.stop_loss) and np.isnan(params.take_profit)
        and np.isnan(params.trailing_stop)
    )  # fmt: skip
    s = state
    for i in range(start, stop):
        if s.pending != 0:
            s = _execute_nb(s, s.pending, i, open_[i], params, time, out_trades)
            s = _with_pending(s, s.next_index, 0)
        if has_stops and s.units != 0.0 and s.entry_index < i:
            s = _stops_nb(s, i, open_[i], high[i], low[i], params, time, out_trades)
        action = signal_action_nb(entries[i], exits[i], s.units, params.allow_short)
        if params.fill_at_close:
            if action != 0:
                s = _execute_nb(s, action, i, close[i], params, time, out_trades)
        elif action != 0:
            s = _with_pending(s, s.next_index, action)
        out_cash[i] = s.cash
        out_position[i] = s.units
        out_equity[i] = s.cash + s.units * close[i]
    return _with_pending(s, stop, s.pending)


@njit(cache=True)
def record_open_trade_nb(
    state: SimState, time: np.ndarray, close: np.ndarray, out_trades: np.ndarray
) -> int:
    """Record a position still open after the last simulated bar; return the record count.

    The open trade is marked at the close of bar ``state.next_index - 1``: its pnl and return
    are unrealised, without an exit fee; its exit fields are missing.
    """
    if state.units == 0.0:
        return state.trade_count
    last = state.next_index - 1
    write_trade_nb(
        out_trades,
        state.trade_count,
        time,
        state.units,
        state.entry_index,
        state.entry_price,
        state.entry_fee,
        last,
        close[last],
        0.0,
        EXIT_OPEN_AT_END,
    )
    return state.trade_count + 1
