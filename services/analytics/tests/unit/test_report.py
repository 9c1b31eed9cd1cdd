"""The HTML report is one offline page: plotly.js inline once, every chart, escaped text."""

import html
import json
import re
from typing import Any

import numpy as np
import pytest

from services.analytics.tests.unit.series import random_returns
from tradelab_analytics.domain.charts import CHART_NAMES, NAT, ChartInputs, build_charts
from tradelab_analytics.domain.drawdowns import worst_drawdowns
from tradelab_analytics.domain.report import (
    CSP,
    chart_ids,
    format_metric,
    plotly_js,
    render_report,
    script_json,
)
from tradelab_analytics.domain.run_analysis import drawdown_rows

ATTACK = "<script>alert(1)</script>"
METRICS: dict[str, float | None] = {
    "total_return": 0.1234,
    "sharpe": 1.23456,
    "trades": 42.0,
    "alpha": None,
    ATTACK: 1.0,
}


def small_charts() -> dict[str, dict[str, Any]]:
    """Return the charts of 300 seeded daily bars with one closed trade."""
    bars = 300
    time_ns = np.datetime64("2021-03-01", "ns").astype(np.int64) + 86_400 * 10**9 * np.arange(
        bars, dtype=np.int64
    )
    equity = np.asarray(1_000.0 * np.cumprod(1.0 + random_returns(bars=bars)), dtype=np.float64)
    inputs = ChartInputs(
        time_ns=time_ns,
        equity=equity,
        close=np.asarray(equity / 10.0, dtype=np.float64),
        entry_time_ns=time_ns[[5, 100]],
        exit_time_ns=np.array([time_ns[20], NAT], dtype=np.int64),
        entry_price=np.array([1.0, 2.0]),
        exit_price=np.array([1.5, np.nan]),
        initial_cash=1_000.0,
        timeframe="1d",
        rolling_window=30,
    )
    return build_charts(inputs)


@pytest.fixture(scope="module")
def page() -> str:
    charts = small_charts()
    charts["equity"]["layout"]["title"] = {"text": f"</script>{ATTACK}"}
    equity = 1.0 + np.cumsum(random_returns(seed=5, bars=2_000))
    times = np.datetime64("2020-01-01", "ns").astype(np.int64) + np.arange(2_000) * 86_400 * 10**9
    rows = drawdown_rows(worst_drawdowns(equity, count=7), times)
    return render_report(ATTACK, "SMA & friends", METRICS, charts, rows)


def outside_bundle(page: str) -> str:
    """Return the page with the embedded plotly.js bundle cut out."""
    assert page.count(plotly_js()) == 1
    return page.replace(plotly_js(), "")


def test_plotly_js_is_embedded_exactly_once(page: str) -> None:
    bundle = plotly_js()
    assert len(bundle) > 1_000_000
    assert page.count(bundle) == 1
    assert page.count("plotly.js v") == 1  # the bundle's banner
    assert "<script src" not in outside_bundle(page)


def test_every_chart_has_its_div_and_draws_its_figure(page: str) -> None:
    rest = outside_bundle(page)
    for div_id in chart_ids(list(CHART_NAMES)):
        assert f'<div class="chart" id="{div_id}"></div>' in rest
        assert f'Plotly.newPlot("{div_id}",' in rest
    assert rest.count("Plotly.newPlot(") == len(CHART_NAMES)
    assert '{"displaylogo":false,"responsive":true}' in rest


def test_metric_names_and_formatted_values_are_listed(page: str) -> None:
    rest = outside_bundle(page)
    for name in ("total_return", "sharpe", "trades", "alpha"):
        assert f">{name}</th>" in rest
    assert ">12.34 %</td>" in rest
    assert ">1.235</td>" in rest
    assert ">42</td>" in rest
    assert ">—</td>" in rest


def test_worst_drawdowns_table_shows_five_periods(page: str) -> None:
    table = outside_bundle(page).split("<h2>Worst drawdowns</h2>", 1)[1]
    assert table.count("<tr>") == 1 + 5


def test_text_and_figure_json_cannot_inject_markup(page: str) -> None:
    rest = outside_bundle(page)
    assert ATTACK not in rest
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in rest
    assert "SMA &amp; friends" in rest
    # The only script elements are the bundle's and one per chart.
    assert rest.count("<script>") == 1 + len(CHART_NAMES)
    assert rest.count("</script>") == 1 + len(CHART_NAMES)


def test_page_loads_nothing_from_the_network(page: str) -> None:
    rest = outside_bundle(page)
    assert re.search(r"https?://", rest) is None
    assert "@import" not in rest
    assert "<link" not in rest
    assert '<meta charset="utf-8">' in rest
    assert f'<meta http-equiv="Content-Security-Policy" content="{html.escape(CSP)}">' in rest
    assert "default-src 'none'" in CSP


def test_an_empty_report_still_renders() -> None:
    html_page = render_report("Empty", "", {}, {})
    assert "Plotly.newPlot(" not in outside_bundle(html_page)
    assert "Worst drawdowns" not in html_page


def test_script_json_round_trips_and_hides_closing_tags() -> None:
    value = {"title": "</script><!-- & \u2028 >", "values": [1.5, None]}
    text = script_json(value)
    assert "<" not in text
    assert ">" not in text
    assert "\u2028" not in text
    assert json.loads(text) == value


def test_chart_ids_are_unique_and_attribute_safe() -> None:
    assert chart_ids(["equity", 'a"b', "a-b"]) == ["chart-equity", "chart-a-b", "chart-a-b-2"]


@pytest.mark.parametrize(
    ("name", "value", "shown"),
    [
        ("max_drawdown", 0.25, "25.00 %"),
        ("win_rate", None, "—"),
        ("sharpe", float("nan"), "—"),
        ("sharpe", 1.5, "1.5"),
        ("final_equity", 123_456.789, "123,456.79"),
        ("bars", 1_500.0, "1,500"),
    ],
)
def test_metric_formatting(name: str, value: float | None, shown: str) -> None:
    assert format_metric(name, value) == shown


def test_drawdown_period_without_recovery_shows_a_dash() -> None:
    period = {
        "start": "2020-01-03T00:00:00Z",
        "trough": "2020-01-09T00:00:00Z",
        "recovery": None,
        "depth": 0.125,
        "bars": 9,
    }
    table = render_report("t", "s", {}, {}, [period]).split("<h2>Worst drawdowns</h2>", 1)[1]
    assert ">12.50 %</td>" in table
    assert ">—</td>" in table
