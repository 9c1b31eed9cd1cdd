"""``GET /api/v1/me/usage``: every quota of yours with usage and limit, as the datasets service
and the engine (which enforce them) count it."""

import asyncio

from fastapi import APIRouter, Request

from tradelab_contracts.datasets_rpc import GetDatasetsUsage
from tradelab_contracts.engine_rpc import GetEngineUsage, UsageReply
from tradelab_gateway.api.backtests import ask_engine, engine_client
from tradelab_gateway.api.datasets import ask_datasets, datasets_client
from tradelab_gateway.api.deps import CurrentUser, Settings
from tradelab_gateway.api.usage_schemas import QuotaPublic, UsagePublic

router = APIRouter(prefix="/api/v1/me", tags=["usage"])


def usage_router() -> APIRouter:
    """Return the usage route."""
    return router


@router.get("/usage")
async def usage(request: Request, user: CurrentUser, settings: Settings) -> UsagePublic:
    """Your usage and limit of every quota; a request over one is refused with 429
    ``quota_exceeded`` naming the quota, the usage and the limit."""
    datasets_ask = GetDatasetsUsage(
        reply_to=datasets_client(request).reply_topic, owner_id=user.user_id
    )
    engine_ask = GetEngineUsage(reply_to=engine_client(request).reply_topic, owner_id=user.user_id)
    datasets, engine = await asyncio.gather(
        ask_datasets(request, datasets_ask, settings.retry_after_s),
        ask_engine(request, engine_ask, UsageReply, settings.retry_after_s),
    )
    quotas = [*(datasets.quotas or []), *(engine.quotas or [])]
    return UsagePublic(quotas=[QuotaPublic.model_validate(q.model_dump()) for q in quotas])
