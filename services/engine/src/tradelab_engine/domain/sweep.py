"""Parameter sweeps: one strategy, many parameter combinations, headline metrics for each.

``sma_cross`` and ``ema_cross`` without stops run through the sweep kernel
(``kernels/sweep_nb.py``): each distinct moving average is computed once, then every
combination is simulated in one pass without materialising its equity curve, with results
bit-identical to ``run_backtest`` + its summary. Every other strategy, and the crossovers with
a stop, take the fallback: ``run_backtest`` per combination. Conventions: ``docs/engine.md``
("Parameter sweeps").
"""

from __future__ import annotations

import time as _time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Final, Literal

import numba
import numpy as np
from pydantic import BaseModel

from tradelab_contracts.engine import EngineOptions
from tradelab_engine.domain.bars import Bars, FloatArray, IntArray
from tradelab_engine.domain.simulate import kernel_params, run_backtest
from tradelab_engine.domain.summary import infer_timeframe, periods_per_year
from tradelab_engine.kernels.sweep_nb import (
    MA_EXPONENTIAL,
    MA_SIMPLE,
    STATE_FIELDS,
    sweep_cross_nb,
)
from tradelab_engine.strategies.catalogue import get_strategy, validate_parameters
from tradelab_engine.strategies.ma_cross import MaCrossParams

KERNEL_STRATEGIES: Final = {"sma_cross": MA_SIMPLE, "ema_cross": MA_EXPONENTIAL}
"""Strategies the sweep kernel simulates (without stops), with their moving-average kind."""

MEMORY_BUDGET: Final = 256 * 2**20
"""Default bytes for one block's moving averages (one chunk of them), and for its state."""

CHUNK_BARS: Final = 8192
"""Bars of averages computed at a time; every combination advances over them in turn."""

SCHEDULE_CHUNK: Final = 8
"""Parallel iterations (combinations or windows) a thread takes at a time."""

_OUT_FIELDS: Final = 6  # final equity, drawdown, mean, std, trades, exposed (sweep_cross_nb)

Method = Literal["kernel", "per_run"]
Metric = Literal["final_equity", "total_return", "max_drawdown", "sharpe", "trades", "exposure"]


@dataclass(frozen=True)
class SweepResult:
    """Summary metrics per combination, in the order the combinations were given.

    Each field is defined as in ``domain/summary.py``; ``sharpe`` is NaN where the summary's
    is None. ``method`` says which path computed them.
    """

    final_equity: FloatArray
    total_return: FloatArray
    max_drawdown: FloatArray
    sharpe: FloatArray
    trades: IntArray
    exposure: FloatArray
    method: Method

    def __len__(self) -> int:
        return len(self.final_equity)

    def best(self, metric: Metric = "sharpe") -> int:
        """Return the index of the combination with the highest ``metric`` (NaN ignored; the
        first one on ties).

        Raises
        ------
        ValueError
            When every value is NaN (or there are no combinations).
        """
        values = np.asarray(getattr(self, metric), dtype=np.float64)
        if not np.any(~np.isnan(values)):
            msg = f"no combination has a {metric}"
            raise ValueError(msg)
        return int(np.nanargmax(values))


def supports(strategy: str, options: EngineOptions) -> bool:
    """Whether the sweep kernel simulates ``strategy`` under ``options`` (else: per run)."""
    no_stops = options.stop_loss is None and options.take_profit is None
    return strategy in KERNEL_STRATEGIES and no_stops and options.trailing_stop is None


@contextmanager
def _numba_parallelism(threads: int | None) -> Iterator[None]:
    """Use ``threads`` (when given) and dynamic scheduling of ``SCHEDULE_CHUNK`` iterations,
    so a thread slowed by other work on its core leaves the rest to the others; restore both."""
    before = numba.get_num_threads()
    if threads is not None:
        numba.set_num_threads(threads)  # ValueError outside 1..NUMBA_NUM_THREADS
    chunksize = numba.set_parallel_chunksize(SCHEDULE_CHUNK)
    try:
        yield
    finally:
        numba.set_parallel_chunksize(chunksize)
        numba.set_num_threads(before)


def _finite_positive(*columns: FloatArray) -> bool:
    return all(bool(np.all(np.isfinite(c) & (c > 0.0))) for c in columns)


def sweep(
    bars: Bars,
    strategy: str,
    combinations: Sequence[Mapping[str, Any]],
    options: EngineOptions,
    timeframe: str | None = None,
    threads: int | None = None,
    *,
    memory_budget: int = MEMORY_BUDGET,
) -> SweepResult:
    """Backtest ``strategy`` over ``bars`` once per parameter combination; return the metrics.

    Parameters
    ----------
    bars
        At least one bar.
    strategy
        A catalogue name.
    combinations
        Raw parameters per run (missing ones take their defaults), validated like a job's.
    options
        Engine options, the same for every run.
    timeframe
        Bar size for annualising the Sharpe ratio; inferred from ``bars.time`` when None.
    threads
        Numba threads for the kernel, 1 to ``NUMBA_NUM_THREADS`` (numba's current setting when
        None); restored afterwards.
    memory_budget
        Bytes a block of combinations may use for its moving averages (``CHUNK_BARS`` bars of
        each distinct window at a time), and again for its kernel state; larger grids are
        evaluated block by block (a block holds at least one combination). Only the kernel
        path uses it, and ``threads``.

    Raises
    ------
    UnknownStrategyError
        If there is no such strategy.
    pydantic.ValidationError
        If a combination is invalid.
    ValueError
        On empty bars, or ``threads`` out of numba's range.
    """
    if len(bars) == 0:
        msg = "cannot backtest zero bars"
        raise ValueError(msg)
    params = [validate_parameters(strategy, combo) for combo in combinations]
    frame = timeframe if timeframe is not None else infer_timeframe(bars.time)
    # Zero or non-finite prices: the simulator's own errors and NaNs, not the kernel's.
    if supports(strategy, options) and _finite_positive(bars.open, bars.close):
        with _numba_parallelism(threads):
            return _kernel_sweep(bars, strategy, params, options, frame, memory_budget)
    return _per_run_sweep(bars, strategy, params, options, frame)


