"""The inbox makes a redelivered message a no-op, on a real PostgreSQL."""

from uuid import uuid4

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

from tradelab_runtime.inbox import claim_message
from tradelab_runtime.migrations import upgrade_to_head

pytestmark = pytest.mark.integration


@pytest.mark.asyncio
async def test_message_is_claimed_once_and_a_rolled_back_claim_can_be_retried(
    database_url: str,
) -> None:
    engine = create_async_engine(database_url)
    try:
        await upgrade_to_head(engine, "tradelab_engine:migrations", "engine")
        message_id = uuid4()

        # The handler failed after claiming: its transaction rolls back, and so does the claim.
        async with engine.connect() as conn:
            assert await claim_message(conn, "engine", message_id, "t.v1") is True
            await conn.rollback()

        async with engine.begin() as conn:
            assert await claim_message(conn, "engine", message_id, "t.v1") is True
        async with engine.begin() as conn:
            assert await claim_message(conn, "engine", message_id, "t.v1") is False

        async with engine.connect() as conn:
            count = await conn.scalar(sa.text("SELECT count(*) FROM engine.processed_messages"))
        assert count == 1
    finally:
        await engine.dispose()


@pytest.mark.asyncio
async def test_unreachable_database_makes_the_readiness_check_fail_not_hang() -> None:
    from tradelab_devstack.ports import free_port
    from tradelab_runtime.database import make_engine, ping_database
    from tradelab_runtime.health import Readiness

    engine = make_engine(f"postgresql+asyncpg://postgres@127.0.0.1:{free_port()}/x", "test")
    readiness = Readiness({"database": lambda: ping_database(engine)}, timeout_s=5)
    readiness.started = True
    try:
        assert await readiness.run() == {"started": True, "database": False}
    finally:
        await engine.dispose()
