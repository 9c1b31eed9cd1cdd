"""``/api/v1/analytics``: a finished backtest's metrics, tables, charts and HTML report, and
comparisons of several runs (docs/metrics.md)."""

import json
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, StreamingResponse
from pydantic import BaseModel, Field

from tradelab_contracts.analytics_rpc import (
    AnalysisInfo,
    AnalyticsCommand,
    AnalyticsErrorCode,
    AnalyticsReply,
    CompareRuns,
    DrawdownInfo,
    GetAnalysis,
    GetReport,
    GetRolling,
    PeriodReturn,
    RollingSeries,
)
from tradelab_contracts.engine_rpc import BacktestReply, EngineErrorCode, GetBacktest
from tradelab_gateway.adapters.analytics_rpc import AnalyticsRpcClient
from tradelab_gateway.api.backtests import ask_engine
from tradelab_gateway.api.datasets import store_of
from tradelab_gateway.api.deps import CurrentUser, Settings
from tradelab_gateway.api.problems import ProblemError
from tradelab_gateway.api.service_replies import ask
from tradelab_gateway.api.stored import read_stored, stored_file

router = APIRouter(prefix="/api/v1/analytics", tags=["analytics"])
# not_found here may only mean "not analysed yet": the engine says whether the run exists.
STATUS_BY_CODE = {
    AnalyticsErrorCode.NOT_FOUND: 404,
    AnalyticsErrorCode.NOT_READY: 409,
    AnalyticsErrorCode.FAILED: 409,  # given up on: the detail says why; it will not come
    AnalyticsErrorCode.INTERNAL: 500,
}
# The report is our own page: scripts and styles inline, nothing fetched from anywhere.
REPORT_CSP = (
    "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
    "img-src data: blob:; font-src data:"
)


class AnalysisPublic(BaseModel):
    """Every metric and table of one backtest run."""

    run_id: UUID
    dataset_id: UUID
    strategy: str
    parameters: dict[str, Any]
    metrics: dict[str, float | None]
    worst_drawdowns: list[DrawdownInfo] = Field(description="Five worst, deepest first")
    monthly_returns: list[PeriodReturn]
    yearly_returns: list[PeriodReturn]
    rolling_window: int | None = Field(description="Bars in the rolling Sharpe window")
    charts: list[str] = Field(description="Names accepted by /charts/{name}")
    created_at: datetime

    @classmethod
    def of(cls, info: AnalysisInfo, charts: list[str]) -> "AnalysisPublic":
        """Build from the analytics service's record."""
        public = info.model_dump(
            exclude={"owner_id", "charts_uri", "chart_names", "equity_uri", "initial_cash"}
        )
        return cls.model_validate({**public, "charts": charts})


class CompareRequest(BaseModel):
    """Runs to compare."""

    run_ids: list[UUID] = Field(min_length=2, max_length=10, description="2 to 10 distinct runs")


class ComparisonPublic(BaseModel):
    """Runs side by side: every metric per run and the equity curves on one chart."""

    runs: list[AnalysisPublic]
    metrics: dict[str, list[float | None]] = Field(
        description="Each metric's value per run, in the order of runs"
    )
    equity_chart: dict[str, Any] = Field(description="Plotly figure, equity / initial cash")


def analytics_router() -> APIRouter:
    """Return the analytics routes."""
    return router


def _client(request: Request) -> AnalyticsRpcClient:
    client: AnalyticsRpcClient = request.app.state.analytics_client
    return client


async def _ask(request: Request, command: AnalyticsCommand, retry_after_s: int) -> AnalyticsReply:
    client = _client(request)
    return await ask(
        lambda: client.call(command),
        service="analytics",
        status_by_code=STATUS_BY_CODE,
        retry_after_s=retry_after_s,
    )


async def _not_analysed(request: Request, user_id: UUID, run_id: UUID, retry_after_s: int) -> None:
    """Raise 404 when the run is not the user's, else 409 (it exists but is not analysed)."""
    command = GetBacktest(reply_to=_client(request).reply_topic, owner_id=user_id, run_id=run_id)
    try:
        engine = await ask_engine(request, command, BacktestReply, retry_after_s)
    except ProblemError as problem:
        if problem.code == EngineErrorCode.NOT_FOUND.value:
            raise ProblemError(404, f"No such backtest: {run_id}.", code="not_found") from None
        raise
    status = engine.run.status.value if engine.run else "unknown"
    detail = f"The backtest {run_id} is {status} and not analysed yet."
    raise ProblemError(409, detail, code="not_ready")


async def _analysis(
    request: Request, user_id: UUID, run_id: UUID, retry_after_s: int
) -> AnalysisInfo:
    command = GetAnalysis(reply_to=_client(request).reply_topic, owner_id=user_id, run_id=run_id)
    try:
        reply = await _ask(request, command, retry_after_s)
    except ProblemError as problem:
        if problem.code != AnalyticsErrorCode.NOT_FOUND.value:
            raise
        await _not_analysed(request, user_id, run_id, retry_after_s)
        raise  # unreachable: _not_analysed always raises
    if reply.analysis is None:
        raise ProblemError(500, "The analytics service gave an incomplete answer.")
    return reply.analysis


