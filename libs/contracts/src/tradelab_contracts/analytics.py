"""Analytics results: a run's full metrics and report are ready, or could not be made."""

from __future__ import annotations

from enum import StrEnum
from uuid import UUID

from pydantic import Field

from tradelab_contracts.base import Event, MetricName, StorageUri


class ReportFailureReason(StrEnum):
    """Why analytics could not report on a run."""

    RESULTS_NOT_FOUND = "results_not_found"
    RESULTS_UNREADABLE = "results_unreadable"
    INTERNAL = "internal"


class ReportReady(Event):
    """Analytics computed a run's metrics (and rendered its report)."""

    run_id: UUID = Field(description="Id of the backtest run.")
    owner_id: UUID = Field(description="Id of the requesting user.")
    metrics: dict[MetricName, float | None] = Field(
        description="Every metric by name; None when undefined (e.g. Sortino with no losses)."
    )
    report_uri: StorageUri | None = Field(
        default=None, description="Where the HTML report is stored, if one was rendered."
    )


class ReportFailed(Event):
    """Analytics could not compute a run's report."""

    run_id: UUID = Field(description="Id of the backtest run.")
    owner_id: UUID = Field(description="Id of the requesting user.")
    reason_code: ReportFailureReason = Field(description="Machine-readable reason.")
    message: str = Field(max_length=2048, description="Explanation for the user.")
