"""Monte Carlo studies: many simulated equity paths, reduced to final equity, maximum drawdown and
a thinned copy of each path for the fan chart.

Determinism: simulations are cut into *streams* of ``STREAM_SIZE`` consecutive simulations, and
stream ``k`` draws from its own generator ``Generator(PCG64(SeedSequence(seed, spawn_key=(k,))))``.
A simulation's numbers therefore depend only on the seed, its index and the inputs, never on how
many streams are run between two progress reports (``batch_size``) nor on which thread runs a
stream. Within a stream the draws follow a fixed order (``CHUNK_STEPS`` steps at a time), so
memory stays bounded on long paths without changing the numbers.

Conventions (docs/engine.md, "Monte Carlo"): a path starts at the initial cash (step 0) and
compounds one resampled return per step; its maximum drawdown is the largest fall from a running
peak, as a positive fraction, exactly like a backtest's ``max_drawdown``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from tradelab_engine.domain.bars import FloatArray, IntArray

STREAM_SIZE = 256
"""Simulations per random stream (the unit of determinism and of work)."""
CHUNK_STEPS = 4096
"""Steps drawn at once within a stream (bounded memory on long paths; part of the draw order)."""
FAN_POINTS = 201
"""Most points of the fan chart: step 0, the last step and evenly spaced steps between."""

Float32Array = npt.NDArray[np.float32]
BatchCallback = Callable[[int, int], bool]
"""``on_batch(done, total)`` after each batch of streams; returning False cancels the study."""


class StudyCancelledError(Exception):
    """``on_batch`` asked to stop; no result is produced."""

    def __init__(self, done: int, total: int) -> None:
        super().__init__(f"Monte Carlo study cancelled after {done} of {total} simulations")
        self.done = done
        self.total = total


@dataclass(frozen=True)
class StreamOutcomes:
    """What one stream of ``count`` simulations produced."""

    final_equity: FloatArray
    max_drawdown: FloatArray
    fan: Float32Array
    """Equity at the fan steps, one row per simulation (single precision: it only feeds a chart)."""


StreamFn = Callable[[np.random.Generator, int], StreamOutcomes]
"""Simulate ``count`` paths with the given generator."""


@dataclass(frozen=True)
class Outcomes:
    """Every simulation's final equity and maximum drawdown, and the fan samples."""

    initial_cash: float
    steps: int
    final_equity: FloatArray
    max_drawdown: FloatArray
    fan_steps: IntArray
    fan: Float32Array


def fan_steps(steps: int, points: int = FAN_POINTS) -> IntArray:
    """Return the steps sampled for the fan chart: at most ``points``, 0 and ``steps`` included."""
    if steps + 1 <= points:
        return np.arange(steps + 1, dtype=np.int64)
    return np.unique(np.round(np.linspace(0, steps, points)).astype(np.int64))


def stream_generator(seed: int, stream: int) -> np.random.Generator:
    """Return stream ``stream``'s generator for ``seed`` (independent of every other stream)."""
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed, spawn_key=(stream,))))


def run_study(
    stream_fn: StreamFn,
    *,
    n_simulations: int,
    seed: int,
    initial_cash: float,
    steps: int,
    batch_size: int = STREAM_SIZE,
    on_batch: BatchCallback | None = None,
) -> Outcomes:
    """Run ``n_simulations`` simulations stream by stream and collect their outcomes.

    Parameters
    ----------
    stream_fn
        Simulates one stream (see `resampling_stream`, `gbm_stream`).
    batch_size
        Simulations between two ``on_batch`` calls, rounded up to whole streams; the numbers do
        not depend on it.
    on_batch
        Called as ``on_batch(done, total)`` after each batch; returning False raises
        `StudyCancelledError`.
    """
    if n_simulations < 1:
        msg = "a study needs at least one simulation"
        raise ValueError(msg)
    sampled = fan_steps(steps)
    final = np.empty(n_simulations)
    drawdown = np.empty(n_simulations)
    fan = np.empty((n_simulations, len(sampled)), dtype=np.float32)
    streams = math.ceil(n_simulations / STREAM_SIZE)
    per_batch = max(1, math.ceil(batch_size / STREAM_SIZE))
    for stream in range(streams):
        start = stream * STREAM_SIZE
        stop = min(start + STREAM_SIZE, n_simulations)
        result = stream_fn(stream_generator(seed, stream), stop - start)
        final[start:stop] = result.final_equity
        drawdown[start:stop] = result.max_drawdown
        fan[start:stop] = result.fan
        batch_ended = (stream + 1) % per_batch == 0 or stream + 1 == streams
        if batch_ended and on_batch is not None and not on_batch(stop, n_simulations):
            raise StudyCancelledError(stop, n_simulations)
    return Outcomes(initial_cash, steps, final, drawdown, sampled, fan)


