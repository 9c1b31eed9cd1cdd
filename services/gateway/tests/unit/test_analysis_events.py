"""Analysis announcements on the WebSocket: built from analytics' report events or rebuilt from a
stored analysis, outside the job's sequence, routed to the run's owner only, and what ends a
one-job socket."""

from datetime import UTC, datetime
from uuid import UUID, uuid4

from tradelab_contracts.analytics import ReportFailed, ReportFailureReason, ReportReady
from tradelab_contracts.analytics_rpc import AnalysisInfo
from tradelab_gateway.domain.hub import EventHub
from tradelab_gateway.domain.job_events import (
    JobEvent,
    analysis_event,
    ends_one_job,
    failed_analysis_event,
    stored_analysis_event,
)
from tradelab_gateway.handlers import socket_event

OWNER, OTHER = uuid4(), uuid4()
WHEN = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
METRICS = {"sharpe": 1.25, "sortino": None, "total_return": 0.125}


def ready(run_id: UUID) -> ReportReady:
    return ReportReady.model_validate(
        {"run_id": run_id, "owner_id": OWNER, "metrics": METRICS, "occurred_at": WHEN}
    )


def completed(run_id: UUID, sequence: int = 9) -> JobEvent:
    """A backtest's ``completed`` message (its other fields do not matter here)."""
    payload = {"type": "completed", "job_type": "backtest", "run_id": str(run_id)}
    return JobEvent(run_id, OWNER, sequence, "completed", {**payload, "sequence": sequence})


def test_report_ready_becomes_analysis_ready_with_ids_and_metrics() -> None:
    run_id = uuid4()
    event = analysis_event(ready(run_id))
    assert event.payload == {
        "type": "analysis.ready",
        "job_type": "backtest",
        "run_id": str(run_id),
        "occurred_at": "2026-01-02T03:04:05+00:00",
        "metrics": METRICS,
    }
    assert (event.run_id, event.owner_id, event.analysis, event.final) == (
        run_id,
        OWNER,
        True,
        False,
    )
    assert "owner_id" not in event.payload


def test_report_failed_becomes_analysis_failed_with_its_message() -> None:
    run_id = uuid4()
    failed = ReportFailed(
        run_id=run_id,
        owner_id=OWNER,
        reason_code=ReportFailureReason.RESULTS_NOT_FOUND,
        message="The run's results are gone.",
        occurred_at=WHEN,
    )
    payload = analysis_event(failed).payload
    assert payload["type"] == "analysis.failed"
    assert payload["message"] == "The run's results are gone."
    assert payload["run_id"] == str(run_id)


def test_a_stored_analysis_rebuilds_the_same_announcement() -> None:
    run_id = uuid4()
    info = AnalysisInfo.model_validate(
        {
            "run_id": run_id,
            "owner_id": OWNER,
            "dataset_id": uuid4(),
            "strategy": "sma_cross",
            "parameters": {"fast": 10},
            "metrics": METRICS,
            "created_at": WHEN,
        }
    )
    assert stored_analysis_event(info).payload == analysis_event(ready(run_id)).payload
    rebuilt = failed_analysis_event(run_id, OWNER, "gave up").payload
    assert rebuilt["type"] == "analysis.failed"
    assert rebuilt["occurred_at"] is None


def test_the_subscriber_reads_report_topics_into_announcements() -> None:
    run_id = uuid4()
    body = ready(run_id).model_dump_json().encode()
    assert socket_event("analytics.report.ready.v1", body).payload["type"] == "analysis.ready"


def test_the_announcement_goes_to_the_owner_only_after_the_final_event() -> None:
    hub = EventHub()
    run_id = uuid4()
    everything = hub.subscribe(OWNER)
    one_job = hub.subscribe(OWNER, run_id)
    stranger = hub.subscribe(OTHER)
    for subscription in (everything, one_job, stranger):
        subscription.start({})
    hub.dispatch(completed(run_id))
    assert hub.dispatch(analysis_event(ready(run_id))) == 2
    for subscription in (everything, one_job):
        kinds = [subscription.outbox.pop(), subscription.outbox.pop()]
        assert [k["type"] for k in kinds if k] == ["completed", "analysis.ready"]
    assert stranger.outbox.pop() is None


def test_an_announcement_held_before_start_is_delivered_once() -> None:
    hub = EventHub()
    run_id = uuid4()
    subscription = hub.subscribe(OWNER, run_id)
    hub.dispatch(analysis_event(ready(run_id)))
    hub.dispatch(analysis_event(ready(run_id)))  # a redelivery while held
    subscription.start({run_id: 9})  # the client has the completed event already
    first = subscription.outbox.pop()
    assert first is not None
    assert first["type"] == "analysis.ready"
    assert subscription.outbox.pop() is None


def test_a_one_job_socket_ends_after_the_announcement_of_a_backtest() -> None:
    run_id = uuid4()
    assert not ends_one_job(completed(run_id).payload)
    assert ends_one_job(analysis_event(ready(run_id)).payload)
    assert ends_one_job({"type": "failed", "job_type": "backtest"})
    assert ends_one_job({"type": "cancelled", "job_type": "backtest"})
    assert ends_one_job({"type": "completed", "job_type": "optimization"})
    assert ends_one_job({"type": "completed", "job_type": "monte_carlo"})
    assert not ends_one_job({"type": "progress", "job_type": "backtest"})
