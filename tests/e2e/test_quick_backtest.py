"""The quick (synchronous) backtest through the gateway: CSV in, equity, pnl and summary out.

The stack runs with a 4 MiB quick-upload limit and a 5 s budget (``E2E_ENV``); its engine is paced
(0.1 s per 500 bars), so a 40,000-bar file needs 8 s and exceeds the budget.
"""

import io
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from importlib.resources import files
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from tests.e2e.helpers import auth
from tests.polling import wait_for
from tradelab_devstack.stack import Stack

pytestmark = pytest.mark.e2e

GOOG = files("backtesting.test") / "GOOG.csv"
QUICK = "/api/v1/backtests/quick"
LIMIT = 4 * 1024 * 1024
BUDGET_S = 5.0
SMA = {"strategy": "sma_cross", "parameters": '{"fast": 10, "slow": 50}'}
FEES = '{"fee_rate": 0.001}'


def minute_bars_csv(n: int) -> bytes:
    """A random-walk series of ``n`` one-minute bars as CSV (about 66 bytes a bar)."""
    rng = np.random.default_rng(11)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.001, n)))
    open_ = np.concatenate(([100.0], close[:-1]))
    times = np.datetime64("2024-01-02T00:00") + np.arange(n).astype("timedelta64[m]")
    out = io.StringIO()
    out.write("timestamp,open,high,low,close,volume\n")
    for t, o, c in zip(times, open_, close, strict=True):
        out.write(f"{t}Z,{o:.6f},{max(o, c):.6f},{min(o, c):.6f},{c:.6f},1000\n")
    return out.getvalue().encode()


def quick(client: httpx.Client, token: str | None, content: bytes, **fields: str) -> httpx.Response:
    headers = auth(token) if token else {}
    return client.post(
        QUICK, headers=headers, files={"file": ("bars.csv", content, "text/csv")}, data=fields
    )


def leftovers(object_store: Path) -> list[Path]:
    """Files a quick backtest left in the store: its objects, or a partial upload."""
    found = [p for p in (object_store / "quick").rglob("*") if p.is_file()]
    return found + list((object_store / ".scratch").glob("upload-*"))


@pytest.fixture(autouse=True)
def nothing_left_behind(object_store: Path) -> Iterator[None]:
    """Every quick backtest deletes all its objects before answering, whatever the answer."""
    yield
    assert leftovers(object_store) == []


def run_async_path(gateway: httpx.Client, token: str) -> dict[str, Any]:
    """The same backtest the usual way: upload a dataset, submit, poll until it ends."""
    created = gateway.post(
        "/api/v1/datasets",
        headers=auth(token),
        files={"file": ("GOOG.csv", GOOG.read_bytes(), "text/csv")},
    ).json()

    def ready() -> str | None:
        body = gateway.get(f"/api/v1/datasets/{created['id']}", headers=auth(token)).json()
        return body["id"] if body["status"] == "ready" else None

    body = {
        "dataset_id": wait_for(ready, 60, "GOOG ingested"),
        "strategy": "sma_cross",
        "parameters": {"fast": 10, "slow": 50},
        "options": {"fee_rate": 0.001},
    }
    submitted = gateway.post("/api/v1/backtests", headers=auth(token), json=body)
    assert submitted.status_code == 202, submitted.text
    url = f"/api/v1/backtests/{submitted.json()['id']}"

    def finished() -> dict[str, Any] | None:
        run: dict[str, Any] = gateway.get(url, headers=auth(token)).json()
        return run if run["status"] in {"completed", "failed", "cancelled"} else None

    return wait_for(finished, 60, "backtest finished")


def test_quick_backtest_answers_the_summary_of_the_same_backtest_run_as_a_job(
    gateway: httpx.Client, user_token: str
) -> None:
    response = quick(gateway, user_token, GOOG.read_bytes(), **SMA, options=FEES)
    assert response.status_code == 200, response.text
    body = response.json()

    run = run_async_path(gateway, user_token)
    assert run["status"] == "completed", run
    assert body["summary"] == run["summary"]  # same engine, same bars: the very same numbers

    bars = len(GOOG.read_text().strip().splitlines()) - 1
    assert (body["rows"], body["total_points"], body["timeframe"]) == (bars, bars, "1d")
    assert body["parameters"]["fast"] == 10
    assert body["options"]["fee_rate"] == 0.001
    equity = body["equity"]
    assert len(equity) == 1000  # the default, thinned evenly with both ends kept
    assert equity[0]["time"].startswith(body["start"][:10])
    assert equity[-1]["time"].startswith(body["end"][:10])
    initial_cash = body["options"]["initial_cash"]
    assert all(p["pnl"] == p["equity"] - initial_cash for p in equity)
    assert all(p["drawdown"] <= 0 for p in equity)
    assert equity[-1]["equity"] == body["summary"]["final_equity"]
    assert body["pnl"] == body["summary"]["final_equity"] - initial_cash
    closed = [t for t in body["trades"]["items"] if not t["is_open"]]
    assert len(closed) == body["summary"]["trades"]
    assert body["trades"]["total"] == len(body["trades"]["items"])

    thin = quick(gateway, user_token, GOOG.read_bytes(), **SMA, options=FEES, points="50")
    assert len(thin.json()["equity"]) == 50


