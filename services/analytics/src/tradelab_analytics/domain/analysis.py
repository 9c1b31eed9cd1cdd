"""One flat dictionary of every metric of a backtest (names: docs/metrics.md)."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import numpy.typing as npt

from tradelab_analytics.domain import distribution_metrics as dist
from tradelab_analytics.domain import returns_metrics as rets
from tradelab_analytics.domain.benchmark_metrics import alpha_beta, buy_and_hold_returns
from tradelab_analytics.domain.conventions import (
    as_float_array,
    periods_per_year,
    returns_from_equity,
)
from tradelab_analytics.domain.trade_metrics import trade_metrics


def returns_summary(
    returns: npt.ArrayLike, periods: float, risk_free: float = 0.0
) -> dict[str, float | None]:
    """Return every returns-based metric of per-bar simple ``returns``."""
    return {
        "total_return": rets.total_return(returns),
        "cagr": rets.cagr(returns, periods),
        "annual_volatility": rets.annual_volatility(returns, periods),
        "sharpe": rets.sharpe(returns, periods, risk_free),
        "sortino": rets.sortino(returns, periods, risk_free),
        "calmar": rets.calmar(returns, periods),
        "omega": rets.omega(returns, periods, risk_free),
        "max_drawdown": rets.max_drawdown(returns),
        **rets.drawdown_summary(returns),
        "ulcer_index": rets.ulcer_index(returns),
        "stability": rets.stability(returns),
        "var_95": dist.historical_var(returns),
        "cvar_95": dist.historical_cvar(returns),
        "parametric_var_95": dist.parametric_var(returns),
        "skew": dist.skew(returns),
        "kurtosis": dist.kurtosis(returns),
        "tail_ratio": dist.tail_ratio(returns),
    }


def _closed_trades_metrics(trades: Mapping[str, npt.ArrayLike]) -> dict[str, float | None]:
    """Return the trade statistics of the closed trades in engine-style trade columns."""
    pnl = as_float_array(trades["pnl"])
    is_open = np.asarray(trades.get("is_open", np.zeros(pnl.size, dtype=bool)), dtype=bool)
    closed = ~is_open
    fees = np.concatenate(
        (
            as_float_array(trades.get("entry_fee", np.zeros(pnl.size))),
            as_float_array(trades.get("exit_fee", np.zeros(pnl.size))),
        )
    )
    metrics = trade_metrics(
        pnl[closed],
        as_float_array(trades["return"])[closed],
        as_float_array(trades["bars_held"])[closed],
        fees,
    )
    metrics["open_trades"] = float(is_open.sum())
    return metrics


def analyse(
    equity: npt.ArrayLike,
    time_ns: npt.ArrayLike,
    trades: Mapping[str, npt.ArrayLike],
    initial_cash: float,
    timeframe: str | None,
    benchmark_close: npt.ArrayLike | None = None,
    risk_free: float = 0.0,
) -> dict[str, float | None]:
    """Return every metric of a backtest as one flat ``{name: value or None}`` dictionary.

    Parameters
    ----------
    equity : array_like
        Equity at each bar's close (the engine's per-bar output).
    time_ns : array_like
        Bar times, int64 ns UTC (checked for length; calendar tables are in ``periodic``).
    trades : mapping of str to array_like
        Engine trade columns: ``pnl``, ``return``, ``bars_held`` required; ``is_open``,
        ``entry_fee``, ``exit_fee`` used when present. Open trades are left out of the trade
        statistics but their entry fee counts in ``total_fees``.
    initial_cash : float
        Equity before the first bar, prepended so the first bar has a return.
    timeframe : str or None
        Bar size, for the periods per year.
    benchmark_close : array_like, optional
        The asset's closes, one per bar: alpha and beta are taken against buy-and-hold.
    risk_free : float, default 0
        Annual risk-free rate.

    Returns
    -------
    dict
        Keys as listed in docs/metrics.md; None wherever a metric is undefined (never NaN).
    """
    values = as_float_array(equity)
    if np.asarray(time_ns).size != values.size:
        msg = "equity and time_ns must have one value per bar"
        raise ValueError(msg)
    periods = periods_per_year(timeframe)
    returns = returns_from_equity(values, initial_cash)
    metrics: dict[str, float | None] = {
        "periods_per_year": periods,
        "bars": float(values.size),
        "final_equity": float(values[-1]) if values.size else float(initial_cash),
        **returns_summary(returns, periods, risk_free),
        "alpha": None,
        "beta": None,
        "benchmark_return": None,
    }
    if benchmark_close is not None:
        benchmark = buy_and_hold_returns(benchmark_close)
        metrics["alpha"], metrics["beta"] = alpha_beta(returns, benchmark, periods, risk_free)
        metrics["benchmark_return"] = rets.total_return(benchmark)
    metrics.update(_closed_trades_metrics(trades))
    return metrics
