"""The engine's job runner against a real PostgreSQL: exactly one terminal state and event per run
whatever the redeliveries, cancellation between chunks, the result cache."""

import uuid
from collections.abc import AsyncIterator
from functools import partial
from pathlib import Path

import pytest
import pytest_asyncio
from sqlalchemy.ext.asyncio import create_async_engine

from tradelab_contracts.engine import (
    BacktestCancelled,
    BacktestCompleted,
    BacktestFailed,
    EngineOptions,
    FailureReason,
    RunBacktest,
)
from tradelab_contracts.engine_rpc import (
    BacktestReply,
    EngineErrorCode,
    RunStatus,
    SubmitBacktest,
)
from tradelab_contracts.topics import reply_topic
from tradelab_engine.backtests.use_cases import submit_backtest
from tradelab_engine.backtests.worker import run_job, take_turn
from tradelab_engine.lifecycle.queue_depth import active_counts
from tradelab_engine.lifecycle.sweeper import sweep_once
from tradelab_engine.lifecycle.turns import DirectTurn, LocalTurns
from tradelab_engine.quotas.limits import QuotaLimits
from tradelab_engine.service import RESULT_CACHE, EngineDeps
from tradelab_runtime.metrics import MetricName
from tradelab_runtime.migrations import upgrade_to_head
from tradelab_runtime.storage import LocalObjectStore

from .engine_support import (
    TERMS,
    MovingClock,
    Recorder,
    engine_deps,
    random_walk_dataset,
    recorder_of,
)

pytestmark = pytest.mark.integration
BARS = 200_000


def write_dataset(store: LocalObjectStore) -> str:
    return random_walk_dataset(store, BARS, seed=7, drift=0.0, step_s=60)


@pytest_asyncio.fixture
async def deps(database_url: str, tmp_path: Path) -> AsyncIterator[EngineDeps]:
    engine = create_async_engine(database_url)
    await upgrade_to_head(engine, "tradelab_engine:migrations", "engine")
    yield engine_deps(engine, Recorder(engine), LocalObjectStore(tmp_path / "objects"))
    await engine.dispose()


def submission(dataset_uri: str) -> SubmitBacktest:
    """A new user's sma_cross (10, 50) request on the dataset at ``dataset_uri``."""
    return SubmitBacktest(
        reply_to=reply_topic("gw-test"),
        run_id=uuid.uuid4(),
        owner_id=uuid.uuid4(),
        dataset_id=uuid.uuid4(),
        dataset_uri=dataset_uri,
        dataset_sha256="c" * 64,
        timeframe="1m",
        strategy="sma_cross",
        parameters={"fast": 10, "slow": 50},
        options=EngineOptions(fee_rate=0.001),
    )


async def submit(deps: EngineDeps, dataset_uri: str) -> RunBacktest:
    await submit_backtest(submission(dataset_uri), deps)
    recorder = recorder_of(deps)
    job = (await recorder.events(RunBacktest))[-1]
    assert isinstance(job, RunBacktest)
    return job


@pytest.mark.asyncio
async def test_a_run_whose_worker_died_is_taken_over_after_its_lease_and_completes_once(
    deps: EngineDeps,
) -> None:
    recorder = recorder_of(deps)
    clock = deps.clock
    assert isinstance(clock, MovingClock)
    job = await submit(deps, write_dataset(deps.store))
    # Worker A claimed the job and died (SIGKILL: no lease renewal, no terminal state).
    dead = await deps.repo.take("worker-a", clock.now())
    assert dead is not None
    assert dead.info.id == job.run_id
    assert dead.attempt == 1

    # The broker redelivers the message while A's lease still holds: a no-op.
    await run_job(job, deps)
    assert await recorder.events(BacktestCompleted) == []
    # The lease expires; the sweeper re-queues the run and publishes its job again.
    clock.advance(TERMS.lease_s + 1)
    assert await sweep_once(deps.repo.jobs, clock.now()) == (1, 0)
    again = await recorder.events(RunBacktest)
    assert [j.run_id for j in again] == [job.run_id, job.run_id]
    await run_job(again[-1], deps)  # worker B runs it to the end as attempt 2
    await run_job(job, deps)  # one more redelivery: a no-op
    # Worker A comes back from a long pause and tries to finish its attempt: refused.
    late = await deps.repo.finish(
        job.run_id, dead.attempt, {"status": RunStatus.COMPLETED.value}, clock.now(), lambda _: None
    )

    assert late is None
    completed = await recorder.events(BacktestCompleted)
    assert len(completed) == 1
    run = await deps.repo.get(job.owner_id, job.run_id)
    assert run is not None
    assert run.status == RunStatus.COMPLETED
    assert run.progress == 1.0
    event = completed[0]
    assert isinstance(event, BacktestCompleted)
    assert event.sequence == run.sequence
    assert deps.store.path(event.equity_uri).exists()
    assert [(actor, action) for actor, action, _ in await recorder.audited(job.run_id)] == [
        (job.owner_id, "backtest.submitted"),
        (None, "backtest.queued"),  # re-queued by the sweeper
        (None, "backtest.completed"),
    ]


