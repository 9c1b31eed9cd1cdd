"""The backtest report: one self-contained HTML page that opens offline.

plotly.js is embedded once, inline; every chart is drawn from its figure JSON into its own div.
A Content-Security-Policy meta tag lets the page load nothing from anywhere.
"""

from __future__ import annotations

import html
import json
import math
import re
from collections.abc import Mapping, Sequence
from functools import cache
from typing import Any, Final

import plotly.offline

CSP: Final = (
    "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data: blob:"
)
"""Inline scripts and styles only; heatmaps and image export draw through data: and blob:."""
PLOT_CONFIG: Final = {"displaylogo": False, "responsive": True}
MISSING: Final = "—"
PERCENT_METRICS: Final = frozenset(
    {
        "total_return",
        "cagr",
        "annual_volatility",
        "max_drawdown",
        "average_drawdown",
        "ulcer_index",
        "var_95",
        "cvar_95",
        "parametric_var_95",
        "alpha",
        "benchmark_return",
        "win_rate",
        "best_trade",
        "worst_trade",
        "avg_trade",
        "avg_win",
        "avg_loss",
        "kelly",
    }
)
"""Metrics that are fractions, shown in percent."""

_STYLE: Final = """
body { font-family: system-ui, sans-serif; margin: 0 auto; max-width: 1200px; padding: 1rem;
  color: #222; }
h1 { margin-bottom: 0.2rem; }
.subtitle { color: #666; margin-top: 0; }
.chart { height: 450px; margin: 1rem 0; }
table { border-collapse: collapse; margin: 1rem 0; }
th, td { border-bottom: 1px solid #ddd; padding: 0.25rem 0.75rem; text-align: left; }
td.number { text-align: right; font-variant-numeric: tabular-nums; }
"""


@cache
def plotly_js() -> str:
    """Return the plotly.js bundle that ships with plotly.py, safe inside a script element."""
    bundle: str = plotly.offline.get_plotlyjs()
    # "</script" would end the element early; in a JS string "<\/" is the same text.
    return bundle.replace("</script", "<\\/script").replace("</SCRIPT", "<\\/SCRIPT")


def script_json(value: Any) -> str:
    """Return ``value`` as JSON that cannot end or confuse the script element it sits in."""
    text = json.dumps(value, separators=(",", ":"))  # NaN and Infinity are JS literals too
    for unsafe, escaped in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026")):
        text = text.replace(unsafe, escaped)
    return text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")


def _percent(value: float) -> str:
    """Return a fraction in percent with two decimals."""
    return f"{value * 100.0:,.2f} %"


def format_metric(name: str, value: float | None) -> str:
    """Return a metric value for display: percent for fractions, a dash when undefined."""
    if value is None or not math.isfinite(value):
        return MISSING
    if name in PERCENT_METRICS:
        return _percent(value)
    if float(value).is_integer():
        return f"{value:,.0f}"
    return f"{value:,.2f}" if abs(value) >= 1000.0 else f"{value:.4g}"


def chart_ids(names: Sequence[str]) -> list[str]:
    """Return a unique div id per chart name: ``chart-<name>``, odd characters as ``-``."""
    ids: list[str] = []
    for position, name in enumerate(names):
        div_id = "chart-" + re.sub(r"[^A-Za-z0-9_-]", "-", name)
        ids.append(div_id if div_id not in ids else f"{div_id}-{position}")
    return ids


def _chart_html(div_id: str, figure: Mapping[str, Any]) -> str:
    """Return a chart's div and the script that draws the figure into it."""
    call = (
        f"Plotly.newPlot({script_json(div_id)}, {script_json(figure.get('data', []))}, "
        f"{script_json(figure.get('layout', {}))}, {script_json(PLOT_CONFIG)});"
    )
    return f'<div class="chart" id="{div_id}"></div>\n<script>{call}</script>'


def _metrics_html(metrics: Mapping[str, float | None]) -> str:
    """Return the metrics table."""
    rows = "\n".join(
        f'<tr><th scope="row">{html.escape(name)}</th>'
        f'<td class="number">{html.escape(format_metric(name, value))}</td></tr>'
        for name, value in metrics.items()
    )
    head = '<tr><th scope="col">Metric</th><th scope="col">Value</th></tr>'
    return f"<h2>Metrics</h2>\n<table>\n<thead>{head}</thead>\n<tbody>\n{rows}\n</tbody>\n</table>"


def _drawdowns_html(drawdowns: Sequence[Mapping[str, Any]]) -> str:
    """Return the table of the five worst drawdowns (rows as ``run_analysis.drawdown_rows``)."""
    columns = ("Rank", "Depth", "Peak", "Trough", "Recovery", "Length (bars)")
    head = "".join(f'<th scope="col">{html.escape(column)}</th>' for column in columns)
    rows = []
    for rank, period in enumerate(drawdowns[:5], start=1):
        recovery = MISSING if period["recovery"] is None else str(period["recovery"])
        cells = (
            f"{rank}",
            _percent(float(period["depth"])),
            str(period["start"]),
            str(period["trough"]),
            recovery,
            f"{int(period['bars']):,}",
        )
        rows.append(
            "<tr>" + "".join(f'<td class="number">{html.escape(c)}</td>' for c in cells) + "</tr>"
        )
    body = "\n".join(rows)
    return (
        f"<h2>Worst drawdowns</h2>\n<table>\n<thead><tr>{head}</tr></thead>\n"
        f"<tbody>\n{body}\n</tbody>\n</table>"
    )


def render_report(
    title: str,
    subtitle: str,
    metrics: Mapping[str, float | None],
    charts: Mapping[str, Mapping[str, Any]],
    drawdowns: Sequence[Mapping[str, Any]] | None = None,
) -> str:
    """Return the report as one HTML page that needs no network.

    Parameters
    ----------
    title, subtitle : str
        Page heading and the line under it (escaped).
    metrics : mapping of str to float or None
        Metric values by name, shown in this order; None shows as a dash.
    charts : mapping of str to figure JSON
        ``{"data": [...], "layout": {...}}`` by chart name (:func:`~.charts.build_charts`),
        drawn in this order, each into its div (:func:`chart_ids`, class ``chart``).
    drawdowns : sequence of mappings, optional
        The worst drawdowns, deepest first; the first five are tabulated.

    Returns
    -------
    str
        The page, with plotly.js inline exactly once.
    """
    ids = chart_ids(list(charts))
    drawn = "\n".join(_chart_html(i, f) for i, f in zip(ids, charts.values(), strict=True))
    sections = [f'<section class="charts">\n{drawn}\n</section>']
    sections.append(f"<section>\n{_metrics_html(metrics)}\n</section>")
    if drawdowns is not None:
        sections.append(f"<section>\n{_drawdowns_html(drawdowns)}\n</section>")
    body = "\n".join(sections)
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{html.escape(CSP)}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(title)}</title>
<style>{_STYLE}</style>
<script>{plotly_js()}</script>
</head>
<body>
<header>
<h1>{html.escape(title)}</h1>
<p class="subtitle">{html.escape(subtitle)}</p>
</header>
<main>
{body}
</main>
</body>
</html>
"""
