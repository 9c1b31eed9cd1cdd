"""Quotas counted where the jobs are stored: what an owner uses, and the admission check a new
job's insert runs in its own transaction (``tradelab_runtime.quotas``: one advisory lock per
owner and table, so two submissions racing for the last place are admitted one at a time and the
second counts the first)."""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from tradelab_contracts.engine_rpc import RunStatus
from tradelab_contracts.quotas import Quota, QuotaUsage
from tradelab_engine.adapters.tables import monte_carlo, optimizations, runs, user_strategies
from tradelab_runtime.quotas import check, lock_owner

from .limits import ENGINE_QUOTAS, QuotaLimits

ACTIVE = (RunStatus.QUEUED.value, RunStatus.RUNNING.value)
Admit = Callable[[AsyncConnection], Awaitable[None]]
"""Run inside a new job's insert transaction: refuse it (raise) or let it pass."""


def _active(table: sa.Table, owner_id: UUID) -> list[sa.ColumnElement[bool]]:
    return [table.c.owner_id == owner_id, table.c.status.in_(ACTIVE)]


def _count(table: sa.Table, *where: sa.ColumnElement[bool]) -> sa.Select[Any]:
    return sa.select(sa.func.count()).select_from(table).where(*where)


def usage_query(quota: Quota, owner_id: UUID) -> sa.Select[Any]:
    """The statement that counts ``owner_id``'s usage of ``quota``."""
    if quota is Quota.BACKTESTS:
        return _count(runs, *_active(runs, owner_id))
    if quota is Quota.OPTIMIZATIONS:
        return _count(optimizations, *_active(optimizations, owner_id), optimizations.c.folds == 0)
    if quota is Quota.WALK_FORWARD:
        return _count(optimizations, *_active(optimizations, owner_id), optimizations.c.folds > 0)
    if quota is Quota.MONTE_CARLO:
        return _count(monte_carlo, *_active(monte_carlo, owner_id))
    if quota is Quota.MONTE_CARLO_SIMULATION_BARS:
        work = sa.func.coalesce(sa.func.sum(monte_carlo.c.n_simulations * monte_carlo.c.bars), 0)
        return sa.select(work).where(*_active(monte_carlo, owner_id))
    if quota is Quota.SAVED_STRATEGIES:
        return _count(user_strategies, user_strategies.c.owner_id == owner_id)
    msg = f"the engine does not enforce the {quota.value} quota"
    raise ValueError(msg)


SCOPE = {
    Quota.BACKTESTS: runs.name,
    Quota.OPTIMIZATIONS: optimizations.name,
    Quota.WALK_FORWARD: optimizations.name,
    Quota.MONTE_CARLO: monte_carlo.name,
    Quota.MONTE_CARLO_SIMULATION_BARS: monte_carlo.name,
    Quota.SAVED_STRATEGIES: user_strategies.name,
}
"""The lock each quota is checked under: its table's, so one transaction takes one lock."""


async def used(conn: AsyncConnection, quota: Quota, owner_id: UUID) -> int:
    """``owner_id``'s usage of ``quota`` as ``conn`` sees it."""
    return int(await conn.scalar(usage_query(quota, owner_id)) or 0)


@dataclass(frozen=True)
class Admission:
    """What a new job or strategy asks of its owner's quotas: each quota and the amount."""

    owner_id: UUID
    needs: tuple[tuple[Quota, int], ...]
    limits: QuotaLimits

    async def __call__(self, conn: AsyncConnection) -> None:
        """Lock the owner's quotas of this table, count them and refuse what would not fit.

        Raises
        ------
        tradelab_runtime.quotas.QuotaExceededError
            The first quota that would be passed.
        """
        scopes = {SCOPE[quota] for quota, _ in self.needs}
        if len(scopes) != 1:
            msg = "an admission checks the quotas of one table"
            raise ValueError(msg)
        await lock_owner(conn, scopes.pop(), self.owner_id)
        for quota, requested in self.needs:
            check(quota, await used(conn, quota, self.owner_id), requested, self.limits.of(quota))


def admission(owner_id: UUID, limits: QuotaLimits, *needs: tuple[Quota, int]) -> Admission:
    """The admission of a new row asking ``needs`` (quota, amount) of ``owner_id``."""
    return Admission(owner_id, tuple(needs), limits)


async def usage(engine: AsyncEngine, owner_id: UUID, limits: QuotaLimits) -> list[QuotaUsage]:
    """Every engine quota of ``owner_id``: what is used and the limit."""
    async with engine.connect() as conn:
        return [
            QuotaUsage(quota=q, usage=await used(conn, q, owner_id), limit=limits.of(q))
            for q in ENGINE_QUOTAS
        ]
