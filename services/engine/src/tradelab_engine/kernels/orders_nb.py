"""Order helpers of the portfolio simulator: fill prices, sizing, fills, stops, trade records.

Scalars in, tuples out; nothing here allocates. ``d`` is a direction, +1 long / -1 short, as a
float so that ``d * x`` is exact (negation) and prices can be compared in "favourable space":
``d * price`` grows when the position gains.
"""

import numpy as np
from numba import njit

from tradelab_engine.domain.records import (
    EXIT_OPEN_AT_END,
    EXIT_STOP_LOSS,
    EXIT_TAKE_PROFIT,
    EXIT_TRAILING_STOP,
)


@njit(cache=True, nogil=True)
def fill_price_nb(price: float, side: float, slippage: float) -> float:
    """Return ``price`` moved against a buy (``side`` +1) or a sell (``side`` -1)."""
    return price * (1.0 + side * slippage)


@njit(cache=True, nogil=True)
def entry_units_nb(
    cash: float,
    price: float,
    fee_rate: float,
    fixed_fee: float,
    size: float,
    by_units: bool,
    whole_units: bool,
) -> float:
    """Return the unsigned units an entry at fill ``price`` buys or sells short; 0 to skip it.

    By fraction: ``(cash - fixed_fee) / (1 + fee_rate) / price * size`` (all of the cash at
    ``size`` 1, fees included). By units: ``size`` units, skipped unless cash pays for
    ``units * price * (1 + fee_rate) + fixed_fee``. ``whole_units`` floors either.
    """
    if by_units:
        units = np.floor(size) if whole_units else size
        notional = units * price
        if units <= 0.0 or notional + notional * fee_rate + fixed_fee > cash:
            return 0.0
        return units
    budget = (cash - fixed_fee) / (1.0 + fee_rate)
    if budget <= 0.0:
        return 0.0
    units = budget / price * size
    if whole_units:
        units = np.floor(units)
    return max(units, 0.0)


@njit(cache=True, nogil=True)
def open_fill_nb(
    cash: float,
    d: float,
    raw_price: float,
    fee_rate: float,
    fixed_fee: float,
    slippage: float,
    size: float,
    by_units: bool,
    whole_units: bool,
) -> tuple[float, float, float, float]:
    """Open a position in direction ``d`` at ``raw_price``.

    Returns ``(cash, signed units, fill price, fee)``; units 0 when the entry is skipped.
    """
    price = fill_price_nb(raw_price, d, slippage)
    units = entry_units_nb(cash, price, fee_rate, fixed_fee, size, by_units, whole_units)
    if units == 0.0:
        return cash, 0.0, np.nan, 0.0
    notional = units * price
    fee = notional * fee_rate + fixed_fee
    if d > 0.0:
        return cash - (notional + fee), units, price, fee
    return cash + (notional - fee), -units, price, fee


@njit(cache=True, nogil=True)
def close_fill_nb(
    cash: float, units: float, raw_price: float, fee_rate: float, fixed_fee: float, slippage: float
) -> tuple[float, float, float]:
    """Close ``units`` (signed) at ``raw_price``. Returns ``(cash, fill price, fee)``."""
    if units > 0.0:
        price = fill_price_nb(raw_price, -1.0, slippage)
        notional = units * price
        fee = notional * fee_rate + fixed_fee
        return cash + (notional - fee), price, fee
    price = fill_price_nb(raw_price, 1.0, slippage)
    notional = -units * price
    fee = notional * fee_rate + fixed_fee
    return cash - (notional + fee), price, fee


