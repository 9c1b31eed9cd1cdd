"""Deadlines over the real broker: a request its requester gave up on is dropped, not done."""

import secrets
from datetime import timedelta

import pytest

from services.auth.tests.integration.kafka_client import AuthClient
from services.auth.tests.unit.fakes import sealed
from tradelab_contracts.auth import RegisterUser
from tradelab_contracts.base import utc_now

pytestmark = pytest.mark.integration

PASSWORD = "correct horse battery staple"
MINUTE = timedelta(minutes=1)


@pytest.mark.asyncio
async def test_a_registration_past_its_deadline_gets_no_reply_and_creates_no_account(
    auth: tuple[AuthClient, str],
) -> None:
    client, topic = auth
    late_email = f"late-{secrets.token_hex(4)}@example.org"
    late = sealed(
        RegisterUser,
        {"password": PASSWORD},
        email=late_email,
        reply_to=topic,
        deadline=utc_now() - MINUTE,
    )
    fresh = sealed(
        RegisterUser,
        {"password": PASSWORD},
        email=f"fresh-{secrets.token_hex(4)}@example.org",
        reply_to=topic,
        deadline=utc_now() + MINUTE,
    )
    # One key, one partition: the late request is handled before the fresh one, and the reply
    # topic has one partition, so a reply to it would have been read before the fresh one's.
    key = secrets.token_bytes(16)
    await client.send(late, key=key)
    await client.send(fresh, key=key)
    [answered] = await client.replies([fresh.message_id])
    assert answered.ok, answered.error
    assert not client.answered(late.message_id)

    # Nothing was stored for the late one: its address is still free.
    again = await client.call(
        sealed(
            RegisterUser,
            {"password": PASSWORD},
            email=late_email,
            reply_to=topic,
            deadline=utc_now() + MINUTE,
        )
    )
    assert again.ok, again.error


@pytest.mark.asyncio
async def test_a_request_without_a_deadline_is_answered_as_from_an_older_gateway(
    auth: tuple[AuthClient, str],
) -> None:
    client, topic = auth
    email = f"old-{secrets.token_hex(4)}@example.org"
    reply = await client.call(
        sealed(RegisterUser, {"password": PASSWORD}, email=email, reply_to=topic)
    )
    assert reply.ok, reply.error
    assert reply.user is not None
    assert reply.user.email == email
