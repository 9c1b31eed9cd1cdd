"""Analysis queries over Kafka request/reply (gateway -> analytics).

The analytics service owns stored analyses. A gateway publishes an `AnalyticsRequest` on
``analytics.rpc.request.v1``; the service answers with an `AnalyticsReply` (``kind="analytics"``).
Another user's run is ``not_found``; a run not analysed yet is ``not_ready``; a run whose
analysis could not be made is ``analysis_failed`` (the message says why).

Large payloads (chart figures, the HTML report) travel through the object store: replies carry
their storage URI, never the bytes.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any, Literal, TypeAlias
from uuid import UUID

from pydantic import AwareDatetime, Field, TypeAdapter, field_validator

from tradelab_contracts.auth import ReplyTopic
from tradelab_contracts.base import (
    ContractModel,
    MetricName,
    Parameters,
    Reply,
    Request,
    StorageUri,
)


class DrawdownInfo(ContractModel):
    """One drawdown period of the equity curve (docs/metrics.md)."""

    start: AwareDatetime = Field(description="Bar of the peak the drawdown starts from.")
    trough: AwareDatetime = Field(description="Bar of the lowest equity in the period.")
    recovery: AwareDatetime | None = Field(
        description="First bar back at the peak; null if never recovered."
    )
    depth: float = Field(ge=0, description="1 - trough equity / peak equity.")
    bars: int = Field(ge=0, description="Bars from the peak to the recovery (or the last bar).")


class PeriodReturn(ContractModel):
    """The compounded return of one calendar month or year (UTC)."""

    year: int = Field(description="Calendar year.")
    month: int | None = Field(default=None, ge=1, le=12, description="Month, for monthly rows.")
    value: float | None = Field(description="Return as a fraction; null where undefined.")


class AnalysisInfo(ContractModel):
    """A stored analysis of one backtest run."""

    run_id: UUID = Field(description="Backtest run analysed.")
    owner_id: UUID = Field(description="Owning user.")
    dataset_id: UUID = Field(description="Dataset backtested.")
    strategy: str = Field(description="Strategy name.")
    parameters: Parameters = Field(description="Strategy parameters.")
    metrics: dict[MetricName, float | None] = Field(description="Every metric (docs/metrics.md).")
    worst_drawdowns: list[DrawdownInfo] = Field(
        default_factory=list, description="The five worst drawdowns, deepest first."
    )
    monthly_returns: list[PeriodReturn] = Field(
        default_factory=list, description="Compounded return of every month with bars."
    )
    yearly_returns: list[PeriodReturn] = Field(
        default_factory=list, description="Compounded return of every year with bars."
    )
    rolling_window: int | None = Field(
        default=None, description="Bars in the rolling Sharpe and volatility windows."
    )
    charts_uri: StorageUri | None = Field(
        default=None, description="JSON file of every chart's Plotly figure, by name."
    )
    chart_names: list[str] | None = Field(
        default=None,
        description="Names of the charts in charts_uri, in order; None when not recorded (an "
        "analysis stored before they were: read them from the file).",
    )
    equity_uri: StorageUri | None = Field(default=None, description="The engine's equity file.")
    initial_cash: float | None = Field(default=None, description="Cash before the first bar.")
    created_at: AwareDatetime = Field(description="When the analysis was stored.")


class RollingSeries(ContractModel):
    """Rolling Sharpe ratio and volatility (annualised) from the first full window on."""

    window: int = Field(ge=2, description="Bars per window.")
    time: list[str] = Field(description="ISO-8601 UTC time of each point (thinned).")
    sharpe: list[float | None] = Field(description="Rolling Sharpe ratio; null where undefined.")
    volatility: list[float | None] = Field(description="Rolling annualised volatility.")


class Comparison(ContractModel):
    """Several runs side by side."""

    runs: list[AnalysisInfo] = Field(description="The analyses, in the order asked for.")
    equity_chart: dict[str, Any] = Field(
        description="Plotly figure: every equity curve divided by its initial cash."
    )


class AnalyticsCommand(Request):
    """Fields every analytics request has."""

    reply_to: ReplyTopic = Field(description="Topic the AnalyticsReply is published to.")
    owner_id: UUID = Field(description="The user asking; only their runs are visible.")


class GetAnalysis(AnalyticsCommand):
    """One run's stored analysis."""

    kind: Literal["get_analysis"] = Field(default="get_analysis", description="Discriminator.")
    run_id: UUID = Field(description="Backtest run id.")


class GetReport(AnalyticsCommand):
    """One run's self-contained HTML report (rendered once, then kept in the object store)."""

    kind: Literal["get_report"] = Field(default="get_report", description="Discriminator.")
    run_id: UUID = Field(description="Backtest run id.")


class GetRolling(AnalyticsCommand):
    """One run's rolling Sharpe and volatility over a window of the caller's choice."""

    kind: Literal["get_rolling"] = Field(default="get_rolling", description="Discriminator.")
    run_id: UUID = Field(description="Backtest run id.")
    window: int = Field(ge=2, le=100_000, description="Bars per window.")


class CompareRuns(AnalyticsCommand):
    """Metrics side by side and equity curves overlaid, for 2 to 10 of the user's runs."""

    kind: Literal["compare_runs"] = Field(default="compare_runs", description="Discriminator.")
    run_ids: list[UUID] = Field(min_length=2, max_length=10, description="Distinct run ids.")

    @field_validator("run_ids")
    @classmethod
    def _distinct(cls, run_ids: list[UUID]) -> list[UUID]:
        if len(set(run_ids)) != len(run_ids):
            msg = "run_ids must be distinct"
            raise ValueError(msg)
        return run_ids


AnalyticsRequest: TypeAlias = Annotated[
    GetAnalysis | GetReport | GetRolling | CompareRuns, Field(discriminator="kind")
]
"""Any analytics request, told apart by its ``kind``."""

ANALYTICS_REQUEST_TYPES: tuple[type[AnalyticsCommand], ...] = (
    GetAnalysis,
    GetReport,
    GetRolling,
    CompareRuns,
)
ANALYTICS_REQUEST_ADAPTER: TypeAdapter[AnalyticsRequest] = TypeAdapter(AnalyticsRequest)


class AnalyticsErrorCode(StrEnum):
    """Why an analytics request failed."""

    NOT_FOUND = "not_found"
    NOT_READY = "not_ready"
    INTERNAL = "internal"
    FAILED = "analysis_failed"
    """The run's analysis was given up on; the message says why (ReportFailed announced it)."""
    REPLY_TOO_LARGE = "reply_too_large"
    """The answer would not fit in one broker message (``KAFKA_MAX_MESSAGE_BYTES``)."""


class AnalyticsError(ContractModel):
    """A failed analytics request's error."""

    code: AnalyticsErrorCode = Field(description="Machine-readable code.")
    message: str = Field(max_length=1024, description="Human-readable explanation.")


class AnalyticsReply(Reply):
    """Answer to an `AnalyticsRequest`."""

    kind: Literal["analytics"] = Field(default="analytics", description="Reply discriminator.")
    error: AnalyticsError | None = Field(default=None, description="Why it failed.")
    analysis: AnalysisInfo | None = Field(default=None, description="The analysis (get).")
    report_uri: StorageUri | None = Field(default=None, description="The HTML report (report).")
    comparison: Comparison | None = Field(default=None, description="The comparison (compare).")
    rolling: RollingSeries | None = Field(default=None, description="Rolling series (rolling).")