def test_a_file_over_the_limit_is_refused_with_413(
    gateway: httpx.Client, user_token: str, object_store: Path
) -> None:
    big = b"time,close\n" + b"2024-01-01T00:00:00Z,100.0\n" * (LIMIT // 27 + 10)
    assert LIMIT < len(big) < LIMIT + 1024 * 1024  # cut off while streaming, not by its header
    response = quick(gateway, user_token, big, **SMA)
    assert response.status_code == 413, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == "too_large"


def test_a_bad_csv_is_refused_with_422_and_the_message_an_upload_gets(
    gateway: httpx.Client, user_token: str
) -> None:
    content = b"time,open\n2024-01-01,1\n2024-01-02,2\n"
    response = quick(gateway, user_token, content, **SMA)
    assert response.status_code == 422, response.text
    problem = response.json()
    assert (problem["code"], problem["reason"]) == ("rejected", "no_close_column")

    created = gateway.post(
        "/api/v1/datasets",
        headers=auth(user_token),
        files={"file": ("bad.csv", content, "text/csv")},
    ).json()

    def rejected() -> dict[str, Any] | None:
        url = f"/api/v1/datasets/{created['id']}"
        body: dict[str, Any] = gateway.get(url, headers=auth(user_token)).json()
        return body if body["status"] == "rejected" else None

    dataset = wait_for(rejected, 30, "bad upload rejected")
    assert problem["detail"] == dataset["reject_message"]


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"strategy": "no_such_strategy"}, "strategy"),
        ({**SMA, "options": '{"fee_rate": -1}'}, "options.fee_rate"),
        ({**SMA, "parameters": "{not json"}, "parameters"),
    ],
)
def test_an_unknown_strategy_or_invalid_fields_are_refused_with_422(
    gateway: httpx.Client, user_token: str, fields: dict[str, str], field: str
) -> None:
    response = quick(gateway, user_token, GOOG.read_bytes(), **fields)
    assert response.status_code == 422, response.text
    assert [e["field"] for e in response.json()["errors"]] == [field]


def test_an_unauthenticated_request_is_refused_with_401(gateway: httpx.Client) -> None:
    response = quick(gateway, None, GOOG.read_bytes(), **SMA)
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"


def test_a_run_past_the_budget_is_stopped_with_408_and_other_requests_flow_meanwhile(
    stack: Stack, user_token: str
) -> None:
    content = minute_bars_csv(40_000)  # 8 s of paced simulation for a 5 s budget
    assert len(content) < LIMIT
    with (
        httpx.Client(base_url=stack.gateway_url, timeout=30) as slow,
        httpx.Client(base_url=stack.gateway_url, timeout=10) as probe,
        ThreadPoolExecutor(max_workers=1) as pool,
    ):
        started = time.monotonic()
        pending = pool.submit(quick, slow, user_token, content, **SMA)
        # The engine simulates off its request consumer: catalogue requests (answered by the
        # same consumer, 3 s RPC timeout in the e2e stack) keep coming back at once meanwhile.
        probes = 0
        while not pending.done():
            asked = time.monotonic()
            answer = probe.get("/api/v1/strategies", headers=auth(user_token))
            assert answer.status_code == 200, answer.text
            assert time.monotonic() - asked < 1.0
            probes += 1
        response = pending.result()
        elapsed = time.monotonic() - started
    assert probes >= 5
    assert response.status_code == 408, response.text
    assert BUDGET_S <= elapsed < BUDGET_S + 3.0
    problem = response.json()
    assert problem["code"] == "timeout"
    assert "stopped after" in problem["detail"]  # the engine itself stopped the run
    done = int(problem["detail"].split("stopped after ")[1].split(" of ")[0])
    assert done < 40_000
