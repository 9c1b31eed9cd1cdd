"""The report's charts as Plotly figure JSON: plain dicts, ready for ``json.dumps``.

Times are ISO-8601 strings in UTC without a zone suffix (``2024-01-02T09:30:00.000``), which
Plotly reads as dates; values are plain lists with None where undefined. Long series are
downsampled per line (:func:`downsample_indices`).
"""

from __future__ import annotations

import functools
import json
import math
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import plotly.graph_objects as go
from plotly.basedatatypes import BaseTraceType

from tradelab_analytics.domain.conventions import (
    FloatArray,
    IntArray,
    as_float_array,
    periods_per_year,
    returns_from_equity,
)
from tradelab_analytics.domain.drawdowns import underwater
from tradelab_analytics.domain.periodic import monthly_returns
from tradelab_analytics.domain.rolling import returns_histogram, rolling_sharpe

CHART_NAMES: Final = (
    "equity",
    "drawdown",
    "returns_histogram",
    "trades",
    "monthly_returns",
    "rolling_sharpe",
)
MAX_TRADE_MARKERS: Final = 2_000
"""Entry and exit markers are drawn for at most this many trades, the most recent ones."""
HISTOGRAM_BINS: Final = 50
NAT: Final = int(np.iinfo(np.int64).min)
"""The int64 time of an open trade's exit (numpy's NaT)."""

_MONTHS: Final = (
    "Jan",
    "Feb",
    "Mar",
    "Apr",
    "May",
    "Jun",
    "Jul",
    "Aug",
    "Sep",
    "Oct",
    "Nov",
    "Dec",
)
_TIME_AXIS: Final = "Time (UTC)"
_ENTRY_COLOUR: Final = "#2ca02c"
_EXIT_COLOUR: Final = "#d62728"


@dataclass(frozen=True, eq=False)  # eq=False: numpy arrays have no single truth value
class ChartInputs:
    """What the charts are drawn from: one backtest's bars and trades.

    Attributes
    ----------
    time_ns : numpy.ndarray
        Bar times, int64 ns since the epoch (UTC), oldest first.
    equity : numpy.ndarray
        Equity at each bar's close.
    close : numpy.ndarray or None
        The asset's closes, one per bar; None draws no buy-and-hold line and puts the equity
        behind the trade markers.
    entry_time_ns, exit_time_ns : numpy.ndarray
        Each trade's entry and exit time, int64 ns UTC; an open trade's exit is :data:`NAT`.
    entry_price, exit_price : numpy.ndarray
        Each trade's entry and exit price (the exit is ignored for open trades).
    initial_cash : float
        Equity before the first bar.
    timeframe : str or None
        Bar size, for the periods per year of the rolling Sharpe ratio.
    rolling_window : int
        Bars per window of the rolling Sharpe ratio, at least 2.
    risk_free : float
        Annual risk-free rate of the rolling Sharpe ratio.
    """

    time_ns: IntArray
    equity: FloatArray
    close: FloatArray | None
    entry_time_ns: IntArray
    exit_time_ns: IntArray
    entry_price: FloatArray
    exit_price: FloatArray
    initial_cash: float
    timeframe: str | None
    rolling_window: int = 126
    risk_free: float = 0.0

    def __post_init__(self) -> None:
        """Refuse bar or trade columns of different lengths and a window under 2 bars."""
        bars = {np.size(self.time_ns), np.size(self.equity)}
        if self.close is not None:
            bars.add(np.size(self.close))
        columns = (self.entry_time_ns, self.exit_time_ns, self.entry_price, self.exit_price)
        if len(bars) != 1 or len({np.size(column) for column in columns}) != 1:
            msg = "bar columns and trade columns must each have one length"
            raise ValueError(msg)
        if self.rolling_window < 2:  # a sample std needs two returns
            msg = f"rolling_window must be at least 2, got {self.rolling_window}"
            raise ValueError(msg)


