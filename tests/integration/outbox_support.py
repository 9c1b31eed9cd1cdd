"""What the services' integration tests share: a recorder of what one service's outbox relays."""

from typing import Any

from pydantic import TypeAdapter
from sqlalchemy.ext.asyncio import AsyncEngine

from tradelab_contracts.base import Message
from tradelab_contracts.registry import TOPIC_MESSAGES
from tradelab_runtime.outbox import Outbox, PendingEvent


class OutboxRecorder:
    """The outbox of one service's schema, relayed into a list instead of a broker."""

    def __init__(self, engine: AsyncEngine, schema: str) -> None:
        self.sent: list[tuple[str, Message]] = []
        self.outbox = Outbox(engine, schema, self.relayed)

    async def relayed(self, event: PendingEvent) -> None:
        carried = TOPIC_MESSAGES[event.topic]
        adapter = carried if isinstance(carried, TypeAdapter) else TypeAdapter(carried)
        self.sent.append((event.topic, adapter.validate_json(event.payload)))

    async def events(self, kind: type[Message]) -> list[Any]:
        """Relay what the outbox holds, then return every message of ``kind`` sent so far."""
        while await self.outbox.relay_once():
            pass
        return [m for _, m in self.sent if isinstance(m, kind)]