@pytest.mark.asyncio
async def test_a_job_interrupted_too_often_fails_once_with_a_reason(deps: EngineDeps) -> None:
    recorder = recorder_of(deps)
    clock = deps.clock
    assert isinstance(clock, MovingClock)
    job = await submit(deps, write_dataset(deps.store))
    for worker in ("a", "b", "c"):  # three workers take it and die in turn
        taken = await deps.repo.take(worker, clock.now())
        assert taken is not None
        assert taken.info.id == job.run_id
        clock.advance(TERMS.lease_s + 1)
        await sweep_once(deps.repo.jobs, clock.now())

    run = await deps.repo.get(job.owner_id, job.run_id)
    assert run is not None
    assert run.status == RunStatus.FAILED
    assert run.failure_reason == FailureReason.ATTEMPTS_EXHAUSTED
    assert run.failure_message is not None
    assert "3 times" in run.failure_message
    failed = await recorder.events(BacktestFailed)
    assert [(f.reason_code, f.sequence) for f in failed] == [
        (FailureReason.ATTEMPTS_EXHAUSTED, run.sequence)
    ]
    assert len(await recorder.events(RunBacktest)) == 3  # the submission and two re-queues
    await run_job(job, deps)  # a late redelivery finds it ended
    assert len(await recorder.events(BacktestFailed)) == 1
    audited = await recorder.audited(job.run_id)
    assert [action for _, action, _ in audited] == [
        "backtest.submitted",
        "backtest.queued",
        "backtest.queued",
        "backtest.failed",
    ]
    assert audited[-1][2] == {"attempt": 3, "reason": "attempts_exhausted"}
    sample = recorder.metrics.registry.get_sample_value
    gave_up = {"kind": "backtest", "outcome": "failed"}
    assert sample(MetricName.JOBS_FINISHED, gave_up) == 1.0  # by the sweeper, counted once


@pytest.mark.asyncio
async def test_a_run_queued_past_the_redispatch_delay_gets_its_message_again(
    deps: EngineDeps,
) -> None:
    recorder = recorder_of(deps)
    clock = deps.clock
    assert isinstance(clock, MovingClock)
    job = await submit(deps, write_dataset(deps.store))
    assert await sweep_once(deps.repo.jobs, clock.now()) == (0, 0)  # just dispatched
    clock.advance(TERMS.redispatch_after_s + 1)  # a broker restarted empty lost the message
    assert await sweep_once(deps.repo.jobs, clock.now()) == (0, 1)
    assert await sweep_once(deps.repo.jobs, clock.now()) == (0, 0)  # not again at once
    jobs = await recorder.events(RunBacktest)
    assert [j.run_id for j in jobs] == [job.run_id, job.run_id]
    await run_job(jobs[-1], deps)
    await run_job(jobs[0], deps)
    assert len(await recorder.events(BacktestCompleted)) == 1


@pytest.mark.asyncio
async def test_cancel_request_stops_a_running_job_between_chunks(deps: EngineDeps) -> None:
    recorder = recorder_of(deps)
    job = await submit(deps, write_dataset(deps.store))
    deps.cancelled.add(str(job.run_id))  # the cancel command arrived while the job runs

    await run_job(job, deps)

    run = await deps.repo.get(job.owner_id, job.run_id)
    assert run is not None
    assert run.status == RunStatus.CANCELLED
    assert len(await recorder.events(BacktestCancelled)) == 1
    assert await recorder.events(BacktestCompleted) == []
    assert not list((deps.store.root / "backtests").rglob("*.parquet"))
    cancelled = (await recorder.audited(job.run_id))[-1]
    assert cancelled == (job.owner_id, "backtest.cancelled", {"attempt": 1})


@pytest.mark.asyncio
async def test_identical_request_is_answered_from_the_stored_result(deps: EngineDeps) -> None:
    recorder = recorder_of(deps)
    uri = write_dataset(deps.store)
    job = await submit(deps, uri)
    await run_job(job, deps)
    jobs_before = len(await recorder.events(RunBacktest))

    # The same parameters in another order: the same result.
    reordered = submission(uri).model_copy(update={"parameters": {"slow": 50, "fast": 10}})
    again = await submit_backtest(reordered, deps)

    assert isinstance(again, BacktestReply)
    assert again.run is not None
    assert again.run.cached
    assert again.run.status == RunStatus.COMPLETED
    assert len(await recorder.events(RunBacktest)) == jobs_before  # nothing recomputed
    first, second = await recorder.events(BacktestCompleted)
    assert isinstance(first, BacktestCompleted)
    assert isinstance(second, BacktestCompleted)
    assert second.cached
    assert second.summary == first.summary
    sample = recorder.metrics.registry.get_sample_value
    reuse = {"cache": RESULT_CACHE}
    assert sample(MetricName.CACHE_REQUESTS, {**reuse, "result": "miss"}) == 1.0
    assert sample(MetricName.CACHE_REQUESTS, {**reuse, "result": "hit"}) == 1.0
    # The reused answer never ran: one job finished, timed from submission to its end.
    assert sample(MetricName.JOBS_FINISHED, {"kind": "backtest", "outcome": "completed"}) == 1.0
    assert sample(f"{MetricName.JOB_DURATION}_count", {"kind": "backtest"}) == 1.0


