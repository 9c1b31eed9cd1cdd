"""Issue 14, rate limits: failed logins from one address never lock the owner out from another,
a burst of registrations from one address meets 429 instead of queueing argon2 work, and job
submissions are limited per user. Each refusal names its limit, memory stays bounded and every
service stays healthy.

The stack keeps the default limits; these tests act as the trusted proxy and name the client's
address in X-Forwarded-For. Prints the measured figures."""

import secrets
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack

import httpx
import pytest

from tests.e2e.abuse import (
    MEMORY_BOUND_MIB,
    Growth,
    assert_all_healthy,
    assert_within_bound,
    memory_growth,
    memory_growths,
)
from tests.e2e.helpers import assert_rate_limited, auth, forwarded_for
from tradelab_devstack.stack import Stack

pytestmark = pytest.mark.e2e

PASSWORD = "correct horse battery staple"
# The defaults of GATEWAY_RATE_LIMIT_*, which the e2e stack keeps.
FAILURES_PER_ACCOUNT_ADDRESS = 5
REGISTRATIONS_PER_ADDRESS = 5
JOBS_PER_USER = 60
REGISTRATIONS, AT_ONCE = 200, 32
WRONG_PASSWORDS = 8
JOB_POSTS = ("/api/v1/monte-carlo", "/api/v1/optimizations", "/api/v1/backtests/quick")


def new_email() -> str:
    return f"abuse-{secrets.token_hex(5)}@example.com"


def assert_bounded(growths: dict[str, Growth]) -> str:
    """Check every growth is within the bound; what they were, for the printed figures."""
    assert_within_bound(growths)
    return ", ".join(
        f"{n} +{g.grown_mib:.1f} MiB (peak {g.peak_mib:.0f})" for n, g in growths.items()
    )


def test_wrong_passwords_from_one_address_never_lock_the_owner_out_elsewhere(
    stack: Stack, gateway: httpx.Client
) -> None:
    email = new_email()
    owner, attacker = forwarded_for(), forwarded_for("203.0.113.66")
    created = gateway.post(
        "/api/v1/auth/register", json={"email": email, "password": PASSWORD}, headers=owner
    )
    assert created.status_code == 201, created.text
    wrong = {"email": email, "password": "not the password at all"}
    with ExitStack() as exits:
        growths = memory_growths(stack, ("gateway", "auth"), exits)
        answers = [
            gateway.post("/api/v1/auth/login", json=wrong, headers=attacker)
            for _ in range(WRONG_PASSWORDS)
        ]
        started = time.monotonic()
        login = gateway.post(
            "/api/v1/auth/login", json={"email": email, "password": PASSWORD}, headers=owner
        )
        seconds = time.monotonic() - started
    statuses = [a.status_code for a in answers]
    print(
        f"\n{WRONG_PASSWORDS} wrong passwords from one address: {statuses}; the owner's login "
        f"from another: {login.status_code} in {seconds:.3f} s; {assert_bounded(growths)}"
    )
    assert statuses == [401] * FAILURES_PER_ACCOUNT_ADDRESS + [429] * (
        WRONG_PASSWORDS - FAILURES_PER_ACCOUNT_ADDRESS
    )
    assert_rate_limited(answers[-1], "login_failures_per_account_address")
    assert login.status_code == 200, login.text
    assert login.json()["user"]["email"] == email
    assert_all_healthy(stack)


def test_a_burst_of_registrations_from_one_address_meets_429_not_5xx(
    stack: Stack, gateway: httpx.Client
) -> None:
    address = forwarded_for()
    client = httpx.Client(
        base_url=stack.gateway_url, timeout=30, limits=httpx.Limits(max_connections=AT_ONCE)
    )

    def register(_: int) -> httpx.Response:
        body = {"email": new_email(), "password": PASSWORD}
        return client.post("/api/v1/auth/register", json=body, headers=address)

    with client, ExitStack() as exits:
        growths = memory_growths(stack, ("gateway", "auth"), exits)
        started = time.monotonic()
        with ThreadPoolExecutor(AT_ONCE) as pool:
            answers = list(pool.map(register, range(REGISTRATIONS)))
        burst_s = time.monotonic() - started
    statuses = Counter(a.status_code for a in answers)
    # A login right after, by one of the accounts that was created.
    created = next(a for a in answers if a.status_code == 201)
    login_started = time.monotonic()
    login = gateway.post(
        "/api/v1/auth/login",
        json={"email": created.json()["user"]["email"], "password": PASSWORD},
    )
    login_s = time.monotonic() - login_started
    print(
        f"\n{REGISTRATIONS} registrations, {AT_ONCE} at a time: {dict(statuses)} in "
        f"{burst_s:.2f} s; a login right after: {login.status_code} in {login_s:.3f} s; "
        f"{assert_bounded(growths)}"
    )
    assert statuses == {
        201: REGISTRATIONS_PER_ADDRESS,
        429: REGISTRATIONS - REGISTRATIONS_PER_ADDRESS,
    }
    assert_rate_limited(
        next(a for a in answers if a.status_code == 429), "registration_per_address"
    )
    assert login.status_code == 200, login.text
    assert_all_healthy(stack)


def test_job_submissions_beyond_the_per_user_rate_answer_429(
    stack: Stack, gateway: httpx.Client, user_token: str
) -> None:
    # Empty bodies: each is counted (the limit is checked before the body is read) and then
    # refused as invalid, so no job runs while the limit is reached.
    with memory_growth(stack, "gateway") as growth:
        answers = [
            gateway.post("/api/v1/backtests", json={}, headers=auth(user_token))
            for _ in range(JOBS_PER_USER + 1)
        ]
        others = [gateway.post(path, json={}, headers=auth(user_token)) for path in JOB_POSTS]
    statuses = Counter(a.status_code for a in answers)
    print(
        f"\n{JOBS_PER_USER + 1} job submissions by one user: {dict(statuses)}; gateway "
        f"+{growth.grown_mib:.1f} MiB"
    )
    assert statuses == {422: JOBS_PER_USER, 429: 1}
    assert_rate_limited(answers[-1], "jobs_per_user")
    for response in others:  # every job POST shares the user's count
        assert_rate_limited(response, "jobs_per_user")
    assert growth.grown_mib < MEMORY_BOUND_MIB
    # Another user is not affected.
    other = gateway.post(
        "/api/v1/auth/register",
        json={"email": new_email(), "password": PASSWORD},
        headers=forwarded_for(),
    )
    fresh = gateway.post("/api/v1/backtests", json={}, headers=auth(other.json()["access_token"]))
    assert fresh.status_code == 422
    assert_all_healthy(stack)
