"""The Kafka handler in memory (FastStream's TestKafkaBroker), with fake collaborators."""

import logging
from collections.abc import Iterator
from uuid import uuid4

import pytest
from faststream.kafka import KafkaBroker, TestKafkaBroker

from services.auth.tests.unit.fakes import FakeStore, make_deps, sealed, tokens_of
from tradelab_auth.handlers import register_auth_handler, too_large
from tradelab_auth.service import AuthDeps
from tradelab_contracts.auth import (
    AuthErrorCode,
    AuthReply,
    GetPublicKeys,
    GetUser,
    RefreshSession,
    RegisterUser,
    UserRegistered,
)
from tradelab_contracts.topics import AUTH_REQUESTS, AUTH_USER_REGISTERED, reply_topic
from tradelab_runtime.logging import configure_logging
from tradelab_runtime.sealing import BusKeys, SealingError

REPLY = reply_topic("unit")
PASSWORD = "correct horse battery staple"


class Wiring:
    """A broker with the auth handler and a subscriber that collects its replies."""

    def __init__(self, deps: AuthDeps) -> None:
        self.broker = KafkaBroker()
        self.replies: list[AuthReply] = []
        self.deps = deps
        register_auth_handler(self.broker, deps)

        @self.broker.subscriber(REPLY)
        async def on_reply(reply: AuthReply) -> None:
            self.replies.append(reply)

    @property
    def registered(self) -> list[UserRegistered]:
        """The events stored in the (fake) outbox, which publishes them after the commit."""
        store = self.deps.store
        assert isinstance(store, FakeStore)
        return [
            m
            for m, topic, _ in store.tables.announced
            if topic == AUTH_USER_REGISTERED and isinstance(m, UserRegistered)
        ]


@pytest.fixture
def structured_logs() -> Iterator[None]:
    # Route structlog through the standard library so caplog sees the handler's records.
    configure_logging("auth", "json", "INFO")
    yield
    logging.getLogger().handlers.clear()


@pytest.mark.asyncio
async def test_request_is_answered_on_its_reply_topic_with_ids_tied_to_it() -> None:
    deps = make_deps()
    wiring = Wiring(deps)
    cmd = GetPublicKeys(reply_to=REPLY, correlation_id=uuid4())
    async with TestKafkaBroker(wiring.broker) as broker:
        await broker.publish(cmd.model_dump_json().encode(), AUTH_REQUESTS)
    [reply] = wiring.replies
    assert reply.ok
    assert (reply.request_id, reply.correlation_id) == (cmd.message_id, cmd.correlation_id)
    assert reply.keys is not None
    assert reply.keys[0].kid == deps.keys.signing_key.kid


@pytest.mark.asyncio
async def test_registration_stores_user_registered_and_replies_with_user_and_tokens() -> None:
    wiring = Wiring(make_deps())
    cmd = sealed(RegisterUser, {"password": PASSWORD}, email="ann@example.org", reply_to=REPLY)
    async with TestKafkaBroker(wiring.broker) as broker:
        await broker.publish(cmd.model_dump_json().encode(), AUTH_REQUESTS)
    [reply] = wiring.replies
    [event] = wiring.registered
    assert reply.ok
    assert reply.user is not None
    assert reply.tokens is not None
    assert reply.correlation_id == cmd.message_id  # the request started the chain
    assert (event.user_id, event.email, event.correlation_id) == (
        reply.user.id,
        "ann@example.org",
        cmd.message_id,
    )


@pytest.mark.asyncio
async def test_unexpected_failure_is_answered_internal_and_the_consumer_keeps_going() -> None:
    store = FakeStore()
    wiring = Wiring(make_deps(store))
    async with TestKafkaBroker(wiring.broker) as broker:
        store.fail_with = RuntimeError("database unreachable")
        failing = GetUser(user_id=uuid4(), reply_to=REPLY)
        await broker.publish(failing.model_dump_json().encode(), AUTH_REQUESTS)
        store.fail_with = None
        await broker.publish(
            GetUser(user_id=uuid4(), reply_to=REPLY).model_dump_json(), AUTH_REQUESTS
        )
    first, second = wiring.replies
    assert first.error is not None
    assert first.error.code is AuthErrorCode.INTERNAL
    assert "database" not in first.error.message  # internals stay in the logs
    assert second.error is not None
    assert second.error.code is AuthErrorCode.NOT_FOUND


