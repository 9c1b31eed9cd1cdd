"""Use cases on sessions: log in, refresh with rotation, log out.

Failed logins are throttled by the gateway (per account and address, and per address, in the
Redis every replica shares), before a command ever reaches this service.
"""

import asyncio
from uuid import uuid4

from tradelab_auth import errors
from tradelab_auth.domain.passwords import normalise_email
from tradelab_auth.domain.refresh import RefreshVerdict, hash_refresh_token, judge_refresh
from tradelab_auth.domain.users import User
from tradelab_contracts.auth import AuthenticateUser, RefreshSession, RevokeSession
from tradelab_runtime.deadlines import check_deadline
from tradelab_runtime.logging import get_logger

from .common import AuthDeps, Outcome, issue_token_pair, opened, user_info

log = get_logger(__name__)


async def authenticate(cmd: AuthenticateUser, deps: AuthDeps) -> Outcome:
    """Check credentials and issue a token pair in a new family.

    Unknown e-mail, wrong password and disabled account all answer ``invalid_credentials`` after
    the same amount of hashing work. A request whose deadline has passed by then raises
    ``DeadlineExceededError`` before the hash (nothing recorded). Failed logins are throttled by
    the gateway (per account and address, and per address), not here.
    """
    password = opened(deps, cmd, "password")
    if password is None:
        return Outcome(error=errors.UNREADABLE_SECRET)
    email = normalise_email(cmd.email)
    async with deps.store.transaction() as tx:
        user = await tx.user_by_email(email)
    stored_hash = None if user is None else user.password_hash
    check_deadline(cmd, deps.clock)  # the hash is the expensive step: not for nobody
    matches = await asyncio.to_thread(deps.hashing.verify, stored_hash, password)
    if user is None or not matches or not user.is_active:
        return Outcome(error=errors.INVALID_CREDENTIALS)
    return await _log_in(user, password, deps)


async def _log_in(user: User, password: str, deps: AuthDeps) -> Outcome:
    # Upgrade the stored hash when the argon2 parameters changed since it was made; only now is
    # the clear password at hand to do it.
    new_hash = None
    if deps.hashing.needs_rehash(user.password_hash):
        new_hash = await asyncio.to_thread(deps.hashing.hash, password)
    now = deps.clock.now()
    async with deps.store.transaction() as tx:
        if new_hash is not None:
            await tx.set_password_hash(user.id, new_hash, now)
        tokens = await issue_token_pair(tx, deps, user, uuid4(), now)
    return Outcome(user=user_info(user), tokens=tokens)


async def refresh(cmd: RefreshSession, deps: AuthDeps) -> Outcome:
    """Exchange a refresh token for a new pair in its family; a replayed token kills the family.

    The token row is locked (``SELECT ... FOR UPDATE``) from the check to the rotation, so of two
    concurrent refreshes with one token exactly one succeeds; the other then sees a rotated token.
    """
    presented = opened(deps, cmd, "refresh_token")
    if presented is None:
        return Outcome(error=errors.UNREADABLE_SECRET)
    now = deps.clock.now()
    async with deps.store.transaction() as tx:
        token = await tx.refresh_token_for_update(hash_refresh_token(presented))
        verdict = judge_refresh(token, now)
        if token is None or verdict is RefreshVerdict.INVALID:
            return Outcome(error=errors.INVALID_TOKEN)
        if verdict is RefreshVerdict.REUSE_DETECTED:
            await tx.revoke_family(token.family_id, now)
            log.warning(
                "refresh token replayed; family revoked",
                user_id=str(token.user_id),
                family_id=str(token.family_id),
            )
            return Outcome(error=errors.INVALID_TOKEN)
        user = await tx.user_by_id(token.user_id)
        if user is None or not user.is_active:
            await tx.revoke_family(token.family_id, now)
            return Outcome(error=errors.INVALID_TOKEN)
        await tx.mark_rotated(token.id, now)
        tokens = await issue_token_pair(tx, deps, user, token.family_id, now)
    return Outcome(user=user_info(user), tokens=tokens)


async def revoke(cmd: RevokeSession, deps: AuthDeps) -> Outcome:
    """Revoke the whole family of a refresh token (log out); already revoked is still ok."""
    presented = opened(deps, cmd, "refresh_token")
    if presented is None:
        return Outcome(error=errors.UNREADABLE_SECRET)
    now = deps.clock.now()
    async with deps.store.transaction() as tx:
        token = await tx.refresh_token_for_update(hash_refresh_token(presented))
        if token is None:
            return Outcome(error=errors.INVALID_TOKEN)
        await tx.revoke_family(token.family_id, now)
    return Outcome()
