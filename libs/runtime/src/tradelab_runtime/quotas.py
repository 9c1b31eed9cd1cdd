"""Per-user quotas where the data lives: the check, its refusal, and the lock that serialises one
owner's submissions so two of them cannot both pass the last free place.

A service counts what the owner uses inside the transaction that would add more, after taking a
transaction-scoped advisory lock on (scope, owner); the lock is released at commit, when the new
row is visible to the next holder's count. Each transaction takes at most one quota lock, so
locks cannot deadlock each other.
"""

from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from tradelab_contracts.quotas import Quota, QuotaUsage

UNITS = {
    Quota.STORED_BYTES: "bytes",
    Quota.MONTE_CARLO_SIMULATION_BARS: "simulation-bars",
    Quota.BACKTESTS: "queued or running backtests",
    Quota.OPTIMIZATIONS: "queued or running optimisations",
    Quota.WALK_FORWARD: "queued or running walk-forward optimisations",
    Quota.MONTE_CARLO: "queued or running Monte Carlo studies",
}


class QuotaExceededError(Exception):
    """A request would take its owner over a quota."""

    def __init__(self, usage: QuotaUsage) -> None:
        super().__init__(refusal_message(usage))
        self.usage = usage


def check(quota: Quota, usage: int, requested: int, limit: int) -> None:
    """Refuse adding ``requested`` to ``usage`` when the sum would pass ``limit``.

    Raises
    ------
    QuotaExceededError
        Naming the quota, the usage before the request, the limit and what was requested.
    """
    if usage + requested > limit:
        raise QuotaExceededError(
            QuotaUsage(quota=quota, usage=usage, limit=limit, requested=requested)
        )


def refusal_message(usage: QuotaUsage) -> str:
    """What a user reads when ``usage`` refused their request."""
    unit = UNITS.get(usage.quota, usage.quota.value.replace("_", " "))
    return (
        f"Quota '{usage.quota.value}' exceeded: {usage.usage:,} {unit} in use, "
        f"{usage.requested or 0:,} more requested, {usage.limit:,} allowed. "
        "Delete or finish some first."
    )


async def lock_owner(conn: AsyncConnection, scope: str, owner_id: UUID) -> None:
    """Hold the (``scope``, owner) quota lock until ``conn``'s transaction ends."""
    key = sa.func.hashtext(f"quota:{scope}:{owner_id}")
    await conn.execute(sa.select(sa.func.pg_advisory_xact_lock(key)))
