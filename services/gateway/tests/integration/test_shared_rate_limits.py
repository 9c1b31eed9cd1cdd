"""Two limiters on one Redis, as two gateway replicas would be, share every count."""

import secrets
import time
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
import redis.asyncio as aioredis

from tradelab_devstack.ports import free_port
from tradelab_devstack.redis import RedisServer
from tradelab_gateway.ratelimit.limiter import (
    RateLimitedError,
    RateLimiter,
    RateLimitUnavailableError,
)
from tradelab_gateway.ratelimit.login import after_failed_login, before_login
from tradelab_gateway.ratelimit.policy import LimitName, account_key
from tradelab_gateway.ratelimit.setup import build_rate_limiter
from tradelab_gateway.settings import GatewaySettings

pytestmark = [pytest.mark.integration, pytest.mark.asyncio]


def settings(redis_url: str, prefix: str) -> GatewaySettings:
    return GatewaySettings.model_validate(
        {
            "redis_url": redis_url,
            "rate_limit_prefix": prefix,
            "rate_limit_registration_per_address": "3/minute",
            "rate_limit_timeout_s": 0.5,
        }
    )


@pytest.fixture
def prefix() -> str:
    """A key prefix of the test's own, so parallel runs on one Redis never meet."""
    return f"test-{secrets.token_hex(6)}"


@pytest_asyncio.fixture
async def replicas(redis: RedisServer, prefix: str) -> AsyncIterator[list[RateLimiter]]:
    limiters = [build_rate_limiter(settings(redis.url, prefix)) for _ in range(2)]
    yield limiters
    for limiter in limiters:
        await limiter.aclose()


async def keys_under(redis_url: str, prefix: str) -> list[str]:
    client = aioredis.Redis.from_url(redis_url, decode_responses=True)
    try:
        return [key async for key in client.scan_iter(match=f"{prefix}*")]
    finally:
        await client.aclose()


async def test_two_replicas_count_one_registration_limit(replicas: list[RateLimiter]) -> None:
    first, second = replicas
    await first.hit(LimitName.REGISTRATION_PER_ADDRESS, "203.0.113.9")
    await second.hit(LimitName.REGISTRATION_PER_ADDRESS, "203.0.113.9")
    await first.hit(LimitName.REGISTRATION_PER_ADDRESS, "203.0.113.9")
    with pytest.raises(RateLimitedError) as refused:
        await second.hit(LimitName.REGISTRATION_PER_ADDRESS, "203.0.113.9")
    assert refused.value.limit is LimitName.REGISTRATION_PER_ADDRESS
    assert 1 <= refused.value.retry_after_s <= 60
    await second.hit(LimitName.REGISTRATION_PER_ADDRESS, "198.51.100.7")


async def test_failures_on_one_replica_throttle_the_pair_on_the_other(
    replicas: list[RateLimiter], redis: RedisServer, prefix: str
) -> None:
    first, second = replicas
    account = account_key("Owner@Example.com")
    for _ in range(5):  # the default: 5 failures per (account, address) in 15 minutes
        await before_login(first, account, "203.0.113.9")
        await after_failed_login(first, account, "203.0.113.9")
    with pytest.raises(RateLimitedError) as refused:
        await before_login(second, account, "203.0.113.9")
    assert refused.value.limit is LimitName.LOGIN_FAILURES_PER_ACCOUNT_ADDRESS
    await before_login(second, account, "198.51.100.7")  # the owner elsewhere
    stored = await keys_under(redis.url, prefix)
    assert any(account in key for key in stored)
    assert not any("@" in key or "owner" in key.lower() for key in stored)


async def test_unreachable_redis_is_unavailable_promptly(prefix: str) -> None:
    limiter = build_rate_limiter(settings(f"redis://127.0.0.1:{free_port()}/0", prefix))
    started = time.monotonic()
    try:
        with pytest.raises(RateLimitUnavailableError):
            await limiter.hit(LimitName.REGISTRATION_PER_ADDRESS, "203.0.113.9")
    finally:
        await limiter.aclose()
    elapsed = time.monotonic() - started
    print(f"refused after {elapsed:.3f} s")
