"""Idempotent submission without a database: a retried key answers its earlier job, a reused
key with another request is refused, a lost race answers the winner's job."""

from uuid import UUID, uuid4

import pytest

from tradelab_contracts.base import utc_now
from tradelab_contracts.engine import EngineOptions
from tradelab_contracts.engine_rpc import (
    BacktestReply,
    EngineErrorCode,
    EngineReply,
    RunInfo,
    RunStatus,
    SubmitBacktest,
)
from tradelab_engine.idempotency import submit_once
from tradelab_engine.lifecycle.idempotency import Earlier, IdempotencyKeyTakenError
from tradelab_engine.service import reply

OWNER = UUID(int=7)
FIRST = "1" * 64
OTHER = "2" * 64


def command(key: str | None = "retry-1", sha: str | None = FIRST) -> SubmitBacktest:
    return SubmitBacktest(
        reply_to="gateway.rpc.reply-gw-1.v1",
        run_id=uuid4(),
        owner_id=OWNER,
        dataset_id=UUID(int=3),
        dataset_uri="file:///bars.parquet",
        dataset_sha256="c" * 64,
        strategy="sma_cross",
        idempotency_key=key,
        request_sha256=sha if key else None,
    )


def run_of(cmd: SubmitBacktest) -> RunInfo:
    return RunInfo(
        id=cmd.run_id,
        owner_id=cmd.owner_id,
        dataset_id=cmd.dataset_id,
        strategy=cmd.strategy,
        parameters={},
        options=EngineOptions(),
        status=RunStatus.QUEUED,
        progress=0.0,
        created_at=utc_now(),
    )


class FakeRuns:
    """Runs by (owner, key), as the unique index keeps them; ``racer`` is stored by a concurrent
    submission between this one's look-up and its insert."""

    def __init__(self, racer: SubmitBacktest | None = None) -> None:
        self.by_key: dict[tuple[UUID, str], Earlier[RunInfo]] = {}
        self.created: list[RunInfo] = []
        self.racer = racer

    async def find(self, owner_id: UUID, key: str) -> Earlier[RunInfo] | None:
        return self.by_key.get((owner_id, key))

    async def create(self, cmd: SubmitBacktest) -> EngineReply:
        racer, self.racer = self.racer, None
        if racer is not None:
            await self.create(racer)
        if cmd.idempotency_key is not None:
            if (cmd.owner_id, cmd.idempotency_key) in self.by_key:
                raise IdempotencyKeyTakenError("runs")
            self.by_key[cmd.owner_id, cmd.idempotency_key] = Earlier(
                run_of(cmd), cmd.request_sha256
            )
        self.created.append(run_of(cmd))
        return reply(cmd, run=run_of(cmd))


async def submit(runs: FakeRuns, cmd: SubmitBacktest) -> BacktestReply:
    answer = await submit_once(
        cmd, runs.find, lambda: runs.create(cmd), lambda info: reply(cmd, run=info)
    )
    assert isinstance(answer, BacktestReply)
    return answer


@pytest.mark.asyncio
async def test_a_retry_with_the_same_key_and_request_answers_the_first_run() -> None:
    runs = FakeRuns()
    first = await submit(runs, command())
    retry = await submit(runs, command())

    assert first.run is not None
    assert retry.run is not None
    assert retry.run.id == first.run.id
    assert len(runs.created) == 1


@pytest.mark.asyncio
async def test_the_same_key_with_another_request_is_refused_as_reused() -> None:
    runs = FakeRuns()
    await submit(runs, command())
    other = await submit(runs, command(sha=OTHER))

    assert not other.ok
    assert other.error is not None
    assert other.error.code is EngineErrorCode.IDEMPOTENCY_KEY_REUSED
    assert other.error.errors[0]["field"] == "Idempotency-Key"
    assert len(runs.created) == 1


@pytest.mark.asyncio
async def test_submissions_without_a_key_each_create_a_run() -> None:
    runs = FakeRuns()
    await submit(runs, command(key=None))
    await submit(runs, command(key=None))

    assert len(runs.created) == 2


@pytest.mark.asyncio
async def test_a_retry_that_loses_the_race_to_insert_answers_the_winners_run() -> None:
    winner = command()
    runs = FakeRuns(racer=winner)
    loser = await submit(runs, command())

    assert loser.run is not None
    assert loser.run.id == winner.run_id
    assert len(runs.created) == 1


@pytest.mark.asyncio
async def test_a_lost_race_against_another_request_is_refused_as_reused() -> None:
    runs = FakeRuns(racer=command(sha=OTHER))
    loser = await submit(runs, command())

    assert loser.error is not None
    assert loser.error.code is EngineErrorCode.IDEMPOTENCY_KEY_REUSED