@pytest.mark.asyncio
async def test_queue_depth_counts_active_jobs_per_kind_and_state(deps: EngineDeps) -> None:
    recorder = recorder_of(deps)
    stores = [recorder.backtests, recorder.studies, recorder.optimizations]
    uri = write_dataset(deps.store)
    await submit(deps, uri)
    await submit(deps, uri)
    assert await deps.repo.take("worker-a", deps.clock.now()) is not None
    counts = await active_counts(recorder.engine, stores)
    assert counts == {
        "backtest": {"queued": 1, "running": 1},
        "monte_carlo": {"queued": 0, "running": 0},
        "optimization": {"queued": 0, "running": 0},
    }


@pytest.mark.asyncio
async def test_the_accepting_replica_claims_the_new_run_in_its_submission_and_runs_it_at_once(
    deps: EngineDeps,
) -> None:
    recorder = recorder_of(deps)
    turns: LocalTurns[RunBacktest] = LocalTurns(partial(take_turn, deps=deps))
    held: list[bool] = []

    def hold_turn() -> DirectTurn | None:
        direct = turns.hold()
        held.append(direct is not None)
        return direct

    deps.hold_turn = hold_turn
    uri = write_dataset(deps.store)
    answer = await submit_backtest(submission(uri), deps)
    assert isinstance(answer, BacktestReply)
    assert answer.run is not None
    # Claimed in the submission's own transaction: already running when the reply leaves.
    assert answer.run.status == RunStatus.RUNNING
    assert answer.run.started_at is not None
    assert held == [True]
    await turns.stop(timeout_s=60)  # waits for the direct turn to end
    completed = await recorder.events(BacktestCompleted)
    assert [c.run_id for c in completed] == [answer.run.id]
    # No job message: nobody else needs a turn for it (if this replica died, the sweeper would
    # queue it again with one once its lease expired).
    assert await recorder.events(RunBacktest) == []

    # An identical request is answered from the stored result: the slot held for it is given
    # back unused (the replica is stopping now, so it holds none).
    again = await submit_backtest(submission(uri), deps)
    assert isinstance(again, BacktestReply)
    assert again.run is not None
    assert again.run.cached
    assert held == [True, False]


@pytest.mark.asyncio
async def test_a_submission_claims_the_run_that_comes_first_in_the_fair_order(
    deps: EngineDeps,
) -> None:
    recorder = recorder_of(deps)
    uri = write_dataset(deps.store)
    waiting = await submit(deps, uri)  # another user's run, queued while the slot was busy
    clock = deps.clock
    assert isinstance(clock, MovingClock)
    clock.advance(1)
    turns: LocalTurns[RunBacktest] = LocalTurns(partial(take_turn, deps=deps))
    deps.hold_turn = turns.hold
    answer = await submit_backtest(submission(uri), deps)
    assert isinstance(answer, BacktestReply)
    assert answer.run is not None
    # Both users have nothing running and were never served: the one waiting longer goes first.
    assert answer.run.status == RunStatus.QUEUED
    await turns.stop(timeout_s=60)
    completed = await recorder.events(BacktestCompleted)
    assert [c.run_id for c in completed] == [waiting.run_id]
    # The new run waits for a turn of its own: its message went out with it.
    messages = await recorder.events(RunBacktest)
    assert [m.run_id for m in messages] == [waiting.run_id, answer.run.id]
    await turns.take(messages[-1])  # its turn, as the consumer takes it
    assert [c.run_id for c in await recorder.events(BacktestCompleted)] == [
        waiting.run_id,
        answer.run.id,
    ]


@pytest.mark.asyncio
async def test_a_refused_submission_gives_the_slot_back(deps: EngineDeps) -> None:
    uri = write_dataset(deps.store)
    first = await submit(deps, uri)  # queued: the owner's one backtest under a quota of 1
    deps.quota_limits = QuotaLimits(backtests=1)
    turns: LocalTurns[RunBacktest] = LocalTurns(partial(take_turn, deps=deps))
    deps.hold_turn = turns.hold
    second = submission(uri).model_copy(update={"owner_id": first.owner_id})
    refused = await submit_backtest(second, deps)  # the quota refuses it inside the transaction
    assert isinstance(refused, BacktestReply)
    assert refused.error is not None
    assert refused.error.code == EngineErrorCode.QUOTA_EXCEEDED
    direct = turns.hold()
    assert direct is not None  # free again: given back when the transaction rolled back
    direct.give_back()
    assert await deps.repo.take("worker-a", deps.clock.now()) is not None  # nothing was claimed
