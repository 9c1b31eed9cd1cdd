"""``/api/v1/optimizations``: parameter searches spread over the engine replicas."""

import secrets
import uuid
from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from tradelab_contracts.engine import EngineOptions
from tradelab_contracts.engine_rpc import (
    CancelOptimizationRequest,
    GetOptimization,
    GetOptimizationHeatmap,
    GetOptimizationResults,
    GetWalkForward,
    Heatmap,
    HeatmapReply,
    ListOptimizations,
    OptimizationInfo,
    OptimizationPageReply,
    OptimizationReply,
    OptimizationResultRow,
    OptimizationResultsReply,
    RunStatus,
    SubmitOptimization,
    WalkForwardReply,
    WalkForwardReport,
)
from tradelab_contracts.optimization import (
    Constraint,
    GridSearch,
    Objective,
    ParameterSpace,
    SearchMethod,
    WalkForward,
)
from tradelab_contracts.search_limits import SearchLimits, size_refusal
from tradelab_gateway.api.backtests import ask_engine
from tradelab_gateway.api.datasets import ready_dataset
from tradelab_gateway.api.deps import CurrentUser, IdempotencyKey, Settings
from tradelab_gateway.api.optimizations_schemas import SearchIn
from tradelab_gateway.api.paging import Fold, Offset
from tradelab_gateway.api.problems import ProblemError, invalid_fields
from tradelab_gateway.api.rate_limits import JOB_SUBMISSION_LIMIT
from tradelab_gateway.domain.idempotency import replayed, request_sha256

WALK_FORWARD_POINTS = 2000
"""Stitched equity points answered when ``max_points`` is absent."""

router = APIRouter(prefix="/api/v1/optimizations", tags=["optimizations"])
SEARCH_ADAPTER: TypeAdapter[SearchMethod] = TypeAdapter(SearchMethod)


class OptimizationCreate(BaseModel):
    """``POST /api/v1/optimizations``."""

    model_config = ConfigDict(extra="forbid")

    dataset_id: UUID = Field(description="A ready dataset of yours.")
    strategy: str = Field(min_length=1, max_length=64, description="Name from /strategies.")
    parameter_space: ParameterSpace = Field(
        min_length=1,
        description='Per parameter a range {"start", "stop", "step"} or a list of values. A range '
        "holds at most GATEWAY_OPTIMIZATION_MAX_PARAMETER_VALUES values (1,000,000 by default) "
        "and a grid at most GATEWAY_OPTIMIZATION_MAX_COMBINATIONS combinations (200,000), also "
        "the most random samples or population x generations; larger searches are refused with "
        "422 naming their size.",
    )
    search: SearchIn = Field(
        default_factory=GridSearch,
        description='{"kind": "grid"}, {"kind": "random", "n_samples": N, "seed": S} or '
        '{"kind": "genetic", "population": P, "generations": G, "mutation_rate": 0.1, '
        '"crossover_rate": 0.8, "seed": S}; the seed is drawn (and returned) when absent.',
    )
    objective: Objective = Field(
        default_factory=lambda: Objective(metric="sharpe"),
        description="final_equity, total_return, max_drawdown, sharpe, trades or exposure.",
    )
    constraints: list[Constraint] = Field(
        default_factory=list, description='e.g. [{"left": "fast", "op": "<", "right": "slow"}]'
    )
    min_trades: int | None = Field(default=None, ge=0, description="Fewer trades: not ranked.")
    options: EngineOptions = Field(default_factory=EngineOptions, description="Simulation.")
    walk_forward: WalkForward | None = Field(
        default=None,
        description='{"mode": "rolling" | "anchored", "train_bars": N, "test_bars": M, '
        '"step_bars": S (default M)}: run the search on every training window and the best '
        "combination on the test window after it (grid or random search only).",
    )


class OptimizationPublic(BaseModel):
    """An optimisation as its owner sees it."""

    id: UUID
    dataset_id: UUID
    strategy: str
    parameter_space: dict[str, Any]
    search: dict[str, Any]
    objective: Objective
    constraints: list[Constraint]
    min_trades: int | None
    options: EngineOptions
    status: str = Field(description="queued, running, completed, failed or cancelled")
    total: int = Field(description="Combinations to evaluate")
    evaluated: int
    skipped: int = Field(description="Combinations left out by constraints or the strategy")
    chunks: int
    chunks_done: int
    progress: float
    sequence: int
    best_parameters: dict[str, Any] | None
    best_value: float | None
    best_metrics: dict[str, float | None] | None
    failure_message: str | None
    walk_forward: WalkForward | None = Field(description="The walk-forward scheme, if any")
    folds: int = Field(description="Walk-forward folds (0 without a scheme)")
    out_of_sample: dict[str, float | None] | None = Field(
        description="Metrics of the stitched out-of-sample equity, once completed"
    )
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None

    @classmethod
    def of(cls, info: OptimizationInfo) -> "OptimizationPublic":
        """Build from the engine's record."""
        return cls.model_validate(info.model_dump(mode="json", exclude={"owner_id", "results_uri"}))


