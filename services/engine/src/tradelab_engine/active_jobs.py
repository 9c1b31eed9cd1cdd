"""Every queued or running job of a user, of each kind, in one answer (a WebSocket's first view)."""

import asyncio
from functools import partial

from tradelab_contracts.engine_rpc import (
    EngineReply,
    ListActiveJobs,
    ListBacktests,
    ListMonteCarlo,
)
from tradelab_runtime.pages import fit_page
from tradelab_runtime.responder import RequestHandlers

from .montecarlo.use_cases import MonteCarloDeps
from .optimizations.deps import OptimizationDeps
from .service import EngineDeps, reply


async def list_active_jobs(
    cmd: ListActiveJobs, deps: EngineDeps, opt: OptimizationDeps, mc: MonteCarloDeps
) -> EngineReply:
    """Backtests, optimisations and studies still queued or running, newest first, at most
    ``limit`` of each and, together, what fits in one broker message; the three queries run at
    once."""
    backtests = ListBacktests(
        reply_to=cmd.reply_to, owner_id=cmd.owner_id, limit=cmd.limit, active=True
    )
    studies_query = ListMonteCarlo(
        reply_to=cmd.reply_to, owner_id=cmd.owner_id, limit=cmd.limit, active=True
    )
    (runs, _), (searches, _), (studies, _) = await asyncio.gather(
        deps.repo.page(backtests),
        opt.repo.page(cmd.owner_id, None, cmd.limit, 0, True),
        mc.repo.page(studies_query),
    )
    share = deps.page_bytes // 3
    return reply(
        cmd,
        runs=fit_page(runs, share),
        optimizations=fit_page(searches, share),
        monte_carlos=fit_page(studies, share),
    )


def request_handlers(
    deps: EngineDeps, opt: OptimizationDeps, mc: MonteCarloDeps
) -> RequestHandlers[EngineReply]:
    """Return the handler of ``ListActiveJobs``."""
    return {ListActiveJobs: partial(list_active_jobs, deps=deps, opt=opt, mc=mc)}
