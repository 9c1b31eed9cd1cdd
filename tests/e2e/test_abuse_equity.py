"""Issue 14, a 2,000,000-bar equity curve: JSON is thinned to ``GATEWAY_EQUITY_MAX_POINTS``, more
points are refused naming the download, and the full curve streams as Parquet or CSV, while the
gateway and the engine it asks stay within the memory bound and every service stays healthy.

Measured before the bound: ``GET /equity`` without ``points`` on such a run took 8.3-8.6 s with
the gateway at 2.26-2.30 GiB.

The e2e engine paces backtests (a 0.1 s pause every 500 bars: 400 s for 2,000,000 bars), so this
module swaps it for an unpaced replica of the same build for its duration.
"""

import time
from collections.abc import Iterator
from contextlib import ExitStack
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import polars as pl
import pyarrow.parquet as pq
import pytest

from tests.e2e.abuse import (
    Growth,
    assert_all_healthy,
    assert_within_bound,
    memory_growth,
    memory_growths,
)
from tests.e2e.conftest import E2E_ENV
from tests.e2e.helpers import FINAL, auth, register
from tests.polling import wait_for
from tradelab_devstack.ports import free_port
from tradelab_devstack.services import ServiceProcess, wait_until_ready
from tradelab_devstack.stack import Stack

pytestmark = pytest.mark.e2e

BARS = 2_000_000
MAX_POINTS = int(E2E_ENV["GATEWAY_EQUITY_MAX_POINTS"])
WATCHED = ("gateway", "engine")


