"""Request/reply with backend services over Kafka.

A request carries this replica's reply topic in ``reply_to``; the service answers there with a
reply whose ``request_id`` is the request's ``message_id``, and the waiting call is resumed. Replies
of every service share the replica's one reply topic: the pending call knows which reply model
to expect. No answer within the timeout means the service is unavailable, and the caller answers
503 instead of hanging; so does a broker that refuses or hangs the publish (it is down or
restarting), which is bounded by the same timeout. Each request carries that timeout's end as
its ``deadline``, so a service that gets it too late drops it instead of working for nobody.
"""

import asyncio
import json
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, TypeVar

from aiokafka.errors import KafkaError
from faststream.exceptions import IncorrectState
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from pydantic import BaseModel, ValidationError

from tradelab_contracts.base import Request
from tradelab_contracts.topics import reply_topic, reply_topic_spec
from tradelab_runtime.broker import RPC_FETCH_MAX_WAIT_MS
from tradelab_runtime.clock import Clock, SystemClock
from tradelab_runtime.kafka_admin import delete_topics
from tradelab_runtime.logging import get_logger
from tradelab_runtime.service_app import Runtime

ReplyT = TypeVar("ReplyT", bound=BaseModel)
log = get_logger(__name__)

BROKER_ERRORS: tuple[type[Exception], ...] = (KafkaError, IncorrectState, ConnectionError)
"""What a publish raises while the broker is unreachable or the client is not connected to it."""


class ServiceUnavailableError(Exception):
    """The service did not answer in time, or the broker to reach it is unavailable."""

    def __init__(self, service: str) -> None:
        super().__init__(f"{service} did not answer")
        self.service = service


@dataclass
class _Pending:
    future: asyncio.Future[Any]
    model: type[BaseModel]


class RpcClient:
    """Publish requests and await their replies; ``clock`` dates their deadlines."""

    def __init__(
        self,
        broker: KafkaBroker,
        instance_id: str,
        timeout_s: float,
        *,
        clock: Clock | None = None,
    ) -> None:
        self.reply_topic = reply_topic(instance_id)
        self._broker = broker
        self._timeout_s = timeout_s
        self._clock = clock or SystemClock()
        self._pending: dict[str, _Pending] = {}

    def resolve(self, payload: bytes) -> None:
        """Hand a raw reply to the call waiting for it; late or unknown replies are dropped."""
        try:
            request_id = str(json.loads(payload)["request_id"])
        except (ValueError, KeyError, TypeError):
            log.warning("dropping a reply without request_id")
            return
        pending = self._pending.pop(request_id, None)
        if pending is None or pending.future.done():
            return
        try:
            pending.future.set_result(pending.model.model_validate_json(payload))
        except ValidationError as exc:
            pending.future.set_exception(exc)

    async def call(
        self,
        service: str,
        topic: str,
        request: Request,
        reply_model: type[ReplyT],
        *,
        timeout_s: float | None = None,
    ) -> ReplyT:
        """Publish ``request`` on ``topic`` and wait for its reply.

        ``timeout_s`` overrides the client's timeout for a request known to take longer. The
        request is sent with its ``deadline`` set to when that timeout ends.

        Raises
        ------
        ServiceUnavailableError
            When no reply arrives within the timeout (publishing included), or the broker
            refuses the request.
        """
        key = str(request.message_id)
        wait_s = self._timeout_s if timeout_s is None else timeout_s
        deadline = self._clock.now() + timedelta(seconds=wait_s)
        request = request.model_copy(update={"deadline": deadline})
        future: asyncio.Future[ReplyT] = asyncio.get_running_loop().create_future()
        self._pending[key] = _Pending(future, reply_model)
        try:
            # One deadline over publish and reply: a publish to a vanished broker retries
            # for aiokafka's 40 s request timeout, far past what an HTTP client waits.
            async with asyncio.timeout(wait_s):
                await self._broker.publish(request, topic, key=key.encode())
                return await future
        except TimeoutError as exc:
            log.warning("service did not answer", service=service, request=type(request).__name__)
            raise ServiceUnavailableError(service) from exc
        except BROKER_ERRORS as exc:
            log.warning(
                "broker refused the request",
                service=service,
                request=type(request).__name__,
                error=repr(exc),
            )
            raise ServiceUnavailableError(service) from exc
        finally:
            self._pending.pop(key, None)


def attach_rpc(runtime: Runtime, timeout_s: float) -> RpcClient:
    """Create the client, its reply topic and the subscriber that feeds it."""
    settings = runtime.settings
    client = RpcClient(runtime.broker, settings.instance_id, timeout_s, clock=runtime.clock)
    runtime.own_topics.append(reply_topic_spec(settings.instance_id))

    @runtime.broker.subscriber(
        client.reply_topic,
        group_id=f"gateway-replies-{settings.instance_id}",
        auto_offset_reset="latest",
        fetch_max_wait_ms=RPC_FETCH_MAX_WAIT_MS,
    )
    async def on_reply(message: KafkaMessage) -> None:
        client.resolve(message.body)

    async def drop_reply_topic() -> None:
        try:
            await delete_topics(
                settings.kafka_bootstrap, [client.reply_topic], runtime.kafka_options
            )
        except Exception as exc:
            log.warning("could not delete reply topic", topic=client.reply_topic, error=str(exc))

    runtime.after_stop.append(drop_reply_topic)
    return client