@njit(cache=True, nogil=True)
def write_trade_nb(
    out_trades: np.ndarray,
    k: int,
    units: float,
    entry_index: int,
    entry_price: float,
    entry_fee: float,
    exit_index: int,
    exit_price: float,
    exit_fee: float,
    exit_reason: int,
) -> None:
    """Write trade ``k``, all fields but the two times (filled from the bar indices later: a
    sporadic read of the time column would miss the cache on every trade).

    An open trade (``EXIT_OPEN_AT_END``) passes its mark price as ``exit_price`` and the last
    bar as ``exit_index``; its exit fields are stored as missing.
    """
    rec = out_trades[k]
    # Same order of operations as vectorbt's get_trade_stats_nb: value difference, then fees.
    pnl = (units * exit_price - units * entry_price) - entry_fee - exit_fee
    rec["entry_index"] = entry_index
    rec["entry_price"] = entry_price
    rec["units"] = units
    rec["pnl"] = pnl
    rec["return"] = pnl / (abs(units) * entry_price + entry_fee)
    rec["entry_fee"] = entry_fee
    rec["bars_held"] = exit_index - entry_index
    rec["direction"] = 1 if units > 0.0 else -1
    rec["exit_reason"] = exit_reason
    is_open = exit_reason == EXIT_OPEN_AT_END
    rec["is_open"] = is_open
    if is_open:
        rec["exit_index"] = -1
        rec["exit_price"] = np.nan
        rec["exit_fee"] = np.nan
    else:
        rec["exit_index"] = exit_index
        rec["exit_price"] = exit_price
        rec["exit_fee"] = exit_fee


@njit(cache=True, nogil=True)
def stop_keys_nb(
    d: float,
    entry_price: float,
    extreme: float,
    stop_loss: float,
    take_profit: float,
    trailing_stop: float,
) -> tuple[float, int, float]:
    """Return ``(stop key, stop reason, target key)`` in favourable space (``d * level``).

    The stop key is the tighter of the fixed and trailing stops (-inf when neither is set); the
    target key is +inf when no take-profit is set. NaN means "not set" for each fraction.
    """
    stop_key = -np.inf
    reason = EXIT_STOP_LOSS
    if not np.isnan(stop_loss):
        stop_key = d * (entry_price * (1.0 - d * stop_loss))
    if not np.isnan(trailing_stop):
        trail_key = d * (extreme * (1.0 - d * trailing_stop))
        if trail_key > stop_key:
            stop_key = trail_key
            reason = EXIT_TRAILING_STOP
    target_key = np.inf
    if not np.isnan(take_profit):
        target_key = d * (entry_price * (1.0 + d * take_profit))
    return stop_key, reason, target_key


@njit(cache=True, nogil=True)
def stop_exit_nb(
    d: float,
    stop_key: float,
    stop_reason: int,
    target_key: float,
    open_: float,
    high: float,
    low: float,
    target_first: bool,
) -> tuple[float, int, bool]:
    """Decide whether a stop or target fills inside one bar.

    Returns ``(raw exit price, reason, both touched)``; the price is NaN and the reason -1 when
    nothing fills. A gap through a level fills at the open; otherwise at the level itself. When
    both levels lie inside the bar's range (and neither was gapped), ``target_first`` decides.
    """
    if d * open_ <= stop_key:
        return open_, stop_reason, False
    if d * open_ >= target_key:
        return open_, EXIT_TAKE_PROFIT, False
    adverse = low if d > 0.0 else high
    favourable = high if d > 0.0 else low
    stop_hit = d * adverse <= stop_key
    target_hit = d * favourable >= target_key
    if stop_hit and target_hit:
        if target_first:
            return d * target_key, EXIT_TAKE_PROFIT, True
        return d * stop_key, stop_reason, True
    if stop_hit:
        return d * stop_key, stop_reason, False
    if target_hit:
        return d * target_key, EXIT_TAKE_PROFIT, False
    return np.nan, -1, False


@njit(cache=True, nogil=True)
def signal_action_nb(entry: bool, exit_: bool, units: float, allow_short: bool) -> int:
    """Return the order a bar's signals ask for given the position: +1 buy, -1 sell, 0 none.

    Entry and exit on the same bar cancel out. Long-only: an entry buys when flat, an exit sells
    when long. With shorting: an entry buys unless already long (covering a short first), an exit
    sells unless already short (closing a long first).
    """
    if entry == exit_:
        return 0
    if allow_short:
        if entry:
            return 1 if units <= 0.0 else 0
        return -1 if units >= 0.0 else 0
    if entry:
        return 1 if units == 0.0 else 0
    return -1 if units > 0.0 else 0