def _per_run_sweep(
    bars: Bars, strategy: str, params: list[BaseModel], options: EngineOptions, frame: str
) -> SweepResult:
    signals = get_strategy(strategy).signals
    summaries = [
        run_backtest(bars, signals(bars, p), options, timeframe=frame).summary for p in params
    ]

    def column(name: str) -> FloatArray:
        values = [getattr(s, name) for s in summaries]
        return np.array([np.nan if v is None else v for v in values], dtype=np.float64)

    return SweepResult(
        final_equity=column("final_equity"),
        total_return=column("total_return"),
        max_drawdown=column("max_drawdown"),
        sharpe=column("sharpe"),
        trades=np.array([s.trades for s in summaries], dtype=np.int64),
        exposure=column("exposure"),
        method="per_run",
    )


def plan_blocks(
    fast: IntArray, slow: IntArray, max_windows: int, max_combinations: int
) -> list[IntArray]:
    """Split combinations into blocks of at most ``max_windows`` distinct windows (at least
    the two of one combination) and ``max_combinations`` combinations; return each block's
    indices into ``fast``/``slow``, ordered by slow then fast window (rows shared in cache)."""
    order = np.lexsort((fast, slow))
    if len(np.union1d(fast, slow)) <= max_windows and len(order) <= max_combinations:
        return [order] if len(order) else []
    blocks: list[IntArray] = []
    start, windows = 0, set[int]()
    for position, k in enumerate(order.tolist()):
        pair = {int(fast[k]), int(slow[k])}
        full = position - start >= max_combinations
        if position > start and (full or len(windows | pair) > max(max_windows, 2)):
            blocks.append(order[start:position])
            start, windows = position, set()
        windows |= pair
    blocks.append(order[start:])
    return blocks


def _windows(params: list[BaseModel]) -> tuple[IntArray, IntArray]:
    crosses = [p for p in params if isinstance(p, MaCrossParams)]
    if len(crosses) != len(params):
        msg = "the sweep kernel takes moving-average crossover parameters"
        raise TypeError(msg)
    fast = np.array([p.fast for p in crosses], dtype=np.int64)
    return fast, np.array([p.slow for p in crosses], dtype=np.int64)


def _kernel_sweep(
    bars: Bars,
    strategy: str,
    params: list[BaseModel],
    options: EngineOptions,
    frame: str,
    memory_budget: int,
) -> SweepResult:
    n, m = len(bars), len(params)
    fast, slow = _windows(params)
    close = np.ascontiguousarray(bars.close, dtype=np.float64)
    open_ = np.ascontiguousarray(bars.open, dtype=np.float64)
    kernel = kernel_params(options)
    out = np.empty((m, _OUT_FIELDS))
    per_combination = (STATE_FIELDS + _OUT_FIELDS) * 8
    blocks = plan_blocks(
        fast,
        slow,
        memory_budget // (2 * 8 * (CHUNK_BARS + 1)),  # two buffers of averages
        max(1, memory_budget // per_combination),
    )
    for block in blocks:
        windows = np.union1d(fast[block], slow[block])
        block_out = np.empty((len(block), _OUT_FIELDS))
        sweep_cross_nb(
            close,
            open_,
            windows,
            KERNEL_STRATEGIES[strategy],
            np.searchsorted(windows, fast[block]),
            np.searchsorted(windows, slow[block]),
            kernel,
            float(options.initial_cash),
            CHUNK_BARS,
            block_out,
        )
        out[block] = block_out
    return _kernel_result(out, n, float(options.initial_cash), periods_per_year(frame))


def _kernel_result(out: FloatArray, n: int, initial_cash: float, ann_factor: float) -> SweepResult:
    final, drawdown, mean, std = out[:, 0], out[:, 1], out[:, 2], out[:, 3]
    defined = np.isfinite(mean) & np.isfinite(std) & (std != 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        # Same operations, in the same order, as summary._sharpe.
        sharpe = np.where(defined, mean / std * np.sqrt(ann_factor), np.nan)
    return SweepResult(
        final_equity=final.copy(),
        total_return=final / initial_cash - 1.0,
        max_drawdown=drawdown.copy(),
        sharpe=sharpe,
        trades=out[:, 4].astype(np.int64),
        exposure=out[:, 5] / n,
        method="kernel",
    )


def compile_sweep_kernels() -> float:
    """JIT-compile (or load from the numba cache) the sweep kernels on tiny data; return
    seconds."""
    started = _time.perf_counter()
    bars = Bars.from_close(np.array([10.0, 11.0, 9.0, 12.0, 8.0, 13.0, 12.5, 11.0]))
    for strategy in KERNEL_STRATEGIES:
        sweep(bars, strategy, [{"fast": 2, "slow": 3}], EngineOptions(), "1d")
    return _time.perf_counter() - started
