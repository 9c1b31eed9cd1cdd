"""Reduce a study's outcomes to what users read: percentiles, a drawdown histogram, probabilities
and fan-chart bands.

Percentiles are numpy's default (``method="linear"``, Hyndman and Fan type 7): the p-th
percentile of n sorted values v is v[h] interpolated linearly, h = (n - 1) p / 100.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tradelab_engine.domain.montecarlo import Outcomes

PERCENTILES = (5, 10, 25, 50, 75, 90, 95)
"""Percentiles reported for final equity, maximum drawdown and the fan chart."""
HISTOGRAM_BINS = 20


@dataclass(frozen=True)
class StudySummary:
    """A study's results as plain values (the fields of ``MonteCarloResults``)."""

    initial_cash: float
    steps: int
    final_equity_percentiles: dict[str, float]
    final_equity_mean: float
    final_equity_std: float
    max_drawdown_percentiles: dict[str, float]
    histogram_edges: list[float]
    histogram_counts: list[int]
    probability_of_loss: float
    drawdown_threshold: float
    probability_of_drawdown_beyond: float
    fan_steps: list[int]
    fan_bands: dict[str, list[float]]


def label(percentile: float) -> str:
    """``5`` -> ``"p5"``, ``99.9`` -> ``"p99.9"``."""
    return f"p{percentile:g}"


def percentiles(values: np.ndarray) -> dict[str, float]:
    """The `PERCENTILES` of ``values`` (linear interpolation), by label."""
    found = np.percentile(values, PERCENTILES)
    return {label(p): float(v) for p, v in zip(PERCENTILES, found, strict=True)}


def drawdown_histogram(drawdowns: np.ndarray) -> tuple[list[float], list[int]]:
    """`HISTOGRAM_BINS` equal bins from 0 to the largest drawdown (0 to 1 if none fell)."""
    top = float(np.max(drawdowns))
    counts, edges = np.histogram(drawdowns, bins=HISTOGRAM_BINS, range=(0.0, top if top > 0 else 1))
    return [float(e) for e in edges], [int(c) for c in counts]


def _sample_std(values: np.ndarray) -> float:
    return float(np.std(values, ddof=1)) if len(values) > 1 else 0.0


def summarise_study(outcomes: Outcomes, drawdown_threshold: float) -> StudySummary:
    """Reduce ``outcomes``; a loss is a final equity strictly below the initial cash, a breach a
    maximum drawdown strictly above ``drawdown_threshold``."""
    edges, counts = drawdown_histogram(outcomes.max_drawdown)
    # Bands from the single-precision fan samples, computed in double precision.
    bands = np.percentile(outcomes.fan.astype(np.float64), PERCENTILES, axis=0)
    return StudySummary(
        initial_cash=outcomes.initial_cash,
        steps=outcomes.steps,
        final_equity_percentiles=percentiles(outcomes.final_equity),
        final_equity_mean=float(np.mean(outcomes.final_equity)),
        final_equity_std=_sample_std(outcomes.final_equity),
        max_drawdown_percentiles=percentiles(outcomes.max_drawdown),
        histogram_edges=edges,
        histogram_counts=counts,
        probability_of_loss=float(np.mean(outcomes.final_equity < outcomes.initial_cash)),
        drawdown_threshold=drawdown_threshold,
        probability_of_drawdown_beyond=float(np.mean(outcomes.max_drawdown > drawdown_threshold)),
        fan_steps=[int(s) for s in outcomes.fan_steps],
        fan_bands={
            label(p): [float(v) for v in row] for p, row in zip(PERCENTILES, bands, strict=True)
        },
    )
