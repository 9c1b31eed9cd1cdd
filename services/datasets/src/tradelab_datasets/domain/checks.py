"""Per-bar quality checks; each returns a score, an explanation and its counts.

Each check is one polars ``select`` so its expressions run in parallel over the columns.
"""

from __future__ import annotations

import math

import polars as pl

from tradelab_datasets.domain.columns import PRICE_COLUMNS, VALUE_COLUMNS

Finding = tuple[float, str, dict[str, int | float]]

OUTLIER_SIGMAS = 10.0
ZERO_VOLUME_RUN = 3
# Scale factors that turn a median / mean absolute deviation into a normal std estimate.
_MAD_TO_STD = 1.4826
_MEAN_AD_TO_STD = 1.2533
_SCALE_SAMPLE = 100_000


def penalty(fraction: float, severity: float) -> float:
    """Score ``100 * max(0, 1 - severity * fraction)``."""
    return 100.0 * max(0.0, 1.0 - severity * fraction)


def required_columns(frame: pl.DataFrame) -> Finding:
    """Time and close are required (60); open/high/low add 30, volume 10."""
    has_ohlc = all(name in frame.columns for name in PRICE_COLUMNS)
    has_volume = "volume" in frame.columns
    score = 60.0 + 30.0 * has_ohlc + 10.0 * has_volume
    explanation = (
        "time and close present; "
        + ("open/high/low present" if has_ohlc else "open/high/low missing (-30)")
        + "; "
        + ("volume present." if has_volume else "volume missing (-10).")
    )
    return score, explanation, {"ohlc": int(has_ohlc), "volume": int(has_volume)}


def missing_values(frame: pl.DataFrame) -> Finding:
    """Share of empty price/volume cells."""
    values = [name for name in VALUE_COLUMNS if name in frame.columns]
    nulls = [frame[name].null_count() for name in values]  # O(1): kept with the column
    missing, cells = sum(nulls), frame.height * len(values)
    per_column = ", ".join(f"{n} {name}" for name, n in zip(values, nulls, strict=True) if n)
    explanation = f"{missing} of {cells} price/volume cells are empty" + (
        f" ({per_column})." if missing else "."
    )
    return penalty(missing / max(cells, 1), 10), explanation, {"missing": missing, "cells": cells}


def outliers(frame: pl.DataFrame) -> Finding:
    """Count close-to-close log returns further than 10 robust std from their median.

    The std is 1.4826 x the median absolute deviation (MAD); when more than half the returns
    are equal (illiquid bars, MAD = 0) 1.2533 x the mean absolute deviation stands in. Median
    and MAD come from an evenly spaced subsample of at most 100,000 returns (a median of
    millions costs more than the rest of the report; the subsample's error is far below the
    10-sigma threshold's slack). Every return is then tested, as a price ratio against
    ``exp(median +- 10 std)``, which is the same test without a logarithm per bar.
    """
    ratio = pl.col("close") / pl.col("close").shift(1)
    scale = _robust_scale(frame["close"])
    if scale is None:
        returns, flagged = int(frame.select(ratio.count()).item()), 0
    else:
        centre, sigma = scale
        low = math.exp(centre - OUTLIER_SIGMAS * sigma)
        high = math.exp(centre + OUTLIER_SIGMAS * sigma)
        row = frame.select(ratio.count(), ((ratio < low) | (ratio > high)).sum().alias("n"))
        returns, flagged = (int(value) for value in row.row(0))
    explanation = (
        f"{flagged} of {returns} close-to-close log returns lie beyond "
        f"{OUTLIER_SIGMAS:g} robust (MAD-based) standard deviations"
        + (f" of {scale[1]:.4g}." if scale else "; returns do not vary, none tested.")
    )
    counts: dict[str, int | float] = {"flagged": flagged, "returns": returns}
    return penalty(flagged / max(returns, 1), 20), explanation, counts


