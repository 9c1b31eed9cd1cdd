"""Use cases of the analytics service: analyse a completed backtest, answer queries."""

import asyncio
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from uuid import UUID

from tradelab_contracts.analytics import ReportReady
from tradelab_contracts.analytics_rpc import (
    AnalysisInfo,
    AnalyticsCommand,
    AnalyticsError,
    AnalyticsErrorCode,
    AnalyticsReply,
    CompareRuns,
    Comparison,
    GetAnalysis,
    GetReport,
    GetRolling,
    RollingSeries,
)
from tradelab_contracts.base import Message, correlation_of
from tradelab_contracts.engine import BacktestCompleted
from tradelab_contracts.topics import REPORT_READY
from tradelab_runtime.clock import Clock
from tradelab_runtime.erasure import remove_prefix
from tradelab_runtime.logging import get_logger
from tradelab_runtime.storage import LocalObjectStore

from .adapters.repository import AnalysisRepository, Written
from .adapters.result_files import (
    EquityFile,
    get_json,
    put_json,
    put_text,
    read_equity,
    read_trades,
)
from .domain.compare import NormalisedCurve, compare_figure
from .domain.report import render_report
from .domain.run_analysis import RunAnalysis, analyse_run, rolling_series

log = get_logger(__name__)


@dataclass(frozen=True)
class AnalyticsDeps:
    """What the use cases need from the outside world."""

    repo: AnalysisRepository
    """Analyses, and the outbox their events leave through."""
    store: LocalObjectStore
    clock: Clock
    rolling_window: int = 126


def analyse_files(
    equity_path: Path,
    trades_path: Path,
    initial_cash: float,
    timeframe: str | None,
    rolling_window: int,
) -> RunAnalysis:
    """Read the engine's result files and analyse them (runs in a worker thread)."""
    curve = read_equity(equity_path)
    return analyse_run(
        curve.time_ns,
        curve.equity,
        curve.close,
        read_trades(trades_path),
        initial_cash,
        timeframe,
        rolling_window,
    )


async def analyse_completed(event: BacktestCompleted, deps: AnalyticsDeps) -> None:
    """Analyse a completed run once; a redelivered event changes nothing.

    A failure raises: the consumer retries, then stores the analysis as failed
    (``failures.record_failure``) and parks the event as a dead letter (announced on the
    dead-letter topic, replayable by an operator; a replay that succeeds replaces the failed
    analysis). A run deleted or an owner erased meanwhile is not analysed, nor written back.
    """
    if await deps.repo.get(event.owner_id, event.run_id) is not None:
        return  # analysed already: a redelivery
    if await deps.repo.is_erased(event.owner_id, event.run_id):
        log.info("completed run deleted already; not analysed", run_id=str(event.run_id))
        return
    analysis = await asyncio.to_thread(
        analyse_files,
        deps.store.path(event.equity_uri),
        deps.store.path(event.trades_uri),
        event.options.initial_cash,
        event.timeframe,
        deps.rolling_window,
    )
    charts_uri = await asyncio.to_thread(
        put_json,
        deps.store,
        f"{_prefix(event.owner_id, event.run_id)}/charts.json",
        analysis.charts,
    )
    ready = ReportReady(
        run_id=event.run_id,
        owner_id=event.owner_id,
        metrics=analysis.metrics,
        correlation_id=correlation_of(event),
    )
    written = await deps.repo.add(
        {
            "run_id": event.run_id,
            "owner_id": event.owner_id,
            "dataset_id": event.dataset_id,
            "strategy": event.strategy,
            "parameters": dict(event.parameters),
            "status": "ready",
            "metrics": analysis.metrics,
            "worst_drawdowns": analysis.worst_drawdowns,
            "monthly_returns": analysis.monthly_returns,
            "yearly_returns": analysis.yearly_returns,
            "rolling_window": deps.rolling_window,
            "charts_uri": charts_uri,
            "chart_names": list(analysis.charts),
            "equity_uri": event.equity_uri,
            "initial_cash": event.options.initial_cash,
            "created_at": deps.clock.now(),
        },
        (ready, REPORT_READY, event.run_id.bytes),
    )
    if written is Written.ERASED:  # deleted while being analysed: take the charts along too
        await asyncio.to_thread(remove_prefix, deps.store, _prefix(event.owner_id, event.run_id))
        log.info("run deleted while analysed; analysis dropped", run_id=str(event.run_id))


def _prefix(owner_id: UUID, run_id: UUID) -> str:
    return f"analytics/{owner_id}/{run_id}"


def _ok(cmd: Message, **fields: Any) -> AnalyticsReply:
    return AnalyticsReply(
        request_id=cmd.message_id, correlation_id=correlation_of(cmd), ok=True, **fields
    )


async def missing_reply(cmd: AnalyticsCommand, run_id: UUID, deps: AnalyticsDeps) -> AnalyticsReply:
    """The error for a run without a ready analysis: failed (saying why), or not found."""
    failure = await deps.repo.failure(cmd.owner_id, run_id)
    if failure is None:
        return error_reply(cmd, AnalyticsErrorCode.NOT_FOUND, "No analysis for this run yet.")
    message = f"The analysis of run {run_id} failed ({failure.reason}): {failure.message}"
    return error_reply(cmd, AnalyticsErrorCode.FAILED, message)


async def get_analysis(cmd: GetAnalysis, deps: AnalyticsDeps) -> AnalyticsReply:
    """Return the owner's analysis of a run."""
    info = await deps.repo.get(cmd.owner_id, cmd.run_id)
    if info is None:
        return await missing_reply(cmd, cmd.run_id, deps)
    return _ok(cmd, analysis=info)


