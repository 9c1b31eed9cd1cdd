"""Evaluate a chunk of combinations and shape each result row (pure; I/O is the caller's)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from tradelab_contracts.engine import EngineOptions
from tradelab_contracts.optimization import Objective

from .bars import Bars
from .sweep import sweep

SWEEP_METRICS = ("final_equity", "total_return", "max_drawdown", "sharpe", "trades", "exposure")
"""Metrics every evaluated combination gets; an objective must be one of them."""


@dataclass(frozen=True)
class ResultRow:
    """One evaluated combination."""

    index: int
    parameters: dict[str, Any]
    metrics: dict[str, float | None]
    objective: float | None
    ranked: bool


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


def evaluate_chunk(
    bars: Bars,
    strategy: str,
    combinations: Sequence[Mapping[str, Any]],
    first_index: int,
    options: EngineOptions,
    timeframe: str | None,
    objective: Objective,
    min_trades: int | None,
) -> list[ResultRow]:
    """Run every combination over ``bars`` and return one row each, in order."""
    result = sweep(bars, strategy, combinations, options, timeframe)
    rows = []
    for offset, parameters in enumerate(combinations):
        metrics = {name: _finite(float(getattr(result, name)[offset])) for name in SWEEP_METRICS}
        trades = metrics["trades"] or 0.0
        rows.append(
            ResultRow(
                index=first_index + offset,
                parameters=dict(parameters),
                metrics=metrics,
                objective=metrics[objective.metric],
                ranked=min_trades is None or trades >= min_trades,
            )
        )
    return rows


DEFAULT_HEATMAP_MAX_CELLS = 20_000
"""About 450 KB of JSON at worst: a heatmap reply fits in one broker message."""


class HeatmapTooLargeError(ValueError):
    """The (x, y) grid holds more cells than a heatmap may answer."""


def heatmap(
    rows: Sequence[Any],
    x: str,
    y: str,
    metric: str,
    maximize: bool = True,
    max_cells: int | None = None,
) -> dict[str, Any]:
    """``metric`` over the (x, y) grid: per cell the best value over the other parameters.

    ``rows`` have ``parameters`` and ``metrics`` mappings. Cells without a defined value are
    None. Returns the `Heatmap` fields.

    Raises
    ------
    HeatmapTooLargeError
        When the grid holds more than ``max_cells`` cells (counted before any is made).
    """
    x_values = sorted({row.parameters[x] for row in rows})
    y_values = sorted({row.parameters[y] for row in rows})
    if max_cells is not None and len(x_values) * len(y_values) > max_cells:
        msg = (
            f"The heatmap of {x!r} and {y!r} would hold {len(x_values):,} x {len(y_values):,} = "
            f"{len(x_values) * len(y_values):,} cells; at most {max_cells:,} are answered. "
            "Pick parameters with fewer values, or one walk-forward fold."
        )
        raise HeatmapTooLargeError(msg)
    cells: dict[tuple[Any, Any], float] = {}
    for row in rows:
        value = row.metrics.get(metric)
        if value is None or not math.isfinite(value):
            continue
        key = (row.parameters[x], row.parameters[y])
        current = cells.get(key)
        if current is None or (value > current if maximize else value < current):
            cells[key] = value
    z = [[cells.get((xv, yv)) for xv in x_values] for yv in y_values]
    return {"x": x, "y": y, "metric": metric, "x_values": x_values, "y_values": y_values, "z": z}
