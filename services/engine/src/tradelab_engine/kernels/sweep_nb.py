"""Parameter-sweep kernels: many moving-average crossovers over one series, metrics only.

``sweep_cross_nb`` walks the bars chunk by chunk: each distinct window's average over a chunk
is computed once (``ma_chunk_nb``, bit-identical to ``ma_nb``'s indicators) into a buffer
that every combination then reads, advancing its ``CrossState`` over the chunk
(``cross_chunk_nb``, state-in/state-out as ``simulate_chunk_nb``). Fills use the ``orders_nb``
helpers in ``simulate_chunk_nb``'s order and the statistics are accumulated in
``equity_stats_nb``'s order, so every metric is bit-identical to a single run's summary. No
equity curve or trade record exists: a combination costs one state. Stops are not simulated
here (``domain/sweep.py`` runs the full simulator for them).

Speed comes from the shape of a crossover:

- a flat bar on which nothing fills has the equity of the bar before: its return is exactly 0
  and, the first return (the shift of ``equity_stats_nb``'s sums) being 0, it adds exactly 0 to
  every sum, so flat stretches are only scanned for the next signal (the close is not read);
- held stretches only mark the equity; both test ``BLOCK`` bars at a time for a cross with a
  branch-free loop the compiler vectorises, and go bar by bar near a signal;
- signals alternate (a cross above, then one below), so the order a signal asks for follows
  from the position alone (``orders_nb.signal_action_nb``'s table).
"""

from typing import NamedTuple

import numpy as np
import numpy.typing as npt
from numba import njit, prange

from tradelab_engine.kernels.ma_nb import FloatArray
from tradelab_engine.kernels.orders_nb import close_fill_nb, open_fill_nb
from tradelab_engine.kernels.portfolio_nb import SimParams

IntArray = npt.NDArray[np.int64]

MA_SIMPLE = 0
MA_EXPONENTIAL = 1


class CrossState(NamedTuple):
    """One combination after its bars up to ``next_index``: account, pending order and the
    running sums of ``equity_stats_nb`` over the equity marked so far."""

    next_index: int  # first bar not simulated yet
    cash: float
    units: float  # signed: > 0 long, < 0 short
    trades: int  # closed trades
    pending: int  # order for the next open: +1 buy, -1 sell, 0 none
    peak: float
    prev: float  # equity at the last close (the initial cash before the first bar)
    worst: float  # deepest drawdown so far
    total: float  # sum of returns
    squares: float  # sum of squared returns
    exposed: int  # bars with a position at the close
    valid: bool  # no equity before the last one was <= 0


class CrossMetrics(NamedTuple):
    """One combination's results, as ``equity_stats_nb`` and the summary define them."""

    final_equity: float
    max_drawdown: float
    mean: float  # mean per-bar return; NaN when returns are undefined
    std: float  # sample std (ddof=1) of per-bar returns; NaN with fewer than two
    trades: int  # closed trades
    exposed: int  # bars with a position at the close


Sums = tuple[float, float, float, float, float, bool]  # peak, prev, worst, total, squares, valid


@njit(cache=True, nogil=True)
def ma_chunk_nb(
    close: FloatArray,
    window: int,
    kind: int,
    start: int,
    stop: int,
    carry: float,
    out: FloatArray,
    column: int,
) -> float:
    """Write bars ``[start, stop)`` of the ``window``-bar SMA (``kind`` 0) or EMA (``kind`` 1)
    of ``close`` into ``out``, bar ``start`` at ``column``; NaN over the warm-up.

    ``carry`` (0 before bar 0) is the running sum, then the EMA, after bar ``start - 1``; the
    one after bar ``stop - 1`` is returned. Chunk after chunk from bar 0, the values are
    bit-identical to ``ma_nb.sma_1d_nb`` / ``ema_1d_nb``: the same operations in the same order.
    """
    n, acc = window, carry
    k = 2.0 / (n + 1)
    for i in range(start, stop):
        x, c = close[i], column + i - start
        if i < n - 1:  # warm-up: the first n - 1 closes are summed
            acc += x
            out[c] = np.nan
        elif kind == MA_SIMPLE:
            acc += x
            out[c] = acc / n
            acc -= close[i - n + 1]
        elif i == n - 1:  # the EMA's seed is the SMA of the first n closes
            acc = (acc + x) / n
            out[c] = acc
        else:
            acc = (x - acc) * k + acc
            out[c] = acc
    return acc


