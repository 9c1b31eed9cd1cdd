"""``/api/v1/performance/*`` through the gateway: an administrator (created by auth at start-up
from ``AUTH_ADMIN_EMAIL`` / ``AUTH_ADMIN_PASSWORD``) reads every report with figures that match
what the test did; a user is refused with 403, anyone without a token with 401."""

from typing import Any

import httpx
import pytest

from tests.e2e.conftest import E2E_ENV
from tests.e2e.helpers import auth, forwarded_for, register, run_to_end, upload_goog
from tests.polling import wait_for

pytestmark = pytest.mark.e2e
REPORTS = ("system", "database", "cache", "jobs")
SERVICES = {"gateway", "auth", "datasets", "engine", "analytics"}


@pytest.fixture
def admin_token(gateway: httpx.Client) -> str:
    response = gateway.post(
        "/api/v1/auth/login",
        json={"email": E2E_ENV["AUTH_ADMIN_EMAIL"], "password": E2E_ENV["AUTH_ADMIN_PASSWORD"]},
        headers=forwarded_for(),
    )
    assert response.status_code == 200, response.text
    token: str = response.json()["access_token"]
    return token


def report(gateway: httpx.Client, token: str, name: str) -> dict[str, Any]:
    response = gateway.get(f"/api/v1/performance/{name}", headers=auth(token))
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


@pytest.mark.parametrize("name", REPORTS)
def test_a_user_is_forbidden_and_anyone_without_a_token_unauthorized(
    gateway: httpx.Client, name: str
) -> None:
    anonymous = gateway.get(f"/api/v1/performance/{name}")
    assert (anonymous.status_code, anonymous.json()["code"]) == (401, "unauthorized")
    user = gateway.get(f"/api/v1/performance/{name}", headers=auth(register(gateway, "perf")))
    assert user.status_code == 403
    assert user.headers["content-type"] == "application/problem+json"
    assert user.json()["code"] == "forbidden"


def test_system_reports_every_instances_process_and_this_gateways(
    gateway: httpx.Client, admin_token: str
) -> None:
    def every_service_reports() -> dict[str, Any] | None:
        body = report(gateway, admin_token, "system")
        reporting = {
            s["service"]
            for s in body["services"]
            if any(i["status"] == "up" and i["process"] for i in s["instances"])
        }
        return body if reporting >= SERVICES else None

    body = wait_for(every_service_reports, 30, "every service's heartbeat with its figures")
    own = body["gateway"]["process"]
    assert own["rss_bytes"] > 10 * 1024 * 1024  # a Python process with FastAPI loaded
    assert own["threads"] >= 1
    assert own["db_pool"] is None  # the gateway has no database
    for service in body["services"]:
        for instance in (i for i in service["instances"] if i["status"] == "up"):
            process = instance["process"]
            assert process["rss_bytes"] > 0
            assert process["uptime_s"] > 0
            has_database = service["service"] != "gateway"
            assert (process["db_pool"] is not None) == has_database, service["service"]


def test_database_lists_the_engines_tables_and_each_services_connections(
    gateway: httpx.Client, admin_token: str
) -> None:
    response = gateway.get(
        "/api/v1/performance/database", headers=auth(admin_token), params={"top": 100}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    tables = {(t["schema_name"], t["table"]) for t in body["tables"]}
    assert {("engine", "runs"), ("engine", "optimizations"), ("auth", "users")} <= tables
    applications = {c["application_name"] for c in body["connections"]}
    assert "tradelab-engine" in applications  # the connection answering this very report
    assert body["database_bytes"] >= sum(t["total_bytes"] for t in body["tables"])
    assert body["statements"]["available"] in (True, False)
    if not body["statements"]["available"]:
        assert "pg_stat_statements" in body["statements"]["reason"]
    limited = gateway.get(
        "/api/v1/performance/database", headers=auth(admin_token), params={"top": 2}
    ).json()
    assert len(limited["tables"]) == 2


def test_cache_reports_the_redis_the_rate_limits_use(
    gateway: httpx.Client, admin_token: str
) -> None:
    body = report(gateway, admin_token, "cache")
    redis = body["redis"]
    # Every request above went through the rate limits, whose counters live in this Redis.
    assert redis["keys"] > 0
    assert redis["used_memory_bytes"] > 0
    looked_up = redis["hits"] + redis["misses"]
    if looked_up:
        assert redis["hit_ratio"] == pytest.approx(redis["hits"] / looked_up)


def test_jobs_shows_a_backtest_just_completed(gateway: httpx.Client, admin_token: str) -> None:
    token = register(gateway, "perf-jobs")
    dataset_id = upload_goog(gateway, token)
    before = report(gateway, admin_token, "jobs")
    run = run_to_end(
        gateway,
        token,
        {"dataset_id": dataset_id, "strategy": "sma_cross", "parameters": {"fast": 7, "slow": 31}},
    )
    assert run["status"] == "completed", run
    after = report(gateway, admin_token, "jobs")

    def completed(body: dict[str, Any], window_s: int) -> int:
        [row] = [
            t for t in body["throughput"] if t["kind"] == "backtest" and t["window_s"] == window_s
        ]
        count: int = row["completed"]
        return count

    # Other modules' jobs may end meanwhile (and old ones leave the 5-minute window): at least.
    assert completed(after, 3600) >= completed(before, 3600) + 1
    assert completed(after, 300) >= 1
    counts = {(c["kind"], c["status"]): c["count"] for c in after["counts"]}
    assert counts[("backtest", "completed")] >= 1
    [durations] = [d for d in after["durations"] if d["kind"] == "backtest"]
    assert durations["count"] >= 1
    assert 0 <= durations["p50_ms"] <= durations["max_ms"]
    assert after["instance_id"]
    assert all(lag["lag"] >= 0 for lag in after["lag"])
