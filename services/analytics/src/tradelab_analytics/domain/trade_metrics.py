"""Statistics of closed trades: win rate, payoffs, profit factor, expectancy, SQN, Kelly, streaks.

Inputs are per-trade arrays of the same length, closed trades only (an open trade's pnl is
unrealised). A trade wins when its pnl is > 0 and loses when it is < 0; a zero-pnl trade is
neither but counts in the number of trades. Formulas: docs/metrics.md.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from tradelab_analytics.domain.conventions import DDOF, as_float_array, finite_or_none

TRADE_METRIC_NAMES = (
    "trades",
    "win_rate",
    "best_trade",
    "worst_trade",
    "avg_trade",
    "avg_win",
    "avg_loss",
    "largest_win",
    "largest_loss",
    "profit_factor",
    "expectancy",
    "sqn",
    "kelly",
    "max_trade_duration",
    "avg_trade_duration",
    "longest_winning_streak",
    "longest_losing_streak",
    "total_fees",
)
"""Keys of :func:`trade_metrics`, in order."""


def longest_streak(flags: npt.ArrayLike) -> int:
    """Return the length of the longest run of consecutive True values (0 when none)."""
    mask = np.asarray(flags, dtype=bool)
    if not mask.any():
        return 0
    edges = np.diff(np.concatenate(([0], mask.astype(np.int8), [0])))
    return int(np.max(np.flatnonzero(edges == -1) - np.flatnonzero(edges == 1)))


def _mean_or_none(values: npt.NDArray[np.float64]) -> float | None:
    """Return the mean, or None for an empty array."""
    return None if values.size == 0 else finite_or_none(np.mean(values))


def sqn(returns: npt.ArrayLike) -> float | None:
    """Return the system quality number ``mean(R) / std(R, ddof=1) * sqrt(n)`` on trade returns.

    None with fewer than two trades or when every trade returned the same.
    """
    r = as_float_array(returns)
    if r.size < 2 or np.ptp(r) == 0.0:
        return None
    return finite_or_none(np.mean(r) / np.std(r, ddof=DDOF) * np.sqrt(r.size))


def kelly(win_rate: float | None, avg_win: float | None, avg_loss: float | None) -> float | None:
    """Return the Kelly fraction ``p - (1 - p) / (avg_win / |avg_loss|)``.

    None without both a winning and a losing trade (the payoff ratio is undefined).
    """
    if win_rate is None or avg_win is None or avg_loss is None or avg_loss == 0.0:
        return None
    payoff = avg_win / abs(avg_loss)
    return None if payoff == 0.0 else finite_or_none(win_rate - (1.0 - win_rate) / payoff)


def profit_factor(pnl: npt.ArrayLike) -> float | None:
    """Return ``sum(pnl > 0) / |sum(pnl < 0)|``; None without a losing trade."""
    values = as_float_array(pnl)
    losses = -values[values < 0.0].sum()
    return None if losses <= 0.0 else finite_or_none(values[values > 0.0].sum() / losses)


def trade_metrics(
    pnl: npt.ArrayLike,
    returns: npt.ArrayLike,
    bars_held: npt.ArrayLike,
    fees: npt.ArrayLike,
) -> dict[str, float | None]:
    """Return the statistics of closed trades, keyed by :data:`TRADE_METRIC_NAMES`.

    Parameters
    ----------
    pnl : array_like
        Profit or loss of each trade, fees deducted (currency).
    returns : array_like
        Return of each trade (fraction of the capital committed).
    bars_held : array_like
        Bars from entry to exit of each trade.
    fees : array_like
        Fees to total; NaN entries (an open trade's missing exit fee) are skipped.

    Returns
    -------
    dict
        ``trades`` and ``total_fees`` are always numbers; the other statistics are None with
        no trades (and where noted in docs/metrics.md).
    """
    p = as_float_array(pnl)
    r = as_float_array(returns)
    held = as_float_array(bars_held)
    if not p.size == r.size == held.size:
        msg = "pnl, returns and bars_held must have one value per trade"
        raise ValueError(msg)
    wins = p > 0.0
    losses = p < 0.0
    n = p.size
    win_rate = float(wins.sum() / n) if n else None
    avg_win = _mean_or_none(r[wins])
    avg_loss = _mean_or_none(r[losses])
    return {
        "trades": float(n),
        "win_rate": win_rate,
        "best_trade": finite_or_none(r.max()) if n else None,
        "worst_trade": finite_or_none(r.min()) if n else None,
        "avg_trade": _mean_or_none(r),
        "avg_win": avg_win,
        "avg_loss": avg_loss,
        "largest_win": finite_or_none(p[wins].max()) if wins.any() else None,
        "largest_loss": finite_or_none(p[losses].min()) if losses.any() else None,
        "profit_factor": profit_factor(p),
        "expectancy": _mean_or_none(p),
        "sqn": sqn(r),
        "kelly": kelly(win_rate, avg_win, avg_loss),
        "max_trade_duration": float(held.max()) if n else None,
        "avg_trade_duration": _mean_or_none(held),
        "longest_winning_streak": float(longest_streak(wins)),
        "longest_losing_streak": float(longest_streak(losses)),
        "total_fees": float(np.nansum(as_float_array(fees))),
    }