@njit(cache=True, nogil=True)
def initial_cross_state_nb(initial_cash: float) -> CrossState:
    """Return the state before the first bar: all cash, flat, nothing marked."""
    cash = initial_cash
    return CrossState(0, cash, 0.0, 0, 0, cash, cash, 0.0, 0.0, 0.0, 0, True)


@njit(cache=True, nogil=True)
def _execute_nb(
    cash: float, units: float, trades: int, action: int, raw_price: float, p: SimParams
) -> tuple[float, float, int]:
    """``portfolio_nb._execute_nb`` without records: close an opposite position, then open."""
    if action * units < 0.0:
        cash = close_fill_nb(cash, units, raw_price, p.fee_rate, p.fixed_fee, p.slippage)[0]
        units = 0.0
        trades += 1
    if units == 0.0 and (action > 0 or p.allow_short):
        new_cash, new_units, _, _ = open_fill_nb(
            cash,
            float(action),
            raw_price,
            p.fee_rate,
            p.fixed_fee,
            p.slippage,
            p.size,
            p.by_units,
            p.whole_units,
        )
        if new_units != 0.0:
            return new_cash, new_units, trades
    return cash, units, trades


@njit(cache=True, nogil=True, error_model="numpy")
def _mark_nb(m: Sums, value: float) -> Sums:
    """Add the equity ``value`` at a bar's close as ``equity_stats_nb`` does (shift 0)."""
    peak, prev, worst, total, squares, valid = m
    if prev > 0.0:
        r = value / prev - 1.0
        total += r
        squares += r * r
    else:
        valid = False
    if value > peak:
        peak = value
    elif peak - value > worst * peak:  # divide only when the drawdown may deepen
        worst = (peak - value) / peak
    return peak, value, worst, total, squares, valid


BLOCK = 64  # bars tested at once for a signal, by a loop the compiler vectorises
LEAD = 8  # bars after a fill or signal tested one by one first


@njit(cache=True, nogil=True, inline="always")
def _quiet_nb(x: FloatArray, y: FloatArray, start: int, stop: int) -> bool:
    """Whether ``x`` never crosses below ``y`` in bars ``[start, stop)`` (``start`` >= 1).

    Branch-free over slices indexed from 0, so the compiler vectorises it (a cross above is a
    cross below with the two series swapped, NaN included)."""
    xs, ys = x[start - 1 : stop], y[start - 1 : stop]
    hit = False
    for i in range(1, stop - start + 1):
        hit |= (xs[i] < ys[i]) & (xs[i - 1] >= ys[i - 1])
    return not hit


@njit(cache=True, nogil=True, inline="always")
def _flat_step_nb(
    fast: FloatArray, slow: FloatArray, start: int, stop: int, allow_short: bool
) -> tuple[int, int]:
    """Bar by bar: the first bar in ``[start, stop)`` (``start`` >= 1) whose signal acts on a
    flat account and its order (+1 buy, -1 sell short), or ``(stop, 0)``."""
    below_or_equal = fast[start - 1] <= slow[start - 1]
    above_or_equal = fast[start - 1] >= slow[start - 1]
    for i in range(start, stop):
        a, b = fast[i], slow[i]
        if a > b and below_or_equal:
            return i, 1
        if allow_short and a < b and above_or_equal:
            return i, -1
        below_or_equal, above_or_equal = a <= b, a >= b
    return stop, 0


@njit(cache=True, nogil=True, inline="always")
def _flat_scan_nb(
    fast: FloatArray, slow: FloatArray, start: int, stop: int, allow_short: bool
) -> tuple[int, int]:
    """``_flat_step_nb`` over ``[start, stop)``, skipping quiet blocks after the first ``LEAD``
    bars (signals cluster: averages that just crossed often cross back soon)."""
    i, limit = start, min(start + LEAD, stop)
    while True:
        i, action = _flat_step_nb(fast, slow, i, limit, allow_short)
        if action != 0 or i == stop:
            return i, action
        while i + BLOCK <= stop and _quiet_nb(slow, fast, i, i + BLOCK):
            if allow_short and not _quiet_nb(fast, slow, i, i + BLOCK):
                break
            i += BLOCK
        limit = stop


@njit(cache=True, nogil=True, inline="always")
def _held_step_nb(
    x: FloatArray,
    y: FloatArray,
    close: FloatArray,
    start: int,
    stop: int,
    cash: float,
    units: float,
    m: Sums,
    mark_signal_bar: bool,
) -> tuple[int, Sums, bool]:
    """Bar by bar: mark the equity of bars from ``start`` (>= 1) while holding ``units``, up to
    the first bar where ``x`` crosses below ``y`` (``x, y`` = fast, slow for a long; slow, fast
    for a short), that bar included when ``mark_signal_bar``. Return that bar (``stop`` if
    none), the sums and whether a signal was found."""
    above_or_equal = x[start - 1] >= y[start - 1]
    for i in range(start, stop):
        a, b = x[i], y[i]
        signal = a < b and above_or_equal
        above_or_equal = a >= b
        if signal and not mark_signal_bar:
            return i, m, True
        m = _mark_nb(m, cash + units * close[i])
        if signal:
            return i, m, True
    return stop, m, False


