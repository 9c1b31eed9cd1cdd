"""The backtest job runner: claim, load, simulate in chunks (progress, cancellation), store,
announce. Exactly one terminal event per run, whatever the redeliveries."""

import asyncio
import time
import uuid
from concurrent.futures import Future
from dataclasses import asdict, dataclass, field

from tradelab_contracts.base import correlation_of
from tradelab_contracts.engine import (
    BacktestCancelled,
    BacktestCompleted,
    BacktestFailed,
    BacktestProgress,
    BacktestSummary,
    FailureReason,
    RunBacktest,
)
from tradelab_contracts.engine_rpc import RunInfo, RunStatus
from tradelab_contracts.topics import (
    BACKTEST_CANCELLED,
    BACKTEST_COMPLETED,
    BACKTEST_FAILED,
    BACKTEST_PROGRESS,
)
from tradelab_runtime.logging import get_logger

from .adapters.bars_loader import load_bars
from .adapters.repository import Claim
from .adapters.results_writer import write_equity, write_trades
from .domain.bars import Bars
from .domain.simulate import BacktestCancelled as SimulationCancelled
from .domain.simulate import BacktestResult, run_backtest
from .lifecycle.lease import holding_lease
from .lifecycle.store import Announcement
from .service import EngineDeps
from .strategies.catalogue import get_strategy, validate_parameters

log = get_logger(__name__)
PROGRESS_MIN_STEP = 0.05
PROGRESS_MIN_INTERVAL_S = 0.5


@dataclass
class ProgressThrottle:
    """Report at most every 5 % and every 500 ms, whichever is rarer."""

    last_fraction: float = 0.0
    last_time: float = 0.0

    def due(self, fraction: float, now: float) -> bool:
        """Return whether a report is due now (and record it if so)."""
        if fraction - self.last_fraction < PROGRESS_MIN_STEP:
            return False
        if now - self.last_time < PROGRESS_MIN_INTERVAL_S:
            return False
        self.last_fraction, self.last_time = fraction, now
        return True


