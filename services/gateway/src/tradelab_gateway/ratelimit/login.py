"""Login throttling: failures count per (account, address) and per address, never per account.

An attacker at address X who fails against someone's e-mail only exhausts X's counts, so the
owner at address Y still logs in; guessing one account's password from one address, and trying
many accounts from one address, are both slowed.
"""

from .limiter import RateLimiter
from .policy import LimitName


async def before_login(limiter: RateLimiter, account: str, address: str) -> None:
    """Count the attempt and refuse it when the address or the pair is throttled."""
    await limiter.hit(LimitName.LOGIN_PER_ADDRESS, address)
    await limiter.check(LimitName.LOGIN_FAILURES_PER_ACCOUNT_ADDRESS, account, address)
    await limiter.check(LimitName.LOGIN_FAILURES_PER_ADDRESS, address)


async def after_failed_login(limiter: RateLimiter, account: str, address: str) -> None:
    """Count a wrong password (or unknown account) for the pair and for the address."""
    await limiter.count(LimitName.LOGIN_FAILURES_PER_ACCOUNT_ADDRESS, account, address)
    await limiter.count(LimitName.LOGIN_FAILURES_PER_ADDRESS, address)


async def after_login(limiter: RateLimiter, account: str, address: str) -> None:
    """Forget the pair's failures once the right password was given from that address."""
    await limiter.clear(LimitName.LOGIN_FAILURES_PER_ACCOUNT_ADDRESS, account, address)
