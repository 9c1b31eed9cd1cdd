"""Saved rule strategies in PostgreSQL; every query is scoped to its owner.

A name is unique per owner (a unique constraint, so two concurrent saves of one name store one).
The per-user quota is checked in the insert's transaction under the owner's quota lock
(``quotas.repository``), so concurrent saves cannot together pass it.
"""

from datetime import datetime
from typing import Any
from uuid import UUID, uuid4

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncEngine

from tradelab_contracts.engine_rpc import StrategyInfo
from tradelab_contracts.rules import RuleSet
from tradelab_engine.quotas.repository import Admit

from .tables import user_strategies


class DuplicateStrategyError(Exception):
    """The owner already has a saved strategy of that name."""


def _info(row: sa.RowMapping) -> StrategyInfo:
    return StrategyInfo(
        name=row["name"],
        description=row["description"],
        parameters_schema={},
        defaults={},
        kind="saved",
        rules=RuleSet.model_validate(row["rules"]),
        created_at=row["created_at"],
    )


class StrategyRepository:
    """Reads and writes ``engine.user_strategies``."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def add(
        self,
        owner_id: UUID,
        name: str,
        description: str,
        rules: dict[str, Any],
        now: datetime,
        admit: Admit,
    ) -> StrategyInfo:
        """Save a strategy of the owner's once ``admit`` (the owner's quota check) let it in.

        Raises
        ------
        tradelab_runtime.quotas.QuotaExceededError
            If the owner already keeps as many as their quota allows.
        DuplicateStrategyError
            If the owner already has one called ``name``.
        """
        async with self._engine.begin() as conn:
            await admit(conn)
            values = {
                "id": uuid4(),
                "owner_id": owner_id,
                "name": name,
                "description": description,
                "rules": rules,
                "created_at": now,
            }
            statement = (
                insert(user_strategies)
                .values(values)
                .on_conflict_do_nothing(index_elements=["owner_id", "name"])
                .returning(user_strategies)
            )
            row = (await conn.execute(statement)).mappings().first()
        if row is None:
            raise DuplicateStrategyError
        return _info(row)

    async def get(self, owner_id: UUID, name: str) -> StrategyInfo | None:
        """The owner's strategy called ``name``, or None (also for another user's)."""
        async with self._engine.connect() as conn:
            row = (
                (
                    await conn.execute(
                        sa.select(user_strategies).where(
                            user_strategies.c.owner_id == owner_id,
                            user_strategies.c.name == name,
                        )
                    )
                )
                .mappings()
                .first()
            )
        return _info(row) if row is not None else None

    async def owned(self, owner_id: UUID) -> list[StrategyInfo]:
        """Every strategy the owner saved, oldest first."""
        async with self._engine.connect() as conn:
            rows = (
                await conn.execute(
                    sa.select(user_strategies)
                    .where(user_strategies.c.owner_id == owner_id)
                    .order_by(user_strategies.c.created_at, user_strategies.c.name)
                )
            ).mappings()
            return [_info(row) for row in rows]

    async def delete(self, owner_id: UUID, name: str) -> StrategyInfo | None:
        """Delete the owner's strategy called ``name``; what was deleted, or None if none."""
        async with self._engine.begin() as conn:
            row = (
                (
                    await conn.execute(
                        sa.delete(user_strategies)
                        .where(
                            user_strategies.c.owner_id == owner_id,
                            user_strategies.c.name == name,
                        )
                        .returning(user_strategies)
                    )
                )
                .mappings()
                .first()
            )
        return _info(row) if row is not None else None
