"""Registration, look-up and key publication through the use cases, over in-memory fakes."""

import asyncio
from uuid import uuid4

import jwt
import pytest

from services.auth.tests.unit.fakes import T0, FakeClock, FakeStore, make_deps, sealed
from tradelab_auth.service import get_public_keys, get_user, handle, register
from tradelab_contracts.auth import (
    AuthErrorCode,
    GetPublicKeys,
    GetUser,
    RegisterUser,
    UserRegistered,
)
from tradelab_contracts.topics import AUTH_USER_REGISTERED, reply_topic

REPLY = reply_topic("unit")
PASSWORD = "correct horse battery staple"


def registration(email: str = "Ann@Example.org", password: str = PASSWORD) -> RegisterUser:
    return sealed(RegisterUser, {"password": password}, email=email, reply_to=REPLY)


@pytest.mark.asyncio
async def test_registration_stores_a_normalised_account_with_tokens_and_its_event() -> None:
    store = FakeStore()
    deps = make_deps(store)
    cmd = registration(email="Ann@Example.ORG")
    outcome = await register(cmd, deps)
    assert outcome.error is None
    assert outcome.user is not None
    assert outcome.tokens is not None
    assert (outcome.user.email, outcome.user.created_at) == ("ann@example.org", T0)
    [stored] = store.tables.users.values()
    assert stored.password_hash.startswith("$argon2id$")
    assert PASSWORD not in stored.password_hash
    [(event, topic, key)] = store.tables.announced  # stored in the account's transaction
    assert isinstance(event, UserRegistered)
    assert (topic, key) == (AUTH_USER_REGISTERED, str(outcome.user.id).encode())
    assert (event.user_id, event.email) == (outcome.user.id, "ann@example.org")
    assert event.correlation_id == cmd.message_id
    claims = jwt.decode(outcome.tokens.access_token, options={"verify_signature": False})
    assert claims["sub"] == str(outcome.user.id)


@pytest.mark.asyncio
async def test_registering_the_same_email_again_in_another_case_is_email_taken() -> None:
    store = FakeStore()
    deps = make_deps(store)
    assert (await register(registration("ann@example.org"), deps)).error is None
    outcome = await register(registration("ANN@example.org"), deps)
    assert outcome.error is not None
    assert (outcome.error.code, outcome.error.field) == (AuthErrorCode.EMAIL_TAKEN, "email")
    assert len(store.tables.announced) == 1  # the first registration's only


@pytest.mark.asyncio
async def test_losing_a_registration_race_at_insert_is_email_taken() -> None:
    store = FakeStore()
    deps = make_deps(store)
    first, second = registration("ann@example.org"), registration("ann@example.org")
    # Both look up the e-mail before either inserts (hashing runs in between, off the loop);
    # the store's unique check then refuses the second insert.
    outcomes = await asyncio.gather(register(first, deps), register(second, deps))
    codes = sorted(str(o.error.code) if o.error else "ok" for o in outcomes)
    assert codes == ["email_taken", "ok"]
    assert len(store.tables.users) == 1


@pytest.mark.asyncio
@pytest.mark.parametrize("password", ["short", "x" * 129, "ann@example.org", "ANN"])
async def test_weak_password_is_refused_on_the_password_field(password: str) -> None:
    store = FakeStore()
    outcome = await register(registration("ann@example.org", password), make_deps(store))
    assert outcome.error is not None
    assert (outcome.error.code, outcome.error.field) == (AuthErrorCode.WEAK_PASSWORD, "password")
    assert outcome.error.message
    assert store.tables.users == {}


@pytest.mark.asyncio
async def test_registered_user_can_be_looked_up_and_unknown_is_not_found() -> None:
    deps = make_deps(clock=FakeClock())
    created = await register(registration(), deps)
    assert created.user is not None
    found = await get_user(GetUser(user_id=created.user.id, reply_to=REPLY), deps)
    assert found.user == created.user
    missing = await get_user(GetUser(user_id=uuid4(), reply_to=REPLY), deps)
    assert missing.error is not None
    assert missing.error.code is AuthErrorCode.NOT_FOUND


@pytest.mark.asyncio
async def test_public_keys_are_the_ring_as_jwks() -> None:
    deps = make_deps()
    outcome = await get_public_keys(GetPublicKeys(reply_to=REPLY), deps)
    assert outcome.keys is not None
    [jwk] = outcome.keys
    assert (jwk.kty, jwk.crv, jwk.alg, jwk.use) == ("OKP", "Ed25519", "EdDSA", "sig")
    assert jwk.kid == deps.keys.signing_key.kid


@pytest.mark.asyncio
async def test_dispatch_routes_each_request_kind_to_its_use_case() -> None:
    deps = make_deps()
    registered = await handle(registration(), deps)
    assert registered.tokens is not None
    keys = await handle(GetPublicKeys(reply_to=REPLY), deps)
    assert keys.keys is not None


@pytest.mark.asyncio
async def test_a_password_sealed_for_another_message_is_refused_and_nothing_is_stored() -> None:
    store = FakeStore()
    original = registration()
    replayed = RegisterUser(email="eve@example.org", password=original.password, reply_to=REPLY)
    outcome = await register(replayed, make_deps(store))
    assert outcome.error is not None
    assert outcome.error.code is AuthErrorCode.INTERNAL
    assert store.tables.users == {}
