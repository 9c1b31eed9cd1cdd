"""The use cases over the real PostgreSQL store: row locks, the unique index, erasure."""

import asyncio
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from services.auth.tests.integration.kafka_client import FAST_ARGON2
from services.auth.tests.unit.fakes import sealed
from tradelab_auth.adapters.erasure import SqlAccountEraser
from tradelab_auth.adapters.repository import SqlAuthStore
from tradelab_auth.adapters.tables import SCHEMA
from tradelab_auth.app import MIGRATIONS
from tradelab_auth.domain.hashing import HashingParams, PasswordHashing
from tradelab_auth.domain.keys import KeyRing
from tradelab_auth.service import AuthDeps, authenticate, refresh, register
from tradelab_auth.settings import AuthSettings
from tradelab_contracts.auth import (
    AuthenticateUser,
    AuthErrorCode,
    RefreshSession,
    RegisterUser,
    TokenPair,
    UserDeleted,
    UserRegistered,
)
from tradelab_contracts.topics import AUTH_USER_DELETED, AUTH_USER_REGISTERED, reply_topic
from tradelab_runtime.audit import audit_table
from tradelab_runtime.clock import SystemClock
from tradelab_runtime.migrations import upgrade_to_head
from tradelab_runtime.outbox import Outbox, PendingEvent, outbox_table

pytestmark = pytest.mark.integration

REPLY = reply_topic("sql")
PASSWORD = "correct horse battery staple"


@pytest_asyncio.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_async_engine(database_url, pool_size=10)
    await upgrade_to_head(engine, MIGRATIONS, SCHEMA)
    yield engine
    await engine.dispose()


@pytest.fixture
def deps(engine: AsyncEngine) -> AuthDeps:
    settings = AuthSettings.model_validate({"environment": "test", **FAST_ARGON2})
    hashing = PasswordHashing(HashingParams(time_cost=1, memory_cost=8192, parallelism=1))
    store = SqlAuthStore(engine, Outbox(engine, SCHEMA, publish_nothing))
    return AuthDeps(store, SystemClock(), KeyRing.generate(), hashing, settings)


async def publish_nothing(event: PendingEvent) -> None:
    raise AssertionError("these tests never relay the outbox")


async def sign_up(deps: AuthDeps, email: str) -> TokenPair:
    outcome = await register(
        sealed(RegisterUser, {"password": PASSWORD}, email=email, reply_to=REPLY), deps
    )
    assert outcome.tokens is not None, outcome.error
    return outcome.tokens


@pytest.mark.asyncio
async def test_migration_creates_the_auth_tables(engine: AsyncEngine) -> None:
    async with engine.connect() as conn:
        rows = await conn.execute(
            sa.text("SELECT table_name FROM information_schema.tables WHERE table_schema = 'auth'")
        )
        assert {r[0] for r in rows} == {
            "alembic_version",
            "processed_messages",
            "users",
            "refresh_tokens",
            "outbox",
            "dead_letters",
            "audit_log",
        }


@pytest.mark.asyncio
async def test_concurrent_refreshes_of_one_token_let_exactly_one_through(deps: AuthDeps) -> None:
    pair = await sign_up(deps, "ann@example.org")
    for _ in range(5):
        same_token = sealed(RefreshSession, {"refresh_token": pair.refresh_token}, reply_to=REPLY)
        outcomes = await asyncio.gather(*(refresh(same_token, deps) for _ in range(3)))
        winners = [o for o in outcomes if o.error is None]
        assert len(winners) == 1
        losers = [o.error.code for o in outcomes if o.error is not None]
        assert losers == [AuthErrorCode.INVALID_TOKEN] * 2
        # The losers saw a rotated token: the family is revoked; start a new one for the next round.
        login = await authenticate(
            sealed(
                AuthenticateUser,
                {"password": PASSWORD},
                email="ann@example.org",
                client_address="10.0.0.1",
                reply_to=REPLY,
            ),
            deps,
        )
        assert login.tokens is not None
        pair = login.tokens


@pytest.mark.asyncio
async def test_concurrent_registrations_of_one_email_create_one_account(
    deps: AuthDeps, engine: AsyncEngine
) -> None:
    commands = [
        sealed(RegisterUser, {"password": PASSWORD}, email=email, reply_to=REPLY)
        for email in ("bob@example.org", "BOB@example.org", "Bob@Example.org")
    ]
    outcomes = await asyncio.gather(*(register(cmd, deps) for cmd in commands))
    codes = sorted(str(o.error.code) if o.error else "ok" for o in outcomes)
    assert codes == ["email_taken", "email_taken", "ok"]
    async with engine.connect() as conn:
        count = await conn.scalar(sa.text("SELECT count(*) FROM auth.users"))
    assert count == 1
    # The winner's event was stored with its account; the losers' transactions left nothing.
    async with engine.connect() as conn:
        outbox = outbox_table(SCHEMA)
        rows = (await conn.execute(sa.select(outbox.c.topic, outbox.c.payload))).all()
    [(topic, payload)] = rows
    assert topic == AUTH_USER_REGISTERED
    registered = UserRegistered.model_validate_json(payload)
    assert registered.email == "bob@example.org"
    # ... and so was its audit row, by id only (no e-mail address kept forever).
    async with engine.connect() as conn:
        log = audit_table(SCHEMA)
        audited = (await conn.execute(sa.select(log.c.action, log.c.entity_id, log.c.detail))).all()
    assert audited == [("user.registered", str(registered.user_id), {})]


@pytest.mark.asyncio
async def test_deleting_a_user_takes_their_tokens_and_stores_one_event(
    deps: AuthDeps, engine: AsyncEngine
) -> None:
    await sign_up(deps, "cy@example.org")
    async with engine.connect() as conn:
        user_id = await conn.scalar(sa.text("SELECT id FROM auth.users"))
    eraser = SqlAccountEraser(engine, Outbox(engine, SCHEMA, publish_nothing))
    event = UserDeleted(user_id=user_id, occurred_at=SystemClock().now())

    assert await eraser.delete(user_id, event)
    assert not await eraser.delete(user_id, event)  # gone: nothing more to delete or announce

    async with engine.connect() as conn:
        users = await conn.scalar(sa.text("SELECT count(*) FROM auth.users"))
        tokens = await conn.scalar(sa.text("SELECT count(*) FROM auth.refresh_tokens"))
        outbox = outbox_table(SCHEMA)
        topics = (await conn.scalars(sa.select(outbox.c.topic))).all()
    assert (users, tokens) == (0, 0)
    assert sorted(topics) == sorted([AUTH_USER_REGISTERED, AUTH_USER_DELETED])
