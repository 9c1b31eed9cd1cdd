"""In-memory stand-ins for the auth service's collaborators (fakes, not mocks)."""

import copy
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar
from uuid import UUID

from tradelab_auth.domain.hashing import HashingParams, PasswordHashing
from tradelab_auth.domain.keys import KeyRing
from tradelab_auth.domain.refresh import RefreshToken
from tradelab_auth.domain.users import EmailAlreadyRegisteredError, User
from tradelab_auth.service import AuthDeps
from tradelab_auth.settings import AuthSettings
from tradelab_contracts.auth import AuthReply, TokenPair, UserRole
from tradelab_contracts.base import Message
from tradelab_runtime.sealing import BusKeys

M = TypeVar("M", bound=Message)

T0 = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
FAST_HASHING = HashingParams(time_cost=1, memory_cost=8192, parallelism=1)


class FakeClock:
    """A clock that only moves when told to."""

    def __init__(self, now: datetime = T0) -> None:
        self.current = now

    def now(self) -> datetime:
        return self.current

    def advance(self, seconds: float) -> None:
        self.current += timedelta(seconds=seconds)


@dataclass
class Tables:
    users: dict[UUID, User] = field(default_factory=dict)
    tokens: dict[UUID, RefreshToken] = field(default_factory=dict)
    announced: list[tuple[Message, str, bytes]] = field(default_factory=list)
    """The outbox: events with their topic and key, kept only if their transaction commits."""


class FakeTx:
    """The `AuthTx` protocol over plain dicts."""

    def __init__(self, tables: Tables) -> None:
        self.t = tables

    async def user_by_email(self, email: str) -> User | None:
        return next((u for u in self.t.users.values() if u.email == email), None)

    async def user_by_id(self, user_id: UUID) -> User | None:
        return self.t.users.get(user_id)

    async def add_user(self, user: User) -> None:
        if await self.user_by_email(user.email) is not None:
            raise EmailAlreadyRegisteredError(user.email)
        self.t.users[user.id] = user

    async def set_role(self, user_id: UUID, role: UserRole, now: datetime) -> bool:
        user = self.t.users[user_id]
        self.t.users[user_id] = replace(user, role=role, updated_at=now)
        return user.role != role

    async def set_password_hash(self, user_id: UUID, password_hash: str, now: datetime) -> None:
        user = self.t.users[user_id]
        self.t.users[user_id] = replace(user, password_hash=password_hash, updated_at=now)

    async def add_refresh_token(self, token: RefreshToken) -> None:
        self.t.tokens[token.id] = token

    async def refresh_token_for_update(self, token_hash: str) -> RefreshToken | None:
        return next((t for t in self.t.tokens.values() if t.token_hash == token_hash), None)

    async def mark_rotated(self, token_id: UUID, now: datetime) -> None:
        self.t.tokens[token_id] = replace(self.t.tokens[token_id], rotated_at=now)

    async def revoke_family(self, family_id: UUID, now: datetime) -> None:
        for token in list(self.t.tokens.values()):
            if token.family_id == family_id and token.revoked_at is None:
                self.t.tokens[token.id] = replace(token, revoked_at=now)

    async def announce(self, message: Message, topic: str, key: bytes) -> None:
        self.t.announced.append((message, topic, key))


class FakeStore:
    """The `AuthStore` protocol: a transaction works on a copy, kept only if it succeeds."""

    def __init__(self) -> None:
        self.tables = Tables()
        self.fail_with: Exception | None = None

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[FakeTx]:
        if self.fail_with is not None:
            raise self.fail_with
        working = copy.deepcopy(self.tables)
        yield FakeTx(working)
        self.tables = working

    def family_of(self, token_hash: str) -> list[RefreshToken]:
        """Return every token in the family of the token stored under ``token_hash``."""
        [token] = [t for t in self.tables.tokens.values() if t.token_hash == token_hash]
        return [t for t in self.tables.tokens.values() if t.family_id == token.family_id]


def make_settings(**overrides: object) -> AuthSettings:
    """Return test settings: fast argon2, the given overrides."""
    values: dict[str, object] = {
        "environment": "test",
        "argon2_time_cost": FAST_HASHING.time_cost,
        "argon2_memory_cost": FAST_HASHING.memory_cost,
        "argon2_parallelism": FAST_HASHING.parallelism,
        **overrides,
    }
    return AuthSettings.model_validate(values)


def make_deps(
    store: FakeStore | None = None,
    clock: FakeClock | None = None,
    settings: AuthSettings | None = None,
    hashing: PasswordHashing | None = None,
) -> AuthDeps:
    """Return use-case collaborators built from fakes."""
    return AuthDeps(
        store=store or FakeStore(),
        clock=clock or FakeClock(),
        keys=KeyRing.generate(),
        hashing=hashing or PasswordHashing(FAST_HASHING),
        settings=settings or make_settings(),
    )


def sealed(cls: type[M], secrets: dict[str, str], **fields: Any) -> M:
    """Build a request as the gateway does, its secrets sealed with the test settings' bus keys
    (the development key: test settings set none)."""
    return BusKeys.development().command(cls, secrets, **fields)


def tokens_of(reply: AuthReply) -> TokenPair:
    """Open the token pair of a reply as the gateway does."""
    assert reply.tokens is not None, reply.error
    return BusKeys.development().open_tokens(reply.tokens, reply.message_id)
