"""Analysis queries over Kafka request/reply (gateway -> analytics).

The analytics service owns stored analyses. A gateway publishes an `AnalyticsRequest` on
``analytics.rpc.request.v1``; the service answers with an `AnalyticsReply` (``kind="analytics"``).
Another user's run is ``not_found``; a run not analysed yet is ``not_ready``.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Literal, TypeAlias
from uuid import UUID

from pydantic import AwareDatetime, Field, TypeAdapter

from tradelab_contracts.auth import ReplyTopic
from tradelab_contracts.base import Command, ContractModel, MetricName, Parameters, Reply


class AnalysisInfo(ContractModel):
    """A stored analysis of one backtest run."""

    run_id: UUID = Field(description="Backtest run analysed.")
    owner_id: UUID = Field(description="Owning user.")
    dataset_id: UUID = Field(description="Dataset backtested.")
    strategy: str = Field(description="Strategy name.")
    parameters: Parameters = Field(description="Strategy parameters.")
    metrics: dict[MetricName, float | None] = Field(description="Every metric (docs/metrics.md).")
    created_at: AwareDatetime = Field(description="When the analysis was stored.")


class AnalyticsCommand(Command):
    """Fields every analytics request has."""

    reply_to: ReplyTopic = Field(description="Topic the AnalyticsReply is published to.")
    owner_id: UUID = Field(description="The user asking; only their runs are visible.")


class GetAnalysis(AnalyticsCommand):
    """One run's stored analysis."""

    kind: Literal["get_analysis"] = Field(default="get_analysis", description="Discriminator.")
    run_id: UUID = Field(description="Backtest run id.")


AnalyticsRequest: TypeAlias = Annotated[GetAnalysis, Field(discriminator="kind")]
"""Any analytics request, told apart by its ``kind``."""

ANALYTICS_REQUEST_TYPES: tuple[type[AnalyticsCommand], ...] = (GetAnalysis,)
ANALYTICS_REQUEST_ADAPTER: TypeAdapter[AnalyticsRequest] = TypeAdapter(AnalyticsRequest)


class AnalyticsErrorCode(StrEnum):
    """Why an analytics request failed."""

    NOT_FOUND = "not_found"
    NOT_READY = "not_ready"
    INTERNAL = "internal"


class AnalyticsError(ContractModel):
    """A failed analytics request's error."""

    code: AnalyticsErrorCode = Field(description="Machine-readable code.")
    message: str = Field(max_length=1024, description="Human-readable explanation.")


class AnalyticsReply(Reply):
    """Answer to an `AnalyticsRequest`."""

    kind: Literal["analytics"] = Field(default="analytics", description="Reply discriminator.")
    error: AnalyticsError | None = Field(default=None, description="Why it failed.")
    analysis: AnalysisInfo | None = Field(default=None, description="The analysis (get).")
