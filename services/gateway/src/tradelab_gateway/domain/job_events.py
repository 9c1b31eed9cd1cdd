"""Job events as WebSocket messages: built from the engine's events, or rebuilt from a stored run
when a client resumes after the job ended (the final event is never lost)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import UUID

from tradelab_contracts.engine import (
    BacktestCancelled,
    BacktestCompleted,
    BacktestFailed,
    BacktestProgress,
)
from tradelab_contracts.engine_rpc import RunInfo, RunStatus

JobMessage = BacktestProgress | BacktestCompleted | BacktestFailed | BacktestCancelled
FINAL_TYPES = frozenset({"completed", "failed", "cancelled"})


@dataclass(frozen=True)
class JobEvent:
    """One event of one job, ready to send: ``payload`` is the JSON message."""

    run_id: UUID
    owner_id: UUID
    sequence: int
    type: str
    payload: dict[str, Any]

    @property
    def final(self) -> bool:
        """Whether this is the job's last event."""
        return self.type in FINAL_TYPES


def _event(source: JobMessage, kind: str, **fields: Any) -> JobEvent:
    payload = {
        "type": kind,
        "run_id": str(source.run_id),
        "sequence": source.sequence,
        "occurred_at": source.occurred_at.isoformat(),
        **fields,
    }
    return JobEvent(source.run_id, source.owner_id, source.sequence, kind, payload)


def job_event(message: JobMessage) -> JobEvent:
    """The WebSocket message for an engine event (docs/websocket.md)."""
    match message:
        case BacktestProgress():
            return _event(
                message,
                "progress",
                progress=message.progress,
                bars_done=message.bars_done,
                bars_total=message.bars_total,
            )
        case BacktestCompleted():
            summary = message.summary.model_dump(mode="json")
            return _event(message, "completed", summary=summary, cached=message.cached)
        case BacktestFailed():
            return _event(
                message, "failed", reason_code=message.reason_code.value, message=message.message
            )
        case BacktestCancelled():
            return _event(message, "cancelled")


def final_event_of(run: RunInfo) -> JobEvent | None:
    """Rebuild the final event of a run that has ended, from its stored state."""
    base = {"run_id": str(run.id), "sequence": run.sequence}
    if run.finished_at is not None:
        base["occurred_at"] = run.finished_at.isoformat()
    match run.status:
        case RunStatus.COMPLETED:
            summary = run.summary.model_dump(mode="json") if run.summary else None
            payload = {"type": "completed", **base, "summary": summary, "cached": run.cached}
        case RunStatus.FAILED:
            reason = run.failure_reason.value if run.failure_reason else "internal"
            payload = {
                "type": "failed",
                **base,
                "reason_code": reason,
                "message": run.failure_message or "",
            }
        case RunStatus.CANCELLED:
            payload = {"type": "cancelled", **base}
        case _:
            return None
    return JobEvent(run.id, run.owner_id, run.sequence, str(payload["type"]), payload)


@dataclass
class SequenceFilter:
    """Drops every event not newer than the last one delivered for its job."""

    last: dict[UUID, int]

    def admit(self, event: JobEvent) -> bool:
        """Return whether ``event`` is new for its job (and remember it)."""
        if event.sequence <= self.last.get(event.run_id, -1):
            return False
        self.last[event.run_id] = event.sequence
        return True
