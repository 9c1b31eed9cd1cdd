"""Roles over the real PostgreSQL: the column's default and check, promotion by the settings at
start-up, and the ``tradelab-admin users`` commands with their audit rows."""

from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from services.auth.tests.integration.kafka_client import FAST_ARGON2
from services.auth.tests.unit.fakes import sealed
from tradelab_auth import admin_cli
from tradelab_auth.adapters.repository import SqlAuthStore
from tradelab_auth.adapters.tables import SCHEMA, users
from tradelab_auth.app import MIGRATIONS
from tradelab_auth.domain.hashing import HashingParams, PasswordHashing
from tradelab_auth.domain.keys import KeyRing
from tradelab_auth.service import AuthDeps, register
from tradelab_auth.service.roles import ensure_configured_admin
from tradelab_auth.settings import AuthSettings
from tradelab_contracts.auth import RegisterUser, UserRole
from tradelab_contracts.topics import reply_topic
from tradelab_runtime.audit import audit_table
from tradelab_runtime.clock import SystemClock
from tradelab_runtime.migrations import upgrade_to_head
from tradelab_runtime.outbox import Outbox, PendingEvent

pytestmark = [pytest.mark.integration, pytest.mark.asyncio]
PASSWORD = "correct horse battery staple"


@pytest_asyncio.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_async_engine(database_url)
    await upgrade_to_head(engine, MIGRATIONS, SCHEMA)
    yield engine
    await engine.dispose()


async def publish_nothing(event: PendingEvent) -> None:
    raise AssertionError("these tests never relay the outbox")


def deps_of(engine: AsyncEngine, **settings: object) -> AuthDeps:
    values = {"environment": "test", **FAST_ARGON2, **settings}
    store = SqlAuthStore(engine, Outbox(engine, SCHEMA, publish_nothing))
    hashing = PasswordHashing(HashingParams(time_cost=1, memory_cost=8192, parallelism=1))
    return AuthDeps(
        store, SystemClock(), KeyRing.generate(), hashing, AuthSettings.model_validate(values)
    )


async def register_as(deps: AuthDeps, email: str) -> None:
    cmd = sealed(RegisterUser, {"password": PASSWORD}, email=email, reply_to=reply_topic("sql"))
    assert (await register(cmd, deps)).error is None


async def role_of(engine: AsyncEngine, email: str) -> str | None:
    async with engine.connect() as conn:
        role: str | None = await conn.scalar(sa.select(users.c.role).where(users.c.email == email))
    return role


async def role_changes(engine: AsyncEngine) -> list[tuple[str, dict[str, str]]]:
    log = audit_table(SCHEMA)
    query = sa.select(log.c.action, log.c.detail).where(log.c.action == "user.role_changed")
    async with engine.connect() as conn:
        return [(row.action, row.detail) for row in (await conn.execute(query.order_by(log.c.id)))]


async def test_new_accounts_are_users_and_the_database_refuses_another_role(
    engine: AsyncEngine,
) -> None:
    await register_as(deps_of(engine), "ann@example.org")
    assert await role_of(engine, "ann@example.org") == "user"
    with pytest.raises(IntegrityError, match="ck_users_role"):
        async with engine.begin() as conn:
            await conn.execute(sa.update(users).values(role="root"))


async def test_start_up_creates_then_keeps_the_configured_admin(engine: AsyncEngine) -> None:
    deps = deps_of(engine, admin_email="Root@Example.org", admin_password=PASSWORD)
    await ensure_configured_admin(deps)
    await ensure_configured_admin(deps)  # a second replica, or a restart
    assert await role_of(engine, "root@example.org") == "admin"
    async with engine.connect() as conn:
        assert await conn.scalar(sa.select(sa.func.count()).select_from(users)) == 1


async def test_the_admin_command_promotes_lists_and_demotes_with_audit_rows(
    engine: AsyncEngine,
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("DATABASE_URL", database_url)
    await register_as(deps_of(engine), "ann@example.org")
    await register_as(deps_of(engine), "bob@example.org")

    assert await admin_cli.run(["users", "promote", "ANN@example.org"]) == 0
    assert await role_of(engine, "ann@example.org") == UserRole.ADMIN.value
    capsys.readouterr()
    assert await admin_cli.run(["users", "list", "--role", "admin"]) == 0
    listed = capsys.readouterr().out.splitlines()
    assert [line.split()[-1] for line in listed] == ["ann@example.org"]
    assert await admin_cli.run(["users", "demote", "ann@example.org"]) == 0
    assert await role_of(engine, "ann@example.org") == "user"
    assert await admin_cli.run(["users", "promote", "nobody@example.org"]) == 1
    assert await admin_cli.run(["dead-letters", "list", "--schema", SCHEMA]) == 0
    assert "no dead letters" in capsys.readouterr().out
    assert await role_changes(engine) == [
        ("user.role_changed", {"role": "admin"}),
        ("user.role_changed", {"role": "user"}),
    ]
