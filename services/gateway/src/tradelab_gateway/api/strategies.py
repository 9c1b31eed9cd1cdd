"""``/api/v1/strategies``: the catalogue and your saved rule strategies, kept by the engine."""

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from pydantic import TypeAdapter, ValidationError

from tradelab_contracts.base import StrategyName
from tradelab_contracts.engine_rpc import (
    CreateStrategy,
    DeleteStrategy,
    ListStrategies,
    StrategiesReply,
    StrategyReply,
)
from tradelab_gateway.api.backtests import ask_engine, engine_client
from tradelab_gateway.api.deps import CurrentUser, Settings
from tradelab_gateway.api.problems import ProblemError
from tradelab_gateway.api.strategies_schemas import StrategyCreate, StrategyPublic

_NAME = TypeAdapter(StrategyName)
router = APIRouter(prefix="/api/v1/strategies", tags=["strategies"])


def strategies_router() -> APIRouter:
    """Return the strategy routes."""
    return router


@router.get("")
async def list_strategies(
    request: Request, user: CurrentUser, settings: Settings
) -> list[StrategyPublic]:
    """The built-in strategies with their parameters as JSON schema, then your saved ones."""
    command = ListStrategies(reply_to=engine_client(request).reply_topic, owner_id=user.user_id)
    reply = await ask_engine(request, command, StrategiesReply, settings.retry_after_s)
    return [StrategyPublic.model_validate(s.model_dump()) for s in reply.strategies or []]


@router.post("", status_code=201, response_model=StrategyPublic)
async def create_strategy(
    body: StrategyCreate, request: Request, user: CurrentUser, settings: Settings
) -> JSONResponse:
    """Save a rule strategy; run it by its name like a built-in one (it takes no parameters)."""
    command = CreateStrategy(
        reply_to=engine_client(request).reply_topic,
        owner_id=user.user_id,
        name=body.name,
        description=body.description,
        rules=body.rules(),
    )
    reply = await ask_engine(request, command, StrategyReply, settings.retry_after_s)
    if reply.strategy is None:
        raise ProblemError(500, "The engine gave an incomplete answer.")
    strategy = StrategyPublic.model_validate(reply.strategy.model_dump())
    return JSONResponse(
        strategy.model_dump(mode="json"),
        status_code=201,
        headers={"Location": f"/api/v1/strategies/{strategy.name}"},
    )


@router.get("/{name}")
async def get_strategy(
    name: str, request: Request, user: CurrentUser, settings: Settings
) -> StrategyPublic:
    """One built-in strategy, or one of your saved ones."""
    for strategy in await list_strategies(request, user, settings):
        if strategy.name == name:
            return strategy
    raise ProblemError(404, f"No strategy named {name!r}.", code="not_found")


@router.delete("/{name}", status_code=204)
async def delete_strategy(
    name: str, request: Request, user: CurrentUser, settings: Settings
) -> Response:
    """Delete one of your saved strategies; backtests run with it keep its rules."""
    try:
        _NAME.validate_python(name)
    except ValidationError:  # no strategy can have such a name
        raise ProblemError(404, f"No strategy named {name!r}.", code="not_found") from None
    command = DeleteStrategy(
        reply_to=engine_client(request).reply_topic, owner_id=user.user_id, name=name
    )
    await ask_engine(request, command, StrategyReply, settings.retry_after_s)
    return Response(status_code=204)
