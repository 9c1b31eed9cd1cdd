"""A real Prometheus (Debian's package, ``make prometheus``) scrapes every service of the stack,
and a backtest run through the gateway comes back as a job-duration series through its HTTP API."""

import secrets
import shutil
import subprocess
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from tests.e2e.helpers import auth, minute_bars_csv, register, run_to_end
from tests.polling import wait_for
from tradelab_contracts.topics import BACKTEST_COMPLETED
from tradelab_devstack.ports import free_port, wait_for_port
from tradelab_devstack.stack import Stack
from tradelab_runtime.metrics import MetricName

SCRAPE_INTERVAL = "2s"
"""Short, so the test waits little; each scrape may take as long (the engine's asks the broker for
its 13 groups' offsets and the database for its queues, on a busy 2-core machine)."""


def scrape_config(stack: Stack) -> dict[str, Any]:
    """One job per service, each scraping its own port's ``/metrics``."""
    return {
        "global": {
            "scrape_interval": SCRAPE_INTERVAL,
            "scrape_timeout": SCRAPE_INTERVAL,
            "evaluation_interval": SCRAPE_INTERVAL,
        },
        "scrape_configs": [
            {
                "job_name": name,
                "metrics_path": "/metrics",
                "static_configs": [{"targets": [f"127.0.0.1:{process.port}"]}],
            }
            for name, process in sorted(stack.processes.items())
        ],
    }


@pytest.fixture(scope="module")
def prometheus(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A Prometheus server scraping the stack every second; its base URL."""
    binary = shutil.which("prometheus")
    assert binary is not None, "no prometheus binary: run `make prometheus`"
    home = tmp_path_factory.mktemp("prometheus")
    config = home / "prometheus.yml"
    config.write_text(yaml.safe_dump(scrape_config(stack)), encoding="utf-8")
    port = free_port()
    log = (home / "prometheus.log").open("wb")
    process = subprocess.Popen(
        [
            binary,
            f"--config.file={config}",
            f"--storage.tsdb.path={home / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_for_port("127.0.0.1", port, 30)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()


def query(prometheus: str, promql: str) -> list[dict[str, Any]]:
    """The instant vector ``promql`` evaluates to now."""
    response = httpx.get(f"{prometheus}/api/v1/query", params={"query": promql}, timeout=5)
    response.raise_for_status()
    body = response.json()
    assert body["status"] == "success", body
    result: list[dict[str, Any]] = body["data"]["result"]
    return result


def targets_when_all_up(prometheus: str, expected: int, deadline_s: float) -> list[dict[str, Any]]:
    """Prometheus' targets once ``expected`` of them are all up; fail naming the others."""
    end = time.monotonic() + deadline_s
    while True:
        response = httpx.get(f"{prometheus}/api/v1/targets", timeout=5)
        targets: list[dict[str, Any]] = response.json()["data"]["activeTargets"]
        if len(targets) == expected and all(t["health"] == "up" for t in targets):
            return targets
        if time.monotonic() > end:
            states = [(t["labels"]["job"], t["health"], t["lastError"]) for t in targets]
            pytest.fail(f"not every service scraped within {deadline_s:.0f} s: {states}")
        time.sleep(0.5)


def run_fresh_backtest(gateway: httpx.Client) -> dict[str, Any]:
    """A completed backtest of a series no other test uploaded (so no earlier result is reused)."""
    token = register(gateway, "prometheus")
    created = gateway.post(
        "/api/v1/datasets",
        headers=auth(token),
        files={"file": ("bars.csv", minute_bars_csv(600, seed=secrets.randbits(32)), "text/csv")},
    )
    assert created.status_code == 202, created.text
    dataset_id = created.json()["id"]

    def ready() -> str | None:
        body = gateway.get(f"/api/v1/datasets/{dataset_id}", headers=auth(token)).json()
        assert body["status"] != "failed", body
        return dataset_id if body["status"] == "ready" else None

    wait_for(ready, 60, "bars ingested")
    return run_to_end(gateway, token, {"dataset_id": dataset_id, "strategy": "buy_and_hold"})


def test_prometheus_scrapes_every_service_and_reads_back_the_backtest_duration(
    stack: Stack, gateway: httpx.Client, prometheus: str
) -> None:
    run = run_fresh_backtest(gateway)
    assert run["status"] == "completed", run

    targets = targets_when_all_up(prometheus, len(stack.processes), 60)
    assert {t["labels"]["job"] for t in targets} == set(stack.processes)

    promql = f'{MetricName.JOB_DURATION}_count{{job="engine",kind="backtest"}}'

    def durations() -> list[dict[str, Any]] | None:
        result = query(prometheus, promql)
        return result if result and float(result[0]["value"][1]) >= 1 else None

    (series,) = wait_for(durations, 30, "a backtest duration in Prometheus")
    assert series["metric"]["kind"] == "backtest"
    completed = query(prometheus, f'{MetricName.JOBS_FINISHED}{{kind="backtest"}}')
    assert any(s["metric"]["outcome"] == "completed" for s in completed)
    # The run's completion, consumed by analytics (an idle engine claims a run in its submission,
    # so the run may have had no `backtest.requested` message to consume).
    consumed = query(
        prometheus, f'{MetricName.KAFKA_RECEIVED}{{job="analytics",handler="{BACKTEST_COMPLETED}"}}'
    )
    assert sum(float(s["value"][1]) for s in consumed) >= 1
    rows = query(prometheus, f"{MetricName.INGEST_ROWS}")
    assert sum(float(s["value"][1]) for s in rows) >= 600


def families(url: str) -> dict[str, Any]:
    response = httpx.get(f"{url}/metrics", timeout=10)
    assert response.status_code == 200, response.text
    return {family.name: family for family in text_string_to_metric_families(response.text)}


def test_every_service_exposes_http_kafka_lag_and_pool_series(
    stack: Stack, gateway: httpx.Client
) -> None:
    # A registration, an upload and a backtest: every service consumes messages (this test does
    # not lean on another one having run first).
    assert run_fresh_backtest(gateway)["status"] == "completed"
    for name, process in stack.processes.items():
        # Counters are named without ``_total`` in a parsed family.
        exposed = families(process.url)
        assert str(MetricName.HTTP_REQUEST_DURATION) in exposed, name
        assert str(MetricName.KAFKA_CONSUMER_LAG) in exposed, name
        lag = exposed[str(MetricName.KAFKA_CONSUMER_LAG)]
        assert {s.labels["group"] for s in lag.samples}, f"{name} reports no consumer group"
        received = exposed[MetricName.KAFKA_RECEIVED.removesuffix("_total")]
        assert received.samples, f"{name} counted no message received"
        if name != "gateway":
            pool = exposed[str(MetricName.DB_POOL_SIZE)]
            assert pool.samples[0].value >= 1, name
    engine = families(stack.processes["engine"].url)
    depth = engine[str(MetricName.JOB_QUEUE_DEPTH)]
    kinds = {s.labels["kind"] for s in depth.samples}
    assert kinds == {"backtest", "optimization", "monte_carlo"}


def test_a_request_is_labelled_with_its_route_template(stack: Stack, gateway: httpx.Client) -> None:
    token = register(gateway, "routes")
    missing = "00000000-0000-4000-8000-000000000000"
    assert gateway.get(f"/api/v1/backtests/{missing}", headers=auth(token)).status_code == 404
    exposed = families(stack.gateway_url)
    routes = {s.labels["route"] for s in exposed[str(MetricName.HTTP_REQUEST_DURATION)].samples}
    assert "/api/v1/backtests/{run_id}" in routes
    assert not any(missing in route for route in routes)
