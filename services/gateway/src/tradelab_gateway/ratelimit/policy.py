"""The gateway's rate limits: their names, their rates and the keys they count under."""

import hashlib
from dataclasses import dataclass
from enum import StrEnum

from limits import RateLimitItem, parse_many


class LimitName(StrEnum):
    """Each rate limit; a refusal names the one that was reached."""

    REGISTRATION_PER_ADDRESS = "registration_per_address"
    LOGIN_PER_ADDRESS = "login_per_address"
    LOGIN_FAILURES_PER_ACCOUNT_ADDRESS = "login_failures_per_account_address"
    LOGIN_FAILURES_PER_ADDRESS = "login_failures_per_address"
    JOBS_PER_USER = "jobs_per_user"


@dataclass(frozen=True, slots=True)
class Rule:
    """One limit: its name and every rate it enforces (all must hold)."""

    name: LimitName
    rates: tuple[RateLimitItem, ...]


def parse_rates(text: str) -> tuple[RateLimitItem, ...]:
    """Parse ``"5/minute;20/hour"`` (the `limits` notation); ValueError when malformed."""
    rates = tuple(parse_many(text))
    if not rates:
        msg = f"no rate in {text!r}"
        raise ValueError(msg)
    return rates


def account_key(email: str) -> str:
    """Return the key that stands for an e-mail address: a hash, never the address itself.

    The address is normalised as the auth service stores it (stripped, lower-cased), so ``A@x``
    and ``a@x`` count as one account.
    """
    return hashlib.sha256(email.strip().lower().encode()).hexdigest()[:32]
