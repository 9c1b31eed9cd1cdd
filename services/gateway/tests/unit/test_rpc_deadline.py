"""Every request leaves the gateway with its deadline: when the gateway stops waiting for it."""

from datetime import UTC, datetime, timedelta
from typing import Any, cast

import pytest
from aiokafka.errors import KafkaConnectionError
from faststream.kafka import KafkaBroker

from tradelab_contracts.auth import AuthReply, GetPublicKeys
from tradelab_contracts.base import Request
from tradelab_contracts.topics import AUTH_REQUESTS
from tradelab_gateway.adapters.rpc import RpcClient, ServiceUnavailableError

NOW = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)


class StillClock:
    def now(self) -> datetime:
        return NOW


class RecordingBroker:
    """Keeps what is published, then refuses it as a vanished broker does (the call ends)."""

    def __init__(self) -> None:
        self.published: list[Request] = []

    async def publish(self, message: Request, *_args: Any, **_kwargs: Any) -> None:
        self.published.append(message)
        raise KafkaConnectionError


async def sent_by(client: RpcClient, broker: RecordingBroker, **call: Any) -> Request:
    request = GetPublicKeys(reply_to=client.reply_topic)
    with pytest.raises(ServiceUnavailableError):
        await client.call("auth", AUTH_REQUESTS, request, AuthReply, **call)
    [sent] = broker.published
    assert sent.message_id == request.message_id  # the same request, now dated
    return sent


@pytest.mark.asyncio
async def test_a_request_carries_the_end_of_the_rpc_timeout_as_its_deadline() -> None:
    broker = RecordingBroker()
    client = RpcClient(cast("KafkaBroker", broker), "gw-test", timeout_s=5.0, clock=StillClock())
    sent = await sent_by(client, broker)
    assert sent.deadline == NOW + timedelta(seconds=5)


@pytest.mark.asyncio
async def test_a_longer_wait_asked_for_one_call_moves_its_deadline_too() -> None:
    broker = RecordingBroker()
    client = RpcClient(cast("KafkaBroker", broker), "gw-test", timeout_s=5.0, clock=StillClock())
    sent = await sent_by(client, broker, timeout_s=31.5)
    assert sent.deadline == NOW + timedelta(seconds=31.5)
