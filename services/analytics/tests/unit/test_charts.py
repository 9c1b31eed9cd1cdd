"""Chart figures are plain JSON, downsampled within bounds, and show the right numbers."""

import json
from typing import Any

import numpy as np
import plotly.graph_objects as go
import pytest

from services.analytics.tests.unit.series import FloatArray, random_returns
from tradelab_analytics.domain.charts import (
    CHART_NAMES,
    MAX_TRADE_MARKERS,
    NAT,
    ChartInputs,
    build_charts,
    downsample_indices,
)
from tradelab_analytics.domain.drawdowns import underwater
from tradelab_analytics.domain.periodic import monthly_returns

CASH = 10_000.0
DAY_NS = 86_400 * 10**9
MINUTE_NS = 60 * 10**9
START_NS = int(np.datetime64("2020-01-01T00:00", "ns").astype(np.int64))
EMPTY_TIMES = np.empty(0, dtype=np.int64)
EMPTY_PRICES = np.empty(0, dtype=np.float64)


def growth(start: float, returns: FloatArray) -> FloatArray:
    """Return the value of ``start`` compounded by ``returns`` after each bar."""
    return np.asarray(start * np.cumprod(1.0 + returns), dtype=np.float64)


def daily_inputs(bars: int = 600, *, with_close: bool = True, window: int = 20) -> ChartInputs:
    """Return seeded daily bars from 2020-01-01 with two trades, the second still open."""
    time_ns = START_NS + DAY_NS * np.arange(bars, dtype=np.int64)
    equity = growth(CASH, random_returns(seed=3, bars=bars))
    close = growth(100.0, random_returns(seed=4, bars=bars))
    return ChartInputs(
        time_ns=time_ns,
        equity=equity,
        close=close if with_close else None,
        entry_time_ns=time_ns[[10, 40]],
        exit_time_ns=np.array([time_ns[25], NAT], dtype=np.int64),
        entry_price=np.asarray(close[[10, 40]], dtype=np.float64),
        exit_price=np.array([close[25], np.nan]),
        initial_cash=CASH,
        timeframe="1d",
        rolling_window=window,
    )


def trace(figure: dict[str, Any], name: str) -> dict[str, Any]:
    """Return the trace called ``name``."""
    matches: list[dict[str, Any]] = [t for t in figure["data"] if t.get("name") == name]
    assert len(matches) == 1, [t.get("name") for t in figure["data"]]
    return matches[0]


@pytest.fixture(scope="module")
def charts() -> dict[str, dict[str, Any]]:
    return build_charts(daily_inputs())


def test_every_chart_is_built_in_order_as_strict_json(charts: dict[str, dict[str, Any]]) -> None:
    assert tuple(charts) == CHART_NAMES
    json.dumps(charts, allow_nan=False)
    for figure in charts.values():
        assert set(figure) == {"data", "layout"}
        assert figure["layout"]["title"]["text"]
        assert figure["layout"]["xaxis"]["title"]["text"]
        assert figure["layout"]["yaxis"]["title"]["text"]
        assert "mapbox" not in figure["layout"]


@pytest.mark.parametrize("with_close", [True, False])
def test_each_figure_is_what_plotly_makes_of_it_validating_every_point(with_close: bool) -> None:
    # The data columns join the traces after Plotly serialised their styles (charts.Trace):
    # Plotly validating the whole figure, every point included, changes nothing in it.
    for figure in build_charts(daily_inputs(with_close=with_close)).values():
        assert json.loads(go.Figure(figure).to_json()) == figure


def test_trace_counts_and_lengths(charts: dict[str, dict[str, Any]]) -> None:
    counts = {name: [len(t["x"]) for t in figure["data"]] for name, figure in charts.items()}
    assert counts == {
        "equity": [600, 600],
        "drawdown": [600],
        "returns_histogram": [50],
        "trades": [600, 2, 1],
        "monthly_returns": [12],
        "rolling_sharpe": [600 - 20 + 1],
    }
    assert len(charts["monthly_returns"]["data"][0]["z"]) == 2  # 2020 and 2021
    assert sum(charts["returns_histogram"]["data"][0]["y"]) == 600


