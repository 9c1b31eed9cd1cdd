"""Pure fan-out logic behind the WebSocket: event messages, sequence filtering, per-socket
outboxes that coalesce progress, and the hub that routes by owner and job."""

import asyncio
from datetime import UTC, datetime
from uuid import UUID, uuid4

from tradelab_contracts.engine import (
    BacktestCancelled,
    BacktestFailed,
    BacktestProgress,
    BacktestSummary,
    EngineOptions,
    FailureReason,
)
from tradelab_contracts.engine_rpc import RunInfo, RunStatus
from tradelab_contracts.montecarlo import MonteCarloCancelled
from tradelab_contracts.optimization import OptimizationProgress
from tradelab_gateway.domain.hub import EventHub
from tradelab_gateway.domain.job_events import JobEvent, final_event_of, job_event
from tradelab_gateway.domain.outbox import Outbox

OWNER, OTHER = uuid4(), uuid4()
WHEN = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def progress(run_id: UUID, sequence: int, owner: UUID = OWNER) -> JobEvent:
    return job_event(
        BacktestProgress(
            run_id=run_id,
            owner_id=owner,
            progress=sequence / 10,
            bars_done=sequence * 100,
            bars_total=1000,
            sequence=sequence,
        )
    )


def cancelled(run_id: UUID, sequence: int) -> JobEvent:
    return job_event(BacktestCancelled(run_id=run_id, owner_id=OWNER, sequence=sequence))


def run_info(status: RunStatus, **fields: object) -> RunInfo:
    values: dict[str, object] = {
        "id": uuid4(),
        "owner_id": OWNER,
        "dataset_id": uuid4(),
        "strategy": "sma_cross",
        "parameters": {"fast": 10, "slow": 50},
        "options": EngineOptions(),
        "status": status,
        "progress": 1.0,
        "sequence": 7,
        "created_at": WHEN,
        "finished_at": WHEN,
        **fields,
    }
    return RunInfo.model_validate(values)


def test_progress_message_carries_the_documented_fields() -> None:
    run_id = uuid4()
    event = progress(run_id, 3)
    assert event.payload["type"] == "progress"
    assert event.payload["run_id"] == str(run_id)
    assert event.payload["sequence"] == 3
    assert event.payload["bars_done"] == 300
    assert event.payload["bars_total"] == 1000
    assert "occurred_at" in event.payload
    assert not event.final


def test_failed_message_has_reason_and_is_final() -> None:
    event = job_event(
        BacktestFailed(
            run_id=uuid4(),
            owner_id=OWNER,
            reason_code=FailureReason.DATASET_UNREADABLE,
            message="gone",
            sequence=4,
        )
    )
    assert event.final
    assert event.payload["reason_code"] == "dataset_unreadable"
    assert event.payload["message"] == "gone"


def test_final_event_is_rebuilt_from_a_stored_run() -> None:
    summary = BacktestSummary(
        final_equity=11_000.0,
        total_return=0.1,
        max_drawdown=0.05,
        sharpe=1.2,
        trades=3,
        exposure=0.5,
        fees_paid=12.0,
        metrics={},
    )
    done = final_event_of(run_info(RunStatus.COMPLETED, summary=summary, cached=True))
    assert done is not None
    assert done.type == "completed"
    assert done.sequence == 7
    assert done.payload["summary"]["final_equity"] == 11_000.0
    assert done.payload["cached"] is True
    failed = final_event_of(
        run_info(RunStatus.FAILED, failure_reason=FailureReason.INTERNAL, failure_message="x")
    )
    assert failed is not None
    assert (failed.type, failed.payload["message"]) == ("failed", "x")
    assert final_event_of(run_info(RunStatus.RUNNING, finished_at=None)) is None


def test_outbox_replaces_unsent_progress_of_a_job_but_keeps_finals_and_order() -> None:
    box = Outbox()
    a, b = uuid4(), uuid4()
    box.put({"n": "a1"}, key=a)
    box.put({"n": "b1"}, key=b)
    box.put({"n": "a2"}, key=a)  # replaces a1 in place
    box.put({"n": "a-final"})
    box.put({"n": "b2"}, key=b)  # replaces b1
    assert [box.pop(), box.pop(), box.pop()] == [{"n": "a2"}, {"n": "b2"}, {"n": "a-final"}]
    assert box.pop() is None
    assert box.replaced == 2
    box.put({"n": "a3"}, key=a)  # a2 was sent: a new entry, not a replacement
    assert box.pop() == {"n": "a3"}


def test_outbox_get_waits_for_a_message() -> None:
    async def scenario() -> dict[str, object]:
        box = Outbox()
        waiter = asyncio.create_task(box.get())
        await asyncio.sleep(0)
        assert not waiter.done()
        box.put({"n": 1})
        return await asyncio.wait_for(waiter, 1)

    assert asyncio.run(scenario()) == {"n": 1}


def test_hub_routes_by_owner_and_job_and_drops_stale_events() -> None:
    hub = EventHub()
    run, other_run = uuid4(), uuid4()
    everything = hub.subscribe(OWNER)
    one_job = hub.subscribe(OWNER, run)
    stranger = hub.subscribe(OTHER)
    everything.start({})
    one_job.start({run: 2})  # the client's snapshot was at sequence 2
    stranger.start({})
    for event in (progress(run, 2), progress(run, 3), progress(other_run, 1), cancelled(run, 4)):
        hub.dispatch(event)
    hub.dispatch(progress(run, 3))  # a duplicate, e.g. from a rebalance
    sent_all = [everything.outbox.pop() for _ in range(len(everything.outbox))]
    sent_one = [one_job.outbox.pop() for _ in range(len(one_job.outbox))]
    assert [(m or {})["sequence"] for m in sent_all] == [3, 1, 4]  # run's 2 replaced by 3
    assert [(m or {})["type"] for m in sent_one] == ["progress", "cancelled"]
    assert [(m or {})["sequence"] for m in sent_one] == [3, 4]
    assert len(stranger.outbox) == 0
    hub.unsubscribe(everything)
    hub.unsubscribe(one_job)
    hub.unsubscribe(stranger)
    assert hub.connections == 0


def test_events_are_held_until_the_snapshot_is_sent() -> None:
    hub = EventHub()
    run = uuid4()
    subscription = hub.subscribe(OWNER, run)
    hub.dispatch(progress(run, 5))  # arrives while the socket fetches the job's state
    hub.dispatch(progress(run, 6))
    assert len(subscription.outbox) == 0
    subscription.start({run: 5})  # the snapshot already reflects sequence 5
    sent = subscription.outbox.pop()
    assert sent is not None
    assert sent["sequence"] == 6
    assert subscription.outbox.pop() is None


def test_optimisation_and_monte_carlo_events_name_their_job() -> None:
    search, study = uuid4(), uuid4()
    progress_event = job_event(
        OptimizationProgress(
            optimization_id=search,
            owner_id=OWNER,
            progress=0.5,
            evaluated=10,
            total=20,
            best_parameters={"fast": 5},
            best_value=1.5,
            sequence=3,
        )
    )
    assert progress_event.run_id == search
    assert progress_event.payload["job_type"] == "optimization"
    assert progress_event.payload["best_parameters"] == {"fast": 5}
    assert not progress_event.final
    cancelled_study = job_event(
        MonteCarloCancelled(simulation_id=study, owner_id=OWNER, sequence=9)
    )
    assert cancelled_study.final
    assert cancelled_study.payload["job_type"] == "monte_carlo"
    assert cancelled_study.payload["simulation_id"] == str(study)
    assert cancelled_study.sequence == 9
