"""Optimisations on the shared job lifecycle against a real PostgreSQL: chunk messages stored with
the submission, each chunk counted once, lost chunks published again by the sweeper, a chunk that
keeps failing ending the optimisation, and exactly one terminal event whatever happens."""

import uuid
from collections.abc import AsyncIterator
from functools import partial
from pathlib import Path
from types import SimpleNamespace

import pytest
import pytest_asyncio
from sqlalchemy.ext.asyncio import create_async_engine

from tradelab_contracts.engine import EngineOptions, FailureReason
from tradelab_contracts.engine_rpc import (
    CancelOptimizationRequest,
    EngineErrorCode,
    OptimizationReply,
    RunStatus,
    SubmitOptimization,
)
from tradelab_contracts.optimization import (
    GeneticSearch,
    GridSearch,
    Objective,
    OptimizationCancelled,
    OptimizationCompleted,
    OptimizationFailed,
    ParameterRange,
    ParameterSpace,
    RandomSearch,
    RunOptimization,
    RunOptimizationChunk,
)
from tradelab_contracts.system import DeadLettered
from tradelab_contracts.topics import OPTIMIZATION_CHUNK_REQUESTED, reply_topic
from tradelab_engine.backtests.repository import RunRepository
from tradelab_engine.lifecycle.sweeper import sweep_once
from tradelab_engine.optimizations.deps import OptimizationDeps
from tradelab_engine.optimizations.evolver import run_genetic
from tradelab_engine.optimizations.repository import OptimizationRepository
from tradelab_engine.optimizations.submit import submit_optimization
from tradelab_engine.optimizations.use_cases import cancel_optimization
from tradelab_engine.optimizations.worker import give_up_chunk, run_chunk
from tradelab_engine.service import EngineDeps
from tradelab_runtime.consumers import RetryPolicy, handle_with_policy
from tradelab_runtime.dead_letters import DeadLetters
from tradelab_runtime.failpoints import FailpointError, Failpoints
from tradelab_runtime.migrations import upgrade_to_head
from tradelab_runtime.storage import LocalObjectStore

from .engine_support import TERMS, MovingClock, Recorder, random_walk_dataset

pytestmark = pytest.mark.integration
BARS = 3_000
SPACE: dict[str, ParameterRange | list[float | int | str | bool]] = {
    "fast": [5, 10],
    "slow": [20, 30, 40, 50],
}  # 8 combinations: chunks of 3, 3 and 2


def write_dataset(store: LocalObjectStore) -> str:
    return random_walk_dataset(store, BARS, seed=11, drift=0.0002, step_s=3600)


@pytest_asyncio.fixture
async def deps(database_url: str, tmp_path: Path) -> AsyncIterator[OptimizationDeps]:
    engine = create_async_engine(database_url)
    await upgrade_to_head(engine, "tradelab_engine:migrations", "engine")
    recorder = Recorder(engine)
    engine_deps = EngineDeps(
        repo=RunRepository(engine, recorder.backtests),
        store=LocalObjectStore(tmp_path / "objects"),
        publish=recorder.publish,
        clock=MovingClock(),
        worker="worker-a",
        engine_version="test",
    )
    repo = OptimizationRepository(engine, recorder.optimizations)
    yield OptimizationDeps(engine=engine_deps, repo=repo, chunk_size=3)
    await engine.dispose()


def recorder_of(deps: OptimizationDeps) -> Recorder:
    recorder = deps.engine.publish.__self__  # type: ignore[attr-defined]
    assert isinstance(recorder, Recorder)
    return recorder


def clock_of(deps: OptimizationDeps) -> MovingClock:
    clock = deps.engine.clock
    assert isinstance(clock, MovingClock)
    return clock


