"""The metrics module: one list of names, route templates as labels, scrape-time refreshes."""

from collections.abc import AsyncIterator

import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI, HTTPException
from prometheus_client.parser import text_string_to_metric_families

from tradelab_runtime.broker import make_broker
from tradelab_runtime.metrics import (
    HttpMetricsMiddleware,
    MetricName,
    ServiceMetrics,
    metrics_router,
    refresh,
    series_names,
)
from tradelab_runtime.metrics.names import UNMATCHED_ROUTE


def family_names(metrics: ServiceMetrics) -> set[str]:
    """The names of the registry's families as exposed (counters with ``_total``)."""
    names = set()
    for family in metrics.registry.collect():
        suffix = "_total" if family.type == "counter" else ""
        names.add(family.name + suffix)
    return names


def test_every_registered_metric_is_named_once_in_the_metric_names() -> None:
    metrics = ServiceMetrics()
    make_broker("127.0.0.1:9", "test", registry=metrics.registry)  # FastStream's own metrics
    assert family_names(metrics) == {str(name) for name in MetricName}


def test_histograms_expose_their_bucket_sum_and_count_series() -> None:
    names = series_names()
    assert f"{MetricName.JOB_DURATION}_count" in names
    assert f"{MetricName.HTTP_REQUEST_DURATION}_bucket" in names
    assert f"{MetricName.JOBS_FINISHED}_count" not in names


@pytest_asyncio.fixture
async def app_metrics() -> AsyncIterator[tuple[httpx.AsyncClient, ServiceMetrics]]:
    metrics = ServiceMetrics()
    app = FastAPI()

    @app.get("/items/{item_id}")
    async def item(item_id: int) -> dict[str, int]:
        if item_id == 0:
            raise HTTPException(404, "no such item")
        return {"id": item_id}

    app.include_router(metrics_router(metrics, token="s3cret"))
    app.add_middleware(HttpMetricsMiddleware, metrics=metrics)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client, metrics


def request_count(metrics: ServiceMetrics, route: str, status: str) -> float | None:
    labels = {"method": "GET", "route": route, "status": status}
    return metrics.registry.get_sample_value(f"{MetricName.HTTP_REQUEST_DURATION}_count", labels)


@pytest.mark.asyncio
async def test_requests_are_labelled_with_the_route_template_not_the_path(
    app_metrics: tuple[httpx.AsyncClient, ServiceMetrics],
) -> None:
    client, metrics = app_metrics
    for item_id in (1, 2, 3, 0):
        await client.get(f"/items/{item_id}")
    await client.get("/no/such/path/42")
    assert request_count(metrics, "/items/{item_id}", "200") == 3.0
    assert request_count(metrics, "/items/{item_id}", "404") == 1.0
    assert request_count(metrics, UNMATCHED_ROUTE, "404") == 1.0
    assert request_count(metrics, "/items/1", "200") is None


@pytest.mark.asyncio
async def test_metrics_endpoint_wants_the_token_when_one_is_set(
    app_metrics: tuple[httpx.AsyncClient, ServiceMetrics],
) -> None:
    client, _ = app_metrics
    assert (await client.get("/metrics")).status_code == 401
    wrong = {"Authorization": "Bearer wrong"}
    assert (await client.get("/metrics", headers=wrong)).status_code == 401
    response = await client.get("/metrics", headers={"Authorization": "Bearer s3cret"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    names = {family.name for family in text_string_to_metric_families(response.text)}
    assert str(MetricName.HTTP_REQUEST_DURATION) in names


def test_cache_stats_count_single_lookups_and_bulk_deltas() -> None:
    metrics = ServiceMetrics()
    stats = metrics.cache("results")
    stats.hit()
    stats.miss()
    stats.record(hits=5, misses=2)
    stats.record()

    def count(result: str) -> float | None:
        labels = {"cache": "results", "result": result}
        return metrics.registry.get_sample_value(MetricName.CACHE_REQUESTS, labels)

    assert (count("hit"), count("miss")) == (6.0, 3.0)


def test_a_finished_job_is_counted_by_outcome_and_timed_by_kind() -> None:
    metrics = ServiceMetrics()
    metrics.job_finished("backtest", "completed", 0.2)
    metrics.job_finished("backtest", "failed", 1.5)
    metrics.job_finished("backtest", "cancelled", None)
    sample = metrics.registry.get_sample_value
    assert sample(MetricName.JOBS_FINISHED, {"kind": "backtest", "outcome": "failed"}) == 1.0
    assert sample(f"{MetricName.JOB_DURATION}_count", {"kind": "backtest"}) == 2.0
    assert sample(f"{MetricName.JOB_DURATION}_sum", {"kind": "backtest"}) == pytest.approx(1.7)


def test_ingestions_add_their_rows_and_durations() -> None:
    metrics = ServiceMetrics()
    metrics.ingested("ready", 5000, 0.1)
    metrics.ingested("rejected", 0, 0.01)
    sample = metrics.registry.get_sample_value
    assert sample(MetricName.INGEST_ROWS) == 5000.0
    assert sample(f"{MetricName.INGEST_DURATION}_count", {"outcome": "ready"}) == 1.0


@pytest.mark.asyncio
async def test_a_failing_refresh_is_counted_and_the_others_still_run() -> None:
    metrics = ServiceMetrics()

    async def broken() -> None:
        raise ConnectionError("broker away")

    async def working() -> None:
        metrics.db_pool_size.set(5)

    metrics.refreshes.extend([broken, working])
    await refresh(metrics)
    sample = metrics.registry.get_sample_value
    assert sample(MetricName.SCRAPE_REFRESH_ERRORS) == 1.0
    assert sample(MetricName.DB_POOL_SIZE) == 5.0