def test_times_are_iso_utc_strings_and_values_the_inputs(
    charts: dict[str, dict[str, Any]],
) -> None:
    inputs = daily_inputs()
    strategy = trace(charts["equity"], "Strategy")
    assert strategy["x"][:2] == ["2020-01-01T00:00:00.000", "2020-01-02T00:00:00.000"]
    assert strategy["y"] == pytest.approx(inputs.equity.tolist(), rel=1e-15)
    held = trace(charts["equity"], "Buy and hold")
    assert inputs.close is not None
    assert held["y"] == pytest.approx((CASH * inputs.close / inputs.close[0]).tolist())
    drawdown = charts["drawdown"]["data"][0]
    expected = underwater(np.concatenate(([CASH], inputs.equity)))[1:] * 100.0
    assert drawdown["y"] == pytest.approx(expected.tolist(), rel=1e-12, abs=1e-12)
    assert drawdown["fill"] == "tozeroy"


def test_trade_markers_land_on_entry_and_exit_times_and_prices() -> None:
    time_ns = START_NS + DAY_NS * np.arange(5, dtype=np.int64)
    inputs = ChartInputs(
        time_ns=time_ns,
        equity=np.array([100.0, 101.0, 99.0, 102.0, 103.0]),
        close=np.array([10.0, 11.0, 12.0, 13.0, 14.0]),
        entry_time_ns=time_ns[[3, 0]],  # not in time order
        exit_time_ns=np.array([NAT, time_ns[2]], dtype=np.int64),
        entry_price=np.array([13.5, 10.5]),
        exit_price=np.array([np.nan, 12.5]),
        initial_cash=100.0,
        timeframe="1d",
        rolling_window=2,
    )
    figure = build_charts(inputs)["trades"]
    entries, exits = trace(figure, "Entry"), trace(figure, "Exit")
    assert entries["x"] == ["2020-01-01T00:00:00.000", "2020-01-04T00:00:00.000"]
    assert entries["y"] == [10.5, 13.5]
    assert entries["marker"]["symbol"] == "triangle-up"
    assert exits["x"] == ["2020-01-03T00:00:00.000"]  # the open trade has no exit
    assert exits["y"] == [12.5]
    assert exits["marker"]["symbol"] == "triangle-down"
    assert trace(figure, "Close")["y"] == [10.0, 11.0, 12.0, 13.0, 14.0]
    assert figure["layout"]["title"]["text"] == "Trades"


def test_trade_markers_are_capped_at_the_most_recent_trades() -> None:
    bars = 3 * MAX_TRADE_MARKERS
    base = daily_inputs(bars)
    count = MAX_TRADE_MARKERS + 500
    entries = base.time_ns[:count]
    inputs = ChartInputs(
        time_ns=base.time_ns,
        equity=base.equity,
        close=base.close,
        entry_time_ns=entries,
        exit_time_ns=entries + DAY_NS,
        entry_price=np.arange(count, dtype=np.float64),
        exit_price=np.arange(count, dtype=np.float64) + 0.5,
        initial_cash=CASH,
        timeframe="1d",
        rolling_window=20,
    )
    figure = build_charts(inputs)["trades"]
    assert trace(figure, "Entry")["y"] == list(np.arange(500.0, count))
    assert len(trace(figure, "Exit")["x"]) == MAX_TRADE_MARKERS
    assert "2,000 of 2,500" in figure["layout"]["title"]["text"]


def test_without_closes_equity_stands_alone_and_carries_the_trades() -> None:
    charts = build_charts(daily_inputs(with_close=False))
    assert [t["name"] for t in charts["equity"]["data"]] == ["Strategy"]
    line = trace(charts["trades"], "Equity")
    assert line["yaxis"] == "y2"
    assert charts["trades"]["layout"]["yaxis2"]["overlaying"] == "y"
    assert len(trace(charts["trades"], "Entry")["x"]) == 2


