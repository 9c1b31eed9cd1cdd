"""What the use cases need from storage, as protocols: SQL in production, in memory in tests."""

from contextlib import AbstractAsyncContextManager
from datetime import datetime
from typing import Protocol
from uuid import UUID

from tradelab_contracts.auth import UserRole
from tradelab_contracts.base import Message

from .domain.refresh import RefreshToken
from .domain.users import User


class AuthTx(Protocol):
    """One transaction over the auth tables: everything commits together or not at all."""

    async def user_by_email(self, email: str) -> User | None:
        """Return the user with this normalised e-mail address, if any."""
        ...

    async def user_by_id(self, user_id: UUID) -> User | None:
        """Return the user with this id, if any."""
        ...

    async def add_user(self, user: User) -> None:
        """Store a new user; raise `EmailAlreadyRegisteredError` when the e-mail is taken."""
        ...

    async def set_role(self, user_id: UUID, role: UserRole, now: datetime) -> bool:
        """Give a user ``role`` (audited when it changes); return whether it changed."""
        ...

    async def set_password_hash(self, user_id: UUID, password_hash: str, now: datetime) -> None:
        """Replace a user's password hash (after a parameter upgrade)."""
        ...

    async def add_refresh_token(self, token: RefreshToken) -> None:
        """Store a new refresh token."""
        ...

    async def refresh_token_for_update(self, token_hash: str) -> RefreshToken | None:
        """Return the token with this digest, locked until the transaction ends."""
        ...

    async def mark_rotated(self, token_id: UUID, now: datetime) -> None:
        """Record that a token was exchanged for its successor."""
        ...

    async def revoke_family(self, family_id: UUID, now: datetime) -> None:
        """Revoke every not yet revoked token of a family."""
        ...

    async def announce(self, message: Message, topic: str, key: bytes) -> None:
        """Store an event that is published once (and only if) this transaction commits."""
        ...


class AuthStore(Protocol):
    """Opens transactions."""

    def transaction(self) -> AbstractAsyncContextManager[AuthTx]:
        """Begin a transaction; it commits when the block exits normally, else rolls back."""
        ...