def default_block_size(length: int) -> int:
    """Bars per block when none is asked for: the cube root of the series length, rounded."""
    return max(1, round(math.cbrt(length)))


def resampling_stream(
    returns: FloatArray, *, initial_cash: float, steps: int, block_size: int = 1
) -> StreamFn:
    """Bootstrap ``returns`` (trade or bar returns) into paths of ``steps`` compounded returns.

    ``block_size`` 1 resamples single returns with replacement (the i.i.d. bootstrap); above 1,
    each path is made of blocks of ``block_size`` consecutive returns starting at uniformly drawn
    positions, wrapping around the end of the series (circular block bootstrap, fixed block size),
    which keeps dependence within a block. The last block of a path is cut to fit.
    """
    values = np.ascontiguousarray(returns, dtype=np.float64)
    if values.ndim != 1 or len(values) == 0:
        msg = "need at least one return to resample"
        raise ValueError(msg)
    if not np.all(np.isfinite(values)):
        msg = "returns must be finite"
        raise ValueError(msg)
    if block_size < 1 or steps < 1:
        msg = "block_size and steps must be at least 1"
        raise ValueError(msg)
    sampled = fan_steps(steps)
    offsets = np.arange(block_size, dtype=np.int64)
    # A chunk holds whole blocks so a block never straddles two draws.
    chunk = block_size * max(1, CHUNK_STEPS // block_size)

    def simulate(rng: np.random.Generator, count: int) -> StreamOutcomes:
        level = np.full(count, float(initial_cash))
        peak = level.copy()
        worst = np.zeros(count)
        fan = np.empty((count, len(sampled)), dtype=np.float32)
        fan[:, sampled == 0] = level[:, None]
        for first in range(0, steps, chunk):
            width = min(chunk, steps - first)
            starts = rng.integers(0, len(values), size=(count, math.ceil(width / block_size)))
            index = ((starts[:, :, None] + offsets) % len(values)).reshape(count, -1)[:, :width]
            path = level[:, None] * np.cumprod(1.0 + values[index], axis=1)
            running = np.maximum(np.maximum.accumulate(path, axis=1), peak[:, None])
            worst = np.maximum(worst, _largest_fall(path, running))
            inside = (sampled > first) & (sampled <= first + width)
            fan[:, inside] = path[:, sampled[inside] - first - 1]
            level, peak = path[:, -1], running[:, -1]
        return StreamOutcomes(level.copy(), worst, fan)

    return simulate


def _largest_fall(path: FloatArray, running_peak: FloatArray) -> FloatArray:
    # The running peak starts at the (positive) initial cash, so the division is safe.
    result: FloatArray = np.max((running_peak - path) / running_peak, axis=1)
    return result


def path_outcomes(path: FloatArray, sampled: IntArray) -> tuple[float, float, FloatArray]:
    """Final value, maximum drawdown and fan samples of one path (step 0 = initial cash)."""
    peak = np.maximum.accumulate(path)
    return float(path[-1]), float(np.max((peak - path) / peak)), path[sampled]