def test_monthly_heatmap_holds_the_monthly_returns_in_percent(
    charts: dict[str, dict[str, Any]],
) -> None:
    inputs = daily_inputs()
    heatmap = charts["monthly_returns"]["data"][0]
    table = monthly_returns(inputs.time_ns, inputs.equity, CASH)
    assert heatmap["y"] == ["2020", "2021"]
    cells = {
        (int(year), month): value
        for year, row in zip(heatmap["y"], heatmap["z"], strict=True)
        for month, value in enumerate(row, start=1)
        if value is not None
    }
    expected = {(y, m): r * 100.0 for y, m, r in table.iter_rows()}
    assert cells.keys() == expected.keys()
    for key, value in expected.items():
        assert cells[key] == pytest.approx(value, rel=1e-12)
    assert len(cells) == 20  # 600 days from January 2020: up to August 2021


def test_rolling_sharpe_names_its_window(charts: dict[str, dict[str, Any]]) -> None:
    figure = charts["rolling_sharpe"]
    assert "20-bar" in figure["layout"]["title"]["text"]
    assert figure["data"][0]["x"][0] == "2020-01-20T00:00:00.000"  # the 20th bar
    assert all(value is not None for value in figure["data"][0]["y"])


def test_a_million_bars_are_drawn_within_the_point_bound() -> None:
    bars = 1_000_000
    returns = random_returns(seed=9, bars=bars) / 20.0
    equity = growth(CASH, returns)
    inputs = ChartInputs(
        time_ns=START_NS + MINUTE_NS * np.arange(bars, dtype=np.int64),
        equity=equity,
        close=growth(CASH / 100.0, returns),
        entry_time_ns=EMPTY_TIMES,
        exit_time_ns=EMPTY_TIMES,
        entry_price=EMPTY_PRICES,
        exit_price=EMPTY_PRICES,
        initial_cash=CASH,
        timeframe="1m",
        rolling_window=390,
    )
    charts = build_charts(inputs, max_points=1_000)
    for figure in charts.values():
        for line in figure["data"]:
            assert len(line["x"]) <= 1_000
    strategy = trace(charts["equity"], "Strategy")
    assert max(strategy["y"]) == pytest.approx(equity.max(), rel=1e-15)
    deepest = underwater(np.concatenate(([CASH], equity)))[1:].min() * 100.0
    assert min(charts["drawdown"]["data"][0]["y"]) == pytest.approx(deepest, rel=1e-12)
    assert len(json.dumps(charts)) < 2_000_000


def test_mismatched_columns_are_refused() -> None:
    base = daily_inputs(50)
    with pytest.raises(ValueError, match="one length"):
        ChartInputs(
            base.time_ns,
            base.equity[:-1],
            None,
            EMPTY_TIMES,
            EMPTY_TIMES,
            EMPTY_PRICES,
            EMPTY_PRICES,
            CASH,
            "1d",
        )


@pytest.mark.parametrize("max_points", [2, 3, 4, 5, 10, 999, 1_000])
def test_downsampling_is_bounded_sorted_and_keeps_the_ends_and_extremes(max_points: int) -> None:
    values = np.cumsum(random_returns(seed=2, bars=12_345))
    kept = downsample_indices(values, max_points)
    assert kept.dtype == np.int64
    assert kept.size <= max_points
    assert kept[0] == 0
    assert kept[-1] == values.size - 1
    assert (np.diff(kept) > 0).all()
    if max_points >= 4:  # room for a bucket's minimum and maximum
        assert values[kept].min() == values.min()
        assert values[kept].max() == values.max()


def test_downsampling_ignores_nan_and_keeps_short_series_whole() -> None:
    values = np.concatenate((np.full(500, np.nan), np.linspace(0.0, 1.0, 500), [-1.0, 0.0]))
    kept = downsample_indices(values, 50)
    assert kept.size <= 50
    assert values[kept][np.isfinite(values[kept])].min() == -1.0
    assert values[kept][np.isfinite(values[kept])].max() == 1.0
    np.testing.assert_array_equal(downsample_indices(values[:50], 50), np.arange(50))
    assert downsample_indices([], 50).size == 0
    with pytest.raises(ValueError, match="max_points"):
        downsample_indices(values, 1)
