"""Deleting an account through the use case: the user goes with its `UserDeleted` event."""

import dataclasses
from uuid import UUID, uuid4

import pytest

from services.auth.tests.unit.fakes import FakeStore, make_deps, sealed
from tradelab_auth.service import handle, register
from tradelab_contracts.auth import AuthErrorCode, DeleteUser, RegisterUser, UserDeleted
from tradelab_contracts.topics import reply_topic

REPLY = reply_topic("unit")


class FakeEraser:
    """Deletes users from a `FakeStore` and keeps the events it would store in the outbox."""

    def __init__(self, store: FakeStore) -> None:
        self.store = store
        self.events: list[UserDeleted] = []

    async def delete(self, user_id: UUID, event: UserDeleted) -> bool:
        if self.store.tables.users.pop(user_id, None) is None:
            return False
        self.events.append(event)
        return True


@pytest.mark.asyncio
async def test_deleting_an_account_removes_the_user_and_announces_it_once() -> None:
    store = FakeStore()
    eraser = FakeEraser(store)
    deps = dataclasses.replace(make_deps(store), eraser=eraser)
    created = await register(
        sealed(
            RegisterUser,
            {"password": "correct horse battery"},
            email="ann@example.org",
            reply_to=REPLY,
        ),
        deps,
    )
    assert created.user is not None
    cmd = DeleteUser(user_id=created.user.id, reply_to=REPLY)

    first = await handle(cmd, deps)
    again = await handle(DeleteUser(user_id=created.user.id, reply_to=REPLY), deps)

    assert first.error is None
    assert again.error is not None
    assert again.error.code == AuthErrorCode.NOT_FOUND
    assert [e.user_id for e in eraser.events] == [created.user.id]
    assert eraser.events[0].correlation_id == cmd.message_id


@pytest.mark.asyncio
async def test_deleting_an_unknown_account_is_not_found() -> None:
    store = FakeStore()
    deps = dataclasses.replace(make_deps(store), eraser=FakeEraser(store))
    outcome = await handle(DeleteUser(user_id=uuid4(), reply_to=REPLY), deps)
    assert outcome.error is not None
    assert outcome.error.code == AuthErrorCode.NOT_FOUND
