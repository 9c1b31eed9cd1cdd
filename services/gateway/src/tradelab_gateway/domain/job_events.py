"""Job events as WebSocket messages: built from the engine's events, or rebuilt from a stored run
when a client resumes after the job ended (the final event is never lost)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import UUID

from tradelab_contracts.analytics import ReportFailed, ReportReady
from tradelab_contracts.analytics_rpc import AnalysisInfo
from tradelab_contracts.engine import (
    BacktestCancelled,
    BacktestCompleted,
    BacktestFailed,
    BacktestProgress,
)
from tradelab_contracts.engine_rpc import MonteCarloInfo, OptimizationInfo, RunInfo, RunStatus
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
ANALYSIS_READY = "analysis.ready"
ANALYSIS_FAILED = "analysis.failed"
ANALYSIS_TYPES = frozenset({ANALYSIS_READY, ANALYSIS_FAILED})
"""Announcements of a backtest's analysis: outside the job's sequence, at most one per run."""
MONTE_CARLO_FIGURES = (
    "final_equity_percentiles",
    "max_drawdown_percentiles",
    "probability_of_loss",
    "drawdown_threshold",
    "probability_of_drawdown_beyond",
)
"""What a study's ``completed`` event reports, besides its method and size."""


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

    @property
    def analysis(self) -> bool:
        """Whether this announces the job's analysis (not numbered in the job's sequence)."""
        return self.type in ANALYSIS_TYPES


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
                    mode="json", include={"method", "n_simulations", *MONTE_CARLO_FIGURES}
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


def _rebuilt(
    job: RunInfo | OptimizationInfo | MonteCarloInfo,
    names: dict[str, Any],
    completed: dict[str, Any],
    reason_code: str,
) -> JobEvent | None:
    """The final event of a stored job, or None while it is active.

    ``names`` are the fields naming the job (``job_type``, ``run_id``...), ``completed`` the
    fields of its ``completed`` event and ``reason_code`` that of its ``failed`` one.
    """
    base: dict[str, Any] = {**names, "sequence": job.sequence}
    if job.finished_at is not None:
        base["occurred_at"] = job.finished_at.isoformat()
    match job.status:
        case RunStatus.COMPLETED:
            payload = {"type": "completed", **base, **completed}
        case RunStatus.FAILED:
            message = job.failure_message or ""
            payload = {"type": "failed", **base, "reason_code": reason_code, "message": message}
        case RunStatus.CANCELLED:
            payload = {"type": "cancelled", **base}
        case _:
            return None
    return JobEvent(job.id, job.owner_id, job.sequence, str(payload["type"]), payload)


def final_event_of(run: RunInfo) -> JobEvent | None:
    """Rebuild the final event of a run that has ended, from its stored state."""
    summary = run.summary.model_dump(mode="json") if run.summary else None
    return _rebuilt(
        run,
        {"job_type": "backtest", "run_id": str(run.id)},
        {"summary": summary, "cached": run.cached},
        run.failure_reason.value if run.failure_reason else "internal",
    )


def final_optimization_event_of(info: OptimizationInfo) -> JobEvent | None:
    """Rebuild the final event of an optimisation that has ended."""
    return _rebuilt(
        info,
        {"job_type": "optimization", "run_id": str(info.id), "optimization_id": str(info.id)},
        {
            "evaluated": info.evaluated,
            "best_parameters": info.best_parameters,
            "best_metrics": info.best_metrics or {},
        },
        "internal",
    )


def final_monte_carlo_event_of(study: MonteCarloInfo) -> JobEvent | None:
    """Rebuild the final event of a Monte Carlo study that has ended."""
    figures = (
        study.results.model_dump(mode="json", include=set(MONTE_CARLO_FIGURES))
        if study.results
        else dict.fromkeys(MONTE_CARLO_FIGURES)
    )
    return _rebuilt(
        study,
        {"job_type": "monte_carlo", "run_id": str(study.id), "simulation_id": str(study.id)},
        {"method": study.method.value, "n_simulations": study.n_simulations, **figures},
        study.failure_reason.value if study.failure_reason else "internal",
    )


def _analysis_event(
    run_id: UUID, owner_id: UUID, kind: str, occurred_at: str | None, **fields: Any
) -> JobEvent:
    """An analysis announcement: ``sequence`` is -1 as it is no step of the job."""
    payload = {
        "type": kind,
        "job_type": "backtest",
        "run_id": str(run_id),
        "occurred_at": occurred_at,
        **fields,
    }
    return JobEvent(run_id, owner_id, -1, kind, payload)


def analysis_event(message: ReportReady | ReportFailed) -> JobEvent:
    """The WebSocket message for analytics' report-ready or report-failed event."""
    occurred_at = message.occurred_at.isoformat()
    if isinstance(message, ReportReady):
        return _analysis_event(
            message.run_id, message.owner_id, ANALYSIS_READY, occurred_at, metrics=message.metrics
        )
    return _analysis_event(
        message.run_id, message.owner_id, ANALYSIS_FAILED, occurred_at, message=message.message
    )


def stored_analysis_event(info: AnalysisInfo) -> JobEvent:
    """Rebuild the ``analysis.ready`` of a run analysed before the client connected."""
    return _analysis_event(
        info.run_id,
        info.owner_id,
        ANALYSIS_READY,
        info.created_at.isoformat(),
        metrics=info.metrics,
    )


def failed_analysis_event(run_id: UUID, owner_id: UUID, message: str) -> JobEvent:
    """Rebuild the ``analysis.failed`` of a run whose analysis was given up on (when is not
    stored: ``occurred_at`` is null)."""
    return _analysis_event(run_id, owner_id, ANALYSIS_FAILED, None, message=message)


def awaits_analysis(payload: dict[str, Any]) -> bool:
    """Whether the message is a backtest's ``completed``: its analysis is announced next."""
    return payload.get("type") == "completed" and payload.get("job_type") == "backtest"


def ends_one_job(payload: dict[str, Any]) -> bool:
    """Whether a ``/ws/jobs/{id}`` socket closes after sending this message: after a job's final
    event, except a backtest's ``completed``, which is followed by its analysis announcement."""
    kind = payload.get("type")
    if kind in ANALYSIS_TYPES:
        return True
    return kind in FINAL_TYPES and not awaits_analysis(payload)


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
