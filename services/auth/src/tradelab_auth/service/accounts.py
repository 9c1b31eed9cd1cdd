"""Use cases on accounts: register, look up, publish the public keys."""

import asyncio
from uuid import uuid4

from tradelab_auth import errors
from tradelab_auth.domain.passwords import normalise_email, password_problem
from tradelab_auth.domain.users import EmailAlreadyRegisteredError, User
from tradelab_contracts.auth import GetPublicKeys, GetUser, PublicJwk, RegisterUser, UserRegistered
from tradelab_contracts.base import correlation_of
from tradelab_contracts.topics import AUTH_USER_REGISTERED
from tradelab_runtime.deadlines import check_deadline

from .common import AuthDeps, Outcome, issue_token_pair, opened, user_info


async def register(cmd: RegisterUser, deps: AuthDeps) -> Outcome:
    """Create an account and log it in (a new token family).

    Parameters
    ----------
    cmd
        The registration request.
    deps
        The collaborators.

    Returns
    -------
    Outcome
        ``user`` and ``tokens``, the account stored with its `UserRegistered` event; or
        ``weak_password`` (field
        ``password``) or ``email_taken`` (field ``email``).

    Raises
    ------
    DeadlineExceededError
        When ``cmd``'s deadline has passed before the password is hashed (nothing stored).
    """
    password = opened(deps, cmd, "password")
    if password is None:
        return Outcome(error=errors.UNREADABLE_SECRET)
    email = normalise_email(cmd.email)
    if (problem := password_problem(password, email)) is not None:
        return Outcome(error=errors.weak_password(problem))
    async with deps.store.transaction() as tx:
        taken = await tx.user_by_email(email) is not None
    if taken:  # answer early: no point spending a hash on it
        return Outcome(error=errors.EMAIL_TAKEN)
    check_deadline(cmd, deps.clock)  # nor on a requester that stopped waiting
    password_hash = await asyncio.to_thread(deps.hashing.hash, password)
    now = deps.clock.now()
    user = User(
        id=uuid4(), email=email, password_hash=password_hash, created_at=now, updated_at=now
    )
    event = UserRegistered(
        user_id=user.id,
        email=user.email,
        correlation_id=correlation_of(cmd),
        occurred_at=now,
    )
    try:
        async with deps.store.transaction() as tx:
            await tx.add_user(user)
            tokens = await issue_token_pair(tx, deps, user, uuid4(), now)
            await tx.announce(event, AUTH_USER_REGISTERED, str(user.id).encode())
    except EmailAlreadyRegisteredError:  # a concurrent registration won the race
        return Outcome(error=errors.EMAIL_TAKEN)
    return Outcome(user=user_info(user), tokens=tokens)


async def get_user(cmd: GetUser, deps: AuthDeps) -> Outcome:
    """Return the user ``cmd.user_id``, or ``not_found``."""
    async with deps.store.transaction() as tx:
        user = await tx.user_by_id(cmd.user_id)
    if user is None:
        return Outcome(error=errors.USER_NOT_FOUND)
    return Outcome(user=user_info(user))


async def get_public_keys(cmd: GetPublicKeys, deps: AuthDeps) -> Outcome:
    """Return every public key that verifies access tokens, the current signing key first."""
    del cmd  # carries nothing but its reply address
    return Outcome(keys=[PublicJwk.model_validate(jwk) for jwk in deps.keys.jwks()])
