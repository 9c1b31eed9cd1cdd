"""Roles through the use cases, over in-memory fakes: the configured first admin, role changes
showing in the next token, and the settings that refuse a placeholder admin password."""

import jwt
import pytest
from pydantic import ValidationError

from services.auth.tests.unit.fakes import FakeStore, make_deps, make_settings, sealed
from tradelab_auth.service import authenticate, refresh, register
from tradelab_auth.service.roles import ensure_configured_admin, set_role
from tradelab_contracts.auth import (
    AuthenticateUser,
    RefreshSession,
    RegisterUser,
    TokenPair,
    UserRegistered,
    UserRole,
)
from tradelab_contracts.topics import AUTH_USER_REGISTERED, reply_topic

REPLY = reply_topic("unit")
EMAIL = "ann@example.org"
PASSWORD = "correct horse battery staple"


def role_claim(tokens: TokenPair | None) -> str:
    assert tokens is not None
    claims = jwt.decode(tokens.access_token, options={"verify_signature": False})
    role: str = claims["role"]
    return role


async def register_ann(store: FakeStore, **settings: object) -> TokenPair:
    deps = make_deps(store, settings=make_settings(**settings))
    cmd = sealed(RegisterUser, {"password": PASSWORD}, email=EMAIL, reply_to=REPLY)
    outcome = await register(cmd, deps)
    assert outcome.tokens is not None
    return outcome.tokens


@pytest.mark.asyncio
async def test_a_new_account_is_a_user_in_its_token_and_its_info() -> None:
    store = FakeStore()
    tokens = await register_ann(store)
    assert role_claim(tokens) == "user"
    [stored] = store.tables.users.values()
    assert stored.role is UserRole.USER


@pytest.mark.asyncio
async def test_registering_the_configured_admin_address_does_not_make_an_admin() -> None:
    # No one proves they own an address: the settings promote at start-up, never on sign-up.
    tokens = await register_ann(FakeStore(), admin_email=EMAIL)
    assert role_claim(tokens) == "user"


@pytest.mark.asyncio
async def test_start_up_promotes_the_configured_account_and_its_next_token_says_admin() -> None:
    store = FakeStore()
    first = await register_ann(store)
    deps = make_deps(store, settings=make_settings(admin_email="Ann@Example.org"))
    await ensure_configured_admin(deps)
    [stored] = store.tables.users.values()
    assert stored.role is UserRole.ADMIN
    assert role_claim(first) == "user"  # an issued token keeps its role until it expires
    renewed = await refresh(
        sealed(RefreshSession, {"refresh_token": first.refresh_token}, reply_to=REPLY), deps
    )
    assert role_claim(renewed.tokens) == "admin"
    assert renewed.user is not None
    assert renewed.user.role is UserRole.ADMIN


@pytest.mark.asyncio
async def test_start_up_creates_the_configured_admin_with_its_password_and_event() -> None:
    store = FakeStore()
    deps = make_deps(store, settings=make_settings(admin_email=EMAIL, admin_password=PASSWORD))
    await ensure_configured_admin(deps)
    await ensure_configured_admin(deps)  # every replica runs it: the second finds it there
    [stored] = store.tables.users.values()
    assert (stored.email, stored.role) == (EMAIL, UserRole.ADMIN)
    [(event, topic, _)] = store.tables.announced
    assert isinstance(event, UserRegistered)
    assert (event.user_id, topic) == (stored.id, AUTH_USER_REGISTERED)
    login = sealed(
        AuthenticateUser,
        {"password": PASSWORD},
        email=EMAIL,
        client_address="10.0.0.1",
        reply_to=REPLY,
    )
    assert role_claim((await authenticate(login, deps)).tokens) == "admin"


@pytest.mark.asyncio
async def test_without_a_password_start_up_creates_no_account() -> None:
    store = FakeStore()
    await ensure_configured_admin(make_deps(store, settings=make_settings(admin_email=EMAIL)))
    assert store.tables.users == {}


@pytest.mark.asyncio
async def test_demoting_shows_in_the_next_token_and_an_unknown_address_is_none() -> None:
    store = FakeStore()
    first = await register_ann(store)
    deps = make_deps(store)
    promoted = await set_role(store, deps.clock, "ANN@example.org", UserRole.ADMIN)
    assert promoted is not None
    assert promoted.role is UserRole.ADMIN
    demoted = await set_role(store, deps.clock, EMAIL, UserRole.USER)
    assert demoted is not None
    assert demoted.role is UserRole.USER
    renewed = await refresh(
        sealed(RefreshSession, {"refresh_token": first.refresh_token}, reply_to=REPLY), deps
    )
    assert role_claim(renewed.tokens) == "user"
    assert await set_role(store, deps.clock, "bob@example.org", UserRole.ADMIN) is None


@pytest.mark.parametrize(
    ("settings", "complaint"),
    [
        ({"admin_email": EMAIL, "admin_password": "changeme"}, "placeholder"),
        ({"admin_email": EMAIL, "admin_password": "short"}, "at least"),
        ({"admin_password": PASSWORD}, "without admin_email"),
    ],
)
def test_settings_refuse_a_placeholder_weak_or_orphan_admin_password(
    settings: dict[str, object], complaint: str
) -> None:
    with pytest.raises(ValidationError, match=complaint):
        make_settings(**settings)


def test_an_empty_admin_email_names_no_admin() -> None:
    # docker compose passes an unset ${AUTH_ADMIN_EMAIL:-} as an empty string.
    assert make_settings(admin_email="", admin_password="").admin_email is None