class JobFailedError(Exception):
    """A run failed for a reason the user can act on."""

    def __init__(self, reason: FailureReason, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


@dataclass
class ProgressReporter:
    """Hands progress from the simulation thread to the event loop, one report at a time and in
    order (each takes the run's next sequence number), and lets the job wait for them all before
    its final event, which must come last."""

    job: RunBacktest
    attempt: int
    deps: EngineDeps
    loop: asyncio.AbstractEventLoop
    pending: list["Future[None]"] = field(default_factory=list)
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    def report(self, fraction: float, done: int, total: int) -> None:
        """Called from the simulation thread."""
        coro = self._report(fraction, done, total)
        self.pending.append(asyncio.run_coroutine_threadsafe(coro, self.loop))

    async def _report(self, fraction: float, done: int, total: int) -> None:
        async with self.lock:
            sequence = await self.deps.repo.set_progress(self.job.run_id, self.attempt, fraction)
            if sequence is None:
                return  # the run ended or another attempt owns it
            progress = BacktestProgress(
                run_id=self.job.run_id,
                owner_id=self.job.owner_id,
                progress=fraction,
                bars_done=done,
                bars_total=total,
                sequence=sequence,
                correlation_id=correlation_of(self.job),
            )
            await self.deps.publish(progress, BACKTEST_PROGRESS, self.job.run_id.bytes)

    async def drain(self) -> None:
        """Wait for every report handed over so far."""
        for future in self.pending:
            try:
                await asyncio.wrap_future(future)
            except Exception:  # a lost progress report must not fail the run
                log.exception("progress report failed", run_id=str(self.job.run_id))
        self.pending.clear()


def _simulate(
    job: RunBacktest, claim: Claim, deps: EngineDeps, reporter: ProgressReporter
) -> tuple[Bars, BacktestResult]:
    """Run in a worker thread: load bars, compute signals, simulate chunk by chunk."""
    try:
        bars = load_bars(deps.store.path(claim.dataset_uri))
    except (OSError, ValueError, KeyError) as exc:
        raise JobFailedError(
            FailureReason.DATASET_UNREADABLE, f"Dataset unreadable: {exc}"
        ) from exc
    strategy = get_strategy(job.strategy)
    signals = strategy.signals(bars, validate_parameters(job.strategy, dict(job.parameters)))
    throttle = ProgressThrottle(last_time=time.monotonic())
    run_id = str(job.run_id)

    def on_chunk(done: int, total: int) -> bool:
        if deps.chunk_pause_s and done < total:
            time.sleep(deps.chunk_pause_s)
        if run_id in deps.cancelled:
            return False
        fraction = done / total if total else 1.0
        if done < total and throttle.due(fraction, time.monotonic()):
            reporter.report(fraction, done, total)
        return True

    return bars, run_backtest(
        bars,
        signals,
        job.options,
        chunk_bars=deps.chunk_bars,
        on_chunk=on_chunk,
        timeframe=claim.timeframe,
    )


def _summary(result: BacktestResult) -> BacktestSummary:
    return BacktestSummary.model_validate(asdict(result.summary))


async def run_job(job: RunBacktest, deps: EngineDeps) -> None:
    """Execute one run if it is still to be done; store its one terminal event."""
    claim = await deps.repo.claim(job.run_id, deps.worker, deps.clock.now())
    if claim is None:
        return  # finished, cancelled, deleted or held by a live worker: a no-op
    run_id = str(job.run_id)
    started = time.monotonic()
    reporter = ProgressReporter(job, claim.attempt, deps, asyncio.get_running_loop())
    lease = holding_lease(
        deps.repo.jobs, job.run_id, claim.attempt, deps.clock, lambda: deps.cancelled.add(run_id)
    )
    try:
        async with lease:
            outcome = await _outcome(job, claim, deps, reporter)
        await reporter.drain()
        deps.failpoints.hit("engine.backtest.before_commit")
        if isinstance(outcome, JobFailedError):
            await _failed(job, claim, outcome.reason, outcome.message, deps)
        elif outcome is None:
            await _cancelled(job, claim, deps)
        else:
            bars, result = outcome
            await _completed(job, claim, bars, result, time.monotonic() - started, deps)
        deps.failpoints.hit("engine.backtest.after_commit")
    finally:
        deps.cancelled.discard(run_id)


Outcome = tuple[Bars, BacktestResult] | JobFailedError | None
"""What a simulation came to: its result, a failure the user can read, or None if cancelled."""


async def _outcome(
    job: RunBacktest, claim: Claim, deps: EngineDeps, reporter: "ProgressReporter"
) -> Outcome:
    try:
        return await asyncio.to_thread(_simulate, job, claim, deps, reporter)
    except SimulationCancelled:
        return None
    except JobFailedError as exc:
        return exc
    except Exception:
        log.exception("backtest failed", run_id=str(job.run_id))
        return JobFailedError(FailureReason.INTERNAL, "The backtest failed internally.")


async def _completed(
    job: RunBacktest,
    claim: Claim,
    bars: Bars,
    result: BacktestResult,
    duration_s: float,
    deps: EngineDeps,
) -> None:
    # One folder per attempt: a late attempt never overwrites (or, refused, deletes) the files
    # the winning attempt recorded.
    run_dir = f"backtests/{job.owner_id}/{job.run_id}"
    prefix = f"{run_dir}/a{claim.attempt}"
    scratch = deps.store.scratch_dir()
    equity_tmp, trades_tmp = (
        scratch / f"{uuid.uuid4()}.parquet",
        scratch / f"{uuid.uuid4()}.parquet",
    )
    await asyncio.to_thread(
        write_equity,
        equity_tmp,
        bars.time,
        bars.close,
        result.equity,
        result.cash,
        result.position,
    )
    await asyncio.to_thread(write_trades, trades_tmp, result.trades)
    equity_uri = deps.store.put_file(f"{prefix}/equity.parquet", equity_tmp)
    trades_uri = deps.store.put_file(f"{prefix}/trades.parquet", trades_tmp)
    summary = _summary(result)
    values = {
        "status": RunStatus.COMPLETED.value,
        "progress": 1.0,
        "summary": summary.model_dump(mode="json"),
        "equity_uri": equity_uri,
        "trades_uri": trades_uri,
    }

    def completed(finished: RunInfo) -> Announcement:
        event = BacktestCompleted(
            run_id=job.run_id,
            owner_id=job.owner_id,
            dataset_id=job.dataset_id,
            strategy=job.strategy,
            parameters=claim.info.parameters,
            options=job.options,
            summary=summary,
            equity_uri=equity_uri,
            trades_uri=trades_uri,
            engine_version=deps.engine_version,
            timeframe=claim.timeframe,
            duration_s=duration_s,
            cached=False,
            sequence=finished.sequence,
            correlation_id=correlation_of(job),
        )
        return event, BACKTEST_COMPLETED, job.run_id.bytes

    finished = await deps.repo.finish(
        job.run_id, claim.attempt, values, deps.clock.now(), completed
    )
    if finished is None:
        # Another attempt owns the run now (or it was cancelled): our files are nobody's.
        deps.store.delete(equity_uri)
        deps.store.delete(trades_uri)
        return
    # Files an earlier attempt wrote before its worker died are nobody's either.
    deps.store.delete_tree(run_dir, keep=frozenset({equity_uri, trades_uri}))


async def _failed(
    job: RunBacktest, claim: Claim, reason: FailureReason, message: str, deps: EngineDeps
) -> None:
    values = {
        "status": RunStatus.FAILED.value,
        "failure_reason": reason.value,
        "failure_message": message[:2048],
    }

    def failed(finished: RunInfo) -> Announcement:
        event = BacktestFailed(
            sequence=finished.sequence,
            run_id=job.run_id,
            owner_id=job.owner_id,
            reason_code=reason,
            message=message[:2048],
            correlation_id=correlation_of(job),
        )
        return event, BACKTEST_FAILED, job.run_id.bytes

    await deps.repo.finish(job.run_id, claim.attempt, values, deps.clock.now(), failed)


async def _cancelled(job: RunBacktest, claim: Claim, deps: EngineDeps) -> None:
    values = {"status": RunStatus.CANCELLED.value}

    def cancelled(finished: RunInfo) -> Announcement:
        event = BacktestCancelled(
            run_id=job.run_id,
            owner_id=job.owner_id,
            sequence=finished.sequence,
            correlation_id=correlation_of(job),
        )
        return event, BACKTEST_CANCELLED, job.run_id.bytes

    await deps.repo.finish(job.run_id, claim.attempt, values, deps.clock.now(), cancelled)
