"""Login throttling arithmetic: how many recent failures a key has, and how long to wait.

Failures are counted per e-mail address (slows guessing one account's password) and per client
address (slows one client trying many accounts) over a sliding window.
"""

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True, slots=True)
class ThrottleLimits:
    """How many failed logins are allowed within ``window``.

    Parameters
    ----------
    max_per_email
        Failures allowed per e-mail address.
    max_per_ip
        Failures allowed per client address.
    window
        How far back failures count.
    """

    max_per_email: int
    max_per_ip: int
    window: timedelta


def email_key(normalised_email: str) -> str:
    """Return the throttle key of an e-mail address (already normalised)."""
    return f"email:{normalised_email}"


def ip_key(client_address: str) -> str:
    """Return the throttle key of a client address."""
    return f"ip:{client_address}"


def retry_after_s(
    failures: Iterable[datetime], limit: int, window: timedelta, now: datetime
) -> int | None:
    """Return how many seconds a key must wait, or None when it may try now.

    Parameters
    ----------
    failures
        When the key's failed logins happened (any order; those outside the window are ignored).
    limit
        Failures within the window that block further attempts.
    window
        How far back failures count.
    now
        The current time.

    Returns
    -------
    int or None
        None below the limit; otherwise the whole seconds (at least 1) until enough failures
        leave the window to drop below the limit: the oldest counted one when exactly at it.
    """
    recent = sorted(t for t in failures if t > now - window)
    if len(recent) < limit:
        return None
    # Once this one leaves the window, only limit - 1 failures remain.
    releasing = recent[len(recent) - limit]
    wait = (releasing + window - now).total_seconds()
    return max(1, math.ceil(wait))


def throttle_wait(
    email_failures: Iterable[datetime],
    ip_failures: Iterable[datetime],
    limits: ThrottleLimits,
    now: datetime,
) -> int | None:
    """Return the seconds to wait before a login may be tried, or None when it may go ahead.

    Parameters
    ----------
    email_failures, ip_failures
        Recent failure times of the e-mail key and of the client-address key.
    limits
        The configured limits.
    now
        The current time.
    """
    waits = [
        retry_after_s(email_failures, limits.max_per_email, limits.window, now),
        retry_after_s(ip_failures, limits.max_per_ip, limits.window, now),
    ]
    blocking = [w for w in waits if w is not None]
    return max(blocking) if blocking else None