def _read_charts(path: Path) -> dict[str, Any]:
    charts: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return charts


async def _charts(request: Request, info: AnalysisInfo) -> dict[str, Any]:
    if info.charts_uri is None:
        raise ProblemError(409, "This run was analysed before charts existed.", code="not_ready")
    return await read_stored(_read_charts, store_of(request).path(info.charts_uri))


async def _public(request: Request, info: AnalysisInfo) -> AnalysisPublic:
    """The public analysis: chart names as stored with it, read from the charts file (some
    390 KB) only for an analysis stored before the names were."""
    if info.charts_uri is None:
        names: list[str] = []
    elif info.chart_names is not None:
        names = info.chart_names
    else:
        names = list(await _charts(request, info))
    return AnalysisPublic.of(info, names)


@router.get("/{run_id}")
async def get_analysis(
    run_id: UUID, request: Request, user: CurrentUser, settings: Settings
) -> AnalysisPublic:
    """All metrics and tables of a finished run; 409 while not analysed yet (code ``not_ready``)
    or when its analysis failed (``analysis_failed``, saying why), 404 for no such run."""
    info = await _analysis(request, user.user_id, run_id, settings.retry_after_s)
    return await _public(request, info)


@router.get("/{run_id}/charts")
async def get_charts(
    run_id: UUID, request: Request, user: CurrentUser, settings: Settings
) -> dict[str, dict[str, Any]]:
    """Every chart of the run as a Plotly figure (JSON), by name."""
    info = await _analysis(request, user.user_id, run_id, settings.retry_after_s)
    return await _charts(request, info)


@router.get("/{run_id}/charts/{name}")
async def get_chart(
    run_id: UUID, name: str, request: Request, user: CurrentUser, settings: Settings
) -> dict[str, Any]:
    """One chart of the run as a Plotly figure (JSON)."""
    info = await _analysis(request, user.user_id, run_id, settings.retry_after_s)
    charts = await _charts(request, info)
    if name not in charts:
        detail = f"No chart named {name!r}; charts: {', '.join(charts)}."
        raise ProblemError(404, detail, code="not_found")
    chart: dict[str, Any] = charts[name]
    return chart


@router.get("/{run_id}/rolling")
async def get_rolling(
    run_id: UUID,
    request: Request,
    user: CurrentUser,
    settings: Settings,
    window: Annotated[int, Query(ge=2, le=100_000, description="Bars per window")] = 126,
) -> RollingSeries:
    """Rolling Sharpe ratio and annualised volatility over ``window`` bars (thinned)."""
    await _analysis(request, user.user_id, run_id, settings.retry_after_s)  # 404 / 409 first
    command = GetRolling(
        reply_to=_client(request).reply_topic, owner_id=user.user_id, run_id=run_id, window=window
    )
    reply = await _ask(request, command, settings.retry_after_s)
    if reply.rolling is None:
        raise ProblemError(500, "The analytics service gave an incomplete answer.")
    return reply.rolling


@router.get("/{run_id}/report", response_class=HTMLResponse)
async def get_report(
    run_id: UUID, request: Request, user: CurrentUser, settings: Settings
) -> StreamingResponse:
    """The run's tearsheet: one self-contained HTML page (charts and metrics, works offline)."""
    command = GetReport(reply_to=_client(request).reply_topic, owner_id=user.user_id, run_id=run_id)
    try:
        reply = await _ask(request, command, settings.retry_after_s)
    except ProblemError as problem:
        if problem.code != AnalyticsErrorCode.NOT_FOUND.value:
            raise
        await _not_analysed(request, user.user_id, run_id, settings.retry_after_s)
        raise
    if reply.report_uri is None:
        raise ProblemError(500, "The analytics service gave an incomplete answer.")
    return await stored_file(
        store_of(request).path(reply.report_uri),
        "text/html; charset=utf-8",
        filename=f"tradelab-report-{run_id}.html",
        inline=True,
        headers={"Content-Security-Policy": REPORT_CSP},
    )


@router.post("/compare")
async def compare(
    body: CompareRequest, request: Request, user: CurrentUser, settings: Settings
) -> ComparisonPublic:
    """2 to 10 of your analysed runs: metrics side by side, equity curves normalised to 1."""
    if len(set(body.run_ids)) != len(body.run_ids):
        raise ProblemError(422, "run_ids must be distinct.", code="validation_error")
    command = CompareRuns(
        reply_to=_client(request).reply_topic, owner_id=user.user_id, run_ids=body.run_ids
    )
    try:
        reply = await _ask(request, command, settings.retry_after_s)
    except ProblemError as problem:
        if problem.code != AnalyticsErrorCode.NOT_FOUND.value:
            raise
        for run_id in body.run_ids:  # which one, and is it missing or only not analysed yet?
            await _analysis(request, user.user_id, run_id, settings.retry_after_s)
        raise
    if reply.comparison is None:
        raise ProblemError(500, "The analytics service gave an incomplete answer.")
    runs = [await _public(request, info) for info in reply.comparison.runs]
    names = sorted({name for run in runs for name in run.metrics})
    return ComparisonPublic(
        runs=runs,
        metrics={name: [run.metrics.get(name) for run in runs] for name in names},
        equity_chart=reply.comparison.equity_chart,
    )
