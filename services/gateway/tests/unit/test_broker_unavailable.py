"""A broker that refuses or hangs a publish is a 503 with ``Retry-After``, never a 500 or a hang."""

import asyncio
from typing import Any, cast

import httpx
import pytest
from aiokafka.errors import KafkaConnectionError, KafkaTimeoutError, NodeNotReadyError
from fastapi import FastAPI
from faststream.exceptions import IncorrectState
from faststream.kafka import KafkaBroker

from tradelab_contracts.auth import AuthReply, GetPublicKeys
from tradelab_contracts.topics import AUTH_REQUESTS
from tradelab_gateway.adapters.rpc import RpcClient, ServiceUnavailableError
from tradelab_gateway.api.problems import install_problem_handlers
from tradelab_gateway.api.service_replies import install_unavailable_handlers

BROKER_FAILURES = [
    KafkaConnectionError("Unable to bootstrap from [('127.0.0.1', 9092)]"),
    KafkaTimeoutError(),
    NodeNotReadyError(),
    IncorrectState("Producer is not running"),
    ConnectionRefusedError(111, "Connection refused"),
]


class RefusingBroker:
    """A stand-in for the FastStream broker whose publish fails as a vanished one's does."""

    def __init__(self, error: BaseException | None) -> None:
        self.error = error

    async def publish(self, *_args: Any, **_kwargs: Any) -> None:
        if self.error is not None:
            raise self.error
        await asyncio.Event().wait()  # hangs, as aiokafka retrying for 40 s does


def client_over(error: BaseException | None) -> RpcClient:
    return RpcClient(cast("KafkaBroker", RefusingBroker(error)), "gateway-test", timeout_s=0.2)


@pytest.mark.asyncio
@pytest.mark.parametrize("error", [*BROKER_FAILURES, None], ids=repr)
async def test_a_refused_or_hung_publish_is_the_service_being_unavailable(
    error: BaseException | None,
) -> None:
    client = client_over(error)
    with pytest.raises(ServiceUnavailableError) as raised:
        async with asyncio.timeout(5):
            await client.call("auth", AUTH_REQUESTS, GetPublicKeys(reply_to="r"), AuthReply)
    assert raised.value.service == "auth"
    assert client._pending == {}


def make_app(error: Exception) -> FastAPI:
    app = FastAPI()
    install_problem_handlers(app)
    install_unavailable_handlers(app, retry_after_s=9)

    @app.get("/thing")
    async def thing() -> None:
        raise error

    return app


@pytest.mark.asyncio
@pytest.mark.parametrize("error", [*BROKER_FAILURES, ServiceUnavailableError("engine")], ids=repr)
async def test_a_broker_error_escaping_a_route_is_a_503_problem_with_retry_after(
    error: Exception,
) -> None:
    transport = httpx.ASGITransport(app=make_app(error), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://gw") as client:
        response = await client.get("/thing")
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["retry-after"] == "9"
    body = response.json()
    assert body["instance"] == "/thing"
    assert body["code"].endswith("_unavailable")
