"""Count bars missing against the detected timeframe, without penalising market closures.

Rules
-----
- ``1d``: the expected calendar is weekdays. A jump of up to 4 calendar days (a weekend, a
  weekend plus a holiday, Easter) is a closure and not counted. A longer jump counts every
  weekday strictly between the two bars as missing.
- ``1w`` / ``1mo``: a jump above 1.5 periods counts ``round(jump / period) - 1`` missing bars.
- Intraday (``1m`` ... ``4h``): a jump above 1.5 bars is a gap. It counts only when it lies
  inside a trading session, that is when it is shorter than a day and both bars fall on the
  same local calendar day (dates in the declared timezone). Overnight and weekend closures
  cross a date and are not counted. Markets that trade around the clock (bars at 90 % or more
  of the day's time slots) have no overnight closure, so for them any jump under a day counts.
  A jump that recurs at the same local clock times on 3 or more days is a scheduled pause
  (a lunch break) and is not counted either. A counted gap adds ``round(jump / bar) - 1``.
- ``irregular``: no expected spacing, nothing is counted.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import polars as pl

from tradelab_datasets.domain.timeframe import timeframe_step

DAILY_CLOSURE_DAYS = 4
_GAP_FACTOR = 1.5
_CONTINUOUS_SLOTS = 0.9
_RECURRING_DAYS = 3
_DAY_US = 86_400_000_000
_US = timedelta(microseconds=1)


@dataclass(frozen=True, slots=True)
class GapCount:
    """Result of the gap scan.

    Attributes
    ----------
    missing_bars
        Bars expected but absent, in counted gaps.
    gaps
        Counted gaps (each may miss several bars).
    closures
        Jumps treated as market closures and not counted.
    """

    missing_bars: int = 0
    gaps: int = 0
    closures: int = 0


def count_gaps(time: pl.Series, timeframe: str, timezone: str = "UTC") -> GapCount:
    """Count missing bars in sorted UTC ``time`` (microseconds) for ``timeframe``."""
    step = timeframe_step(timeframe)
    if step is None:
        return GapCount()
    local = time if timezone == "UTC" else time.dt.convert_time_zone(timezone)
    if timeframe == "1d":
        return _daily_gaps(local)
    if step > timedelta(days=1):
        return _periodic_gaps(time, step)
    return _intraday_gaps(time, local, step)


def _jumps(time: pl.Series, step: timedelta) -> pl.DataFrame:
    """Rows ``index`` whose distance ``delta`` (us) to the previous bar exceeds 1.5 bars."""
    delta = time.to_physical().diff().alias("delta")
    return (
        pl.DataFrame([delta])
        .with_row_index("index")
        .filter(pl.col("delta") > _GAP_FACTOR * (step / _US))
    )


def _missing(step: timedelta) -> pl.Expr:
    return ((pl.col("delta") / (step / _US)).round() - 1).sum().cast(pl.Int64)


def _daily_gaps(local: pl.Series) -> GapCount:
    days = local.dt.date()
    spans = pl.DataFrame({"day": days, "prev": days.shift(1)}).filter(
        (pl.col("day") - pl.col("prev")) > timedelta(days=1)
    )
    long = (pl.col("day") - pl.col("prev")) > timedelta(days=DAILY_CLOSURE_DAYS)
    start = pl.col("prev") + timedelta(days=1)
    missing = pl.business_day_count(start, pl.col("day"))
    result = spans.select(
        gaps=long.sum(),
        closures=(~long).sum(),
        missing=pl.when(long).then(missing).otherwise(0).sum(),
    ).row(0)
    return GapCount(missing_bars=int(result[2] or 0), gaps=result[0], closures=result[1])


def _periodic_gaps(time: pl.Series, step: timedelta) -> GapCount:
    jumps = _jumps(time, step)
    missing = jumps.select(_missing(step)).item()
    return GapCount(missing_bars=int(missing or 0), gaps=jumps.height)


def _intraday_gaps(time: pl.Series, local: pl.Series, step: timedelta) -> GapCount:
    jumps = _jumps(time, step)
    if jumps.is_empty():
        return GapCount()
    index = jumps["index"]
    clock = pl.DataFrame(
        {
            "delta": jumps["delta"],
            "prev": local.gather(index - 1),
            "cur": local.gather(index),
        }
    ).with_columns(
        same_day=pl.col("prev").dt.date() == pl.col("cur").dt.date(),
        pattern_days=pl.col("cur")
        .dt.date()
        .n_unique()
        .over(pl.col("prev").dt.time(), pl.col("cur").dt.time()),
    )
    continuous = _is_continuous(time, step)
    in_session = (pl.col("delta") < _DAY_US) & (pl.col("same_day") | continuous)
    counted = clock.filter(in_session & (pl.col("pattern_days") < _RECURRING_DAYS))
    missing = counted.select(_missing(step)).item()
    return GapCount(
        missing_bars=int(missing or 0), gaps=counted.height, closures=clock.height - counted.height
    )


def _is_continuous(time: pl.Series, step: timedelta) -> bool:
    """Whether bars cover (almost) every slot of the day, as in crypto or FX markets."""
    slots_per_day = timedelta(days=1) / step
    slots_seen = (time.to_physical() % _DAY_US).n_unique()
    return slots_seen >= _CONTINUOUS_SLOTS * slots_per_day