def render_run_report(info: AnalysisInfo, charts: dict[str, dict[str, Any]]) -> str:
    """The run's self-contained HTML page."""
    parameters = ", ".join(f"{k}={v}" for k, v in info.parameters.items())
    return render_report(
        title=f"{info.strategy}({parameters})",
        subtitle=f"Run {info.run_id} on dataset {info.dataset_id}",
        metrics=info.metrics,
        charts=charts,
        drawdowns=[d.model_dump(mode="json") for d in info.worst_drawdowns],
    )


async def get_report(cmd: GetReport, deps: AnalyticsDeps) -> AnalyticsReply:
    """Render the run's HTML report once, keep it in the object store, answer with its URI.

    A run deleted meanwhile answers not found: its files vanish before its row (see
    ``erasure``), and a report written after the row went is removed here, not left behind.
    """
    info = await deps.repo.get(cmd.owner_id, cmd.run_id)
    if info is None:
        return await missing_reply(cmd, cmd.run_id, deps)
    uri = await deps.repo.report_uri(cmd.owner_id, cmd.run_id)
    if uri is None or not deps.store.path(uri).exists():
        if info.charts_uri is None:
            return error_reply(cmd, AnalyticsErrorCode.NOT_READY, "This run has no charts.")
        try:
            charts = await asyncio.to_thread(get_json, deps.store, info.charts_uri)
        except FileNotFoundError:
            return gone_reply(cmd)
        page = await asyncio.to_thread(render_run_report, info, charts)
        uri = await asyncio.to_thread(
            put_text, deps.store, f"{_prefix(cmd.owner_id, cmd.run_id)}/report.html", page
        )
        if not await deps.repo.set_report_uri(cmd.run_id, uri):
            await asyncio.to_thread(remove_prefix, deps.store, _prefix(cmd.owner_id, cmd.run_id))
            return gone_reply(cmd)
    return _ok(cmd, report_uri=uri)


def rolling_of(info: AnalysisInfo, window: int, store: LocalObjectStore) -> dict[str, Any]:
    """Read the run's equity and compute its rolling series (in a worker thread)."""
    curve = read_equity(store.path(info.equity_uri or ""))
    periods = info.metrics.get("periods_per_year") or 252.0
    return rolling_series(curve.time_ns, curve.equity, info.initial_cash or 1.0, periods, window)


async def get_rolling(cmd: GetRolling, deps: AnalyticsDeps) -> AnalyticsReply:
    """Rolling Sharpe and volatility over the window asked for."""
    info = await deps.repo.get(cmd.owner_id, cmd.run_id)
    if info is None:
        return await missing_reply(cmd, cmd.run_id, deps)
    if info.equity_uri is None:
        return error_reply(cmd, AnalyticsErrorCode.NOT_READY, "This run has no stored curve.")
    try:
        series = await asyncio.to_thread(rolling_of, info, cmd.window, deps.store)
    except FileNotFoundError:
        return gone_reply(cmd)
    return _ok(cmd, rolling=RollingSeries.model_validate(series))


def load_curves(
    runs: list[AnalysisInfo], store: LocalObjectStore
) -> list[tuple[str, EquityFile, float]]:
    """Each run's label, equity file and initial cash (in a worker thread)."""
    return [
        (
            f"{r.strategy} {str(r.run_id)[:8]}",
            read_equity(store.path(r.equity_uri or "")),
            r.initial_cash or 1.0,
        )
        for r in runs
    ]


async def compare_runs(cmd: CompareRuns, deps: AnalyticsDeps) -> AnalyticsReply:
    """Metrics side by side and the equity curves overlaid, each divided by its initial cash."""
    found = await deps.repo.get_many(cmd.owner_id, cmd.run_ids)
    missing = [r for r in cmd.run_ids if r not in found]
    for run_id in missing:
        if await deps.repo.failure(cmd.owner_id, run_id) is not None:
            return await missing_reply(cmd, run_id, deps)
    if missing:
        named = ", ".join(map(str, missing))
        return error_reply(cmd, AnalyticsErrorCode.NOT_FOUND, f"No analysis for run(s): {named}.")
    runs = [found[r] for r in cmd.run_ids]
    if any(r.equity_uri is None for r in runs):
        return error_reply(
            cmd, AnalyticsErrorCode.NOT_READY, "A run was analysed before comparisons existed."
        )
    try:
        curves = await asyncio.to_thread(load_curves, runs, deps.store)
    except FileNotFoundError:
        return gone_reply(cmd)
    figure = compare_figure(
        [
            NormalisedCurve(label, curve.time_ns, curve.equity / cash)
            for label, curve, cash in curves
        ]
    )
    return _ok(cmd, comparison=Comparison(runs=runs, equity_chart=figure))


def gone_reply(cmd: Message) -> AnalyticsReply:
    """The reply when a run's files vanished under a query: the engine deleted the backtest
    (and its files) and the cascade is erasing its analysis."""
    return error_reply(cmd, AnalyticsErrorCode.NOT_FOUND, "No such backtest.")


def error_reply(cmd: Message, code: AnalyticsErrorCode, message: str) -> AnalyticsReply:
    """A failed reply to ``cmd``."""
    return AnalyticsReply(
        request_id=cmd.message_id,
        correlation_id=correlation_of(cmd),
        ok=False,
        error=AnalyticsError(code=code, message=message),
    )