def submission(
    deps: OptimizationDeps,
    search: GridSearch | RandomSearch | GeneticSearch,
    space: ParameterSpace = SPACE,
) -> SubmitOptimization:
    return SubmitOptimization(
        reply_to=reply_topic("gw-test"),
        optimization_id=uuid.uuid4(),
        owner_id=uuid.uuid4(),
        dataset_id=uuid.uuid4(),
        dataset_uri=write_dataset(deps.engine.store),
        dataset_sha256="c" * 64,
        timeframe="1h",
        strategy="sma_cross",
        parameter_space=space,
        search=search,
        objective=Objective(metric="sharpe"),
        options=EngineOptions(fee_rate=0.001),
    )


async def submit(deps: OptimizationDeps, search: GridSearch | GeneticSearch) -> uuid.UUID:
    answer = await submit_optimization(submission(deps, search), deps)
    assert answer.ok, answer.error
    assert isinstance(answer, OptimizationReply)
    assert answer.optimization is not None
    return answer.optimization.id


async def chunks_of(deps: OptimizationDeps) -> list[RunOptimizationChunk]:
    return list(await recorder_of(deps).events(RunOptimizationChunk))


async def status_of(deps: OptimizationDeps, optimization_id: uuid.UUID) -> tuple[str, int, int]:
    info = await deps.repo.get(None, optimization_id)
    assert info is not None
    return info.status.value, info.evaluated, info.chunks_done


@pytest.mark.asyncio
async def test_submit_stores_every_chunk_message_with_its_partition_in_its_transaction(
    deps: OptimizationDeps,
) -> None:
    recorder = recorder_of(deps)
    optimization_id = await submit(deps, GridSearch())

    assert await recorder.outbox.pending_count() == 3  # stored with the optimisation, not sent
    assert recorder.sent == []
    chunks = await chunks_of(deps)
    assert [(c.chunk_index, c.first_index, len(c.combinations)) for c in chunks] == [
        (0, 0, 3),
        (1, 3, 3),
        (2, 6, 2),
    ]
    assert {c.optimization_id for c in chunks} == {optimization_id}
    assert [recorder.partitions[c.message_id] for c in chunks] == [0, 1, 2]
    assert {topic for topic, _ in recorder.sent} == {OPTIMIZATION_CHUNK_REQUESTED}
    assert await status_of(deps, optimization_id) == ("queued", 0, 0)


@pytest.mark.asyncio
async def test_chunks_are_sized_by_the_work_of_the_dataset_s_bars(
    deps: OptimizationDeps,
) -> None:
    # Two combinations' worth of work over the dataset's bars (counted from its file): 4 chunks
    # of 2, below the cap of 3.
    deps.chunk_work = 2 * BARS
    optimization_id = await submit(deps, GridSearch())

    chunks = await chunks_of(deps)
    assert [(c.chunk_index, c.first_index, len(c.combinations)) for c in chunks] == [
        (0, 0, 2),
        (1, 2, 2),
        (2, 4, 2),
        (3, 6, 2),
    ]
    for chunk in chunks:
        await run_chunk(chunk, deps)
    assert await status_of(deps, optimization_id) == ("completed", 8, 4)


@pytest.mark.asyncio
async def test_a_chunk_delivered_twice_is_counted_once_and_the_end_announced_once(
    deps: OptimizationDeps,
) -> None:
    recorder = recorder_of(deps)
    optimization_id = await submit(deps, GridSearch())
    first, second, third = await chunks_of(deps)

    await run_chunk(first, deps)
    await run_chunk(first, deps)  # redelivered
    assert await status_of(deps, optimization_id) == ("running", 3, 1)
    for chunk in (second, third, third, first):
        await run_chunk(chunk, deps)

    assert await status_of(deps, optimization_id) == ("completed", 8, 3)
    [completed] = await recorder.events(OptimizationCompleted)
    info = await deps.repo.get(None, optimization_id)
    assert info is not None
    assert completed.sequence == info.sequence == 4  # three progress events, then the end
    assert completed.evaluated == 8
    assert deps.engine.store.path(completed.results_uri).exists()
    assert info.results_uri == completed.results_uri


