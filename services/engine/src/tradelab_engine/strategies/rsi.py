"""RSI mean reversion."""

from typing import Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from tradelab_engine.domain.bars import Bars
from tradelab_engine.kernels.oscillators_nb import rsi_1d_nb
from tradelab_engine.strategies.base import Signals, make_strategy


class RsiReversionParams(BaseModel):
    """RSI period and the oversold / overbought levels; lower must be below upper."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    period: int = Field(default=14, ge=2, le=100, description="RSI period (Wilder smoothing).")
    lower: float = Field(
        default=30.0, ge=1, le=50, description="Oversold level: enter while RSI is below it."
    )
    upper: float = Field(
        default=70.0, ge=50, le=99, description="Overbought level: exit while RSI is above it."
    )

    @model_validator(mode="after")
    def _lower_below_upper(self) -> Self:
        if self.lower >= self.upper:
            msg = f"lower ({self.lower}) must be less than upper ({self.upper})"
            raise ValueError(msg)
        return self


def rsi_reversion_signals(bars: Bars, params: RsiReversionParams) -> Signals:
    """Level rule, not a crossing rule: entry on every bar with RSI < lower, exit on every bar
    with RSI > upper (the simulator acts on the first of a run). Warm-up bars (NaN) never fire.
    """
    rsi = rsi_1d_nb(bars.close, params.period)
    return Signals(rsi < params.lower, rsi > params.upper)  # NaN compares false


RSI_REVERSION = make_strategy(
    "rsi_reversion",
    "Mean reversion: enter while the RSI is below the lower level (oversold), exit while it is "
    "above the upper level (overbought). Levels are compared at each bar's close; there is no "
    "crossing requirement.",
    RsiReversionParams,
    rsi_reversion_signals,
    lambda params: params.period,
)
