"""Login, refresh rotation and logout through the use cases, over in-memory fakes."""

import secrets
from dataclasses import replace

import pytest

from services.auth.tests.unit.fakes import FakeClock, FakeStore, make_deps, make_settings, sealed
from tradelab_auth.domain.hashing import HashingParams, PasswordHashing
from tradelab_auth.domain.refresh import hash_refresh_token
from tradelab_auth.service import AuthDeps, authenticate, refresh, register, revoke
from tradelab_contracts.auth import (
    AuthenticateUser,
    AuthErrorCode,
    RefreshSession,
    RegisterUser,
    RevokeSession,
    TokenPair,
)
from tradelab_contracts.topics import reply_topic

REPLY = reply_topic("unit")
EMAIL = "ann@example.org"
PASSWORD = "correct horse battery staple"
WRONG_GUESS = "not the password"


def login(email: str = EMAIL, password: str = PASSWORD, ip: str = "10.0.0.1") -> AuthenticateUser:
    return sealed(
        AuthenticateUser, {"password": password}, email=email, client_address=ip, reply_to=REPLY
    )


def refreshing(token: str) -> RefreshSession:
    return sealed(RefreshSession, {"refresh_token": token}, reply_to=REPLY)


async def registered(deps: AuthDeps) -> TokenPair:
    outcome = await register(
        sealed(RegisterUser, {"password": PASSWORD}, email=EMAIL, reply_to=REPLY), deps
    )
    assert outcome.tokens is not None
    return outcome.tokens


async def rotate(deps: AuthDeps, token: str) -> TokenPair:
    outcome = await refresh(refreshing(token), deps)
    assert outcome.error is None
    assert outcome.tokens is not None
    return outcome.tokens


@pytest.mark.asyncio
async def test_login_with_the_right_password_in_any_case_of_email_issues_tokens() -> None:
    deps = make_deps()
    await registered(deps)
    outcome = await authenticate(login(email="ANN@Example.org"), deps)
    assert outcome.error is None
    assert outcome.tokens is not None
    assert outcome.user is not None
    assert outcome.user.email == EMAIL
    assert outcome.tokens.expires_in == 900


@pytest.mark.asyncio
async def test_unknown_email_and_wrong_password_get_identical_errors() -> None:
    deps = make_deps()
    await registered(deps)
    wrong = await authenticate(login(password=WRONG_GUESS), deps)
    unknown = await authenticate(login(email="bob@example.org"), deps)
    assert wrong.error is not None
    assert wrong.error.code is AuthErrorCode.INVALID_CREDENTIALS
    assert wrong.error == unknown.error
    assert wrong == unknown


@pytest.mark.asyncio
async def test_disabled_account_gets_invalid_credentials_even_with_the_right_password() -> None:
    store = FakeStore()
    deps = make_deps(store)
    await registered(deps)
    [user] = store.tables.users.values()
    store.tables.users[user.id] = replace(user, is_active=False)
    outcome = await authenticate(login(), deps)
    assert outcome.error is not None
    assert outcome.error.code is AuthErrorCode.INVALID_CREDENTIALS


@pytest.mark.asyncio
async def test_login_after_the_argon2_costs_changed_upgrades_the_stored_hash() -> None:
    store = FakeStore()
    old = make_deps(store)
    await registered(old)
    stronger = HashingParams(time_cost=2, memory_cost=8192, parallelism=1)
    new = make_deps(store, hashing=PasswordHashing(stronger))
    assert (await authenticate(login(), new)).error is None
    [user] = store.tables.users.values()
    assert "$m=8192,t=2,p=1$" in user.password_hash
    assert (await authenticate(login(), new)).error is None


@pytest.mark.asyncio
async def test_many_failures_never_refuse_the_right_password() -> None:
    # Throttling is the gateway's (per account and address, in Redis); auth only checks.
    deps = make_deps()
    await registered(deps)
    for _ in range(10):
        failed = await authenticate(login(password=WRONG_GUESS), deps)
        assert failed.error is not None
        assert failed.error.code is AuthErrorCode.INVALID_CREDENTIALS
    assert (await authenticate(login(), deps)).error is None


@pytest.mark.asyncio
async def test_refresh_rotates_the_token_within_its_family() -> None:
    store = FakeStore()
    deps = make_deps(store)
    first = await registered(deps)
    second = await rotate(deps, first.refresh_token)
    assert second.refresh_token != first.refresh_token
    assert second.access_token != first.access_token
    family = store.family_of(hash_refresh_token(first.refresh_token))
    assert {t.token_hash for t in family} == {
        hash_refresh_token(first.refresh_token),
        hash_refresh_token(second.refresh_token),
    }
    third = await rotate(deps, second.refresh_token)
    assert third.refresh_token not in {first.refresh_token, second.refresh_token}


@pytest.mark.asyncio
async def test_replaying_a_rotated_token_revokes_the_whole_family() -> None:
    store = FakeStore()
    deps = make_deps(store)
    first = await registered(deps)
    second = await rotate(deps, first.refresh_token)
    replay = await refresh(refreshing(first.refresh_token), deps)
    assert replay.error is not None
    assert replay.error.code is AuthErrorCode.INVALID_TOKEN
    newer = await refresh(refreshing(second.refresh_token), deps)
    assert newer.error is not None
    assert newer.error.code is AuthErrorCode.INVALID_TOKEN
    family = store.family_of(hash_refresh_token(first.refresh_token))
    assert all(t.revoked_at is not None for t in family)


@pytest.mark.asyncio
async def test_replay_spares_other_sessions_of_the_same_user() -> None:
    deps = make_deps()
    first = await registered(deps)
    other_login = await authenticate(login(), deps)
    assert other_login.tokens is not None
    await rotate(deps, first.refresh_token)
    await refresh(refreshing(first.refresh_token), deps)  # replay kills the first family only
    assert (await refresh(refreshing(other_login.tokens.refresh_token), deps)).error is None


@pytest.mark.asyncio
async def test_unknown_or_expired_refresh_token_is_invalid() -> None:
    clock = FakeClock()
    deps = make_deps(clock=clock, settings=make_settings(refresh_token_ttl_s=60))
    pair = await registered(deps)
    unknown = await refresh(refreshing("no-such-token"), deps)
    assert unknown.error is not None
    assert unknown.error.code is AuthErrorCode.INVALID_TOKEN
    clock.advance(60)
    expired = await refresh(refreshing(pair.refresh_token), deps)
    assert expired.error == unknown.error


@pytest.mark.asyncio
async def test_logout_revokes_the_family_and_is_ok_twice() -> None:
    deps = make_deps()
    first = await registered(deps)
    second = await rotate(deps, first.refresh_token)
    logout = sealed(RevokeSession, {"refresh_token": second.refresh_token}, reply_to=REPLY)
    assert (await revoke(logout, deps)).error is None
    assert (await revoke(logout, deps)).error is None  # already revoked: still ok
    after = await refresh(refreshing(second.refresh_token), deps)
    assert after.error is not None
    assert after.error.code is AuthErrorCode.INVALID_TOKEN


@pytest.mark.asyncio
async def test_logout_with_an_unknown_token_is_invalid() -> None:
    outcome = await revoke(
        sealed(RevokeSession, {"refresh_token": secrets.token_urlsafe(32)}, reply_to=REPLY),
        make_deps(),
    )
    assert outcome.error is not None
    assert outcome.error.code is AuthErrorCode.INVALID_TOKEN
