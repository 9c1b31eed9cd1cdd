"""The Monte Carlo worker: take the next queued study in the fair order, load its source, simulate
stream by stream (progress, cancellation), store the outcomes, announce. One terminal event per
study."""

import asyncio
import contextlib
import time
import uuid
from collections.abc import Awaitable, Callable

from pydantic import ValidationError

from tradelab_contracts.engine import FailureReason
from tradelab_contracts.engine_rpc import MonteCarloInfo, RunInfo, RunStatus
from tradelab_contracts.montecarlo import (
    MonteCarloCancelled,
    MonteCarloCompleted,
    MonteCarloFailed,
    MonteCarloProgress,
    MonteCarloResults,
    RunMonteCarlo,
)
from tradelab_contracts.topics import (
    MONTECARLO_CANCELLED,
    MONTECARLO_COMPLETED,
    MONTECARLO_FAILED,
    MONTECARLO_PROGRESS,
)
from tradelab_engine.domain.montecarlo import Outcomes, StudyCancelledError, run_study
from tradelab_engine.lifecycle.lease import holding_lease
from tradelab_engine.lifecycle.progress import JobFailedError, ProgressReporter, ProgressThrottle
from tradelab_engine.lifecycle.store import Announcement
from tradelab_engine.lifecycle.tracing import run_span
from tradelab_runtime.logging import get_logger

from .files import write_outcomes
from .repository import StudyClaim
from .sources import StudyInputs, prepare_study, results_of
from .use_cases import MonteCarloDeps

log = get_logger(__name__)


def progress_sender(
    claim: StudyClaim, deps: MonteCarloDeps
) -> Callable[[int, int], Awaitable[None]]:
    """Record a study's progress for its attempt and publish it with its sequence number."""
    info = claim.info

    async def send(done: int, total: int) -> None:
        sequence = await deps.repo.set_progress(info.id, claim.attempt, done / total, done)
        if sequence is None:
            return  # the study ended or another attempt owns it
        progress = MonteCarloProgress(
            simulation_id=info.id,
            owner_id=info.owner_id,
            progress=done / total,
            simulations_done=done,
            simulations_total=total,
            sequence=sequence,
        )
        await deps.engine.publish(progress, MONTECARLO_PROGRESS, info.id.bytes)

    return send


def _simulate(
    claim: StudyClaim, source: RunInfo | None, deps: MonteCarloDeps, reporter: ProgressReporter
) -> tuple[Outcomes, MonteCarloResults]:
    """Run in a worker thread: load the source, simulate every stream, summarise."""
    inputs: StudyInputs = prepare_study(claim.spec, source, deps.engine.store)
    throttle = ProgressThrottle(last_time=time.monotonic())
    study_id = str(claim.info.id)

    def on_batch(done: int, total: int) -> bool:
        if deps.engine.chunk_pause_s and done < total:
            time.sleep(deps.engine.chunk_pause_s)
        if study_id in deps.engine.cancelled:
            return False
        if done < total and throttle.due(done / total, time.monotonic()):
            reporter.report(done, total)
        return True

    outcomes = run_study(
        inputs.stream,
        n_simulations=claim.spec.n_simulations,
        seed=claim.spec.seed,
        initial_cash=inputs.initial_cash,
        steps=inputs.steps,
        on_batch=on_batch,
    )
    try:
        results = results_of(outcomes, claim.spec, inputs)
    except ValidationError as exc:  # e.g. an overflow to infinity on absurd returns
        raise JobFailedError(
            FailureReason.INVALID_PARAMETERS, f"The study produced unusable numbers: {exc}"
        ) from exc
    return outcomes, results


async def _source(claim: StudyClaim, deps: MonteCarloDeps) -> RunInfo | None:
    """The completed run a bootstrap resamples (None for price paths)."""
    run_id = claim.spec.source_run_id
    if run_id is None:
        return None
    run = await deps.engine.repo.get(claim.info.owner_id, run_id)
    if run is None or run.status != RunStatus.COMPLETED:
        raise JobFailedError(
            FailureReason.SOURCE_RUN_NOT_FOUND, "The backtest to resample is not a completed run."
        )
    return run


async def run_next_study(job: RunMonteCarlo, deps: MonteCarloDeps) -> None:
    """Take one turn: run the next queued study in the fair order (or resume the one this message
    started before its consumer died) and publish its one terminal event."""
    engine = deps.engine
    await deps.repo.ensure(job, engine.clock.now())
    claim = await deps.repo.take(engine.worker, engine.clock.now())
    if claim is None:
        return  # nothing claimable: the study this message named ran on an earlier turn
    study_id = str(claim.info.id)
    started = time.monotonic()
    reporter = ProgressReporter(progress_sender(claim, deps), asyncio.get_running_loop(), study_id)
    lease = holding_lease(
        deps.repo.jobs,
        claim.info.id,
        claim.attempt,
        engine.clock,
        lambda: engine.cancelled.add(study_id),
    )
    with run_span(engine.tracer, "monte_carlo", claim.info.id, claim.attempt, claim.trace_context):
        try:
            async with lease:
                outcome = await _outcome(claim, deps, reporter)
            await reporter.drain()
            engine.failpoints.hit("engine.montecarlo.before_commit")
            if isinstance(outcome, JobFailedError):
                await _failed(claim, outcome.reason, outcome.message, deps)
            elif outcome is None:
                await _cancelled(claim, deps)
            else:
                await _completed(claim, *outcome, time.monotonic() - started, deps)
            engine.failpoints.hit("engine.montecarlo.after_commit")
        except Exception:
            # A transient error stopped this attempt: give the study back so the failure policy's
            # retry takes it at once instead of after the lease.
            with contextlib.suppress(Exception):  # the database may be the trouble: the lease ends
                await deps.repo.jobs.release(claim.info.id, claim.attempt, engine.clock.now())
            raise
        finally:
            engine.cancelled.discard(study_id)


