"""The backtest worker: take a turn (claim the next run in the fair order), load, simulate in
chunks (progress, cancellation), store, announce. Exactly one terminal event per run, whatever
the redeliveries."""

import asyncio
import contextlib
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import asdict
from pathlib import Path

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
from tradelab_engine.adapters.bars_loader import load_bars
from tradelab_engine.adapters.results_writer import write_equity, write_trades
from tradelab_engine.domain.bars import Bars
from tradelab_engine.domain.simulate import BacktestCancelled as SimulationCancelled
from tradelab_engine.domain.simulate import BacktestResult, run_backtest
from tradelab_engine.lifecycle.lease import holding_lease
from tradelab_engine.lifecycle.progress import JobFailedError, ProgressReporter, ProgressThrottle
from tradelab_engine.lifecycle.store import Announcement
from tradelab_engine.lifecycle.tracing import run_span
from tradelab_engine.service import EngineDeps
from tradelab_engine.strategies.catalogue import get_strategy, validate_parameters
from tradelab_runtime.logging import get_logger

from .repository import Claim

log = get_logger(__name__)


def progress_sender(
    job: RunBacktest, attempt: int, deps: EngineDeps
) -> Callable[[int, int], Awaitable[None]]:
    """Record a run's progress for ``attempt`` and publish it with its sequence number."""

    async def send(done: int, total: int) -> None:
        fraction = done / total if total else 1.0
        sequence = await deps.repo.set_progress(job.run_id, attempt, fraction)
        if sequence is None:
            return  # the run ended or another attempt owns it
        progress = BacktestProgress(
            run_id=job.run_id,
            owner_id=job.owner_id,
            progress=fraction,
            bars_done=done,
            bars_total=total,
            sequence=sequence,
            correlation_id=correlation_of(job),
        )
        await deps.publish(progress, BACKTEST_PROGRESS, job.run_id.bytes)

    return send


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
            reporter.report(done, total)
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


def turn_job(message: RunBacktest, claim: Claim) -> RunBacktest:
    """The job of the run a turn claimed: the message itself when it named that run (its
    correlation carries on), else the run's own job rebuilt from its row."""
    return message if claim.job.run_id == message.run_id else claim.job


async def run_job(message: RunBacktest, deps: EngineDeps) -> None:
    """Take one turn: execute the next claimable run in the fair order (``lifecycle.fair``),
    whichever run ``message`` named, and store its one terminal event. Every queued run has a
    message of its own, so a run this turn did not take is taken by another."""
    claim = await deps.repo.take(deps.worker, deps.clock.now())
    if claim is None:
        return  # nothing claimable: finished, cancelled, deleted or held by live workers
    await run_claim(message, claim, deps)


async def run_claim(message: RunBacktest, claim: Claim, deps: EngineDeps) -> None:
    """Execute the run ``claim`` took (by a turn, or by the submission of ``message`` itself) and
    store its one terminal event."""
    job = turn_job(message, claim)
    run_id = str(job.run_id)
    started = time.monotonic()
    send = progress_sender(job, claim.attempt, deps)
    reporter = ProgressReporter(send, asyncio.get_running_loop(), run_id)
    lease = holding_lease(
        deps.repo.jobs, job.run_id, claim.attempt, deps.clock, lambda: deps.cancelled.add(run_id)
    )
    with run_span(deps.tracer, "backtest", job.run_id, claim.attempt, claim.trace_context):
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
        except Exception:
            # A transient error (the database, the object store) stopped this attempt: give the run
            # back, with its message (a run its submission claimed had none), so the next turn
            # claims it at once instead of after the lease.
            with contextlib.suppress(Exception):  # the database may be the trouble: the lease ends
                await deps.repo.jobs.release(
                    job.run_id, claim.attempt, deps.clock.now(), redispatch=True
                )
            raise
        finally:
            deps.cancelled.discard(run_id)


async def take_turn(message: RunBacktest, deps: EngineDeps) -> None:
    """One turn (:func:`run_job`), as the consumer of ``message`` takes it."""
    await run_job(message, deps)
    await _after_turn(deps)


async def claimed_turn(message: RunBacktest, claim: Claim, deps: EngineDeps) -> None:
    """The direct turn of the replica whose submission of ``message`` claimed ``claim``
    (``lifecycle.turns``)."""
    await run_claim(message, claim, deps)
    await _after_turn(deps)


async def _after_turn(deps: EngineDeps) -> None:
    if deps.failpoints.armed_at("engine.backtest.after_publish"):
        await deps.repo.jobs.outbox.wait_drained(timeout_s=10)
        deps.failpoints.hit("engine.backtest.after_publish")


Outcome = tuple[Bars, BacktestResult] | JobFailedError | None
"""What a simulation came to: its result, a failure the user can read, or None if cancelled."""


async def _outcome(
    job: RunBacktest, claim: Claim, deps: EngineDeps, reporter: ProgressReporter
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


def _put_files(deps: EngineDeps, prefix: str, equity: Path, trades: Path) -> tuple[str, str]:
    """Run in a worker thread: move the written files into the store; their URIs."""
    equity_uri = deps.store.put_file(f"{prefix}/equity.parquet", equity)
    deps.failpoints.hit("engine.backtest.write_files")  # a storage error between two writes
    return equity_uri, deps.store.put_file(f"{prefix}/trades.parquet", trades)


async def _all(*steps: Awaitable[None]) -> None:
    """Await ``steps`` together; once all have ended, raise the first one's error, if any."""
    for outcome in await asyncio.gather(*steps, return_exceptions=True):
        if isinstance(outcome, BaseException):
            raise outcome


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
    scratch = await asyncio.to_thread(deps.store.scratch_dir)
    equity_tmp, trades_tmp = (
        scratch / f"{uuid.uuid4()}.parquet",
        scratch / f"{uuid.uuid4()}.parquet",
    )
    try:
        # Both files at once (polars writes them without holding the GIL).
        await _all(
            asyncio.to_thread(
                write_equity,
                equity_tmp,
                bars.time,
                bars.close,
                result.equity,
                result.cash,
                result.position,
            ),
            asyncio.to_thread(write_trades, trades_tmp, result.trades),
        )
        equity_uri, trades_uri = await asyncio.to_thread(
            _put_files, deps, prefix, equity_tmp, trades_tmp
        )
    finally:
        for tmp in (equity_tmp, trades_tmp):  # moved into the store, or of no use now
            tmp.unlink(missing_ok=True)
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
        await asyncio.to_thread(deps.store.delete, equity_uri)
        await asyncio.to_thread(deps.store.delete, trades_uri)
        return
    # Files an earlier attempt wrote before its worker died are nobody's either. On the event
    # loop, without yielding: between the commit and the end of this attempt nothing else of
    # this process may run, or the woken relay publishes the completion first and a crash at
    # that point (the `after_commit` failpoint) has it published twice.
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
