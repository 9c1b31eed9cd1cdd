"""The load test's report: percentiles, failure reasons, grouping by endpoint, the table."""

import json
import math

import numpy as np
import pytest
from load_summary import LATENCY, LIGHT, TASK, Sample, failure_reason, percentile, report, summarise


@pytest.mark.parametrize("q", [0, 1, 50, 95, 99, 99.9, 100])
@pytest.mark.parametrize("n", [1, 2, 7, 100, 1001])
def test_percentile_matches_numpy_linear_interpolation(n: int, q: float) -> None:
    values = list(np.random.default_rng(n).lognormal(3, 1, n))
    assert percentile(values, q) == pytest.approx(float(np.percentile(values, q)), rel=1e-12)


def test_percentile_of_nothing_is_nan() -> None:
    assert math.isnan(percentile([], 50))


def test_failure_reason_names_the_problem_code_and_the_rate_limit() -> None:
    limited = {"code": "rate_limited", "rate_limit": "jobs_per_user", "detail": "slow down"}
    assert failure_reason(429, json.dumps(limited)) == "HTTP 429 rate_limited jobs_per_user"
    assert failure_reason(409, '{"code": "not_ready"}') == "HTTP 409 not_ready"
    assert failure_reason(502, "<html>bad gateway</html>") == "HTTP 502"
    assert failure_reason(500, "[1, 2]") == "HTTP 500"
    assert failure_reason(0, "", "ConnectionRefusedError") == "no response (ConnectionRefusedError)"


def test_summary_groups_by_route_and_counts_job_latencies_apart() -> None:
    samples = [
        *(Sample("GET", "/api/v1/backtests/{run_id}", float(ms)) for ms in range(1, 101)),
        Sample("POST", "/api/v1/backtests", 30.0),
        Sample("POST", "/api/v1/backtests", 40.0, "HTTP 429 rate_limited jobs_per_user"),
        Sample(LATENCY, LIGHT, 200.0),
        Sample(LATENCY, LIGHT, 400.0, "backtest failed"),
        Sample(TASK, "WatcherUser", 0.0, "ConnectionClosedError: no close frame"),
    ]
    summary = summarise(samples, seconds=51.0)
    assert summary.requests == 102  # neither job latencies nor failed tasks are requests
    assert summary.throughput == pytest.approx(2.0)
    get, post = summary.rows
    assert (get.method, get.count, get.errors) == ("GET", 100, 0)
    assert (get.p50, get.p95, get.p99, get.max) == pytest.approx((50.5, 95.05, 99.01, 100.0))
    assert (post.method, post.count, post.errors, post.p50) == ("POST", 2, 1, 35.0)
    (light,) = summary.latencies
    assert (light.count, light.errors, light.p50) == (2, 1, 300.0)
    assert summary.error_count == 3
    assert summary.errors == {
        "POST /api/v1/backtests: HTTP 429 rate_limited jobs_per_user": 1,
        f"{LATENCY} {LIGHT}: backtest failed": 1,
        f"{TASK} WatcherUser: ConnectionClosedError: no close frame": 1,
    }


def test_report_prints_totals_a_row_per_endpoint_the_light_user_and_the_errors() -> None:
    samples = [
        Sample("GET", "/api/v1/analytics/{run_id}", 12.0),
        Sample("GET", "/api/v1/analytics/{run_id}", 18.0),
        Sample(LATENCY, LIGHT, 150.0),
        Sample("WS", "/api/v1/ws", 5.0, "socket closed"),
    ]
    lines = report(summarise(samples, seconds=10.0)).splitlines()
    assert lines[0] == "requests: 3 in 10 s, throughput 0.3 req/s, errors: 1"
    analytics = next(line for line in lines if "GET /api/v1/analytics/{run_id}" in line)
    assert [cell.strip() for cell in analytics.strip("|").split("|")] == [
        "GET /api/v1/analytics/{run_id}", "2", "0", "15", "18", "18", "18",
    ]  # fmt: skip
    assert (
        "light user's backtest while the heavy user floods: p50 150 ms, p95 150 ms, "
        "p99 150 ms (1 backtests)"
    ) in lines
    assert lines[-2:] == ["errors: 1", "       1 x WS /api/v1/ws: socket closed"]
