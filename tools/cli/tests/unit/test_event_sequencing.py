from functools import reduce
from typing import Any

from tradelab_cli.watch import WatchState, apply_event, state_of_job, websocket_url

RUN = "8d0c3f4e-0000-4000-8000-000000000001"
SUMMARY = {"final_equity": 110.0, "total_return": 0.1, "trades": 3}


def job(status: str, sequence: int, **extra: Any) -> dict[str, Any]:
    return {"id": RUN, "status": status, "progress": 0.0, "sequence": sequence, **extra}


def progress(sequence: int, fraction: float) -> dict[str, Any]:
    return {
        "type": "progress",
        "run_id": RUN,
        "sequence": sequence,
        "progress": fraction,
        "bars_done": int(fraction * 1000),
        "bars_total": 1000,
    }


def play(events: list[dict[str, Any]], state: WatchState | None = None) -> WatchState:
    return reduce(apply_event, events, state or WatchState(run_id=RUN))


def test_snapshot_then_progress_then_completed_ends_with_the_summary() -> None:
    state = play(
        [
            {"type": "ready", "user_id": "u", "server_time": 1.0},
            {"type": "snapshot", "job": job("queued", 0)},
            progress(1, 0.25),
            progress(2, 0.5),
            {
                "type": "completed",
                "run_id": RUN,
                "sequence": 3,
                "summary": SUMMARY,
                "cached": False,
            },
        ]
    )
    assert state.finished
    assert (state.status, state.progress, state.sequence) == ("completed", 1.0, 3)
    assert state.summary == SUMMARY
    assert state.progress_events == 2


def test_events_not_newer_than_the_last_processed_are_dropped() -> None:
    state = play([progress(1, 0.2), progress(2, 0.4), progress(2, 0.4), progress(1, 0.2)])
    assert (state.sequence, state.progress, state.progress_events) == (2, 0.4, 2)


def test_resumed_stream_replaying_seen_events_changes_nothing() -> None:
    before = play([progress(1, 0.2), progress(2, 0.4)])
    after = play(
        [{"type": "snapshot", "job": job("running", 2, progress=0.4)}, progress(2, 0.4)], before
    )
    assert after == before


def test_snapshot_older_than_what_was_seen_is_ignored() -> None:
    state = play([progress(5, 0.8), {"type": "snapshot", "job": job("running", 3, progress=0.5)}])
    assert (state.sequence, state.progress) == (5, 0.8)


def test_snapshot_of_an_ended_job_ends_the_watch_and_its_final_event_is_a_duplicate() -> None:
    ended = job("completed", 7, progress=1.0, summary=SUMMARY, cached=True)
    state = play([{"type": "snapshot", "job": ended}])
    assert state.finished
    assert state.summary == SUMMARY
    duplicate = {"type": "completed", "run_id": RUN, "sequence": 7, "summary": {}, "cached": True}
    assert apply_event(state, duplicate) == state


def test_failed_and_cancelled_events_end_the_watch_with_the_reason() -> None:
    failed = play(
        [
            {
                "type": "failed",
                "run_id": RUN,
                "sequence": 2,
                "reason_code": "dataset_unreadable",
                "message": "Dataset unreadable: boom",
            }
        ]
    )
    assert failed.status == "failed"
    assert failed.failure == "Dataset unreadable: boom (dataset_unreadable)"
    cancelled = play([{"type": "cancelled", "run_id": RUN, "sequence": 4}])
    assert (cancelled.status, cancelled.finished) == ("cancelled", True)


def test_pings_errors_and_unknown_messages_change_nothing() -> None:
    state = play([progress(1, 0.1)])
    for message in ({"type": "ping", "server_time": 2.0}, {"type": "error", "message": "?"}, {}):
        assert apply_event(state, message) is state


def test_state_of_a_rest_job_carries_its_failure() -> None:
    state = state_of_job(
        job("failed", 3, failure_reason="invalid_parameters", failure_message="slow <= fast")
    )
    assert state.finished
    assert state.failure == "slow <= fast (invalid_parameters)"
    assert state.transport == "rest"


def test_websocket_url_follows_the_server_scheme_and_path_prefix() -> None:
    assert websocket_url("http://127.0.0.1:8000", RUN, 0) == (
        f"ws://127.0.0.1:8000/api/v1/ws/jobs/{RUN}?after=0"
    )
    assert websocket_url("https://lab.example.com/tl/", RUN, 12) == (
        f"wss://lab.example.com/tl/api/v1/ws/jobs/{RUN}?after=12"
    )


def test_optimisation_events_count_combinations_and_keep_the_best_value() -> None:
    search = {"id": RUN, "status": "queued", "progress": 0.0, "sequence": 0, "evaluated": 0}
    state = state_of_job({**search, "total": 40, "best_value": None}, kind="optimization")
    assert (state.kind, state.evaluated, state.total) == ("optimization", 0, 40)
    progress = {"type": "progress", "job_type": "optimization", "run_id": RUN, "progress": 0.5}
    state = play(
        [
            {**progress, "sequence": 1, "evaluated": 20, "total": 40, "best_value": 0.7},
            {
                "type": "completed",
                "job_type": "optimization",
                "run_id": RUN,
                "sequence": 2,
                "evaluated": 40,
                "best_parameters": {"fast": 10, "slow": 40},
                "best_metrics": {"sharpe": 0.9},
            },
        ],
        state,
    )
    assert (state.status, state.progress, state.evaluated, state.total) == (
        "completed",
        1.0,
        40,
        40,
    )
    assert (state.best_value, state.progress_events, state.summary) == (0.7, 1, None)