@njit(cache=True, nogil=True, inline="always")
def _held_run_nb(
    x: FloatArray,
    y: FloatArray,
    close: FloatArray,
    start: int,
    stop: int,
    cash: float,
    units: float,
    m: Sums,
    mark_signal_bar: bool,
) -> tuple[int, Sums, bool]:
    """``_held_step_nb`` over ``[start, stop)``; after the first ``LEAD`` bars, quiet blocks
    are marked without a test per bar."""
    i, limit = start, min(start + LEAD, stop)
    while True:
        i, m, signal = _held_step_nb(x, y, close, i, limit, cash, units, m, mark_signal_bar)
        if signal or i == stop:
            return i, m, signal
        while i + BLOCK <= stop and _quiet_nb(x, y, i, i + BLOCK):
            for j in range(i, i + BLOCK):
                m = _mark_nb(m, cash + units * close[j])
            i += BLOCK
        limit = stop


@njit(cache=True, nogil=True, error_model="numpy")
def cross_chunk_nb(
    s: CrossState,
    stop: int,
    fast: FloatArray,
    slow: FloatArray,
    open_: FloatArray,
    close: FloatArray,
    p: SimParams,
) -> CrossState:
    """Advance ``s`` over bars ``[s.next_index, stop)`` of the crossover of ``fast``/``slow``.

    Entries where ``fast`` crosses above ``slow``, exits where it crosses below (as
    ``cross_nb``: bar 0 and NaN never cross), filled as ``simulate_chunk_nb`` fills them; the
    stop fields of ``p`` are ignored. Any chunking gives bit-identical states.

    Bar 0 never acts and nothing is pending before it, so its equity is the initial cash and
    the first return, the shift of ``equity_stats_nb``'s sums, is 0. Hence a flat bar without
    a fill adds exactly 0 to every sum and flat stretches are only scanned for the next signal.
    """
    i, cash, units, trades, pending = s.next_index, s.cash, s.units, s.trades, s.pending
    m: Sums = (s.peak, s.prev, s.worst, s.total, s.squares, s.valid)
    exposed, next_open = s.exposed, not p.fill_at_close
    i = max(i, 1)  # bar 0: flat, no fill, return 0
    while i < stop:
        if pending != 0:  # only with next-open fills: the open fills, then as any bar
            cash, units, trades = _execute_nb(cash, units, trades, pending, open_[i], p)
            pending = 0
            if units == 0.0:  # flat after the fill: read the close, mark the new equity
                k, action = _flat_step_nb(fast, slow, i, i + 1, p.allow_short)
                pending = action if k == i else 0
                m = _mark_nb(m, cash)
                i += 1
                continue
        if units == 0.0:
            if m[1] <= 0.0:  # the next bar's return is undefined (equity_stats_nb: valid)
                m = (m[0], m[1], m[2], m[3], m[4], False)
            i, action = _flat_scan_nb(fast, slow, i, stop, p.allow_short)
            if i == stop:
                break
            if next_open:  # bar i's equity is unchanged: adds 0
                pending = action
            else:
                cash, units, trades = _execute_nb(cash, units, trades, action, close[i], p)
                m = _mark_nb(m, cash + units * close[i])
                exposed += units != 0.0
            i += 1
            continue
        start = i
        x, y = (fast, slow) if units > 0.0 else (slow, fast)
        i, m, signal = _held_run_nb(x, y, close, start, stop, cash, units, m, next_open)
        exposed += i - start
        if not signal:
            break
        action = -1 if units > 0.0 else 1
        if next_open:  # bar i was marked holding
            pending = action
            exposed += 1
        else:
            cash, units, trades = _execute_nb(cash, units, trades, action, close[i], p)
            m = _mark_nb(m, cash + units * close[i])
            exposed += units != 0.0
        i += 1
    peak, prev, worst, total, squares, valid = m
    return CrossState(
        max(i, stop), cash, units, trades, pending, peak, prev, worst, total, squares, exposed,
        valid,
    )  # fmt: skip