@pytest.mark.asyncio
async def test_chunks_lost_by_the_broker_are_published_again_after_the_delay(
    deps: OptimizationDeps,
) -> None:
    recorder, clock = recorder_of(deps), clock_of(deps)
    optimization_id = await submit(deps, GridSearch())
    first, second, third = await chunks_of(deps)
    await run_chunk(first, deps)  # then the broker restarts empty: chunks 1 and 2 are lost

    assert await sweep_once(recorder.optimizations, clock.now()) == (0, 0)  # progress is recent
    clock.advance(TERMS.redispatch_after_s + 1)
    assert await sweep_once(recorder.optimizations, clock.now()) == (0, 1)
    assert await sweep_once(recorder.optimizations, clock.now()) == (0, 0)  # not again at once
    again = (await chunks_of(deps))[3:]
    assert [c.chunk_index for c in again] == [1, 2]
    assert [c.combinations for c in again] == [second.combinations, third.combinations]
    assert [recorder.partitions[c.message_id] for c in again] == [1, 2]
    for chunk in (*again, second, third):  # the lost ones turn up too, late: no-ops
        await run_chunk(chunk, deps)

    assert await status_of(deps, optimization_id) == ("completed", 8, 3)
    assert len(await recorder.events(OptimizationCompleted)) == 1
    clock.advance(TERMS.redispatch_after_s + 1)
    assert await sweep_once(recorder.optimizations, clock.now()) == (0, 0)  # ended: left alone


@pytest.mark.asyncio
async def test_a_completion_left_by_a_dead_replica_is_driven_again_by_the_sweeper(
    deps: OptimizationDeps,
) -> None:
    recorder, clock = recorder_of(deps), clock_of(deps)
    optimization_id = await submit(deps, GridSearch())
    first, second, third = await chunks_of(deps)
    await run_chunk(first, deps)
    await run_chunk(second, deps)
    # The replica storing the last chunk dies after writing the files, before recording them.
    deps.engine.failpoints = Failpoints.parse("engine.optimization.before_commit=raise")
    with pytest.raises(FailpointError):
        await run_chunk(third, deps)
    deps.engine.failpoints = Failpoints()
    assert await status_of(deps, optimization_id) == ("running", 8, 3)
    assert await recorder.events(OptimizationCompleted) == []

    clock.advance(TERMS.redispatch_after_s + 1)
    assert await sweep_once(recorder.optimizations, clock.now()) == (0, 1)
    [last] = (await chunks_of(deps))[3:]
    assert last.chunk_index == 2  # every chunk is stored: the last one completes it
    await run_chunk(last, deps)
    await run_chunk(third, deps)

    assert await status_of(deps, optimization_id) == ("completed", 8, 3)
    assert len(await recorder.events(OptimizationCompleted)) == 1


@pytest.mark.asyncio
async def test_a_chunk_failing_past_its_retries_fails_the_optimisation_once(
    deps: OptimizationDeps,
) -> None:
    recorder = recorder_of(deps)
    optimization_id = await submit(deps, GridSearch())
    first, second, _ = await chunks_of(deps)
    broken = first.model_copy(update={"dataset_uri": first.dataset_uri + ".gone"})
    message = SimpleNamespace(
        body=broken.model_dump_json().encode(),
        raw_message=SimpleNamespace(
            topic=OPTIMIZATION_CHUNK_REQUESTED, partition=0, offset=7, key=b"k"
        ),
    )
    letters = DeadLetters("engine", recorder.outbox)
    policy = RetryPolicy(max_attempts=3, first_delay_s=0.01)

    await handle_with_policy(
        message,  # type: ignore[arg-type]  # what the policy reads of a Kafka message
        RunOptimizationChunk,
        partial(run_chunk, deps=deps),
        letters,
        policy,
        partial(give_up_chunk, deps=deps),
    )
    await give_up_chunk(broken, FileNotFoundError(), deps)  # a second give-up changes nothing
    await run_chunk(second, deps)  # nor does a chunk arriving afterwards

    info = await deps.repo.get(None, optimization_id)
    assert info is not None
    assert (info.status, info.evaluated) == (RunStatus.FAILED, 0)
    [failed] = await recorder.events(OptimizationFailed)
    assert failed.reason_code == FailureReason.INTERNAL
    assert failed.message == "Chunk 0 could not be evaluated: FileNotFoundError."
    assert failed.sequence == info.sequence == 1
    assert info.failure_message == failed.message
    [parked] = await recorder.events(DeadLettered)
    assert parked.attempts == 3


