"""Analytics through the gateway: a GOOG daily sma_cross run's full analysis, every chart, the
HTML report opened in headless Chromium, and a comparison of two runs."""

import csv
import io
import os
import shutil
import time
from collections.abc import Iterator
from importlib.resources import files
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import ConsoleMessage, Request, sync_playwright

from tests.e2e.helpers import auth, forwarded_for
from tests.polling import wait_for
from tradelab_devstack.stack import Stack

pytestmark = pytest.mark.e2e

GOOG = files("backtesting.test") / "GOOG.csv"
CHARTS = {"equity", "drawdown", "returns_histogram", "trades", "monthly_returns", "rolling_sharpe"}
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


def goog_closes() -> list[float]:
    rows = list(csv.reader(io.StringIO(GOOG.read_text())))
    close = rows[0].index("Close")
    return [float(row[close]) for row in rows[1:]]


GOOG_BARS = [row[0][:10] for row in list(csv.reader(io.StringIO(GOOG.read_text())))[1:]]
"""The date of every GOOG bar."""


class Session:
    """A user of the module: an HTTP client, a token, GOOG uploaded and two analysed runs."""

    def __init__(self, client: httpx.Client) -> None:
        self.client = client
        email = f"analyst-{time.monotonic_ns()}@example.com"
        registered = client.post(
            "/api/v1/auth/register", json={"email": email, "password": "correct horse battery"}
        )
        assert registered.status_code == 201, registered.text
        self.token: str = registered.json()["access_token"]
        self.dataset = self._upload()
        self.sma = self.analysed_run("sma_cross", {"fast": 10, "slow": 50})
        self.ema = self.analysed_run("ema_cross", {"fast": 12, "slow": 26})

    def get(self, url: str, token: str | None = None) -> httpx.Response:
        return self.client.get(url, headers=auth(token or self.token))

    def _upload(self) -> str:
        created = self.client.post(
            "/api/v1/datasets",
            headers=auth(self.token),
            files={"file": ("GOOG.csv", GOOG.read_bytes(), "text/csv")},
        ).json()

        def ready() -> str | None:
            body = self.get(f"/api/v1/datasets/{created['id']}").json()
            return body["id"] if body["status"] == "ready" else None

        return wait_for(ready, 60, "GOOG ingested")

    def analysed_run(self, strategy: str, parameters: dict[str, int]) -> str:
        body = {
            "dataset_id": self.dataset,
            "strategy": strategy,
            "parameters": parameters,
            "options": {"fee_rate": 0.001},
        }
        response = self.client.post("/api/v1/backtests", headers=auth(self.token), json=body)
        assert response.status_code == 202, response.text
        run_id: str = response.json()["id"]

        def analysed() -> str | None:
            return run_id if self.get(f"/api/v1/analytics/{run_id}").status_code == 200 else None

        return wait_for(analysed, 60, f"{strategy} run analysed")


@pytest.fixture(scope="module")
def session(stack: Stack) -> Iterator[Session]:
    with httpx.Client(base_url=stack.gateway_url, timeout=30, headers=forwarded_for()) as client:
        yield Session(client)


@pytest.fixture(scope="module")
def stranger(session: Session) -> str:
    response = session.client.post(
        "/api/v1/auth/register",
        json={"email": f"stranger-{time.monotonic_ns()}@example.com", "password": "long enough 1"},
    )
    token: str = response.json()["access_token"]
    return token


def test_full_analysis_has_metrics_tables_and_a_buy_and_hold_benchmark(session: Session) -> None:
    analysis = session.get(f"/api/v1/analytics/{session.sma}").json()
    metrics = analysis["metrics"]
    closes = goog_closes()
    # Buy-and-hold of the dataset, by hand from the CSV.
    assert metrics["benchmark_return"] == pytest.approx(closes[-1] / closes[0] - 1, rel=1e-9)
    assert metrics["alpha"] is not None
    assert metrics["beta"] is not None
    assert 0 < metrics["beta"] < 1.5
    assert set(analysis["charts"]) == CHARTS
    # GOOG.csv runs from 2004-08 to 2013-03: 10 calendar years, 104 months.
    assert [row["year"] for row in analysis["yearly_returns"]] == list(range(2004, 2014))
    assert len(analysis["monthly_returns"]) == 104
    growth = 1.0
    for row in analysis["yearly_returns"]:
        growth *= 1 + row["value"]
    assert growth - 1 == pytest.approx(metrics["total_return"], rel=1e-9)
    drawdowns = analysis["worst_drawdowns"]
    assert 1 <= len(drawdowns) <= 5
    depths = [d["depth"] for d in drawdowns]
    assert depths == sorted(depths, reverse=True)
    assert depths[0] == pytest.approx(metrics["max_drawdown"], rel=1e-9)