@njit(cache=True, nogil=True)
def cross_metrics_nb(s: CrossState, close: FloatArray) -> CrossMetrics:
    """Finish a combination simulated to the last bar: the figures of ``equity_stats_nb``."""
    n = s.next_index
    final = s.cash + s.units * close[n - 1]
    if not s.valid:
        return CrossMetrics(final, s.worst, np.nan, np.nan, s.trades, s.exposed)
    mean = s.total / n
    if n < 2:
        return CrossMetrics(final, s.worst, mean, np.nan, s.trades, s.exposed)
    variance = max((s.squares - s.total * s.total / n) / (n - 1), 0.0)
    return CrossMetrics(final, s.worst, mean, np.sqrt(variance), s.trades, s.exposed)


STATE_FIELDS = 12  # a CrossState stored as a float64 row (counts are exact below 2**53)


@njit(cache=True, nogil=True, inline="always")
def _store_nb(states: FloatArray, k: int, s: CrossState, base: int) -> None:
    """Store ``s``, whose bar indices start at bar ``base``, with absolute bar indices."""
    row = states[k]
    row[0], row[1], row[2], row[3], row[4], row[5] = (
        s.next_index + base, s.cash, s.units, s.trades, s.pending, s.peak,
    )  # fmt: skip
    row[6], row[7], row[8], row[9], row[10], row[11] = (
        s.prev, s.worst, s.total, s.squares, s.exposed, 1.0 if s.valid else 0.0,
    )  # fmt: skip


@njit(cache=True, nogil=True, inline="always")
def _load_nb(states: FloatArray, k: int, base: int) -> CrossState:
    """Load state ``k`` with bar indices counted from bar ``base``."""
    row = states[k]
    return CrossState(
        int(row[0]) - base, row[1], row[2], int(row[3]), int(row[4]), row[5], row[6], row[7],
        row[8], row[9], int(row[10]), row[11] != 0.0,
    )  # fmt: skip


@njit(cache=True, nogil=True, parallel=True)
def sweep_cross_nb(
    close: FloatArray,
    open_: FloatArray,
    windows: IntArray,
    kind: int,
    fast_rows: IntArray,
    slow_rows: IntArray,
    p: SimParams,
    initial_cash: float,
    chunk: int,
    out: FloatArray,
) -> None:
    """Simulate combination ``k``: the crossover of the averages of ``windows[fast_rows[k]]``
    and ``windows[slow_rows[k]]`` bars (``kind`` as in ``ma_chunk_nb``) over every bar;
    ``out[k]`` receives its ``CrossMetrics`` fields in order (the counts as floats).

    The bars go by in chunks of ``chunk``. Each window's average over a chunk is computed once,
    into a buffer of ``chunk + 1`` bars per window (the bar before the chunk first: a cross
    needs it); one parallel loop per chunk advances every combination over the chunk while it
    computes the next chunk's averages into a second buffer, so threads meet once per chunk.
    Memory is the two buffers and one state per combination; results depend neither on
    ``chunk`` nor on the number of threads or the scheduling.
    """
    n, m, count = close.shape[0], fast_rows.shape[0], windows.shape[0]
    states = np.empty((m, STATE_FIELDS))
    averages, carry = np.empty((2, count, chunk + 1)), np.zeros(count)
    first = min(chunk, n)
    for item in prange(count + m):
        if item < count:
            carry[item] = ma_chunk_nb(
                close, windows[item], kind, 0, first, 0.0, averages[0, item], 0
            )
        else:
            _store_nb(states, item - count, initial_cross_state_nb(initial_cash), 0)
    base, current = 0, 0
    for start in range(0, n, chunk):
        stop = min(start + chunk, n)
        ahead = min(stop + chunk, n)
        local_open, local_close = open_[base:stop], close[base:stop]
        for item in prange(count + m):
            if item < count and stop < n:  # the next chunk's averages, after its previous bar
                row = averages[1 - current, item]
                row[0] = averages[current, item, stop - 1 - base]
                carry[item] = ma_chunk_nb(
                    close, windows[item], kind, stop, ahead, carry[item], row, 1
                )
            elif item >= count:
                k = item - count
                fast, slow = averages[current, fast_rows[k]], averages[current, slow_rows[k]]
                s = cross_chunk_nb(
                    _load_nb(states, k, base), stop - base, fast, slow, local_open, local_close, p
                )
                _store_nb(states, k, s, base)
        base, current = stop - 1, 1 - current
    for k in prange(m):
        r = cross_metrics_nb(_load_nb(states, k, 0), close)
        row = out[k]
        row[0], row[1], row[2], row[3] = r.final_equity, r.max_drawdown, r.mean, r.std
        row[4], row[5] = r.trades, r.exposed
