"""Bollinger Band rules: reversion from the lower band and breakout through the upper band."""

from pydantic import BaseModel, ConfigDict, Field

from tradelab_engine.domain.bars import Bars
from tradelab_engine.kernels.bands_nb import bbands_1d_nb
from tradelab_engine.strategies.base import Signals, make_strategy


class BollingerParams(BaseModel):
    """Band window and width."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    period: int = Field(
        default=20, ge=2, le=500, description="Window of the middle band (SMA) and of the std."
    )
    nbdev: float = Field(
        default=2.0,
        ge=0.1,
        le=10.0,
        description="Band half-width in population standard deviations of the closes.",
    )


class BollingerReversionParams(BollingerParams):
    """Band window and width for the reversion rule."""


class BollingerBreakoutParams(BollingerParams):
    """Band window and width for the breakout rule."""


def bollinger_reversion_signals(bars: Bars, params: BollingerReversionParams) -> Signals:
    """Entry on every bar closing below the lower band, exit on every bar closing above the
    middle band (level rules; NaN warm-up never fires)."""
    _upper, middle, lower = bbands_1d_nb(bars.close, params.period, params.nbdev, params.nbdev)
    return Signals(bars.close < lower, bars.close > middle)


def bollinger_breakout_signals(bars: Bars, params: BollingerBreakoutParams) -> Signals:
    """Entry on every bar closing above the upper band, exit on every bar closing below the
    middle band (level rules; NaN warm-up never fires)."""
    upper, middle, _lower = bbands_1d_nb(bars.close, params.period, params.nbdev, params.nbdev)
    return Signals(bars.close > upper, bars.close < middle)


def bollinger_warmup(params: BollingerParams) -> int:
    """The bands exist from bar ``period - 1``."""
    return params.period - 1


BOLLINGER_REVERSION = make_strategy(
    "bollinger_reversion",
    "Mean reversion: enter when a bar closes below the lower Bollinger Band (SMA minus nbdev "
    "population standard deviations), exit when a bar closes above the middle band.",
    BollingerReversionParams,
    bollinger_reversion_signals,
    bollinger_warmup,
)

BOLLINGER_BREAKOUT = make_strategy(
    "bollinger_breakout",
    "Volatility breakout: enter when a bar closes above the upper Bollinger Band (SMA plus "
    "nbdev population standard deviations), exit when a bar closes below the middle band.",
    BollingerBreakoutParams,
    bollinger_breakout_signals,
    bollinger_warmup,
)
