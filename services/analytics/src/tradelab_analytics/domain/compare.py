"""Several runs' equity curves on one chart, each divided by its initial cash."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from tradelab_analytics.domain.charts import figure_json, line_trace

MAX_POINTS_PER_RUN = 1_000


@dataclass(frozen=True, eq=False)
class NormalisedCurve:
    """One run's curve: its label, bar times (int64 ns UTC) and equity / initial cash."""

    label: str
    time_ns: npt.NDArray[np.int64]
    growth: npt.NDArray[np.float64]


def compare_figure(
    curves: Sequence[NormalisedCurve], max_points: int = MAX_POINTS_PER_RUN
) -> dict[str, Any]:
    """A Plotly figure with one line per run, each thinned to ``max_points`` (extremes kept)."""
    traces = [
        line_trace(curve.time_ns, curve.growth, max_points, name=curve.label) for curve in curves
    ]
    figure: dict[str, Any] = figure_json(
        traces, "Equity, normalised to 1 at the start", "Time (UTC)", "Equity / initial cash"
    )
    return figure
