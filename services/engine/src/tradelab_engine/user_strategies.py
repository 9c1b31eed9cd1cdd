"""Saved rule strategies over request/reply: save one under a name, delete it. Listing is part of
``service.list_strategies``; running one by name is ``strategy_resolution``."""

from functools import partial
from typing import Any

from tradelab_contracts.engine_rpc import (
    CreateStrategy,
    DeleteStrategy,
    EngineErrorCode,
    EngineReply,
)
from tradelab_contracts.quotas import Quota
from tradelab_runtime.quotas import QuotaExceededError
from tradelab_runtime.responder import RequestHandlers

from .adapters.strategy_repository import DuplicateStrategyError, StrategyRepository
from .quotas.repository import admission
from .service import EngineDeps, error_reply, quota_refusal, reply
from .strategies.catalogue import STRATEGIES


def _refuse(cmd: Any, code: EngineErrorCode, message: str) -> EngineReply:
    return error_reply(cmd, code, message, [{"field": "name", "message": message}])


def _repository(deps: EngineDeps) -> StrategyRepository:
    if deps.strategies is None:
        msg = "the engine was built without its saved-strategy repository"
        raise RuntimeError(msg)
    return deps.strategies


async def create_strategy(cmd: CreateStrategy, deps: EngineDeps) -> EngineReply:
    """Save the owner's rule strategy unless its name is taken or the owner keeps too many."""
    if cmd.name in STRATEGIES:
        message = f"{cmd.name} is a built-in strategy; choose another name."
        return _refuse(cmd, EngineErrorCode.INVALID, message)
    try:
        info = await _repository(deps).add(
            cmd.owner_id,
            cmd.name,
            cmd.description,
            cmd.rules.model_dump(mode="json"),
            deps.clock.now(),
            admission(cmd.owner_id, deps.quota_limits, (Quota.SAVED_STRATEGIES, 1)),
        )
    except DuplicateStrategyError:
        message = f"You already have a strategy named {cmd.name}."
        return _refuse(cmd, EngineErrorCode.CONFLICT, message)
    except QuotaExceededError as exc:
        return quota_refusal(cmd, exc)
    return reply(cmd, strategy=info)


async def delete_strategy(cmd: DeleteStrategy, deps: EngineDeps) -> EngineReply:
    """Delete the owner's saved strategy; runs made with it keep their own copy of its rules."""
    if cmd.name in STRATEGIES:
        return _refuse(cmd, EngineErrorCode.CONFLICT, "Built-in strategies cannot be deleted.")
    info = await _repository(deps).delete(cmd.owner_id, cmd.name)
    if info is None:
        return _refuse(cmd, EngineErrorCode.NOT_FOUND, f"No strategy named {cmd.name!r}.")
    return reply(cmd, strategy=info)


def request_handlers(deps: EngineDeps) -> RequestHandlers[EngineReply]:
    """Return the handler of each saved-strategy request."""
    return {
        CreateStrategy: partial(create_strategy, deps=deps),
        DeleteStrategy: partial(delete_strategy, deps=deps),
    }
