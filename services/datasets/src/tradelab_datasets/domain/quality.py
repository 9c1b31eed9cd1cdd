"""Score a normalised dataset 0-100 and explain every point lost.

Each component scores 0-100 as ``100 * max(0, 1 - severity * fraction)``, where ``fraction``
is the share of affected cells, rows, bars or returns; ``severity`` says how fast a problem
eats the score (severity 10: 1 % affected costs 10 points). The overall score is the
weighted mean of the components. Weights (sum 100) and severities:

====================  ======  ========  =============================================
component             weight  severity  fraction
====================  ======  ========  =============================================
required_columns          10         -  time+close 60, +30 open/high/low, +10 volume
missing_values            15        10  empty cells / value cells
duplicates                15        10  (exact + conflicting) / source rows
gaps                      20         5  missing bars / (bars + missing bars)
outliers                  15        20  flagged returns / returns
ohlc_consistency          15        20  rows breaking a rule / rows
non_positive_prices        5       100  prices <= 0 or negative volumes / cells
zero_volume_runs           5         5  bars in runs of >= 3 zero-volume bars / bars
====================  ======  ========  =============================================
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import polars as pl

from tradelab_datasets.domain import checks
from tradelab_datasets.domain.gaps import DAILY_CLOSURE_DAYS, count_gaps
from tradelab_datasets.domain.normalise import DuplicateInfo

WEIGHTS: dict[str, float] = {
    "required_columns": 10,
    "missing_values": 15,
    "duplicates": 15,
    "gaps": 20,
    "outliers": 15,
    "ohlc_consistency": 15,
    "non_positive_prices": 5,
    "zero_volume_runs": 5,
}


@dataclass(frozen=True, slots=True)
class QualityComponent:
    """One scored aspect of data quality.

    Attributes
    ----------
    name
        Component id, a key of `WEIGHTS`.
    score
        0-100, 100 = no problem found.
    weight
        Share of the overall score, out of 100.
    explanation
        What was checked and what was found, for people.
    counts
        The numbers behind the score, for machines.
    """

    name: str
    score: float
    weight: float
    explanation: str
    counts: dict[str, int | float] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class QualityReport:
    """Overall score (weighted mean of the components) and the components."""

    score: float
    components: tuple[QualityComponent, ...]

    def component(self, name: str) -> QualityComponent:
        """Return the component called ``name``."""
        return next(component for component in self.components if component.name == name)

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-serialisable view."""
        return {
            "score": self.score,
            "weights": dict(WEIGHTS),
            "components": [asdict(component) for component in self.components],
        }


def assess_quality(
    frame: pl.DataFrame,
    *,
    timeframe: str,
    duplicates: DuplicateInfo,
    source_rows: int,
    timezone: str = "UTC",
) -> QualityReport:
    """Score canonical bars.

    Parameters
    ----------
    frame
        Normalised bars (see `normalise`).
    timeframe
        Detected bar size; gaps are measured against it.
    duplicates
        What de-duplication dropped.
    source_rows
        Data rows before de-duplication.
    timezone
        Declared zone, which decides what a trading day is for intraday gaps.
    """
    parts = [
        ("required_columns", checks.required_columns(frame)),
        ("missing_values", checks.missing_values(frame)),
        ("duplicates", _duplicates(duplicates, source_rows)),
        ("gaps", _gaps(frame, timeframe, timezone)),
        ("outliers", checks.outliers(frame)),
        ("ohlc_consistency", checks.ohlc_consistency(frame)),
        ("non_positive_prices", checks.non_positive(frame)),
        ("zero_volume_runs", checks.zero_volume_runs(frame)),
    ]
    components = tuple(
        QualityComponent(name, round(score, 2), WEIGHTS[name], explanation, counts)
        for name, (score, explanation, counts) in parts
    )
    total = sum(c.score * c.weight for c in components) / sum(c.weight for c in components)
    return QualityReport(round(total, 2), components)


def _duplicates(duplicates: DuplicateInfo, source_rows: int) -> checks.Finding:
    dropped = duplicates.exact_dropped + duplicates.conflicting
    example = duplicates.conflicting_example
    where = f" (e.g. at {example.isoformat()})" if example else ""
    explanation = (
        f"{duplicates.exact_dropped} exact duplicate rows dropped; {duplicates.conflicting} rows "
        f"shared a timestamp with different values{where}, first occurrence kept."
    )
    counts: dict[str, int | float] = {
        "exact": duplicates.exact_dropped,
        "conflicting": duplicates.conflicting,
    }
    return checks.penalty(dropped / max(source_rows, 1), 10), explanation, counts


def _gaps(frame: pl.DataFrame, timeframe: str, timezone: str) -> checks.Finding:
    if timeframe == "irregular":
        return 100.0, "Irregular spacing: no expected bar calendar, gaps not assessed.", {}
    found = count_gaps(frame["time"], timeframe, timezone)
    fraction = found.missing_bars / (frame.height + found.missing_bars)
    if timeframe == "1d":
        rule = f"weekdays expected; jumps of up to {DAILY_CLOSURE_DAYS} days are closures"
    elif timeframe in ("1w", "1mo"):
        rule = "one bar per period expected"
    else:
        rule = (
            "only gaps inside a trading day count; overnight, weekend and recurring pauses "
            "are closures"
        )
    explanation = (
        f"{found.missing_bars} missing {timeframe} bars in {found.gaps} gaps "
        f"({found.closures} market closures not penalised; {rule})."
    )
    counts: dict[str, int | float] = {
        "missing_bars": found.missing_bars,
        "gaps": found.gaps,
        "closures": found.closures,
    }
    return checks.penalty(fraction, 5), explanation, counts
