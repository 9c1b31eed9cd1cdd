"""A registration or login whose requester stopped waiting spends no hash and changes nothing."""

from datetime import timedelta

import pytest

from services.auth.tests.unit.fakes import (
    FAST_HASHING,
    T0,
    FakeClock,
    FakeStore,
    make_deps,
    sealed,
)
from tradelab_auth.domain.hashing import PasswordHashing
from tradelab_auth.service import authenticate, register
from tradelab_contracts.auth import AuthenticateUser, RegisterUser
from tradelab_contracts.topics import reply_topic
from tradelab_runtime.deadlines import DeadlineExceededError

REPLY = reply_topic("unit")
EMAIL = "ann@example.org"
PASSWORD = "correct horse battery staple"
SECOND = timedelta(seconds=1)


class CountingHashing(PasswordHashing):
    """Real argon2, counting how often it is asked to work."""

    def __init__(self) -> None:
        super().__init__(FAST_HASHING)
        self.calls = 0

    def hash(self, password: str) -> str:
        self.calls += 1
        return super().hash(password)

    def verify(self, stored_hash: str | None, password: str) -> bool:
        self.calls += 1
        return super().verify(stored_hash, password)


def registration(deadline_in: timedelta) -> RegisterUser:
    return sealed(
        RegisterUser, {"password": PASSWORD}, email=EMAIL, reply_to=REPLY, deadline=T0 + deadline_in
    )


@pytest.mark.asyncio
async def test_a_registration_past_its_deadline_hashes_nothing_and_stores_no_account() -> None:
    store, hashing = FakeStore(), CountingHashing()
    deps = make_deps(store, FakeClock(T0), hashing=hashing)
    with pytest.raises(DeadlineExceededError):
        await register(registration(deadline_in=-SECOND), deps)
    assert (hashing.calls, store.tables.users, store.tables.announced) == (0, {}, [])


@pytest.mark.asyncio
async def test_a_registration_before_its_deadline_is_done() -> None:
    store, hashing = FakeStore(), CountingHashing()
    deps = make_deps(store, FakeClock(T0), hashing=hashing)
    outcome = await register(registration(deadline_in=SECOND), deps)
    assert outcome.error is None
    assert [u.email for u in store.tables.users.values()] == [EMAIL]
    assert hashing.calls == 1


@pytest.mark.asyncio
async def test_a_login_past_its_deadline_checks_no_password() -> None:
    store, hashing, clock = FakeStore(), CountingHashing(), FakeClock(T0)
    deps = make_deps(store, clock, hashing=hashing)
    assert (await register(registration(deadline_in=SECOND), deps)).error is None
    clock.advance(60)
    late = sealed(
        AuthenticateUser,
        {"password": "a wrong guess"},
        email=EMAIL,
        client_address="10.0.0.1",
        reply_to=REPLY,
        deadline=clock.now() - SECOND,
    )
    with pytest.raises(DeadlineExceededError):
        await authenticate(late, deps)
    assert hashing.calls == 1  # the registration's only
