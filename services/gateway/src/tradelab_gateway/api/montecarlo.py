"""``/api/v1/monte-carlo``: Monte Carlo studies, validated here and queued, run and read via the
engine."""

import secrets
import uuid
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Body, Query, Request
from fastapi.responses import JSONResponse

from tradelab_contracts.engine_rpc import (
    CancelMonteCarloRequest,
    GetMonteCarlo,
    ListMonteCarlo,
    MonteCarloInfo,
    MonteCarloPageReply,
    MonteCarloReply,
    RunStatus,
    SubmitMonteCarlo,
)
from tradelab_contracts.montecarlo import MonteCarloMethod
from tradelab_gateway.api.backtests import ask_engine
from tradelab_gateway.api.datasets import ready_dataset
from tradelab_gateway.api.deps import CurrentUser, IdempotencyKey, Settings
from tradelab_gateway.api.montecarlo_schemas import (
    MonteCarloCreate,
    MonteCarloPage,
    MonteCarloPublic,
)
from tradelab_gateway.api.paging import Offset
from tradelab_gateway.api.problems import ProblemError
from tradelab_gateway.api.rate_limits import JOB_SUBMISSION_LIMIT
from tradelab_gateway.domain.idempotency import replayed, request_sha256

router = APIRouter(prefix="/api/v1/monte-carlo", tags=["monte-carlo"])
SEED_LIMIT = 2**32


def montecarlo_router() -> APIRouter:
    """Return the Monte Carlo routes."""
    return router


def _reply_topic(request: Request) -> str:
    topic: str = request.app.state.engine_client.reply_topic
    return topic


def _study(reply: MonteCarloReply) -> MonteCarloInfo:
    if reply.monte_carlo is None:
        raise ProblemError(500, "The engine gave an incomplete answer.")
    return reply.monte_carlo


@router.post(
    "", status_code=202, response_model=MonteCarloPublic, dependencies=[JOB_SUBMISSION_LIMIT]
)
async def submit(
    body: Annotated[MonteCarloCreate, Body()],
    request: Request,
    user: CurrentUser,
    settings: Settings,
    idempotency_key: IdempotencyKey,
) -> JSONResponse:
    """Queue a Monte Carlo study; answers 202 with the study (and the seed it will use).

    With an ``Idempotency-Key`` a retry answers 202 with the study the key first created, as it
    is now (``Idempotent-Replayed: true``)."""
    dataset = None
    if body.dataset_id is not None:
        dataset = await ready_dataset(
            request, user.user_id, body.dataset_id, settings.retry_after_s, "simulated"
        )
    command = SubmitMonteCarlo(
        reply_to=_reply_topic(request),
        simulation_id=uuid.uuid4(),
        owner_id=user.user_id,
        method=body.method,
        n_simulations=body.n_simulations,
        seed=secrets.randbelow(SEED_LIMIT) if body.seed is None else body.seed,
        block_size=body.block_size,
        source_run_id=body.run_id,
        dataset_id=dataset.id if dataset else None,
        dataset_uri=dataset.storage_uri if dataset else None,
        dataset_sha256=dataset.content_sha256 if dataset else None,
        strategy=body.strategy,
        parameters=body.parameters,
        options=body.options,
        horizon_bars=body.horizon_bars,
        drawdown_threshold=body.drawdown_threshold,
        priority=body.priority,
        idempotency_key=idempotency_key,
        # The body as sent: a drawn seed differs between retries of one request.
        request_sha256=None if idempotency_key is None else request_sha256(body),
    )
    study = _study(await ask_engine(request, command, MonteCarloReply, settings.retry_after_s))
    headers = {"Location": f"/api/v1/monte-carlo/{study.id}"} | replayed(
        study.id, command.simulation_id
    )
    return JSONResponse(
        MonteCarloPublic.of(study).model_dump(mode="json"), status_code=202, headers=headers
    )


@router.get("")
async def list_studies(
    request: Request,
    user: CurrentUser,
    settings: Settings,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Offset = 0,
    status: RunStatus | None = None,
    method: MonteCarloMethod | None = None,
) -> MonteCarloPage:
    """Your studies, newest first, optionally only one status or method."""
    command = ListMonteCarlo(
        reply_to=_reply_topic(request),
        owner_id=user.user_id,
        limit=limit,
        offset=offset,
        status=status,
        method=method,
    )
    reply = await ask_engine(request, command, MonteCarloPageReply, settings.retry_after_s)
    items = [MonteCarloPublic.of(s) for s in reply.monte_carlos or []]
    return MonteCarloPage(items=items, total=reply.total or 0, limit=limit, offset=offset)


@router.get("/{simulation_id}")
async def get_study(
    simulation_id: UUID, request: Request, user: CurrentUser, settings: Settings
) -> MonteCarloPublic:
    """Status, progress and, once completed, the results of one of your studies."""
    command = GetMonteCarlo(
        reply_to=_reply_topic(request), owner_id=user.user_id, simulation_id=simulation_id
    )
    reply = await ask_engine(request, command, MonteCarloReply, settings.retry_after_s)
    return MonteCarloPublic.of(_study(reply))


@router.post("/{simulation_id}/cancel", status_code=202)
async def cancel(
    simulation_id: UUID, request: Request, user: CurrentUser, settings: Settings
) -> MonteCarloPublic:
    """Stop a queued study at once or a running one at its next batch of simulations."""
    command = CancelMonteCarloRequest(
        reply_to=_reply_topic(request), owner_id=user.user_id, simulation_id=simulation_id
    )
    reply = await ask_engine(request, command, MonteCarloReply, settings.retry_after_s)
    return MonteCarloPublic.of(_study(reply))
