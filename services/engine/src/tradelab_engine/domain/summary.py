"""Headline statistics of a backtest (the fields of the contract's ``BacktestSummary``).

Conventions (``docs/engine.md``): the equity series starts with the initial cash before the first
bar, so the first bar's return and any drawdown from the start count; per-bar simple returns;
Sharpe with risk-free rate 0 and sample standard deviation (ddof=1), annualised by
``sqrt(periods_per_year(timeframe))``.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Final

import numpy as np

from tradelab_engine.domain.bars import FloatArray, IntArray
from tradelab_engine.domain.records import TradeRecords
from tradelab_engine.kernels.portfolio_nb import equity_stats_nb

TRADING_DAYS: Final = 252.0
SESSION_HOURS: Final = 6.5  # regular US equity session, 09:30-16:00
WEEKS: Final = 52.0
MONTHS: Final = 12.0
IRREGULAR: Final = "irregular"

_TIMEFRAME = re.compile(r"^([1-9][0-9]*)(m|h|d|w|mo)$")
_NS_PER_MINUTE: Final = 60 * 10**9
_KNOWN_STEPS_MIN: Final = {
    "1m": 1,
    "5m": 5,
    "15m": 15,
    "30m": 30,
    "1h": 60,
    "4h": 240,
    "1d": 1440,
    "1w": 10080,
}
_MONTH_DAYS: Final = (28.0, 31.0)
_TOLERANCE: Final = 0.05
_SAMPLE: Final = 100_000


@dataclass(frozen=True)
class Summary:
    """Fields of ``tradelab_contracts.engine.BacktestSummary``, as plain values."""

    final_equity: float
    total_return: float
    max_drawdown: float
    sharpe: float | None
    trades: int
    exposure: float
    fees_paid: float
    metrics: dict[str, float | None] = field(default_factory=dict)


def periods_per_year(timeframe: str | None) -> float:
    """Return how many bars of ``timeframe`` make a year.

    Daily bars: 252 trading days. Intraday bars: 252 sessions of 6.5 hours (390 minutes), so
    ``1m`` 98,280, ``5m`` 19,656, ``15m`` 6,552, ``30m`` 3,276, ``1h`` 1,638, ``4h`` 409.5.
    ``Nd`` 252/N, ``Nw`` 52/N, ``Nmo`` 12/N. Irregular, unknown or None: 252.
    """
    match = _TIMEFRAME.match(timeframe or "")
    if match is None:
        return TRADING_DAYS
    count, unit = float(match.group(1)), match.group(2)
    per_unit = {
        "m": TRADING_DAYS * SESSION_HOURS * 60.0,
        "h": TRADING_DAYS * SESSION_HOURS,
        "d": TRADING_DAYS,
        "w": WEEKS,
        "mo": MONTHS,
    }[unit]
    return per_unit / count


def infer_timeframe(time: IntArray) -> str:
    """Return the bar size of int64-nanosecond timestamps from their median positive spacing.

    Same rule as the datasets service: within 5 % of 1m, 5m, 15m, 30m, 1h, 4h, 1d or 1w,
    28 to 31 days for 1mo, ``"irregular"`` otherwise (or with fewer than two timestamps). Long
    series use up to 100,000 evenly spread consecutive pairs.
    """
    stamps = np.asarray(time, dtype=np.int64)
    # Up to _SAMPLE evenly spread consecutive pairs: the median is as telling and much cheaper.
    pairs = np.arange(0, stamps.size - 1, max(1, (stamps.size - 1) // _SAMPLE))
    deltas = stamps[pairs + 1] - stamps[pairs]
    positive = deltas[deltas > 0]
    if positive.size == 0:
        return IRREGULAR
    minutes = float(np.median(positive)) / _NS_PER_MINUTE
    if _MONTH_DAYS[0] * 1440 <= minutes <= _MONTH_DAYS[1] * 1440:
        return "1mo"
    for label, step in _KNOWN_STEPS_MIN.items():
        if abs(minutes - step) <= step * _TOLERANCE:
            return label
    return IRREGULAR


def max_drawdown(equity: FloatArray, initial_cash: float) -> float:
    """Largest fall from a running peak, as a positive fraction of that peak.

    The running peak starts at ``initial_cash``. Above 1 only if equity turns negative.
    """
    values = np.ascontiguousarray(equity, dtype=np.float64)
    return float(equity_stats_nb(values, np.zeros_like(values), initial_cash)[0])


def _sharpe(mean: float, std: float, ann_factor: float) -> float | None:
    if not (math.isfinite(mean) and math.isfinite(std)) or std == 0.0:
        return None
    return mean / std * math.sqrt(ann_factor)


def sharpe_ratio(equity: FloatArray, initial_cash: float, ann_factor: float) -> float | None:
    """Annualised Sharpe ratio of per-bar simple returns, risk-free 0, sample std (ddof=1).

    Returns are ``v[t] / v[t-1] - 1`` over ``v = [initial_cash, *equity]``. None when fewer
    than two returns, when their std is 0, or when equity is not positive (returns undefined).
    """
    values = np.ascontiguousarray(equity, dtype=np.float64)
    _, mean, std, _, _ = equity_stats_nb(values, np.zeros_like(values), initial_cash)
    return _sharpe(float(mean), float(std), ann_factor)


def summarise(
    equity: FloatArray,
    position: FloatArray,
    trades: TradeRecords,
    *,
    initial_cash: float,
    fees_paid: float,
    time: IntArray,
    timeframe: str | None = None,
    both_hit_bars: int = 0,
) -> Summary:
    """Summarise one run. ``timeframe`` None is inferred from ``time``."""
    frame = timeframe if timeframe is not None else infer_timeframe(time)
    ann_factor = periods_per_year(frame)
    final_equity = float(equity[-1])
    open_trades = int(np.count_nonzero(trades["is_open"]))
    drawdown, mean, std, _, exposed = equity_stats_nb(
        np.ascontiguousarray(equity, dtype=np.float64),
        np.ascontiguousarray(position, dtype=np.float64),
        initial_cash,
    )
    return Summary(
        final_equity=final_equity,
        total_return=final_equity / initial_cash - 1.0,
        max_drawdown=float(drawdown),
        sharpe=_sharpe(float(mean), float(std), ann_factor),
        trades=len(trades) - open_trades,
        exposure=int(exposed) / len(position),
        fees_paid=fees_paid,
        metrics={
            "open_trades": float(open_trades),
            "both_hit_bars": float(both_hit_bars),
            "periods_per_year": ann_factor,
        },
    )