class OptimizationPage(BaseModel):
    """A page of optimisations, newest first."""

    items: list[OptimizationPublic]
    total: int
    limit: int
    offset: int


class ResultsPage(BaseModel):
    """A page of evaluated combinations, best first unless asked otherwise."""

    optimization_id: UUID
    items: list[OptimizationResultRow]
    total: int
    limit: int
    offset: int


def optimizations_router() -> APIRouter:
    """Return the optimisation routes."""
    return router


def _info(reply: OptimizationReply) -> OptimizationInfo:
    if reply.optimization is None:
        raise ProblemError(500, "The engine gave an incomplete answer.")
    return reply.optimization


def _search(requested: SearchIn) -> SearchMethod:
    """The search to run: a random or genetic search without a seed gets one drawn."""
    if isinstance(requested, GridSearch) or requested.seed is not None:
        return SEARCH_ADAPTER.validate_python(requested.model_dump())
    drawn = requested.model_dump() | {"seed": secrets.randbelow(2**31)}
    return SEARCH_ADAPTER.validate_python(drawn)


def _refuse_too_large(body: OptimizationCreate, search: SearchMethod, limits: SearchLimits) -> None:
    """Refuse a search larger than the limits, counted before the engine is asked."""
    refusal = size_refusal(body.parameter_space, search, limits)
    if refusal is not None:
        raise invalid_fields([{"field": "parameter_space", "message": refusal}], refusal)


@router.post(
    "", status_code=202, response_model=OptimizationPublic, dependencies=[JOB_SUBMISSION_LIMIT]
)
async def submit(
    body: OptimizationCreate,
    request: Request,
    user: CurrentUser,
    settings: Settings,
    idempotency_key: IdempotencyKey,
) -> JSONResponse:
    """Start a search over one of your ready datasets; answers 202 at once.

    With an ``Idempotency-Key`` a retry answers 202 with the optimisation the key first created,
    as it is now (``Idempotent-Replayed: true``)."""
    search = _search(body.search)
    limits = SearchLimits(
        max_combinations=settings.optimization_max_combinations,
        max_parameter_values=settings.optimization_max_parameter_values,
    )
    _refuse_too_large(body, search, limits)
    client = request.app.state.engine_client
    info = await ready_dataset(
        request, user.user_id, body.dataset_id, settings.retry_after_s, "searched"
    )
    command = SubmitOptimization(
        reply_to=client.reply_topic,
        optimization_id=uuid.uuid4(),
        owner_id=user.user_id,
        dataset_id=info.id,
        dataset_uri=info.storage_uri,
        dataset_sha256=info.content_sha256,
        timeframe=info.timeframe,
        strategy=body.strategy,
        parameter_space=body.parameter_space,
        search=search,
        objective=body.objective,
        constraints=body.constraints,
        min_trades=body.min_trades,
        options=body.options,
        walk_forward=body.walk_forward,
        idempotency_key=idempotency_key,
        # The body as sent: a drawn seed differs between retries of one request.
        request_sha256=None if idempotency_key is None else request_sha256(body),
    )
    created = _info(await ask_engine(request, command, OptimizationReply, settings.retry_after_s))
    headers = {"Location": f"/api/v1/optimizations/{created.id}"} | replayed(
        created.id, command.optimization_id
    )
    return JSONResponse(
        OptimizationPublic.of(created).model_dump(mode="json"), status_code=202, headers=headers
    )


@router.get("")
async def list_optimizations(
    request: Request,
    user: CurrentUser,
    settings: Settings,
    status: RunStatus | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Offset = 0,
) -> OptimizationPage:
    """Your optimisations, newest first."""
    client = request.app.state.engine_client
    command = ListOptimizations(
        reply_to=client.reply_topic,
        owner_id=user.user_id,
        status=status,
        limit=limit,
        offset=offset,
    )
    reply = await ask_engine(request, command, OptimizationPageReply, settings.retry_after_s)
    items = [OptimizationPublic.of(o) for o in reply.optimizations or []]
    return OptimizationPage(items=items, total=reply.total or 0, limit=limit, offset=offset)


