"""``GET /api/v1/system/health`` follows services as they stop, crash and come back."""

import time
from collections.abc import Callable

import httpx
import pytest

from tests.polling import wait_for
from tradelab_devstack.stack import Stack

pytestmark = pytest.mark.e2e

ALL_SERVICES = {"gateway", "auth", "datasets", "engine", "analytics"}
DOWN_WITHIN_S = 15  # the product promise: a stopped service is reported down within 15 s


def statuses(gateway: httpx.Client) -> dict[str, str]:
    body = gateway.get("/api/v1/system/health").raise_for_status().json()
    return {s["service"]: s["status"] for s in body["services"]}


def when(gateway: httpx.Client, service: str, status: str) -> Callable[[], dict[str, str] | None]:
    def probe() -> dict[str, str] | None:
        current = statuses(gateway)
        return current if current.get(service) == status else None

    return probe


def all_up(gateway: httpx.Client) -> dict[str, str] | None:
    current = statuses(gateway)
    return current if set(current) == ALL_SERVICES and set(current.values()) == {"up"} else None


def test_every_service_is_reported_up_once_the_stack_is_ready(gateway: httpx.Client) -> None:
    current = wait_for(lambda: all_up(gateway), 30, "all five services reported up")
    assert current == dict.fromkeys(ALL_SERVICES, "up")
    body = gateway.get("/api/v1/system/health").json()
    assert body["status"] == "up"
    for service in body["services"]:
        # A service restarted by an earlier test keeps its stopped instance (no checks) listed
        # until it is pruned: the instances that are up are the ones to look at.
        live = [i for i in service["instances"] if i["status"] == "up"]
        assert live, service
        assert all(i["checks"]["broker"] is True for i in live), service


def test_killed_service_is_reported_down_then_up_again_after_restart(
    stack: Stack, gateway: httpx.Client
) -> None:
    wait_for(lambda: all_up(gateway), 30, "all five services reported up")
    engine = stack.processes["engine"]
    engine.kill()  # SIGKILL: no goodbye heartbeat, only silence
    killed_at = time.monotonic()
    after = wait_for(when(gateway, "engine", "down"), DOWN_WITHIN_S, "engine reported down")
    assert time.monotonic() - killed_at <= DOWN_WITHIN_S
    assert {s for s, v in after.items() if v == "up"} == ALL_SERVICES - {"engine"}

    engine.start()
    wait_for(lambda: all_up(gateway), 60, "engine reported up again after restart")


def test_gracefully_stopped_service_is_reported_down_at_once(
    stack: Stack, gateway: httpx.Client
) -> None:
    wait_for(lambda: all_up(gateway), 30, "all five services reported up")
    analytics = stack.processes["analytics"]
    analytics.stop()
    # The stopping heartbeat arrives well before the silence timeout would.
    wait_for(when(gateway, "analytics", "down"), 5, "analytics reported down after SIGTERM")
    analytics.start()
    wait_for(lambda: all_up(gateway), 60, "analytics reported up again")
