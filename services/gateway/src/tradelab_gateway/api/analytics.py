"""``/api/v1/analytics``: a finished backtest's full metrics (docs/metrics.md)."""

from datetime import datetime
from typing import Any
from uuid import UUID

from fastapi import APIRouter, Request
from pydantic import BaseModel

from tradelab_contracts.analytics_rpc import AnalyticsErrorCode, GetAnalysis
from tradelab_contracts.engine_rpc import GetBacktest
from tradelab_gateway.adapters.analytics_rpc import AnalyticsRpcClient
from tradelab_gateway.api.backtests import ask_engine
from tradelab_gateway.api.deps import CurrentUser, Settings
from tradelab_gateway.api.problems import ProblemError
from tradelab_gateway.api.service_replies import ask

router = APIRouter(prefix="/api/v1/analytics", tags=["analytics"])
# not_found here may only mean "not analysed yet": the engine says whether the run exists.
STATUS_BY_CODE = {
    AnalyticsErrorCode.NOT_FOUND: 404,
    AnalyticsErrorCode.NOT_READY: 409,
    AnalyticsErrorCode.INTERNAL: 500,
}


class AnalysisPublic(BaseModel):
    """Every metric of one backtest run."""

    run_id: UUID
    dataset_id: UUID
    strategy: str
    parameters: dict[str, Any]
    metrics: dict[str, float | None]
    created_at: datetime


def analytics_router() -> APIRouter:
    """Return the analytics routes."""
    return router


@router.get("/{run_id}")
async def get_analysis(
    run_id: UUID, request: Request, user: CurrentUser, settings: Settings
) -> AnalysisPublic:
    """All metrics of a finished run; 409 while it is not analysed yet, 404 for no such run."""
    client: AnalyticsRpcClient = request.app.state.analytics_client
    command = GetAnalysis(reply_to=client.reply_topic, owner_id=user.user_id, run_id=run_id)
    try:
        reply = await ask(
            lambda: client.call(command),
            service="analytics",
            status_by_code=STATUS_BY_CODE,
            retry_after_s=settings.retry_after_s,
        )
    except ProblemError as problem:
        if problem.code != AnalyticsErrorCode.NOT_FOUND.value:
            raise
        # Not analysed: a 404 from the engine if the run is not the user's, else 409.
        engine = await ask_engine(
            request,
            GetBacktest(reply_to=client.reply_topic, owner_id=user.user_id, run_id=run_id),
            settings.retry_after_s,
        )
        status = engine.run.status.value if engine.run else "unknown"
        detail = f"The backtest is {status} and not analysed yet."
        raise ProblemError(409, detail, code="not_ready") from problem
    if reply.analysis is None:
        raise ProblemError(500, "The analytics service gave an incomplete answer.")
    return AnalysisPublic.model_validate(reply.analysis.model_dump(exclude={"owner_id"}))
