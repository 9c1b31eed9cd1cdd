"""Use cases of the auth service: plain async functions taking their collaborators (`AuthDeps`).

`USE_CASES` names the use case of each `AuthRequest` class; `handle` runs the one a request asks
for.
"""

from collections.abc import Awaitable, Callable, Mapping
from types import MappingProxyType
from typing import Any

from tradelab_contracts.auth import (
    AuthenticateUser,
    AuthRequest,
    DeleteUser,
    GetPublicKeys,
    GetUser,
    RefreshSession,
    RegisterUser,
    RevokeSession,
)

from .accounts import get_public_keys, get_user, register
from .common import AuthDeps, Outcome
from .erasure import delete_account
from .sessions import authenticate, refresh, revoke

__all__ = [
    "USE_CASES",
    "AuthDeps",
    "Outcome",
    "authenticate",
    "delete_account",
    "get_public_keys",
    "get_user",
    "handle",
    "refresh",
    "register",
    "revoke",
]


USE_CASES: Mapping[type[Any], Callable[[Any, AuthDeps], Awaitable[Outcome]]] = MappingProxyType(
    {
        RegisterUser: register,
        AuthenticateUser: authenticate,
        RefreshSession: refresh,
        RevokeSession: revoke,
        GetUser: get_user,
        GetPublicKeys: get_public_keys,
        DeleteUser: delete_account,
    }
)
"""The use case of each request class."""


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
    return await USE_CASES[type(cmd)](cmd, deps)
