"""Moving-average crossovers: SMA and EMA."""

from typing import Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from tradelab_engine.domain.bars import Bars
from tradelab_engine.kernels.cross_nb import crossed_above_1d_nb, crossed_below_1d_nb
from tradelab_engine.kernels.ma_nb import ema_1d_nb, sma_1d_nb
from tradelab_engine.strategies.base import Signals, make_strategy


class MaCrossParams(BaseModel):
    """Fast and slow moving-average periods; fast must be shorter than slow."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    fast: int = Field(default=10, ge=2, le=500, description="Period of the fast moving average.")
    slow: int = Field(default=50, ge=3, le=1000, description="Period of the slow moving average.")

    @model_validator(mode="after")
    def _fast_below_slow(self) -> Self:
        if self.fast >= self.slow:
            msg = f"fast ({self.fast}) must be less than slow ({self.slow})"
            raise ValueError(msg)
        return self


class SmaCrossParams(MaCrossParams):
    """Periods of the fast and slow simple moving averages."""


class EmaCrossParams(MaCrossParams):
    """Periods of the fast and slow exponential moving averages."""


def sma_cross_signals(bars: Bars, params: SmaCrossParams) -> Signals:
    """Entry where SMA(fast) crosses above SMA(slow); exit where it crosses below."""
    fast = sma_1d_nb(bars.close, params.fast)
    slow = sma_1d_nb(bars.close, params.slow)
    return Signals(crossed_above_1d_nb(fast, slow), crossed_below_1d_nb(fast, slow))


def ema_cross_signals(bars: Bars, params: EmaCrossParams) -> Signals:
    """Entry where EMA(fast) crosses above EMA(slow); exit where it crosses below."""
    fast = ema_1d_nb(bars.close, params.fast)
    slow = ema_1d_nb(bars.close, params.slow)
    return Signals(crossed_above_1d_nb(fast, slow), crossed_below_1d_nb(fast, slow))


def ma_cross_warmup(params: MaCrossParams) -> int:
    """Both averages exist from bar ``slow - 1``; a cross needs the bar before, so ``slow``."""
    return params.slow


SMA_CROSS = make_strategy(
    "sma_cross",
    "Trend following: enter when the fast simple moving average of closes crosses above the "
    "slow one, exit when it crosses back below.",
    SmaCrossParams,
    sma_cross_signals,
    ma_cross_warmup,
)

EMA_CROSS = make_strategy(
    "ema_cross",
    "Trend following: enter when the fast exponential moving average of closes crosses above "
    "the slow one, exit when it crosses back below. EMAs are seeded with the SMA of their first "
    "period, as in TA-Lib.",
    EmaCrossParams,
    ema_cross_signals,
    ma_cross_warmup,
)