def two_million_bars(path: Path) -> bytes:
    """2,000,000 one-minute bars in about 1.4 MB of Parquet: delta-encoded times and a close of
    about 1,300 distinct prices (a saw-tooth over a staircase), dictionary-encoded."""
    minute = pl.int_range(0, BARS)
    frame = pl.select(
        time=pl.lit(datetime(2020, 1, 1)) + pl.duration(minutes=minute),  # noqa: DTZ001 - naive bars
        close=100 + ((minute % 2000) - 1000).abs() * 0.01 + (minute // 2000 % 7) * 0.5,
    )
    pq.write_table(
        frame.to_arrow(),
        path,
        compression="zstd",
        use_dictionary=["close"],
        column_encoding={"time": "DELTA_BINARY_PACKED"},
    )
    return path.read_bytes()


@pytest.fixture(scope="module")
def unpaced_engine(stack: Stack) -> Iterator[None]:
    """The stack's engine replaced, for this module, by one that does not pace backtests."""
    paced = stack.processes["engine"]
    paced.stop()
    env = {**paced.env, "ENGINE_CHUNK_PAUSE_S": "0", "ENGINE_CHUNK_BARS": "50000"}
    unpaced = ServiceProcess("engine", free_port(), env, instance="unpaced")
    unpaced.start()
    stack.processes["engine"] = unpaced
    try:
        wait_until_ready([unpaced], 120)
        yield
    finally:
        unpaced.stop()
        paced.start()
        stack.processes["engine"] = paced
        wait_until_ready([paced], 120)


@pytest.fixture(scope="module")
def client(stack: Stack) -> Iterator[httpx.Client]:
    """An HTTP client on the gateway with room for large downloads."""
    with httpx.Client(base_url=stack.gateway_url, timeout=120) as gateway:
        yield gateway


@pytest.fixture(scope="module")
def token(client: httpx.Client) -> str:
    """The module's user."""
    return register(client, "equity")


@pytest.fixture(scope="module")
def long_run(
    unpaced_engine: None,
    client: httpx.Client,
    token: str,
    tmp_path_factory: pytest.TempPathFactory,
    stack: Stack,
) -> dict[str, Any]:
    """A completed sma_cross run over 2,000,000 bars."""
    content = two_million_bars(tmp_path_factory.mktemp("equity") / "bars.parquet")
    started = time.monotonic()
    created = client.post(
        "/api/v1/datasets",
        headers=auth(token),
        files={"file": ("bars.parquet", content, "application/octet-stream")},
    )
    assert created.status_code == 202, created.text
    dataset_id = created.json()["id"]

    def ready() -> str | None:
        body = client.get(f"/api/v1/datasets/{dataset_id}", headers=auth(token)).json()
        assert body["status"] not in ("failed", "rejected"), body
        return dataset_id if body["status"] == "ready" else None

    wait_for(ready, 120, "2,000,000 bars ingested")
    ingested = time.monotonic()
    body = {
        "dataset_id": dataset_id,
        "strategy": "sma_cross",
        "parameters": {"fast": 10, "slow": 50},
        "options": {"fee_rate": 0.001},
    }
    with memory_growth(stack, "engine") as engine:
        response = client.post("/api/v1/backtests", headers=auth(token), json=body)
        assert response.status_code == 202, response.text
        url = f"/api/v1/backtests/{response.json()['id']}"

        def finished() -> dict[str, Any] | None:
            run: dict[str, Any] = client.get(url, headers=auth(token)).json()
            return run if run["status"] in FINAL else None

        run = wait_for(finished, 180, "2,000,000-bar backtest finished")
    print(
        f"\n2,000,000 bars ({len(content) / 1024**2:.1f} MiB Parquet): ingested in "
        f"{ingested - started:.1f} s, backtest {run['status']} in "
        f"{time.monotonic() - ingested:.1f} s (engine peak growth {engine.grown_mib:.0f} MiB)"
    )
    assert run["status"] == "completed", run
    return run


def report(case: str, elapsed: float, growth: dict[str, Growth]) -> None:
    grown = ", ".join(f"{name} +{g.grown_mib:.1f} MiB" for name, g in growth.items())
    print(f"\n{case}: {elapsed:.2f} s; peak growth {grown}")


def test_equity_without_points_is_thinned_to_the_maximum_without_growing(
    stack: Stack, client: httpx.Client, token: str, long_run: dict[str, Any]
) -> None:
    with ExitStack() as resources:
        growth = memory_growths(stack, WATCHED, resources)
        started = time.monotonic()
        response = client.get(f"/api/v1/backtests/{long_run['id']}/equity", headers=auth(token))
        elapsed = time.monotonic() - started
    report("GET /equity (2,000,000 bars, no points)", elapsed, growth)
    assert response.status_code == 200, response.text
    curve = response.json()
    assert curve["total_points"] == BARS
    assert len(curve["points"]) == MAX_POINTS
    assert curve["points"][0]["time"].startswith("2020-01-01T00:00:00")
    final = long_run["summary"]["final_equity"]
    assert curve["points"][-1]["equity"] == pytest.approx(final, rel=1e-12)
    assert_within_bound(growth)
    assert_all_healthy(stack)


def test_equity_with_more_points_than_the_maximum_is_422_naming_the_download(
    stack: Stack, client: httpx.Client, token: str, long_run: dict[str, Any]
) -> None:
    started = time.monotonic()
    response = client.get(
        f"/api/v1/backtests/{long_run['id']}/equity",
        params={"points": MAX_POINTS + 1},
        headers=auth(token),
    )
    print(f"\nGET /equity?points={MAX_POINTS + 1}: {time.monotonic() - started:.2f} s")
    assert response.status_code == 422, response.text
    assert "/equity/download" in response.json()["detail"]
    assert_all_healthy(stack)


def test_the_whole_curve_streams_as_parquet_without_growing(
    stack: Stack, client: httpx.Client, token: str, long_run: dict[str, Any], tmp_path: Path
) -> None:
    path = tmp_path / "equity.parquet"
    with ExitStack() as resources:
        growth = memory_growths(stack, WATCHED, resources)
        started = time.monotonic()
        status = download(client, token, long_run["id"], "parquet", path)
        elapsed = time.monotonic() - started
    report("GET /equity/download?format=parquet", elapsed, growth)
    assert status == 200
    frame = pl.read_parquet(path)
    assert frame.height == BARS
    assert frame["equity"][-1] == pytest.approx(long_run["summary"]["final_equity"], rel=1e-12)
    assert_within_bound(growth)
    assert_all_healthy(stack)


def test_the_whole_curve_streams_as_csv_without_growing(
    stack: Stack, client: httpx.Client, token: str, long_run: dict[str, Any], tmp_path: Path
) -> None:
    path = tmp_path / "equity.csv"
    with ExitStack() as resources:
        growth = memory_growths(stack, WATCHED, resources)
        started = time.monotonic()
        status = download(client, token, long_run["id"], "csv", path)
        elapsed = time.monotonic() - started
    report("GET /equity/download?format=csv", elapsed, growth)
    assert status == 200
    with path.open("rb") as handle:
        lines = sum(chunk.count(b"\n") for chunk in iter(lambda: handle.read(1024**2), b""))
        handle.seek(-1, 2)
        lines += handle.read(1) != b"\n"  # a last line without its newline
    assert lines == BARS + 1  # a header line
    assert_within_bound(growth)
    assert_all_healthy(stack)


def download(client: httpx.Client, token: str, run_id: str, fmt: str, path: Path) -> int:
    """Stream the run's whole equity curve in ``fmt`` to ``path``; the status."""
    with (
        client.stream(
            "GET",
            f"/api/v1/backtests/{run_id}/equity/download",
            params={"format": fmt},
            headers=auth(token),
        ) as response,
        path.open("wb") as out,
    ):
        for chunk in response.iter_bytes():
            out.write(chunk)
        return response.status_code