def _robust_scale(close: pl.Series) -> tuple[float, float] | None:
    """Median and robust std of log returns, from a subsample; None when returns never vary."""
    step = max(1, close.len() // _SCALE_SAMPLE)
    at = pl.int_range(1, close.len(), step, eager=True)
    sample = (close.gather(at) / close.gather(at - 1)).log().drop_nulls()
    centre = sample.median()
    if not isinstance(centre, float):
        return None
    deviation = (sample - centre).abs()
    mad, mean_ad = deviation.median(), deviation.mean()
    if isinstance(mad, float) and mad > 0:
        return centre, mad * _MAD_TO_STD
    if isinstance(mean_ad, float) and mean_ad > 0:
        return centre, mean_ad * _MEAN_AD_TO_STD
    return None


def ohlc_consistency(frame: pl.DataFrame) -> Finding:
    """Count bars breaking high >= max(open, close), low <= min(open, close), high >= low."""
    if not all(name in frame.columns for name in PRICE_COLUMNS):
        return 100.0, "Not applicable: the data has no open/high/low columns.", {}
    o, h, low, c = (pl.col(name) for name in PRICE_COLUMNS)
    rules = {
        "high_below_open_or_close": h < pl.max_horizontal(o, c),
        "low_above_open_or_close": low > pl.min_horizontal(o, c),
        "high_below_low": h < low,
    }
    row = frame.select(
        any_rule=pl.any_horizontal(rules.values()).sum(),
        **{name: rule.sum() for name, rule in rules.items()},
    ).row(0, named=True)
    bad = int(row.pop("any_rule"))
    counts: dict[str, int | float] = {"rows": bad, **{k: int(v) for k, v in row.items()}}
    detail = ", ".join(f"{v} {k.replace('_', ' ')}" for k, v in row.items() if v)
    explanation = f"{bad} of {frame.height} bars break OHLC consistency" + (
        f" ({detail})." if bad else "."
    )
    return penalty(bad / frame.height, 20), explanation, counts


def non_positive(frame: pl.DataFrame) -> Finding:
    """Count prices <= 0 (none survive normalising) and negative volumes."""
    prices = [name for name in PRICE_COLUMNS if name in frame.columns]
    checked = [*prices, "volume"] if "volume" in frame.columns else prices
    # Minimums first: counting only pays when there is something to count.
    lowest = frame.select(pl.col(checked).min()).row(0, named=True)

    def count(name: str, *, zero_ok: bool) -> int:
        low = lowest[name]
        if low is None or low > 0 or (zero_ok and low == 0):
            return 0
        return int((frame[name] < 0 if zero_ok else frame[name] <= 0).sum())

    prices_bad = sum(count(name, zero_ok=False) for name in prices)
    volumes_bad = count("volume", zero_ok=True) if "volume" in lowest else 0
    explanation = f"{prices_bad} prices <= 0 and {volumes_bad} negative volumes."
    counts: dict[str, int | float] = {"prices": prices_bad, "negative_volumes": volumes_bad}
    score = penalty((prices_bad + volumes_bad) / (frame.height * len(checked)), 100)
    return score, explanation, counts


def zero_volume_runs(frame: pl.DataFrame) -> Finding:
    """Count runs of 3 or more consecutive zero-volume bars (a stale or halted feed)."""
    if "volume" not in frame.columns:
        return 100.0, "Not applicable: the data has no volume column.", {}
    zero = (pl.col("volume") == 0).fill_null(value=False)
    runs = (
        frame.lazy()
        .select(zero.alias("zero"), zero.rle_id().alias("run"))
        .filter(pl.col("zero"))
        .group_by("run")
        .len()
        .filter(pl.col("len") >= ZERO_VOLUME_RUN)
        .select(runs=pl.len(), bars=pl.col("len").sum())
        .collect()
        .row(0)
    )
    count, bars = int(runs[0]), int(runs[1] or 0)
    explanation = f"{count} runs of >= {ZERO_VOLUME_RUN} zero-volume bars covering {bars} bars."
    counts: dict[str, int | float] = {"runs": count, "bars": bars}
    return penalty(bars / frame.height, 5), explanation, counts
