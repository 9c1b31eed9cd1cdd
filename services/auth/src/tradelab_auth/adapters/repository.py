"""The auth tables over asyncpg (SQLAlchemy Core on the runtime's async engine); events are stored
in the service's outbox in the transaction whose change they announce."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from tradelab_auth.domain.refresh import RefreshToken
from tradelab_auth.domain.users import EmailAlreadyRegisteredError, User
from tradelab_contracts.auth import UserRole
from tradelab_contracts.base import Message
from tradelab_runtime import audit
from tradelab_runtime.outbox import Outbox

from .tables import SCHEMA, refresh_tokens, users

UNIQUE_VIOLATION = "23505"


def _user(row: sa.Row[Any]) -> User:
    return User(
        id=row.id,
        email=row.email,
        password_hash=row.password_hash,
        created_at=row.created_at,
        updated_at=row.updated_at,
        is_active=row.is_active,
        role=UserRole(row.role),
    )


def _refresh_token(row: sa.Row[Any]) -> RefreshToken:
    return RefreshToken(
        id=row.id,
        user_id=row.user_id,
        family_id=row.family_id,
        token_hash=row.token_hash,
        issued_at=row.issued_at,
        expires_at=row.expires_at,
        rotated_at=row.rotated_at,
        revoked_at=row.revoked_at,
    )


class SqlAuthTx:
    """One database transaction over the auth tables (see `tradelab_auth.ports.AuthTx`)."""

    def __init__(self, conn: AsyncConnection, outbox: Outbox) -> None:
        self._conn = conn
        self._outbox = outbox

    async def user_by_email(self, email: str) -> User | None:
        """Return the user with this normalised e-mail address, if any."""
        row = (await self._conn.execute(sa.select(users).where(users.c.email == email))).first()
        return None if row is None else _user(row)

    async def user_by_id(self, user_id: UUID) -> User | None:
        """Return the user with this id, if any."""
        row = (await self._conn.execute(sa.select(users).where(users.c.id == user_id))).first()
        return None if row is None else _user(row)

    async def add_user(self, user: User) -> None:
        """Store a new user; raise `EmailAlreadyRegisteredError` when the e-mail is taken."""
        try:
            await self._conn.execute(
                sa.insert(users).values(
                    id=user.id,
                    email=user.email,
                    password_hash=user.password_hash,
                    is_active=user.is_active,
                    role=user.role.value,
                    created_at=user.created_at,
                    updated_at=user.updated_at,
                )
            )
        except IntegrityError as exc:
            # The id is a fresh uuid4, so a unique violation here is the e-mail index: a
            # concurrent registration won the race past the service's look-up.
            if getattr(exc.orig, "sqlstate", None) == UNIQUE_VIOLATION:
                raise EmailAlreadyRegisteredError(user.email) from exc
            raise
        await audit.record(self._conn, SCHEMA, user.id, "user.registered", "user", user.id)

    async def set_role(self, user_id: UUID, role: UserRole, now: datetime) -> bool:
        """Give a user ``role`` (audited when it changes); return whether it changed."""
        stmt = (
            sa.update(users)
            .where(users.c.id == user_id, users.c.role != role.value)
            .values(role=role.value, updated_at=now)
        )
        changed = (await self._conn.execute(stmt)).rowcount == 1
        if changed:  # by an operator or the settings, not the user: no actor
            detail = {"role": role.value}
            action = "user.role_changed"
            await audit.record(self._conn, SCHEMA, None, action, "user", user_id, detail)
        return changed

    async def set_password_hash(self, user_id: UUID, password_hash: str, now: datetime) -> None:
        """Replace a user's password hash."""
        stmt = sa.update(users).where(users.c.id == user_id)
        await self._conn.execute(stmt.values(password_hash=password_hash, updated_at=now))

    async def add_refresh_token(self, token: RefreshToken) -> None:
        """Store a new refresh token."""
        await self._conn.execute(
            sa.insert(refresh_tokens).values(
                id=token.id,
                user_id=token.user_id,
                family_id=token.family_id,
                token_hash=token.token_hash,
                issued_at=token.issued_at,
                expires_at=token.expires_at,
                rotated_at=token.rotated_at,
                revoked_at=token.revoked_at,
            )
        )

    async def refresh_token_for_update(self, token_hash: str) -> RefreshToken | None:
        """Return the token with this digest, row-locked until the transaction ends.

        A second refresh with the same token waits here, then sees it rotated.
        """
        stmt = (
            sa.select(refresh_tokens)
            .where(refresh_tokens.c.token_hash == token_hash)
            .with_for_update()
        )
        row = (await self._conn.execute(stmt)).first()
        return None if row is None else _refresh_token(row)

    async def mark_rotated(self, token_id: UUID, now: datetime) -> None:
        """Record that a token was exchanged for its successor."""
        stmt = sa.update(refresh_tokens).where(refresh_tokens.c.id == token_id)
        await self._conn.execute(stmt.values(rotated_at=now))

    async def revoke_family(self, family_id: UUID, now: datetime) -> None:
        """Revoke every not yet revoked token of a family."""
        stmt = sa.update(refresh_tokens).where(
            refresh_tokens.c.family_id == family_id, refresh_tokens.c.revoked_at.is_(None)
        )
        await self._conn.execute(stmt.values(revoked_at=now))

    async def announce(self, message: Message, topic: str, key: bytes) -> None:
        """Store an event in the outbox, in this transaction."""
        await self._outbox.add(self._conn, message, topic, key)


class SqlAuthStore:
    """Opens database transactions on the service's engine (see `tradelab_auth.ports.AuthStore`).

    Parameters
    ----------
    engine
        The runtime's async engine (asyncpg).
    outbox
        The service's outbox, on the same engine: events leave once their transaction commits.
    """

    def __init__(self, engine: AsyncEngine, outbox: Outbox) -> None:
        self._engine = engine
        self._outbox = outbox

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[SqlAuthTx]:
        """Begin a transaction; it commits when the block exits normally, else rolls back."""
        async with self._outbox.begin() as conn:
            yield SqlAuthTx(conn, self._outbox)