@pytest.mark.asyncio
async def test_cancel_ends_the_optimisation_with_one_cancelled_event(
    deps: OptimizationDeps,
) -> None:
    recorder, clock = recorder_of(deps), clock_of(deps)
    optimization_id = await submit(deps, GridSearch())
    first, second, third = await chunks_of(deps)
    await run_chunk(first, deps)
    info = await deps.repo.get(None, optimization_id)
    assert info is not None

    def cancel() -> CancelOptimizationRequest:
        return CancelOptimizationRequest(
            reply_to=reply_topic("gw-test"), owner_id=info.owner_id, optimization_id=info.id
        )

    assert (await cancel_optimization(cancel(), deps)).ok
    again = await cancel_optimization(cancel(), deps)
    assert again.error is not None
    assert again.error.code == EngineErrorCode.CONFLICT
    for chunk in (second, third):
        await run_chunk(chunk, deps)
    clock.advance(TERMS.redispatch_after_s + 1)
    assert await sweep_once(recorder.optimizations, clock.now()) == (0, 0)

    assert await status_of(deps, optimization_id) == ("cancelled", 3, 1)
    [cancelled] = await recorder.events(OptimizationCancelled)
    assert cancelled.sequence == 2
    assert await recorder.events(OptimizationCompleted) == []


@pytest.mark.asyncio
async def test_a_genetic_search_whose_worker_died_is_taken_over_and_completes_once(
    deps: OptimizationDeps,
) -> None:
    recorder, clock = recorder_of(deps), clock_of(deps)
    search = GeneticSearch(population=4, generations=3, seed=5)
    optimization_id = await submit(deps, search)
    [job] = await recorder.events(RunOptimization)
    # Worker A claimed it and died (no lease renewal, nothing stored).
    taken = await recorder.optimizations.take("worker-a", clock.now())
    assert taken is not None
    assert taken["id"] == optimization_id

    await run_genetic(job, deps)  # redelivered while A's lease holds: a no-op
    assert await status_of(deps, optimization_id) == ("running", 0, 0)
    clock.advance(TERMS.lease_s + 1)
    assert await sweep_once(recorder.optimizations, clock.now()) == (1, 0)
    jobs = await recorder.events(RunOptimization)
    assert [j.optimization_id for j in jobs] == [optimization_id, optimization_id]
    await run_genetic(jobs[-1], deps)
    await run_genetic(job, deps)  # one more redelivery: ended, a no-op

    assert await status_of(deps, optimization_id) == ("completed", 12, 3)
    [completed] = await recorder.events(OptimizationCompleted)
    assert completed.evaluated == 12


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("search", "size"),
    [
        (GridSearch(), "holds 50,000,000 combinations"),
        (RandomSearch(n_samples=100, seed=1), "holds 50,000,000 values"),
        (GeneticSearch(population=10, generations=5, seed=1), "holds 50,000,000 values"),
    ],
)
async def test_a_space_beyond_the_limits_is_refused_before_anything_is_stored(
    deps: OptimizationDeps, search: GridSearch | RandomSearch | GeneticSearch, size: str
) -> None:
    huge: ParameterSpace = {"fast": ParameterRange(start=1, stop=50_000_000, step=1)}
    answer = await submit_optimization(submission(deps, search, huge), deps)
    assert answer.error is not None
    assert answer.error.code == EngineErrorCode.INVALID
    assert size in answer.error.message
    assert await recorder_of(deps).outbox.pending_count() == 0
