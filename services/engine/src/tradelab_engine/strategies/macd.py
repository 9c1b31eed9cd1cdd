"""MACD signal-line crossover."""

from typing import Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from tradelab_engine.domain.bars import Bars
from tradelab_engine.kernels.cross_nb import crossed_above_1d_nb, crossed_below_1d_nb
from tradelab_engine.kernels.oscillators_nb import macd_1d_nb
from tradelab_engine.strategies.base import Signals, make_strategy


class MacdCrossParams(BaseModel):
    """MACD periods; fast must be shorter than slow."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    fast: int = Field(default=12, ge=2, le=500, description="Period of the fast EMA.")
    slow: int = Field(default=26, ge=3, le=1000, description="Period of the slow EMA.")
    signal: int = Field(
        default=9, ge=2, le=500, description="Period of the signal-line EMA of the MACD line."
    )

    @model_validator(mode="after")
    def _fast_below_slow(self) -> Self:
        if self.fast >= self.slow:
            msg = f"fast ({self.fast}) must be less than slow ({self.slow})"
            raise ValueError(msg)
        return self


def macd_cross_signals(bars: Bars, params: MacdCrossParams) -> Signals:
    """Entry where the MACD line crosses above its signal line; exit where it crosses below."""
    line, signal, _hist = macd_1d_nb(bars.close, params.fast, params.slow, params.signal)
    return Signals(crossed_above_1d_nb(line, signal), crossed_below_1d_nb(line, signal))


def macd_cross_warmup(params: MacdCrossParams) -> int:
    """Both lines exist from bar ``slow + signal - 2``; a cross needs the bar before it too."""
    return params.slow + params.signal - 1


MACD_CROSS = make_strategy(
    "macd_cross",
    "Momentum: enter when the MACD line (fast EMA minus slow EMA) crosses above its signal "
    "line, exit when it crosses back below. Periods and alignment as in TA-Lib's MACD.",
    MacdCrossParams,
    macd_cross_signals,
    macd_cross_warmup,
)