def downsample_indices(values: npt.ArrayLike, max_points: int) -> IntArray:
    """Return the sorted indices of at most ``max_points`` values that keep the curve's shape.

    The first and the last value are kept; the values between are cut into equal buckets and
    each bucket keeps its minimum and its maximum (NaN ignored), so the global extremes, such
    as the deepest drawdown and the peak equity, always survive.

    Parameters
    ----------
    values : array_like
        The 1-D series to draw.
    max_points : int
        Most indices to return, at least 2.

    Returns
    -------
    numpy.ndarray
        Sorted unique int64 indices; all of them when there are at most ``max_points`` values.
    """
    v = as_float_array(values)
    if max_points < 2:  # the first and the last point
        msg = f"max_points must be at least 2, got {max_points}"
        raise ValueError(msg)
    if v.size <= max_points:
        return np.arange(v.size, dtype=np.int64)
    inner = v[1:-1]
    buckets = (max_points - 2) // 2
    picks = np.empty(0, dtype=np.int64)
    if buckets > 0:
        size = -(-inner.size // buckets)
        rows = -(-inner.size // size)
        pad = rows * size - inner.size
        nan = np.isnan(inner)
        low = np.concatenate((np.where(nan, np.inf, inner), np.full(pad, np.inf)))
        high = np.concatenate((np.where(nan, -np.inf, inner), np.full(pad, -np.inf)))
        starts = np.arange(rows, dtype=np.int64) * size
        lows = starts + low.reshape(rows, size).argmin(axis=1)
        highs = starts + high.reshape(rows, size).argmax(axis=1)
        picks = np.concatenate((lows, highs)) + 1
    ends = np.array([0, v.size - 1], dtype=np.int64)
    return np.unique(np.concatenate((ends, picks[picks < v.size - 1])))


def iso_times(time_ns: npt.ArrayLike) -> list[str]:
    """Return int64 UTC nanosecond times as ISO-8601 strings with milliseconds."""
    stamps = np.asarray(time_ns, dtype=np.int64).view("M8[ns]")
    texts: list[str] = np.datetime_as_string(stamps, unit="ms").tolist()
    return texts


def json_floats(values: npt.ArrayLike) -> list[float | None]:
    """Return floats as a list, None where a value is NaN or infinite (JSON has neither)."""
    return [value if math.isfinite(value) else None for value in as_float_array(values).tolist()]


@dataclass(frozen=True)
class Trace:
    """One trace: its Plotly type and style (validated by Plotly) and its data columns.

    The columns (``x``, ``y``, ...) are already plain JSON lists and join the trace after
    Plotly has serialised the style: Plotly's element-by-element validation of a few thousand
    points took about 90 % of an analysis (bench/latency.py), and changes nothing in them.
    """

    kind: type[BaseTraceType]
    style: dict[str, Any]
    columns: dict[str, list[Any]]


def line_trace(time_ns: IntArray, values: FloatArray, max_points: int, **style: Any) -> Trace:
    """Return a line trace of ``values`` against ``time_ns``, downsampled to ``max_points``."""
    keep = downsample_indices(values, max_points)
    columns: dict[str, list[Any]] = {"x": iso_times(time_ns[keep]), "y": json_floats(values[keep])}
    return Trace(go.Scatter, {"mode": "lines", **style}, columns)


@functools.cache
def _default_template() -> Any:
    """Plotly's default template as plain JSON, built once."""
    return json.loads(go.Figure().to_json())["layout"]["template"]


@functools.lru_cache(maxsize=256)
def _skeleton(spec: str) -> str:
    """The figure of ``spec`` (its traces' types and styles, and its layout) as Plotly JSON
    without data columns, built and validated by Plotly once per distinct figure.

    Building the figure objects, not the data, was what remained of an analysis' charts
    (~12 of 18 ms for 5,000 bars): the styles repeat from run to run, only titles with counts
    differ, and an analysis now parses six small cached strings instead.
    """
    traces, layout = json.loads(spec)
    data = [getattr(go, kind)(**style) for kind, style in traces]
    # A template given (empty) stops Plotly copying in its default; the JSON gets it back.
    figure = go.Figure(data=data, layout={"template": {}})
    figure.update_layout(**layout)
    plain = json.loads(figure.to_json())
    plain["layout"]["template"] = _default_template()
    return json.dumps(plain)


def figure_json(traces: list[Trace], title: str, x_title: str, y_title: str, **layout: Any) -> Any:
    """Return the figure of ``traces`` as plain JSON data, in Plotly's default template."""
    shape = {"title": title, "xaxis_title": x_title, "yaxis_title": y_title, **layout}
    styles = [[trace.kind.__name__, trace.style] for trace in traces]
    plain = json.loads(_skeleton(json.dumps([styles, shape], sort_keys=True)))
    for data, trace in zip(plain["data"], traces, strict=True):
        data.update(trace.columns)
    return plain


def _equity_chart(inputs: ChartInputs, max_points: int) -> Any:
    """Return the strategy's equity with buy-and-hold equity when closes are known."""
    time_ns = np.asarray(inputs.time_ns, dtype=np.int64)
    traces = [line_trace(time_ns, as_float_array(inputs.equity), max_points, name="Strategy")]
    if inputs.close is not None and np.size(inputs.close) > 0:
        close = as_float_array(inputs.close)
        with np.errstate(divide="ignore", invalid="ignore"):
            held = inputs.initial_cash * close / close[0]
        traces.append(line_trace(time_ns, held, max_points, name="Buy and hold"))
    return figure_json(traces, "Equity", _TIME_AXIS, "Equity")


def _drawdown_chart(inputs: ChartInputs, max_points: int) -> Any:
    """Return the underwater curve in percent, the initial cash counting as the first peak."""
    equity = np.concatenate(([float(inputs.initial_cash)], as_float_array(inputs.equity)))
    depth = underwater(equity)[1:] * 100.0
    time_ns = np.asarray(inputs.time_ns, dtype=np.int64)
    trace = line_trace(time_ns, depth, max_points, name="Drawdown", fill="tozeroy")
    return figure_json([trace], "Drawdown", _TIME_AXIS, "Drawdown (%)")


def _histogram_chart(inputs: ChartInputs) -> Any:
    """Return the histogram of per-bar returns in percent, as bars of precomputed counts."""
    returns = returns_from_equity(inputs.equity, inputs.initial_cash)
    edges, counts = returns_histogram(returns, HISTOGRAM_BINS)
    percent = edges * 100.0
    columns = {
        "x": json_floats((percent[:-1] + percent[1:]) / 2.0),
        "y": counts.tolist(),
        "width": json_floats(np.diff(percent)),
    }
    trace = Trace(go.Bar, {"name": "Bars"}, columns)
    return figure_json([trace], "Distribution of returns", "Return per bar (%)", "Bars")


def _trade_markers(inputs: ChartInputs) -> tuple[list[Trace], int]:
    """Return the entry and exit marker traces of the most recent trades, and the trade count."""
    entry_time = np.asarray(inputs.entry_time_ns, dtype=np.int64)
    recent = np.argsort(entry_time, kind="stable")[-MAX_TRADE_MARKERS:]
    exit_time = np.asarray(inputs.exit_time_ns, dtype=np.int64)[recent]
    exit_price = as_float_array(inputs.exit_price)[recent]
    closed = (exit_time != NAT) & np.isfinite(exit_price)
    entries = Trace(
        go.Scatter,
        {
            "mode": "markers",
            "name": "Entry",
            "marker": {"symbol": "triangle-up", "color": _ENTRY_COLOUR, "size": 9},
        },
        {
            "x": iso_times(entry_time[recent]),
            "y": json_floats(as_float_array(inputs.entry_price)[recent]),
        },
    )
    exits = Trace(
        go.Scatter,
        {
            "mode": "markers",
            "name": "Exit",
            "marker": {"symbol": "triangle-down", "color": _EXIT_COLOUR, "size": 9},
        },
        {"x": iso_times(exit_time[closed]), "y": json_floats(exit_price[closed])},
    )
    return [entries, exits], entry_time.size


def _trades_chart(inputs: ChartInputs, max_points: int) -> Any:
    """Return the close (or, without closes, the equity) with the trades' entries and exits."""
    time_ns = np.asarray(inputs.time_ns, dtype=np.int64)
    markers, count = _trade_markers(inputs)
    title = "Trades"
    if count > MAX_TRADE_MARKERS:
        title = f"Trades (the most recent {MAX_TRADE_MARKERS:,} of {count:,} shown)"
    if inputs.close is not None:
        line = line_trace(time_ns, as_float_array(inputs.close), max_points, name="Close")
        return figure_json([line, *markers], title, _TIME_AXIS, "Price")
    # Equity and prices differ in scale: the equity gets its own axis on the right.
    line = line_trace(time_ns, as_float_array(inputs.equity), max_points, name="Equity", yaxis="y2")
    right = {"title": {"text": "Equity"}, "overlaying": "y", "side": "right"}
    return figure_json([line, *markers], title, _TIME_AXIS, "Price", yaxis2=right)


def _monthly_chart(inputs: ChartInputs) -> Any:
    """Return the heatmap of monthly returns in percent, one row per year, oldest on top."""
    rows: list[list[float | None]] = []
    years: list[str] = []
    if np.size(inputs.time_ns) > 0:
        table = monthly_returns(inputs.time_ns, inputs.equity, inputs.initial_cash)
        first = int(table["year"].min())  # type: ignore[arg-type]  # a non-empty Int32 column
        last = int(table["year"].max())  # type: ignore[arg-type]  # as above
        years = [str(year) for year in range(first, last + 1)]
        rows = [[None] * len(_MONTHS) for _ in years]
        for year, month, value in table.iter_rows():
            rows[year - first][month - 1] = None if value is None else value * 100.0
    style = {
        "colorscale": "RdYlGn",
        "zmid": 0.0,
        "texttemplate": "%{z:.1f}",
        "hovertemplate": "%{y} %{x}: %{z:.2f} %<extra></extra>",
        "colorbar": {"title": {"text": "%"}},
    }
    trace = Trace(go.Heatmap, style, {"x": list(_MONTHS), "y": years, "z": rows})
    axis = {"type": "category", "autorange": "reversed"}
    return figure_json([trace], "Monthly returns (%)", "Month", "Year", yaxis=axis)


def _rolling_sharpe_chart(inputs: ChartInputs, max_points: int) -> Any:
    """Return the rolling Sharpe ratio from the first full window on."""
    window = inputs.rolling_window
    returns = returns_from_equity(inputs.equity, inputs.initial_cash)
    ratio = rolling_sharpe(returns, window, periods_per_year(inputs.timeframe), inputs.risk_free)
    time_ns = np.asarray(inputs.time_ns, dtype=np.int64)[window - 1 :]
    trace = line_trace(time_ns, ratio[window - 1 :], max_points, name="Sharpe")
    title = f"Rolling Sharpe ratio ({window}-bar window)"
    return figure_json([trace], title, _TIME_AXIS, "Sharpe ratio (annualised)")


def build_charts(inputs: ChartInputs, max_points: int = 2000) -> dict[str, dict[str, Any]]:
    """Return every chart of :data:`CHART_NAMES` as Plotly figure JSON.

    Parameters
    ----------
    inputs : ChartInputs
        The backtest's bars and trades.
    max_points : int, default 2000
        Most points per line; longer series keep their first, last and per-bucket extreme
        points (:func:`downsample_indices`).

    Returns
    -------
    dict
        ``{name: {"data": [...], "layout": {...}}}`` in :data:`CHART_NAMES` order, made of
        plain JSON types only.
    """
    return {
        "equity": _equity_chart(inputs, max_points),
        "drawdown": _drawdown_chart(inputs, max_points),
        "returns_histogram": _histogram_chart(inputs),
        "trades": _trades_chart(inputs, max_points),
        "monthly_returns": _monthly_chart(inputs),
        "rolling_sharpe": _rolling_sharpe_chart(inputs, max_points),
    }
