"""Trade records: the structured ``np.dtype`` layout the simulator writes, and its codes.

One record per trade, closed or still open at the end of the data (vectorbt ``enums.py`` style).
Times are int64 nanoseconds since the epoch, UTC, as in ``Bars.time``; view them with
``trades["entry_time"].view("M8[ns]")``. An open trade's exit fields are missing: ``exit_index``
is -1, ``exit_time`` is NaT (``NAT_NS``), ``exit_price`` and ``exit_fee`` are NaN; its ``pnl`` and
``return`` are unrealised, marked at the last close without an exit fee.
"""

from enum import IntEnum
from typing import Final

import numpy as np
import numpy.typing as npt

TRADE_DTYPE: Final = np.dtype(
    [
        ("entry_index", np.int64),
        ("entry_time", np.int64),
        ("entry_price", np.float64),
        ("exit_index", np.int64),
        ("exit_time", np.int64),
        ("exit_price", np.float64),
        ("units", np.float64),
        ("pnl", np.float64),
        ("return", np.float64),
        ("entry_fee", np.float64),
        ("exit_fee", np.float64),
        ("bars_held", np.int64),
        ("direction", np.int64),
        ("exit_reason", np.int64),
        ("is_open", np.bool_),
    ]
)
"""Layout of one trade record (fields in the order above)."""

TradeRecords = npt.NDArray[np.void]

NAT_NS: Final = int(np.iinfo(np.int64).min)
"""``exit_time`` of an open trade: numpy's NaT as int64 nanoseconds."""

LONG: Final = 1
SHORT: Final = -1

# Plain ints so the numba kernels can use them as compile-time constants.
EXIT_SIGNAL: Final = 0
EXIT_STOP_LOSS: Final = 1
EXIT_TAKE_PROFIT: Final = 2
EXIT_TRAILING_STOP: Final = 3
EXIT_OPEN_AT_END: Final = 4


class ExitReason(IntEnum):
    """Why a trade ended (``exit_reason`` field)."""

    SIGNAL = EXIT_SIGNAL
    STOP_LOSS = EXIT_STOP_LOSS
    TAKE_PROFIT = EXIT_TAKE_PROFIT
    TRAILING_STOP = EXIT_TRAILING_STOP
    OPEN_AT_END = EXIT_OPEN_AT_END


def empty_trades(capacity: int) -> TradeRecords:
    """Return a zeroed trade record array with room for ``capacity`` trades.

    Zeroed so that a record the kernel never writes holds no garbage. The layout is packed
    (no ``align=True``): with alignment padding numba leaves stray bytes in the padding, and
    identical runs must give byte-identical records.
    """
    return np.zeros(capacity, dtype=TRADE_DTYPE)


def fill_trade_times(trades: TradeRecords, time: npt.NDArray[np.int64]) -> None:
    """Set ``entry_time`` and ``exit_time`` from the bar indices (NaT for an open trade)."""
    trades["entry_time"] = time[trades["entry_index"]]
    exit_index = trades["exit_index"]
    trades["exit_time"] = np.where(exit_index >= 0, time[np.maximum(exit_index, 0)], NAT_NS)
