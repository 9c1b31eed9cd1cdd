"""Portfolio simulation kernel: one asset, signals in, equity curve and trade records out.

State-in/state-out (vectorbt ``portfolio/nb.py`` style): ``simulate_chunk_nb`` advances a
``SimState`` over bars ``[start, stop)`` and returns the new state, so a run can be split into
chunks (progress reports and cancellation between them) with results identical to one call.

Within a bar, events happen in time order:

1. open     - the order decided at the previous close fills (``fill_at="next_open"``);
2. intrabar - stops and targets of a position entered before this bar are checked against the
   bar's open (gaps), high and low; a trailing stop's extreme is then moved by the bar;
3. close    - the bar's signals are read; with ``fill_at="close"`` they fill now, otherwise they
   become the pending order for the next open; equity is marked at the close.

Inside the loop the state lives in local variables and ``Position`` tuples (kept in registers);
the rare events (fills, stop exits) are helpers. See ``docs/engine.md`` for every convention.
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


# (cash, units, entry_index, entry_price, entry_fee, extreme, fees_paid, trade_count)
Position = tuple[float, float, int, float, float, float, float, int]


@njit(cache=True, nogil=True)
def initial_state_nb(initial_cash: float) -> SimState:
    """Return the state before the first bar: all cash, flat."""
    return SimState(0, initial_cash, 0.0, -1, np.nan, 0.0, np.nan, 0, 0.0, 0, 0)


@njit(cache=True, nogil=True)
def _close_nb(
    pos: Position, i: int, raw_price: float, reason: int, p: SimParams, out_trades: np.ndarray
) -> Position:
    """Close the whole position at ``raw_price`` (slippage and fee applied) and record it."""
    cash, units, entry_index, entry_price, entry_fee, _, fees, count = pos
    cash, price, fee = close_fill_nb(cash, units, raw_price, p.fee_rate, p.fixed_fee, p.slippage)
    write_trade_nb(
        out_trades, count, units, entry_index, entry_price, entry_fee, i, price, fee, reason
    )
    return cash, 0.0, -1, np.nan, 0.0, np.nan, fees + fee, count + 1


@njit(cache=True, nogil=True)
def _execute_nb(
    pos: Position, action: int, i: int, raw_price: float, p: SimParams, out_trades: np.ndarray
) -> Position:
    """Execute a signal order: close an opposite position, then open one if allowed."""
    if action * pos[1] < 0.0:
        pos = _close_nb(pos, i, raw_price, EXIT_SIGNAL, p, out_trades)
    if pos[1] != 0.0 or (action < 0 and not p.allow_short):
        return pos
    cash, units, price, fee = open_fill_nb(
        pos[0],
        float(action),
        raw_price,
        p.fee_rate,
        p.fixed_fee,
        p.slippage,
        p.size,
        p.by_units,
        p.whole_units,
    )
    if units == 0.0:
        return pos
    return cash, units, i, price, fee, price, pos[6] + fee, pos[7]


@njit(cache=True, nogil=True)
def _stops_nb(
    pos: Position,
    i: int,
    open_: float,
    high: float,
    low: float,
    p: SimParams,
    out_trades: np.ndarray,
) -> tuple[Position, int]:
    """Exit at a stop or target touched in bar ``i``, else move the trailing extreme.

    Returns the position and 1 when a stop and a target were both inside the bar, else 0.
    """
    d = 1.0 if pos[1] > 0.0 else -1.0
    stop_key, stop_reason, target_key = stop_keys_nb(
        d, pos[3], pos[5], p.stop_loss, p.take_profit, p.trailing_stop
    )
    price, reason, both = stop_exit_nb(
        d, stop_key, stop_reason, target_key, open_, high, low, p.target_first
    )
    if reason >= 0:
        return _close_nb(pos, i, price, reason, p, out_trades), 1 if both else 0
    favourable = high if d > 0.0 else low
    if d * favourable > d * pos[5]:
        pos = (pos[0], pos[1], pos[2], pos[3], pos[4], favourable, pos[6], pos[7])
    return pos, 0


@njit(cache=True, nogil=True)
def simulate_chunk_nb(
    state: SimState,
    start: int,
    stop: int,
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
    record per closed trade from index ``state.trade_count`` on, without times. ``out_trades``
    needs room for every trade: one per entry signal (plus one per exit signal when shorting).
    """
    if start != state.next_index or stop <= start:
        raise ValueError("chunk must be non-empty and start where the state ended")
    has_stops = not (
        np.isnan(params.stop_loss)
        and np.isnan(params.take_profit)
        and np.isnan(params.trailing_stop)
    )
    pos = (
        state.cash,
        state.units,
        state.entry_index,
        state.entry_price,
        state.entry_fee,
        state.extreme,
        state.fees_paid,
        state.trade_count,
    )
    pending, both_hit = state.pending, state.both_hit_count
    # The next open is read one bar ahead, every bar: read only when an order fills, it would
    # miss the cache each time (the hardware prefetcher only follows streamed reads).
    next_open, last = open_[start], stop - 1
    for i in range(start, stop):
        bar_open, next_open = next_open, open_[min(i + 1, last)]
        if pending != 0:
            pos = _execute_nb(pos, pending, i, bar_open, params, out_trades)
            pending = 0
        if has_stops and pos[1] != 0.0 and pos[2] < i:
            pos, both = _stops_nb(pos, i, bar_open, high[i], low[i], params, out_trades)
            both_hit += both
        action = signal_action_nb(entries[i], exits[i], pos[1], params.allow_short)
        if action != 0 and params.fill_at_close:
            pos = _execute_nb(pos, action, i, close[i], params, out_trades)
        elif action != 0:
            pending = action
        out_cash[i] = pos[0]
        out_position[i] = pos[1]
        out_equity[i] = pos[0] + pos[1] * close[i]
    cash, units, entry_index, entry_price, entry_fee, extreme, fees, count = pos
    return SimState(
        stop,
        cash,
        units,
        entry_index,
        entry_price,
        entry_fee,
        extreme,
        pending,
        fees,
        count,
        both_hit,
    )


