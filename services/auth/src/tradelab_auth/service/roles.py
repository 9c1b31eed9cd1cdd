"""Roles: the first administrator from the settings, and role changes by an operator.

A role lives in the access token (the ``role`` claim), so a change takes effect when the user
next logs in or refreshes; an access token issued before keeps its role until it expires
(``AUTH_ACCESS_TOKEN_TTL_S``, 15 minutes by default).
"""

import asyncio
from uuid import uuid4

from tradelab_auth.domain.passwords import normalise_email
from tradelab_auth.domain.users import EmailAlreadyRegisteredError, User
from tradelab_auth.ports import AuthStore
from tradelab_contracts.auth import UserRegistered, UserRole
from tradelab_contracts.topics import AUTH_USER_REGISTERED
from tradelab_runtime.clock import Clock
from tradelab_runtime.logging import get_logger

from .common import AuthDeps

log = get_logger(__name__)


async def set_role(store: AuthStore, clock: Clock, email: str, role: UserRole) -> User | None:
    """Give the account ``email`` the role ``role``.

    Parameters
    ----------
    store
        The auth tables.
    clock
        Dates the change.
    email
        The account's address (normalised here).
    role
        Its new role.

    Returns
    -------
    User or None
        The account as it now is, or None when no account has that address.
    """
    now = clock.now()
    async with store.transaction() as tx:
        user = await tx.user_by_email(normalise_email(email))
        if user is None:
            return None
        if await tx.set_role(user.id, role, now):
            log.info("role changed", user_id=str(user.id), role=role.value)
        return await tx.user_by_id(user.id)


async def _create_admin(deps: AuthDeps, email: str, password: str) -> None:
    password_hash = await asyncio.to_thread(deps.hashing.hash, password)
    now = deps.clock.now()
    user = User(
        id=uuid4(),
        email=email,
        password_hash=password_hash,
        created_at=now,
        updated_at=now,
        role=UserRole.ADMIN,
    )
    event = UserRegistered(user_id=user.id, email=email, occurred_at=now)
    async with deps.store.transaction() as tx:
        await tx.add_user(user)
        await tx.announce(event, AUTH_USER_REGISTERED, str(user.id).encode())
    log.info("admin account created from the settings", user_id=str(user.id))


async def ensure_configured_admin(deps: AuthDeps) -> None:
    """Make ``AUTH_ADMIN_EMAIL``'s account an admin, creating it with ``AUTH_ADMIN_PASSWORD``
    when it does not exist and a password is configured (run at start-up, by every replica)."""
    configured = deps.settings.admin_email
    if configured is None:
        return
    email = normalise_email(configured)
    password = deps.settings.admin_password.get_secret_value()
    if await set_role(deps.store, deps.clock, email, UserRole.ADMIN) is not None:
        return
    if not password:
        log.warning("AUTH_ADMIN_EMAIL names no account and AUTH_ADMIN_PASSWORD is empty")
        return
    try:
        await _create_admin(deps, email, password)
    except EmailAlreadyRegisteredError:  # another replica (or a registration) came first
        await set_role(deps.store, deps.clock, email, UserRole.ADMIN)
