"""Deleting an account: auth forgets the user, and `UserDeleted` tells every other service."""

from typing import Protocol
from uuid import UUID

from tradelab_auth import errors
from tradelab_contracts.auth import DeleteUser, UserDeleted
from tradelab_contracts.base import correlation_of

from .common import AuthDeps, Outcome


class AccountEraser(Protocol):
    """Deletes an account and stores its `UserDeleted` event in the same transaction."""

    async def delete(self, user_id: UUID, event: UserDeleted) -> bool:
        """Delete ``user_id``; False when there was no such user."""
        ...


async def delete_account(cmd: DeleteUser, deps: AuthDeps) -> Outcome:
    """Delete the user ``cmd.user_id`` (the caller), or answer ``not_found``."""
    if deps.eraser is None:  # pragma: no cover - every app wires one
        return Outcome(error=errors.INTERNAL)
    event = UserDeleted(
        user_id=cmd.user_id, occurred_at=deps.clock.now(), correlation_id=correlation_of(cmd)
    )
    if not await deps.eraser.delete(cmd.user_id, event):
        return Outcome(error=errors.USER_NOT_FOUND)
    return Outcome()
