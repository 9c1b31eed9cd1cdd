"""Bars as the kernels see them: contiguous float64 columns of equal length, oldest first."""

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True)
class Bars:
    """OHLCV columns. Close-only data has open, high and low equal to close (documented).

    ``time`` is int64 nanoseconds since the epoch, UTC; ``volume`` is NaN when the data had none.
    """

    time: IntArray
    open: FloatArray
    high: FloatArray
    low: FloatArray
    close: FloatArray
    volume: FloatArray

    def __post_init__(self) -> None:
        n = len(self.close)
        for name in ("time", "open", "high", "low", "volume"):
            if len(getattr(self, name)) != n:
                msg = f"column {name} has {len(getattr(self, name))} rows, close has {n}"
                raise ValueError(msg)

    def __len__(self) -> int:
        return len(self.close)

    @classmethod
    def from_close(cls, close: FloatArray, time: IntArray | None = None) -> "Bars":
        """Bars from closes alone: open, high and low equal close; no volume."""
        close = np.ascontiguousarray(close, dtype=np.float64)
        t = np.arange(len(close), dtype=np.int64) if time is None else time
        nan = np.full(len(close), np.nan)
        return cls(t, close.copy(), close.copy(), close.copy(), close, nan)
