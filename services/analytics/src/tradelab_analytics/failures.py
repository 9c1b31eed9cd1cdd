"""An analysis given up on ends visibly: stored as ``failed`` with its reason and announced by
``ReportFailed`` in the same transaction, instead of leaving the run "not analysed yet" forever.

Called by the BacktestCompleted consumer once its retries are spent (``on_give_up``), before the
message is parked as a dead letter. A replay that succeeds later replaces the failed analysis.
"""

from uuid import UUID

import polars as pl

from tradelab_contracts.analytics import ReportFailed, ReportFailureReason
from tradelab_contracts.base import correlation_of
from tradelab_contracts.engine import BacktestCompleted
from tradelab_contracts.topics import REPORT_FAILED
from tradelab_runtime.logging import get_logger

from .adapters.repository import Written
from .service import AnalyticsDeps

log = get_logger(__name__)
MESSAGES = {
    ReportFailureReason.RESULTS_NOT_FOUND: (
        "The backtest's result files were not found, so it could not be analysed. "
        "Run the backtest again."
    ),
    ReportFailureReason.RESULTS_UNREADABLE: (
        "The backtest's result files could not be read, so it could not be analysed. "
        "Run the backtest again."
    ),
    ReportFailureReason.INTERNAL: (
        "The analysis failed with an internal error ({error}). "
        "It was kept for an operator, who can retry it."
    ),
}


def failure_of(exc: Exception) -> tuple[ReportFailureReason, str]:
    """The reason and the user's message for the last error of an analysis."""
    if isinstance(exc, FileNotFoundError):
        reason = ReportFailureReason.RESULTS_NOT_FOUND
    elif isinstance(exc, pl.exceptions.PolarsError):
        reason = ReportFailureReason.RESULTS_UNREADABLE
    else:
        reason = ReportFailureReason.INTERNAL
    return reason, MESSAGES[reason].format(error=type(exc).__name__)


async def record_failure(event: BacktestCompleted, exc: Exception, deps: AnalyticsDeps) -> None:
    """Store the run's analysis as failed and announce ``ReportFailed`` with it, once.

    Nothing is written for a run that has an analysis already, nor for one deleted (or whose
    owner was erased) meanwhile.
    """
    reason, message = failure_of(exc)
    failed = ReportFailed(
        run_id=event.run_id,
        owner_id=event.owner_id,
        reason_code=reason,
        message=message,
        correlation_id=correlation_of(event),
    )
    written = await deps.repo.add_failure(
        {
            "run_id": event.run_id,
            "owner_id": event.owner_id,
            "dataset_id": event.dataset_id,
            "strategy": event.strategy,
            "parameters": dict(event.parameters),
            "status": "failed",
            "metrics": {},
            "worst_drawdowns": [],
            "monthly_returns": [],
            "yearly_returns": [],
            "initial_cash": event.options.initial_cash,
            "created_at": deps.clock.now(),
            "failure_reason": reason.value,
            "failure_message": message,
        },
        (failed, REPORT_FAILED, event.run_id.bytes),
    )
    _log(written, event.run_id, reason)


def _log(written: Written, run_id: UUID, reason: ReportFailureReason) -> None:
    if written is Written.STORED:
        log.warning("analysis given up; stored as failed", run_id=str(run_id), reason=reason)
    else:
        log.info("analysis given up; nothing stored", run_id=str(run_id), written=written.value)