@router.get("/{optimization_id}")
async def get_optimization(
    optimization_id: UUID, request: Request, user: CurrentUser, settings: Settings
) -> OptimizationPublic:
    """Status, progress (evaluated / total) and the best combination so far."""
    command = GetOptimization(
        reply_to=request.app.state.engine_client.reply_topic,
        owner_id=user.user_id,
        optimization_id=optimization_id,
    )
    reply = await ask_engine(request, command, OptimizationReply, settings.retry_after_s)
    return OptimizationPublic.of(_info(reply))


@router.get("/{optimization_id}/results")
async def results(
    optimization_id: UUID,
    request: Request,
    user: CurrentUser,
    settings: Settings,
    order_by: str | None = Query(default=None, description="A metric; the objective if absent"),
    descending: bool | None = Query(default=None, description="Best first if absent"),
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Offset = 0,
    fold: Fold = None,
) -> ResultsPage:
    """Evaluated combinations with their metrics: the top N is the first page."""
    command = GetOptimizationResults(
        reply_to=request.app.state.engine_client.reply_topic,
        owner_id=user.user_id,
        optimization_id=optimization_id,
        order_by=order_by,
        descending=descending,
        limit=limit,
        offset=offset,
        fold_index=fold,
    )
    reply = await ask_engine(request, command, OptimizationResultsReply, settings.retry_after_s)
    return ResultsPage(
        optimization_id=optimization_id,
        items=reply.results or [],
        total=reply.total or 0,
        limit=limit,
        offset=offset,
    )


@router.get("/{optimization_id}/heatmap")
async def heatmap(
    optimization_id: UUID,
    request: Request,
    user: CurrentUser,
    settings: Settings,
    x: Annotated[str, Query(min_length=1, description="Parameter on the x axis")],
    y: Annotated[str, Query(min_length=1, description="Parameter on the y axis")],
    metric: Annotated[str | None, Query(description="The objective's metric if absent")] = None,
    fold: Fold = None,
) -> Heatmap:
    """A metric over two parameters; each cell holds the best value over the other ones."""
    command = GetOptimizationHeatmap(
        reply_to=request.app.state.engine_client.reply_topic,
        owner_id=user.user_id,
        optimization_id=optimization_id,
        x=x,
        y=y,
        metric=metric,
        fold_index=fold,
    )
    reply = await ask_engine(request, command, HeatmapReply, settings.retry_after_s)
    if reply.heatmap is None:
        raise ProblemError(500, "The engine gave an incomplete answer.")
    return reply.heatmap


@router.get("/{optimization_id}/walk-forward")
async def walk_forward(
    optimization_id: UUID,
    request: Request,
    user: CurrentUser,
    settings: Settings,
    max_points: Annotated[
        int | None,
        Query(
            ge=2,
            le=100_000,
            description="Equity points returned at most: 2,000 if absent, at most "
            "GATEWAY_EQUITY_MAX_POINTS",
        ),
    ] = None,
) -> WalkForwardReport:
    """Per-fold table (training window's best, its test metrics) and, once completed, the
    stitched out-of-sample equity, thinned to ``max_points`` (2,000 if absent): at most
    ``GATEWAY_EQUITY_MAX_POINTS`` (5,000 by default; more is 422). 404 for an optimisation
    without a walk-forward scheme."""
    if max_points is None:
        max_points = min(WALK_FORWARD_POINTS, settings.equity_max_points)
    elif max_points > settings.equity_max_points:
        detail = f"At most {settings.equity_max_points} equity points are answered."
        raise ProblemError(422, detail, code="validation_error")
    command = GetWalkForward(
        reply_to=request.app.state.engine_client.reply_topic,
        owner_id=user.user_id,
        optimization_id=optimization_id,
        max_points=max_points,
    )
    reply = await ask_engine(request, command, WalkForwardReply, settings.retry_after_s)
    if reply.walk_forward is None:
        raise ProblemError(500, "The engine gave an incomplete answer.")
    return reply.walk_forward


@router.post("/{optimization_id}/cancel", status_code=202)
async def cancel(
    optimization_id: UUID, request: Request, user: CurrentUser, settings: Settings
) -> OptimizationPublic:
    """Stop a running optimisation; chunks not yet evaluated are dropped."""
    command = CancelOptimizationRequest(
        reply_to=request.app.state.engine_client.reply_topic,
        owner_id=user.user_id,
        optimization_id=optimization_id,
    )
    reply = await ask_engine(request, command, OptimizationReply, settings.retry_after_s)
    return OptimizationPublic.of(_info(reply))
