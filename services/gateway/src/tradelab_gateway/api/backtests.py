"""``/api/v1/backtests``: validated, queued and read via the engine."""

import uuid
from typing import Annotated, TypeVar
from uuid import UUID

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import FileResponse, JSONResponse, StreamingResponse

from tradelab_contracts.engine_rpc import (
    BacktestPageReply,
    BacktestReply,
    CancelBacktestRequest,
    DeleteBacktest,
    EngineCommand,
    EngineErrorCode,
    EngineReply,
    GetBacktest,
    ListBacktests,
    RunInfo,
    RunStatus,
    SubmitBacktest,
)
from tradelab_gateway.adapters.engine_rpc import EngineRpcClient
from tradelab_gateway.api.backtests_schemas import (
    BacktestCreate,
    BacktestPage,
    BacktestPublic,
    EquityPublic,
    TradesPublic,
)
from tradelab_gateway.api.datasets import ready_dataset, store_of
from tradelab_gateway.api.deps import CurrentUser, IdempotencyKey, Settings
from tradelab_gateway.api.paging import Offset
from tradelab_gateway.api.problems import ProblemError
from tradelab_gateway.api.rate_limits import JOB_SUBMISSION_LIMIT
from tradelab_gateway.api.results_files import equity_points, trade_rows
from tradelab_gateway.api.service_replies import QUOTA_STATUS, ask
from tradelab_gateway.api.stored import TABLE_DOWNLOAD, TableFormat, read_stored, stored_table
from tradelab_gateway.domain.idempotency import replayed, request_sha256

STATUS_BY_CODE = {
    EngineErrorCode.NOT_FOUND: 404,
    EngineErrorCode.INVALID: 422,
    EngineErrorCode.CONFLICT: 409,
    EngineErrorCode.IDEMPOTENCY_KEY_REUSED: 422,
    EngineErrorCode.INTERNAL: 500,
    EngineErrorCode.QUOTA_EXCEEDED: QUOTA_STATUS,
}
router = APIRouter(tags=["backtests"])
R = TypeVar("R", bound=EngineReply)


def backtests_router() -> APIRouter:
    """Return the backtest routes."""
    return router


def engine_client(request: Request) -> EngineRpcClient:
    """The replica's engine request/reply client."""
    client: EngineRpcClient = request.app.state.engine_client
    return client


async def ask_engine(
    request: Request, command: EngineCommand, expected: type[R], retry_after_s: int
) -> R:
    """Ask the engine; ``expected`` is the command's reply class (``REPLY_OF``)."""
    client = engine_client(request)
    return await ask(
        lambda: client.call(command, expected),
        service="engine",
        status_by_code=STATUS_BY_CODE,
        retry_after_s=retry_after_s,
    )


def _run(reply: BacktestReply) -> RunInfo:
    if reply.run is None:
        raise ProblemError(500, "The engine gave an incomplete answer.")
    return reply.run


@router.post(
    "/api/v1/backtests",
    status_code=202,
    response_model=BacktestPublic,
    dependencies=[JOB_SUBMISSION_LIMIT],
)
async def submit(
    body: BacktestCreate,
    request: Request,
    user: CurrentUser,
    settings: Settings,
    idempotency_key: IdempotencyKey,
) -> JSONResponse:
    """Queue a backtest of one of your ready datasets; answers 202 with the run.

    With an ``Idempotency-Key`` a retry answers 202 with the run the key first created, as it is
    now (``Idempotent-Replayed: true``)."""
    info = await ready_dataset(
        request, user.user_id, body.dataset_id, settings.retry_after_s, "backtested"
    )
    command = SubmitBacktest(
        reply_to=engine_client(request).reply_topic,
        run_id=uuid.uuid4(),
        owner_id=user.user_id,
        dataset_id=info.id,
        dataset_uri=info.storage_uri,
        dataset_sha256=info.content_sha256,
        timeframe=info.timeframe,
        strategy=body.strategy,
        parameters=body.parameters,
        options=body.options,
        idempotency_key=idempotency_key,
        request_sha256=None if idempotency_key is None else request_sha256(body),
    )
    run = _run(await ask_engine(request, command, BacktestReply, settings.retry_after_s))
    headers = {"Location": f"/api/v1/backtests/{run.id}"} | replayed(run.id, command.run_id)
    return JSONResponse(
        BacktestPublic.of(run).model_dump(mode="json"), status_code=202, headers=headers
    )


