"""Deleting an account in SQL, its `UserDeleted` event stored in the same transaction."""

from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from tradelab_contracts.auth import UserDeleted
from tradelab_contracts.topics import AUTH_USER_DELETED
from tradelab_runtime import audit
from tradelab_runtime.outbox import Outbox

from .tables import SCHEMA, refresh_tokens, users


class SqlAccountEraser:
    """Deletes a user and their refresh tokens, and stores ``UserDeleted``.

    The event commits with the delete (the outbox), so the other services always hear of it and
    erase what they keep; a delete that did not happen announces nothing.
    """

    def __init__(self, engine: AsyncEngine, outbox: Outbox) -> None:
        self._engine = engine
        self._outbox = outbox

    async def delete(self, user_id: UUID, event: UserDeleted) -> bool:
        """Delete ``user_id`` and store ``event``; False when there was no such user."""
        async with self._outbox.begin() as conn:
            deleted = await conn.scalar(
                sa.delete(users).where(users.c.id == user_id).returning(users.c.id)
            )
            if deleted is None:
                return False
            # Refresh tokens would go with the row (ON DELETE CASCADE); said here all the same.
            await conn.execute(sa.delete(refresh_tokens).where(refresh_tokens.c.user_id == user_id))
            await self._outbox.add(conn, event, AUTH_USER_DELETED, user_id.bytes)
            await audit.record(conn, SCHEMA, user_id, "user.deleted", "user", user_id)
        return True