StudyOutcome = tuple[Outcomes, MonteCarloResults] | JobFailedError | None
"""What a study came to: its outcomes, a failure the user can read, or None if cancelled."""


async def _outcome(
    claim: StudyClaim, deps: MonteCarloDeps, reporter: ProgressReporter
) -> StudyOutcome:
    try:
        source = await _source(claim, deps)
        return await asyncio.to_thread(_simulate, claim, source, deps, reporter)
    except StudyCancelledError:
        return None
    except JobFailedError as exc:
        return exc
    except Exception:
        log.exception("Monte Carlo study failed", simulation_id=str(claim.info.id))
        return JobFailedError(FailureReason.INTERNAL, "The study failed internally.")


async def _completed(
    claim: StudyClaim,
    outcomes: Outcomes,
    results: MonteCarloResults,
    duration_s: float,
    deps: MonteCarloDeps,
) -> None:
    info, store = claim.info, deps.engine.store
    scratch = store.scratch_dir() / f"{uuid.uuid4()}.parquet"
    await asyncio.to_thread(
        write_outcomes, scratch, outcomes.final_equity, outcomes.max_drawdown, results.initial_cash
    )
    study_dir = f"montecarlo/{info.owner_id}/{info.id}"
    key = f"{study_dir}/a{claim.attempt}/outcomes.parquet"  # one folder per attempt
    results_uri = store.put_file(key, scratch)
    values = {
        "status": RunStatus.COMPLETED.value,
        "progress": 1.0,
        "simulations_done": claim.spec.n_simulations,
        "results": results.model_dump(mode="json"),
        "results_uri": results_uri,
    }

    def completed(finished: MonteCarloInfo) -> Announcement:
        return (
            _completed_event(claim, finished, results, results_uri, duration_s),
            MONTECARLO_COMPLETED,
            info.id.bytes,
        )

    now = deps.engine.clock.now()
    if await deps.repo.finish(info.id, claim.attempt, values, now, completed) is None:
        store.delete(results_uri)  # another attempt owns the study now: the file is nobody's
        return
    # What an earlier attempt wrote before its worker died is nobody's either.
    store.delete_tree(study_dir, keep=frozenset({results_uri}))


def _completed_event(
    claim: StudyClaim,
    finished: MonteCarloInfo,
    results: MonteCarloResults,
    results_uri: str,
    duration_s: float,
) -> MonteCarloCompleted:
    info = claim.info
    return MonteCarloCompleted(
        simulation_id=info.id,
        owner_id=info.owner_id,
        method=claim.spec.method,
        n_simulations=claim.spec.n_simulations,
        final_equity_percentiles=results.final_equity_percentiles,
        max_drawdown_percentiles=results.max_drawdown_percentiles,
        probability_of_loss=results.probability_of_loss,
        drawdown_threshold=results.drawdown_threshold,
        probability_of_drawdown_beyond=results.probability_of_drawdown_beyond,
        results_uri=results_uri,
        duration_s=duration_s,
        sequence=finished.sequence,
    )


async def _failed(
    claim: StudyClaim, reason: FailureReason, message: str, deps: MonteCarloDeps
) -> None:
    values = {
        "status": RunStatus.FAILED.value,
        "failure_reason": reason.value,
        "failure_message": message[:2048],
    }
    info = claim.info

    def failed(finished: MonteCarloInfo) -> Announcement:
        event = MonteCarloFailed(
            simulation_id=info.id,
            owner_id=info.owner_id,
            reason_code=reason,
            message=message[:2048],
            sequence=finished.sequence,
        )
        return event, MONTECARLO_FAILED, info.id.bytes

    await deps.repo.finish(info.id, claim.attempt, values, deps.engine.clock.now(), failed)


async def _cancelled(claim: StudyClaim, deps: MonteCarloDeps) -> None:
    info = claim.info
    values = {"status": RunStatus.CANCELLED.value}

    def cancelled(finished: MonteCarloInfo) -> Announcement:
        event = MonteCarloCancelled(
            simulation_id=info.id, owner_id=info.owner_id, sequence=finished.sequence
        )
        return event, MONTECARLO_CANCELLED, info.id.bytes

    await deps.repo.finish(info.id, claim.attempt, values, deps.engine.clock.now(), cancelled)
