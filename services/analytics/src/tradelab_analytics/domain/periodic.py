"""Calendar-period returns: monthly and yearly tables from an equity curve with its times."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import polars as pl

from tradelab_analytics.domain.conventions import as_float_array


def _period_returns(
    time_ns: npt.ArrayLike, equity: npt.ArrayLike, initial_cash: float, unit: str
) -> tuple[npt.NDArray[np.datetime64], npt.NDArray[np.float64]]:
    """Return each calendar period's label and its compounded return."""
    values = as_float_array(equity)
    stamps = np.asarray(time_ns, dtype=np.int64)
    if stamps.size != values.size:
        msg = f"time ({stamps.size}) and equity ({values.size}) differ in length"
        raise ValueError(msg)
    labels = stamps.view("M8[ns]").astype(f"M8[{unit}]")
    # Last bar of each period (times are oldest first): where the label changes, and the end.
    last = np.flatnonzero(np.concatenate((labels[1:] != labels[:-1], [True])))
    closing = values[last]
    opening = np.concatenate(([float(initial_cash)], closing[:-1]))
    with np.errstate(divide="ignore", invalid="ignore"):
        returns = np.where(opening > 0, closing / opening - 1.0, np.nan)
    return labels[last], np.asarray(returns, dtype=np.float64)


def monthly_returns(
    time_ns: npt.ArrayLike, equity: npt.ArrayLike, initial_cash: float
) -> pl.DataFrame:
    """Return the compounded return of every calendar month (UTC) that has bars.

    Parameters
    ----------
    time_ns : array_like
        Bar times, int64 nanoseconds since the epoch (UTC), oldest first.
    equity : array_like
        Equity at each bar's close.
    initial_cash : float
        Equity before the first bar: the first month's return starts from it.

    Returns
    -------
    polars.DataFrame
        Columns ``year`` (Int32), ``month`` (Int8, 1-12), ``return`` (Float64): the month's last
        equity over the previous month's last equity (the initial cash for the first month)
        minus 1; null where the previous equity is not positive. Months without bars are absent.
    """
    labels, returns = _period_returns(time_ns, equity, initial_cash, "M")
    months = labels.astype(np.int64)  # months since 1970-01
    return pl.DataFrame(
        {
            "year": (1970 + months // 12).astype(np.int32),
            "month": (months % 12 + 1).astype(np.int8),
            "return": returns,
        }
    ).with_columns(pl.col("return").fill_nan(None))


def yearly_returns(
    time_ns: npt.ArrayLike, equity: npt.ArrayLike, initial_cash: float
) -> pl.DataFrame:
    """Return the compounded return of every calendar year (UTC) that has bars.

    Parameters
    ----------
    time_ns, equity, initial_cash
        As for :func:`monthly_returns`.

    Returns
    -------
    polars.DataFrame
        Columns ``year`` (Int32) and ``return`` (Float64), built like the monthly table.
    """
    labels, returns = _period_returns(time_ns, equity, initial_cash, "Y")
    years = labels.astype(np.int64) + 1970
    return pl.DataFrame({"year": years.astype(np.int32), "return": returns}).with_columns(
        pl.col("return").fill_nan(None)
    )
