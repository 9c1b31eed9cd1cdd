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
from tradelab_contracts.engine_rpc import OptimizationInfo, RunInfo, RunStatus
from tradelab_contracts.montecarlo import (
    MonteCarloCancelled,
    MonteCarloCompleted,
    MonteCarloFailed,
    MonteCarloProgress,
)
from tradelab_contracts.optimization import (
    OptimizationCancelled,
    OptimizationCompleted,
    OptimizationFailed,
    OptimizationProgress,
)

BacktestMessage = BacktestProgress | BacktestCompleted | BacktestFailed | BacktestCancelled
OptimizationMessage = (
    OptimizationProgress | OptimizationCompleted | OptimizationFailed | OptimizationCancelled
)
MonteCarloMessage = (
    MonteCarloProgress | MonteCarloCompleted | MonteCarloFailed | MonteCarloCancelled
)
JobMessage = BacktestMessage | OptimizationMessage | MonteCarloMessage
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


def _event(source: BacktestMessage, kind: str, **fields: Any) -> JobEvent:
    payload = {
        "type": kind,
        "job_type": "backtest",
        "run_id": str(source.run_id),
        "sequence": source.sequence,
        "occurred_at": source.occurred_at.isoformat(),
        **fields,
    }
    return JobEvent(source.run_id, source.owner_id, source.sequence, kind, payload)


def _optimization_event(source: OptimizationMessage, kind: str, **fields: Any) -> JobEvent:
    job_id = source.optimization_id
    payload = {
        "type": kind,
        "job_type": "optimization",
        "run_id": str(job_id),
        "optimization_id": str(job_id),
        "sequence": source.sequence,
        "occurred_at": source.occurred_at.isoformat(),
        **fields,
    }
    return JobEvent(job_id, source.owner_id, source.sequence, kind, payload)


def _monte_carlo_event(source: MonteCarloMessage, kind: str, **fields: Any) -> JobEvent:
    job_id = source.simulation_id
    payload = {
        "type": kind,
        "job_type": "monte_carlo",
        "run_id": str(job_id),
        "simulation_id": str(job_id),
        "sequence": source.sequence,
        "occurred_at": source.occurred_at.isoformat(),
        **fields,
    }
    return JobEvent(job_id, source.owner_id, source.sequence, kind, payload)


def _backtest_event_of(message: BacktestMessage) -> JobEvent:
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


def _optimization_event_of(message: OptimizationMessage) -> JobEvent:
    match message:
        case OptimizationProgress():
            return _optimization_event(
                message,
                "progress",
                progress=message.progress,
                evaluated=message.evaluated,
                total=message.total,
                best_parameters=message.best_parameters,
                best_value=message.best_value,
            )
        case OptimizationCompleted():
            return _optimization_event(
                message,
                "completed",
                evaluated=message.evaluated,
                best_parameters=message.best_parameters,
                best_metrics=message.best_metrics,
            )
        case OptimizationFailed():
            return _optimization_event(
                message, "failed", reason_code=message.reason_code.value, message=message.message
            )
        case OptimizationCancelled():
            return _optimization_event(message, "cancelled")


def _monte_carlo_event_of(message: MonteCarloMessage) -> JobEvent:
    match message:
        case MonteCarloProgress():
            return _monte_carlo_event(
                message,
                "progress",
                progress=message.progress,
                simulations_done=message.simulations_done,
                simulations_total=message.simulations_total,
            )
        case MonteCarloCompleted():
            return _monte_carlo_event(
                message,
                "completed",
                **message.model_dump(
                    mode="json",
                    include={
                        "method",
                        "n_simulations",
                        "final_equity_percentiles",
                        "max_drawdown_percentiles",
                        "probability_of_loss",
                        "drawdown_threshold",
                    },
                ),
            )
        case MonteCarloFailed():
            return _monte_carlo_event(
                message, "failed", reason_code=message.reason_code.value, message=message.message
            )
        case MonteCarloCancelled():
            return _monte_carlo_event(message, "cancelled")


BACKTEST_TYPES = (BacktestProgress, BacktestCompleted, BacktestFailed, BacktestCancelled)
OPTIMIZATION_TYPES = (
    OptimizationProgress,
    OptimizationCompleted,
    OptimizationFailed,
    OptimizationCancelled,
)


def job_event(message: JobMessage) -> JobEvent:
    """The WebSocket message for an engine event (docs/websocket.md)."""
    if isinstance(message, BACKTEST_TYPES):
        return _backtest_event_of(message)
    if isinstance(message, OPTIMIZATION_TYPES):
        return _optimization_event_of(message)
    return _monte_carlo_event_of(message)


def final_event_of(run: RunInfo) -> JobEvent | None:
    """Rebuild the final event of a run that has ended, from its stored state."""
    base: dict[str, Any] = {"job_type": "backtest", "run_id": str(run.id), "sequence": run.sequence}
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


def final_optimization_event_of(info: OptimizationInfo) -> JobEvent | None:
    """Rebuild the final event of an optimisation that has ended."""
    base: dict[str, Any] = {
        "job_type": "optimization",
        "run_id": str(info.id),
        "optimization_id": str(info.id),
        "sequence": info.sequence,
    }
    if info.finished_at is not None:
        base["occurred_at"] = info.finished_at.isoformat()
    match info.status:
        case RunStatus.COMPLETED:
            payload = {
                "type": "completed",
                **base,
                "evaluated": info.evaluated,
                "best_parameters": info.best_parameters,
                "best_metrics": info.best_metrics or {},
            }
        case RunStatus.FAILED:
            payload = {
                "type": "failed",
                **base,
                "reason_code": "internal",
                "message": info.failure_message or "",
            }
        case RunStatus.CANCELLED:
            payload = {"type": "cancelled", **base}
        case _:
            return None
    return JobEvent(info.id, info.owner_id, info.sequence, str(payload["type"]), payload)


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