@router.get("/api/v1/backtests")
async def list_backtests(
    request: Request,
    user: CurrentUser,
    settings: Settings,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Offset = 0,
    status: RunStatus | None = None,
) -> BacktestPage:
    """Your runs, newest first."""
    command = ListBacktests(
        reply_to=engine_client(request).reply_topic,
        owner_id=user.user_id,
        limit=limit,
        offset=offset,
        status=status,
    )
    reply = await ask_engine(request, command, BacktestPageReply, settings.retry_after_s)
    items = [BacktestPublic.of(r) for r in reply.runs or []]
    return BacktestPage(items=items, total=reply.total or 0, limit=limit, offset=offset)


async def _get(request: Request, user_id: UUID, run_id: UUID, retry_after_s: int) -> RunInfo:
    command = GetBacktest(
        reply_to=engine_client(request).reply_topic, owner_id=user_id, run_id=run_id
    )
    return _run(await ask_engine(request, command, BacktestReply, retry_after_s))


@router.get("/api/v1/backtests/{run_id}")
async def get_backtest(
    run_id: UUID, request: Request, user: CurrentUser, settings: Settings
) -> BacktestPublic:
    """Status, progress and summary of one of your runs."""
    return BacktestPublic.of(await _get(request, user.user_id, run_id, settings.retry_after_s))


def _finished(run: RunInfo) -> RunInfo:
    if run.status != RunStatus.COMPLETED or run.equity_uri is None or run.trades_uri is None:
        raise ProblemError(409, f"The backtest is {run.status.value}.", code="not_finished")
    return run


@router.get("/api/v1/backtests/{run_id}/equity")
async def equity(
    run_id: UUID,
    request: Request,
    user: CurrentUser,
    settings: Settings,
    points: Annotated[int | None, Query(ge=2, le=100_000)] = None,
) -> EquityPublic:
    """The equity curve, thinned evenly to ``points`` (first and last bar kept); at most
    ``GATEWAY_EQUITY_MAX_POINTS`` (5,000 by default, also what is answered without
    ``points``). The full curve is ``/equity/download``."""
    if points is not None and points > settings.equity_max_points:
        detail = (
            f"At most {settings.equity_max_points} points are answered as JSON; "
            "the full curve is GET /equity/download."
        )
        raise ProblemError(422, detail, code="validation_error")
    run = _finished(await _get(request, user.user_id, run_id, settings.retry_after_s))
    path = store_of(request).path(run.equity_uri or "")
    wanted = points or settings.equity_max_points
    total, rows = await read_stored(equity_points, path, wanted)
    return EquityPublic(run_id=run_id, total_points=total, points=rows)


@router.get(
    "/api/v1/backtests/{run_id}/equity/download",
    response_class=FileResponse,
    responses=TABLE_DOWNLOAD,
)
async def equity_download(
    run_id: UUID,
    request: Request,
    user: CurrentUser,
    settings: Settings,
    format: Annotated[TableFormat, Query()] = "csv",
) -> StreamingResponse:
    """The whole equity curve (time, equity, close per bar), streamed as CSV or Parquet."""
    run = _finished(await _get(request, user.user_id, run_id, settings.retry_after_s))
    path = store_of(request).path(run.equity_uri or "")
    return await stored_table(store_of(request), path, format, f"equity-{run_id}")


@router.get("/api/v1/backtests/{run_id}/trades")
async def trades(
    run_id: UUID,
    request: Request,
    user: CurrentUser,
    settings: Settings,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
    offset: Offset = 0,
) -> TradesPublic:
    """The trades, oldest first."""
    run = _finished(await _get(request, user.user_id, run_id, settings.retry_after_s))
    path = store_of(request).path(run.trades_uri or "")
    total, rows = await read_stored(trade_rows, path, limit, offset)
    return TradesPublic(run_id=run_id, total=total, items=rows)


@router.post("/api/v1/backtests/{run_id}/cancel", status_code=202)
async def cancel(
    run_id: UUID, request: Request, user: CurrentUser, settings: Settings
) -> BacktestPublic:
    """Stop a queued or running backtest (a running one stops within a second)."""
    command = CancelBacktestRequest(
        reply_to=engine_client(request).reply_topic, owner_id=user.user_id, run_id=run_id
    )
    reply = await ask_engine(request, command, BacktestReply, settings.retry_after_s)
    return BacktestPublic.of(_run(reply))


@router.delete("/api/v1/backtests/{run_id}", status_code=204)
async def delete(run_id: UUID, request: Request, user: CurrentUser, settings: Settings) -> Response:
    """Delete a finished backtest and its result files."""
    command = DeleteBacktest(
        reply_to=engine_client(request).reply_topic, owner_id=user.user_id, run_id=run_id
    )
    await ask_engine(request, command, BacktestReply, settings.retry_after_s)
    return Response(status_code=204)
