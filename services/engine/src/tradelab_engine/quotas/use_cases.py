"""The quota request: the owner's usage and limit of every quota the engine enforces."""

from functools import partial

from tradelab_contracts.engine_rpc import EngineReply, GetEngineUsage
from tradelab_engine.service import EngineDeps, reply
from tradelab_runtime.responder import RequestHandlers

from .repository import usage


async def get_usage(cmd: GetEngineUsage, deps: EngineDeps) -> EngineReply:
    """Count the owner's active jobs, Monte Carlo work and saved strategies."""
    if deps.database is None:
        msg = "the engine was built without its database"
        raise RuntimeError(msg)
    return reply(cmd, quotas=await usage(deps.database, cmd.owner_id, deps.quota_limits))


def request_handlers(deps: EngineDeps) -> RequestHandlers[EngineReply]:
    """Return the handler of the usage request."""
    return {GetEngineUsage: partial(get_usage, deps=deps)}
