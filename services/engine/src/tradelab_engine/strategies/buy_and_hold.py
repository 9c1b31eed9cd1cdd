"""Buy and hold: enter on the first bar, never exit."""

import numpy as np
from pydantic import BaseModel, ConfigDict

from tradelab_engine.domain.bars import Bars
from tradelab_engine.strategies.base import Signals, make_strategy


class BuyAndHoldParams(BaseModel):
    """Buy and hold takes no parameters."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def buy_and_hold_signals(bars: Bars, params: BuyAndHoldParams) -> Signals:
    """Entry on bar 0 only (filled at bar 1's open by the simulator); no exits."""
    entries = np.zeros(len(bars), dtype=np.bool_)
    entries[:1] = True
    return Signals(entries, np.zeros(len(bars), dtype=np.bool_))


BUY_AND_HOLD = make_strategy(
    "buy_and_hold",
    "Enter at the close of the first bar and hold to the end. The benchmark for every other "
    "strategy.",
    BuyAndHoldParams,
    buy_and_hold_signals,
    lambda _params: 0,
)