@pytest.mark.asyncio
@pytest.mark.usefixtures("structured_logs")
async def test_unparseable_request_is_dropped_and_logged_without_its_password(
    caplog: pytest.LogCaptureFixture,
) -> None:
    wiring = Wiring(make_deps())
    secret = "hunter2-but-longer"
    bad = f'{{"kind": "register", "email": "not-an-email", "password": "{secret}"}}'
    async with TestKafkaBroker(wiring.broker) as broker:
        await broker.publish(bad.encode(), AUTH_REQUESTS)
        await broker.publish(b"\xff not json", AUTH_REQUESTS)
    assert wiring.replies == []
    assert caplog.text.count("does not parse") == 2
    assert secret not in caplog.text


@pytest.mark.asyncio
async def test_request_naming_a_topic_that_is_not_a_reply_topic_gets_no_answer() -> None:
    wiring = Wiring(make_deps())
    cmd = sealed(
        RegisterUser, {"password": PASSWORD}, email="ann@example.org", reply_to=AUTH_USER_REGISTERED
    )
    async with TestKafkaBroker(wiring.broker) as broker:
        await broker.publish(cmd.model_dump_json().encode(), AUTH_REQUESTS)
    assert wiring.replies == []
    assert wiring.registered == []


@pytest.mark.asyncio
async def test_registration_reply_carries_the_tokens_sealed_for_that_reply_only() -> None:
    wiring = Wiring(make_deps())
    cmd = sealed(RegisterUser, {"password": PASSWORD}, email="ann@example.org", reply_to=REPLY)
    async with TestKafkaBroker(wiring.broker) as broker:
        await broker.publish(cmd.model_dump_json().encode(), AUTH_REQUESTS)
    [reply] = wiring.replies
    tokens = tokens_of(reply)
    wire = reply.model_dump_json()
    assert tokens.refresh_token not in wire
    assert tokens.access_token not in wire
    assert reply.tokens is not None
    with pytest.raises(SealingError):  # copied into another reply, the seal no longer opens
        BusKeys.development().open_tokens(reply.tokens, uuid4())


@pytest.mark.asyncio
@pytest.mark.usefixtures("structured_logs")
async def test_a_seal_that_does_not_open_is_answered_internal_and_logged_by_key_id_only(
    caplog: pytest.LogCaptureFixture,
) -> None:
    wiring = Wiring(make_deps())
    token = "a-refresh-token-value-that-must-not-be-logged"
    original = sealed(RefreshSession, {"refresh_token": token}, reply_to=REPLY)
    moved = RefreshSession(refresh_token=original.refresh_token, reply_to=REPLY)  # new message id
    async with TestKafkaBroker(wiring.broker) as broker:
        await broker.publish(moved.model_dump_json().encode(), AUTH_REQUESTS)
    [reply] = wiring.replies
    assert reply.error is not None
    assert reply.error.code is AuthErrorCode.INTERNAL
    assert "sealed field refused" in caplog.text
    assert original.refresh_token.kid in caplog.text
    assert token not in caplog.text
    assert original.refresh_token.ciphertext not in caplog.text


def test_a_reply_too_large_for_the_broker_is_refused_for_its_request() -> None:
    cmd = GetUser(user_id=uuid4(), reply_to=REPLY)
    reply = too_large(cmd, "The answer would take 2,000,000 bytes.")
    assert (reply.request_id, reply.ok, reply.tokens, reply.user) == (
        cmd.message_id,
        False,
        None,
        None,
    )
    assert reply.error is not None
    assert reply.error.code is AuthErrorCode.REPLY_TOO_LARGE
    assert reply.error.message == "The answer would take 2,000,000 bytes."
