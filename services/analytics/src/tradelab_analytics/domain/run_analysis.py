"""Everything analytics stores for one run: metrics, tables and chart figures (JSON-ready)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from tradelab_analytics.domain.analysis import analyse
from tradelab_analytics.domain.charts import (
    ChartInputs,
    build_charts,
    downsample_indices,
    iso_times,
    json_floats,
)
from tradelab_analytics.domain.conventions import finite_or_none, returns_from_equity
from tradelab_analytics.domain.drawdowns import DrawdownPeriod, worst_drawdowns
from tradelab_analytics.domain.periodic import monthly_returns, yearly_returns
from tradelab_analytics.domain.rolling import rolling_sharpe, rolling_volatility

NAT = np.iinfo(np.int64).min
WORST_DRAWDOWNS = 5


@dataclass(frozen=True)
class RunAnalysis:
    """The stored analysis of one run."""

    metrics: dict[str, float | None]
    worst_drawdowns: list[dict[str, Any]]
    monthly_returns: list[dict[str, Any]]
    yearly_returns: list[dict[str, Any]]
    charts: dict[str, dict[str, Any]]


def iso_utc(stamp_ns: int) -> str:
    """Format int64 nanoseconds since the epoch as ISO-8601 UTC."""
    return f"{np.datetime_as_string(np.datetime64(stamp_ns, 'ns'), unit='s')}Z"


def _value(value: float | None) -> float | None:
    return None if value is None else finite_or_none(value)


def drawdown_rows(
    periods: list[DrawdownPeriod], time_ns: npt.NDArray[np.int64]
) -> list[dict[str, Any]]:
    """Drawdown periods with bar indices turned into times."""
    return [
        {
            "start": iso_utc(int(time_ns[p.start])),
            "trough": iso_utc(int(time_ns[p.trough])),
            "recovery": None if p.recovery is None else iso_utc(int(time_ns[p.recovery])),
            "depth": p.depth,
            "bars": p.length,
        }
        for p in periods
    ]


def analyse_run(
    time_ns: npt.NDArray[np.int64],
    equity: npt.NDArray[np.float64],
    close: npt.NDArray[np.float64] | None,
    trades: Mapping[str, npt.NDArray[Any]],
    initial_cash: float,
    timeframe: str | None,
    rolling_window: int,
) -> RunAnalysis:
    """Compute the metrics, the calendar and drawdown tables and every chart of one run."""
    metrics = analyse(equity, time_ns, trades, initial_cash, timeframe, benchmark_close=close)
    monthly = monthly_returns(time_ns, equity, initial_cash)
    yearly = yearly_returns(time_ns, equity, initial_cash)
    periods = worst_drawdowns(equity, WORST_DRAWDOWNS)
    empty_times = np.empty(0, dtype=np.int64)
    empty_prices = np.empty(0, dtype=np.float64)
    charts = build_charts(
        ChartInputs(
            time_ns=time_ns,
            equity=equity,
            close=close,
            entry_time_ns=np.asarray(trades.get("entry_time_ns", empty_times), dtype=np.int64),
            exit_time_ns=np.asarray(trades.get("exit_time_ns", empty_times), dtype=np.int64),
            entry_price=np.asarray(trades.get("entry_price", empty_prices), dtype=np.float64),
            exit_price=np.asarray(trades.get("exit_price", empty_prices), dtype=np.float64),
            initial_cash=initial_cash,
            timeframe=timeframe,
            rolling_window=rolling_window,
        )
    )
    return RunAnalysis(
        metrics=metrics,
        worst_drawdowns=drawdown_rows(periods, time_ns),
        monthly_returns=[
            {"year": r["year"], "month": r["month"], "value": _value(r["return"])}
            for r in monthly.iter_rows(named=True)
        ],
        yearly_returns=[
            {"year": r["year"], "value": _value(r["return"])} for r in yearly.iter_rows(named=True)
        ],
        charts=charts,
    )


def rolling_series(
    time_ns: npt.NDArray[np.int64],
    equity: npt.NDArray[np.float64],
    initial_cash: float,
    periods: float,
    window: int,
    max_points: int = 2_000,
) -> dict[str, Any]:
    """Rolling Sharpe and volatility over ``window`` bars, from the first full window on.

    Thinned to ``max_points`` keeping each bucket's extreme Sharpe values (both series share the
    times). Empty lists when the run has fewer bars than the window.
    """
    returns = returns_from_equity(equity, initial_cash)
    sharpe = rolling_sharpe(returns, window, periods)[window - 1 :]
    volatility = rolling_volatility(returns, window, periods)[window - 1 :]
    keep = (
        downsample_indices(np.nan_to_num(sharpe), max_points)
        if sharpe.size
        else np.empty(0, dtype=np.int64)
    )
    return {
        "window": window,
        "time": iso_times(time_ns[window - 1 :][keep]),
        "sharpe": json_floats(sharpe[keep]),
        "volatility": json_floats(volatility[keep]),
    }
