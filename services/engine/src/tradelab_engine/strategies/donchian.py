"""Donchian channel breakout (the "turtle" rule)."""

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from tradelab_engine.domain.bars import Bars, FloatArray
from tradelab_engine.kernels.bands_nb import rolling_max_1d_nb, rolling_min_1d_nb
from tradelab_engine.strategies.base import Signals, make_strategy


class DonchianBreakoutParams(BaseModel):
    """Entry and exit channel lengths."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    period: int = Field(
        default=20, ge=2, le=500, description="Entry channel: highest high of the previous bars."
    )
    exit_period: int = Field(
        default=10, ge=2, le=500, description="Exit channel: lowest low of the previous bars."
    )


def _previous(x: FloatArray) -> FloatArray:
    """``x`` delayed by one bar, NaN first."""
    out = np.full(len(x), np.nan)
    out[1:] = x[:-1]
    return out


def donchian_breakout_signals(bars: Bars, params: DonchianBreakoutParams) -> Signals:
    """Entry where ``close[t] > max(high[t-period..t-1])``, exit where
    ``close[t] < min(low[t-exit_period..t-1])``: the channel of the PREVIOUS bars, excluding
    bar ``t`` itself, so a close can break it. Level rules; warm-up never fires."""
    highest = _previous(rolling_max_1d_nb(bars.high, params.period))
    lowest = _previous(rolling_min_1d_nb(bars.low, params.exit_period))
    return Signals(bars.close > highest, bars.close < lowest)


DONCHIAN_BREAKOUT = make_strategy(
    "donchian_breakout",
    "Trend following: enter when a bar closes above the highest high of the previous `period` "
    "bars, exit when a bar closes below the lowest low of the previous `exit_period` bars.",
    DonchianBreakoutParams,
    donchian_breakout_signals,
    lambda params: params.period,
)
