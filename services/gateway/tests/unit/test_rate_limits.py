"""Rate-limit rules and the login throttle, counted in `limits`' in-process storage."""

import hashlib
import time

import pytest
from limits.aio.storage import MemoryStorage

from tradelab_gateway.ratelimit.limiter import RateLimitedError, RateLimiter
from tradelab_gateway.ratelimit.login import after_failed_login, after_login, before_login
from tradelab_gateway.ratelimit.policy import LimitName, Rule, account_key, parse_rates
from tradelab_gateway.ratelimit.setup import rules_from
from tradelab_gateway.settings import GatewaySettings

OWNER = account_key("owner@example.com")


def limiter(**rates: str) -> RateLimiter:
    settings = GatewaySettings.model_validate({f"rate_limit_{n}": r for n, r in rates.items()})
    return RateLimiter(MemoryStorage(), rules_from(settings))


def test_every_limit_has_a_setting_with_a_default() -> None:
    rules = rules_from(GatewaySettings())
    assert set(rules) == set(LimitName)
    registration = rules[LimitName.REGISTRATION_PER_ADDRESS].rates
    assert [(r.amount, r.get_expiry()) for r in registration] == [(5, 60), (20, 3600)]


def test_malformed_rate_is_refused_at_start() -> None:
    with pytest.raises(ValueError, match="rate_limit_jobs_per_user"):
        GatewaySettings(rate_limit_jobs_per_user="lots")


def test_parse_rates_refuses_an_empty_text() -> None:
    with pytest.raises(ValueError, match="rate"):
        parse_rates("")


def test_account_key_hides_the_address_and_ignores_case() -> None:
    expected = hashlib.sha256(b"owner@example.com").hexdigest()[:32]
    assert account_key(" Owner@Example.com ") == expected
    assert "@" not in expected


@pytest.mark.asyncio
async def test_hit_refuses_past_the_rate_and_names_the_limit() -> None:
    rl = limiter(registration_per_address="3/minute")
    for _ in range(3):
        await rl.hit(LimitName.REGISTRATION_PER_ADDRESS, "203.0.113.9")
    with pytest.raises(RateLimitedError) as refused:
        await rl.hit(LimitName.REGISTRATION_PER_ADDRESS, "203.0.113.9")
    assert refused.value.limit is LimitName.REGISTRATION_PER_ADDRESS
    assert 1 <= refused.value.retry_after_s <= 60
    await rl.hit(LimitName.REGISTRATION_PER_ADDRESS, "198.51.100.7")  # another address


@pytest.mark.asyncio
async def test_retry_after_counts_from_the_oldest_request() -> None:
    rules = {LimitName.JOBS_PER_USER: Rule(LimitName.JOBS_PER_USER, parse_rates("1/minute"))}
    # The storage stamps entries with the wall clock; the limiter's clock reads 40 s later.
    rl = RateLimiter(MemoryStorage(), rules, clock=lambda: time.time() + 40)
    await rl.hit(LimitName.JOBS_PER_USER, "u")
    with pytest.raises(RateLimitedError) as refused:
        await rl.hit(LimitName.JOBS_PER_USER, "u")
    assert 19 <= refused.value.retry_after_s <= 21


async def fail(rl: RateLimiter, account: str, address: str, times: int) -> None:
    for _ in range(times):
        await before_login(rl, account, address)
        await after_failed_login(rl, account, address)


@pytest.mark.asyncio
async def test_failures_from_another_address_never_lock_the_owner_out() -> None:
    rl = limiter()
    with pytest.raises(RateLimitedError) as refused:
        await fail(rl, OWNER, "203.0.113.9", 8)
    assert refused.value.limit is LimitName.LOGIN_FAILURES_PER_ACCOUNT_ADDRESS
    await before_login(rl, OWNER, "198.51.100.7")  # the owner, elsewhere: not refused


@pytest.mark.asyncio
async def test_one_address_trying_many_accounts_is_throttled() -> None:
    rl = limiter(login_failures_per_address="4/15 minutes")
    for n in range(4):
        await fail(rl, account_key(f"user{n}@example.com"), "203.0.113.9", 1)
    with pytest.raises(RateLimitedError) as refused:
        await before_login(rl, account_key("user9@example.com"), "203.0.113.9")
    assert refused.value.limit is LimitName.LOGIN_FAILURES_PER_ADDRESS


@pytest.mark.asyncio
async def test_success_clears_the_pairs_failures() -> None:
    rl = limiter(login_failures_per_account_address="3/15 minutes")
    await fail(rl, OWNER, "203.0.113.9", 2)
    await after_login(rl, OWNER, "203.0.113.9")
    await fail(rl, OWNER, "203.0.113.9", 2)
    await before_login(rl, OWNER, "203.0.113.9")  # 2 since the success: below 3
