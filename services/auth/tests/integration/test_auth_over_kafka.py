"""The auth service in-process, driven over the real Kafka broker as the gateway drives it."""

import asyncio
import json
from uuid import UUID

import jwt
import pytest

from services.auth.tests.integration.kafka_client import AuthClient, tail
from services.auth.tests.unit.fakes import sealed, tokens_of
from tradelab_contracts.auth import (
    AuthenticateUser,
    AuthErrorCode,
    AuthReply,
    GetPublicKeys,
    GetUser,
    RefreshSession,
    RegisterUser,
    RevokeSession,
    UserRegistered,
)
from tradelab_contracts.topics import AUTH_USER_REGISTERED
from tradelab_devstack.kafka import KafkaBroker

pytestmark = pytest.mark.integration

PASSWORD = "correct horse battery staple"


def error_code(reply: AuthReply) -> AuthErrorCode | None:
    return None if reply.error is None else reply.error.code


@pytest.mark.asyncio
async def test_register_login_refresh_then_replay_revokes_the_whole_family(
    auth: tuple[AuthClient, str],
) -> None:
    client, topic = auth
    registered = await client.call(
        sealed(RegisterUser, {"password": PASSWORD}, email="Ann@Example.org", reply_to=topic)
    )
    assert registered.ok, registered.error
    assert registered.user is not None
    assert registered.user.email == "ann@example.org"

    login = await client.call(
        sealed(
            AuthenticateUser,
            {"password": PASSWORD},
            email="ann@example.org",
            client_address="10.0.0.1",
            reply_to=topic,
        )
    )
    assert login.ok, login.error
    assert login.tokens is not None
    assert login.user == registered.user

    rotated = await client.call(
        sealed(RefreshSession, {"refresh_token": tokens_of(login).refresh_token}, reply_to=topic)
    )
    assert rotated.ok, rotated.error
    assert rotated.tokens is not None

    replay = await client.call(
        sealed(RefreshSession, {"refresh_token": tokens_of(login).refresh_token}, reply_to=topic)
    )
    assert error_code(replay) is AuthErrorCode.INVALID_TOKEN
    newer = await client.call(
        sealed(RefreshSession, {"refresh_token": tokens_of(rotated).refresh_token}, reply_to=topic)
    )
    assert error_code(newer) is AuthErrorCode.INVALID_TOKEN

    # The registration's own family was never replayed: it still works, until logout.
    assert registered.tokens is not None
    own = tokens_of(registered).refresh_token
    assert (await client.call(sealed(RevokeSession, {"refresh_token": own}, reply_to=topic))).ok
    after_logout = await client.call(sealed(RefreshSession, {"refresh_token": own}, reply_to=topic))
    assert error_code(after_logout) is AuthErrorCode.INVALID_TOKEN


@pytest.mark.asyncio
async def test_access_token_verifies_with_the_published_keys_and_names_the_user(
    auth: tuple[AuthClient, str],
) -> None:
    client, topic = auth
    registered = await client.call(
        sealed(RegisterUser, {"password": PASSWORD}, email="bob@example.org", reply_to=topic)
    )
    keys = await client.call(GetPublicKeys(reply_to=topic))
    assert registered.tokens is not None
    assert registered.user is not None
    assert keys.keys is not None
    token = tokens_of(registered).access_token
    [jwk] = [k for k in keys.keys if k.kid == jwt.get_unverified_header(token)["kid"]]
    public = jwt.PyJWK(json.loads(jwk.model_dump_json(exclude_none=True))).key
    claims = jwt.decode(
        token,
        public,
        algorithms=["EdDSA"],
        audience="tradelab-test-api",
        issuer="tradelab-auth",
    )
    assert claims["sub"] == str(registered.user.id)
    assert claims["exp"] - claims["iat"] == tokens_of(registered).expires_in == 900

    found = await client.call(GetUser(user_id=registered.user.id, reply_to=topic))
    assert found.user == registered.user


@pytest.mark.asyncio
async def test_two_refreshes_with_one_token_yield_exactly_one_success(
    auth: tuple[AuthClient, str],
) -> None:
    client, topic = auth
    registered = await client.call(
        sealed(RegisterUser, {"password": PASSWORD}, email="cat@example.org", reply_to=topic)
    )
    assert registered.tokens is not None
    token = tokens_of(registered).refresh_token
    both = [sealed(RefreshSession, {"refresh_token": token}, reply_to=topic) for _ in range(2)]
    await asyncio.gather(*(client.send(cmd) for cmd in both))
    replies = await client.replies(cmd.message_id for cmd in both)
    assert sorted(r.ok for r in replies) == [False, True]
    [failed] = [r for r in replies if not r.ok]
    assert error_code(failed) is AuthErrorCode.INVALID_TOKEN


@pytest.mark.asyncio
async def test_registration_publishes_user_registered(
    auth: tuple[AuthClient, str], kafka: KafkaBroker
) -> None:
    client, topic = auth
    async with tail(kafka.bootstrap, AUTH_USER_REGISTERED) as events:
        cmd = sealed(RegisterUser, {"password": PASSWORD}, email="dan@example.org", reply_to=topic)
        registered = await client.call(cmd)
        assert registered.user is not None
        user_id = registered.user.id
        seen: list[UserRegistered] = []
        async with asyncio.timeout(20):
            while not any(e.user_id == user_id for e in seen):
                batch = await events.getmany(timeout_ms=200)
                for records in batch.values():
                    for record in records:
                        assert record.key == str(UUID(json.loads(record.value)["user_id"])).encode()
                        seen.append(UserRegistered.model_validate_json(record.value))
        [event] = [e for e in seen if e.user_id == user_id]
        assert (event.email, event.correlation_id) == ("dan@example.org", cmd.message_id)


@pytest.mark.asyncio
async def test_failed_logins_do_not_leak_existence_nor_refuse_the_owner(
    auth: tuple[AuthClient, str],
) -> None:
    client, topic = auth
    await client.call(
        sealed(RegisterUser, {"password": PASSWORD}, email="eve@example.org", reply_to=topic)
    )

    def attempt(email: str, password: str) -> AuthenticateUser:
        return sealed(
            AuthenticateUser,
            {"password": password},
            email=email,
            client_address="10.1.2.3",
            reply_to=topic,
        )

    wrong = await client.call(attempt("eve@example.org", "not the password"))
    unknown = await client.call(attempt("nobody@example.org", "not the password"))
    assert wrong.error == unknown.error
    assert error_code(wrong) is AuthErrorCode.INVALID_CREDENTIALS

    await client.call(attempt("eve@example.org", "still not the password"))
    # Throttling is the gateway's; auth never refuses the right password.
    owner = await client.call(attempt("eve@example.org", PASSWORD))
    assert owner.ok, owner.error
