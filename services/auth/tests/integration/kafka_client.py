"""Talk to a running auth service over Kafka exactly as a gateway does, and run it in-process."""

import asyncio
import secrets
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from uuid import UUID

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from tradelab_auth.app import build_app
from tradelab_auth.settings import AuthSettings
from tradelab_contracts.auth import AuthCommand, AuthReply, GetPublicKeys
from tradelab_contracts.topics import AUTH_REQUESTS, reply_topic, reply_topic_spec
from tradelab_runtime.kafka_admin import delete_topics, ensure_topics

FAST_ARGON2 = {"argon2_time_cost": 1, "argon2_memory_cost": 8192, "argon2_parallelism": 1}


def auth_settings(database_url: str, bootstrap: str, **overrides: object) -> AuthSettings:
    """Return settings of an auth process for tests: fast argon2, the given overrides."""
    values = {
        "environment": "test",
        "database_url": database_url,
        "kafka_bootstrap": bootstrap,
        **FAST_ARGON2,
        **overrides,
    }
    return AuthSettings.model_validate(values)


@asynccontextmanager
async def tail(bootstrap: str, topic: str) -> AsyncIterator[AIOKafkaConsumer]:
    """Yield a consumer on partition 0 of ``topic`` positioned at its current end.

    Assigned by hand, not through a group, so it reads at once instead of after a rebalance.
    """
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        partition = TopicPartition(topic, 0)
        consumer.assign([partition])
        await consumer.seek_to_end(partition)
        await consumer.position(partition)  # resolve the end offset now, before anything is sent
        yield consumer
    finally:
        await consumer.stop()


class AuthClient:
    """A gateway stand-in: publishes auth requests and collects replies on its own topic."""

    def __init__(self, bootstrap: str, producer: AIOKafkaProducer, replies: AIOKafkaConsumer):
        self.bootstrap = bootstrap
        self._producer = producer
        self._replies = replies
        self._received: dict[UUID, AuthReply] = {}

    async def send(self, command: AuthCommand, key: bytes | None = None) -> None:
        """Publish ``command`` on the auth request topic, keyed by its id like the gateway.

        Requests sent under one ``key`` share a partition, so they are handled in sending order.
        """
        value = command.model_dump_json().encode()
        await self._producer.send_and_wait(
            AUTH_REQUESTS, value, key=key or str(command.message_id).encode()
        )

    def answered(self, request_id: UUID) -> bool:
        """Return whether a reply to ``request_id`` has been read so far."""
        return request_id in self._received

    async def replies(self, request_ids: Iterable[UUID], timeout_s: float = 30) -> list[AuthReply]:
        """Wait for the replies to ``request_ids`` and return them in that order."""
        wanted = list(request_ids)
        async with asyncio.timeout(timeout_s):
            while any(i not in self._received for i in wanted):
                batch = await self._replies.getmany(timeout_ms=200)
                for records in batch.values():
                    for record in records:
                        reply = AuthReply.model_validate_json(record.value)
                        self._received[reply.request_id] = reply
        return [self._received[i] for i in wanted]

    async def call(self, command: AuthCommand, timeout_s: float = 30) -> AuthReply:
        """Send ``command`` and wait for its reply."""
        await self.send(command)
        [reply] = await self.replies([command.message_id], timeout_s)
        return reply

    async def wait_until_served(self, reply_to: str, timeout_s: float = 60) -> None:
        """Ping until the service answers: its consumer may still be joining the group."""
        async with asyncio.timeout(timeout_s):
            while True:
                ping = GetPublicKeys(reply_to=reply_to)
                await self.send(ping)
                try:
                    await self.replies([ping.message_id], timeout_s=1.5)
                    return
                except TimeoutError:
                    continue


@asynccontextmanager
async def auth_client(bootstrap: str) -> AsyncIterator[tuple[AuthClient, str]]:
    """Yield a client and its reply topic (created here, deleted afterwards)."""
    instance = f"test-{secrets.token_hex(4)}"
    topic = reply_topic(instance)
    await ensure_topics(bootstrap, [reply_topic_spec(instance)])
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        async with tail(bootstrap, topic) as replies:
            yield AuthClient(bootstrap, producer, replies), topic
    finally:
        await producer.stop()
        await delete_topics(bootstrap, [topic])


@asynccontextmanager
async def running_auth(settings: AuthSettings) -> AsyncIterator[tuple[AuthClient, str]]:
    """Run the auth app in-process and yield a client that it already answers."""
    app = build_app(settings)
    async with app.router.lifespan_context(app), auth_client(settings.kafka_bootstrap) as pair:
        client, topic = pair
        await client.wait_until_served(topic)
        yield pair
