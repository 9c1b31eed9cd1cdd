"""Use cases of the auth service: plain async functions taking their collaborators (`AuthDeps`).

`handle` routes any `AuthRequest` to its use case.
"""

from typing import assert_never

from tradelab_contracts.auth import (
    AuthenticateUser,
    AuthRequest,
    GetPublicKeys,
    GetUser,
    RefreshSession,
    RegisterUser,
    RevokeSession,
)

from .accounts import get_public_keys, get_user, register
from .common import AuthDeps, Outcome
from .sessions import authenticate, refresh, revoke

__all__ = [
    "AuthDeps",
    "Outcome",
    "authenticate",
    "get_public_keys",
    "get_user",
    "handle",
    "refresh",
    "register",
    "revoke",
]


async def handle(cmd: AuthRequest, deps: AuthDeps) -> Outcome:
    """Run the use case ``cmd`` asks for.

    Parameters
    ----------
    cmd
        Any auth request.
    deps
        The collaborators.

    Returns
    -------
    Outcome
        What to answer, and which events to publish.
    """
    match cmd:
        case RegisterUser():
            return await register(cmd, deps)
        case AuthenticateUser():
            return await authenticate(cmd, deps)
        case RefreshSession():
            return await refresh(cmd, deps)
        case RevokeSession():
            return await revoke(cmd, deps)
        case GetUser():
            return await get_user(cmd, deps)
        case GetPublicKeys():
            return await get_public_keys(cmd, deps)
        case _:
            assert_never(cmd)
