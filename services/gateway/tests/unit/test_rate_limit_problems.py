"""A rate-limit refusal is 429 problem+json naming the limit; a silent Redis is 503."""

import httpx
import pytest
from fastapi import FastAPI

from tradelab_gateway.api.problems import install_problem_handlers
from tradelab_gateway.api.rate_limits import install_rate_limit_handlers
from tradelab_gateway.ratelimit.limiter import RateLimitedError, RateLimitUnavailableError
from tradelab_gateway.ratelimit.policy import LimitName

RETRY_AFTER_S = 5


def make_app() -> FastAPI:
    app = FastAPI()
    install_problem_handlers(app)
    install_rate_limit_handlers(app, RETRY_AFTER_S)

    @app.post("/limited")
    async def limited() -> None:
        raise RateLimitedError(LimitName.REGISTRATION_PER_ADDRESS, 42)

    @app.post("/no-redis")
    async def no_redis() -> None:
        raise RateLimitUnavailableError("Timeout connecting to server")

    return app


async def post(path: str) -> httpx.Response:
    transport = httpx.ASGITransport(app=make_app(), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://gw") as client:
        return await client.post(path)


@pytest.mark.asyncio
async def test_refusal_names_the_limit_with_retry_after() -> None:
    response = await post("/limited")
    assert response.status_code == 429
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["retry-after"] == "42"
    body = response.json()
    assert (body["code"], body["rate_limit"], body["retry_after_s"]) == (
        "rate_limited",
        "registration_per_address",
        42,
    )
    assert "registration_per_address" in body["detail"]


@pytest.mark.asyncio
async def test_unreachable_redis_fails_closed_with_503() -> None:
    response = await post("/no-redis")
    assert response.status_code == 503
    assert response.headers["retry-after"] == str(RETRY_AFTER_S)
    body = response.json()
    assert body["code"] == "rate_limit_unavailable"
    assert "Timeout" not in body["detail"]  # nothing of the driver's message leaks