def test_every_chart_is_a_plotly_figure_with_data(session: Session, stranger: str) -> None:
    charts = session.get(f"/api/v1/analytics/{session.sma}/charts").json()
    assert set(charts) == CHARTS
    for name, figure in charts.items():
        assert figure["data"], name
        assert figure["layout"]["title"], name
        one = session.get(f"/api/v1/analytics/{session.sma}/charts/{name}")
        assert one.status_code == 200
        assert one.json() == figure
    trades = session.get(f"/api/v1/backtests/{session.sma}/trades").json()
    markers = [t for t in charts["trades"]["data"] if t.get("mode") == "markers"]
    assert sum(len(t["x"]) for t in markers) == 2 * trades["total"] - sum(
        1 for t in trades["items"] if t["is_open"]
    )
    rolling = session.get(f"/api/v1/analytics/{session.sma}/rolling?window=21").json()
    assert rolling["window"] == 21
    assert len(rolling["time"]) == len(rolling["sharpe"]) == len(rolling["volatility"]) <= 2000
    assert rolling["time"][0].startswith(GOOG_BARS[20])  # the first full window
    assert rolling["time"][-1].startswith(GOOG_BARS[-1])
    # Flat stretches (out of the market) have no Sharpe, but a volatility of 0.
    assert any(v is not None and v > 0 for v in rolling["volatility"])
    assert session.get(f"/api/v1/analytics/{session.sma}/rolling?window=1").status_code == 422
    missing = session.get(f"/api/v1/analytics/{session.sma}/charts/nope")
    assert missing.status_code == 404
    assert "equity" in missing.json()["detail"]
    assert session.get(f"/api/v1/analytics/{session.sma}/charts", stranger).status_code == 404
    assert session.get(f"/api/v1/analytics/{session.sma}/report", stranger).status_code == 404


def test_report_renders_every_chart_offline_in_headless_chromium(
    session: Session, tmp_path: Path
) -> None:
    response = session.get(f"/api/v1/analytics/{session.sma}/report")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/html")
    assert "default-src 'none'" in response.headers["content-security-policy"]
    page_file = tmp_path / "report.html"
    page_file.write_bytes(response.content)

    chromium = (
        os.environ.get("CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    )
    assert chromium, "Chromium is missing: `make browser` installs Debian's package"
    console_errors: list[str] = []
    requests: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_FLAGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})

            def on_console(message: ConsoleMessage) -> None:
                if message.type == "error":
                    console_errors.append(message.text)

            def on_request(request: Request) -> None:
                requests.append(request.url)

            page.on("console", on_console)
            page.on("pageerror", lambda error: console_errors.append(str(error)))
            page.on("request", on_request)
            page.goto(page_file.as_uri(), wait_until="load")
            page.wait_for_function(
                "document.querySelectorAll('.js-plotly-plot .main-svg').length >= 6", timeout=30_000
            )
            rendered: list[dict[str, Any]] = page.evaluate(
                """() => [...document.querySelectorAll('.js-plotly-plot')].map(el => ({
                    id: el.id,
                    traces: el.querySelectorAll('.trace, .hm, image').length,
                    marks: [...el.querySelectorAll('.trace path, .hm image, image')].filter(
                        p => (p.getAttribute('d') || p.getAttribute('href') || '').length > 10
                    ).length,
                    width: el.getBoundingClientRect().width,
                }))"""
            )
            screenshot = tmp_path / "report.png"
            page.screenshot(path=str(screenshot), full_page=True)
        finally:
            browser.close()

    assert len(rendered) == len(CHARTS), rendered
    for chart in rendered:
        assert chart["traces"] > 0, f"no trace drawn: {chart}"
        assert chart["marks"] > 0, f"blank chart: {chart}"
        assert chart["width"] > 100, chart
    assert console_errors == []
    # The page itself is the only thing loaded: no network request of any kind.
    assert requests == [page_file.as_uri()]
    assert screenshot.stat().st_size > 50_000  # a page of charts, not a blank canvas


def test_compare_two_runs_side_by_side_with_equity_normalised_to_one(
    session: Session, stranger: str
) -> None:
    body = {"run_ids": [session.sma, session.ema]}
    response = session.client.post(
        "/api/v1/analytics/compare", headers=auth(session.token), json=body
    )
    assert response.status_code == 200, response.text
    comparison = response.json()
    assert [run["run_id"] for run in comparison["runs"]] == body["run_ids"]
    assert [run["strategy"] for run in comparison["runs"]] == ["sma_cross", "ema_cross"]
    finals = comparison["metrics"]["final_equity"]
    assert finals == [run["metrics"]["final_equity"] for run in comparison["runs"]]
    lines = comparison["equity_chart"]["data"]
    assert len(lines) == 2
    for line, run in zip(lines, comparison["runs"], strict=True):
        # Divided by the 10,000 initial cash: the last point is 1 + total return.
        assert line["y"][-1] == pytest.approx(1 + run["metrics"]["total_return"], rel=1e-12)
        assert line["y"][0] == pytest.approx(1.0, abs=0.01)

    def compare(run_ids: list[str], token: str | None = None) -> httpx.Response:
        return session.client.post(
            "/api/v1/analytics/compare",
            headers=auth(token or session.token),
            json={"run_ids": run_ids},
        )

    assert compare([session.sma]).status_code == 422
    assert compare([session.sma, session.sma]).status_code == 422
    assert compare([session.sma] * 11).status_code == 422
    assert compare(body["run_ids"], stranger).status_code == 404
    unknown = "00000000-0000-4000-8000-000000000000"
    missing = compare([session.sma, unknown])
    assert missing.status_code == 404
    assert unknown in missing.json()["detail"]