@njit(cache=True, nogil=True)
def record_open_trade_nb(state: SimState, close: np.ndarray, out_trades: np.ndarray) -> int:
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


@njit(cache=True, nogil=True)
def equity_stats_nb(
    equity: np.ndarray, position: np.ndarray, initial_cash: float
) -> tuple[float, float, float, int, int]:
    """One run's equity statistics over ``v = [initial_cash, *equity]``, in one pass.

    Returns ``(max drawdown, mean return, sample std of returns, returns used, bars with a
    position)``. Returns are ``v[t] / v[t-1] - 1``; mean and std are NaN when a value before
    the last is not positive (returns undefined) and the std is NaN with fewer than two returns.
    The drawdown is the largest ``(peak - v) / peak`` with the running peak of ``v``. Sums are
    taken of returns less the first return (shifted data), so the variance does not suffer from
    cancellation and is exactly 0 when every return is the same.
    """
    n = equity.shape[0]
    if n == 0:
        return 0.0, np.nan, np.nan, 0, 0
    peak, prev, worst, exposed, valid = initial_cash, initial_cash, 0.0, 0, True
    shift = equity[0] / initial_cash - 1.0
    total, squares = 0.0, 0.0
    for t in range(n):
        value = equity[t]
        if prev > 0.0:
            deviation = (value / prev - 1.0) - shift
            total += deviation
            squares += deviation * deviation
        else:
            valid = False
        if value > peak:
            peak = value
        elif peak - value > worst * peak:  # divide only when the drawdown may deepen
            worst = (peak - value) / peak
        exposed += position[t] != 0.0
        prev = value
    if not valid:
        return worst, np.nan, np.nan, n, exposed
    mean = shift + total / n
    if n < 2:
        return worst, mean, np.nan, n, exposed
    variance = max((squares - total * total / n) / (n - 1), 0.0)
    return worst, mean, np.sqrt(variance), n, exposed
