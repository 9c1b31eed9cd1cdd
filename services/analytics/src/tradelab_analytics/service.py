"""Use cases of the analytics service: analyse a completed backtest, answer queries."""

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from tradelab_contracts.analytics import ReportReady
from tradelab_contracts.analytics_rpc import (
    AnalyticsError,
    AnalyticsErrorCode,
    AnalyticsReply,
    GetAnalysis,
)
from tradelab_contracts.base import Message, correlation_of
from tradelab_contracts.engine import BacktestCompleted
from tradelab_contracts.topics import REPORT_READY
from tradelab_runtime.clock import Clock
from tradelab_runtime.storage import LocalObjectStore

from .adapters.repository import AnalysisRepository
from .domain.analysis import analyse

Publish = Callable[[Message, str, bytes], Awaitable[None]]
TRADE_COLUMNS = ("pnl", "return", "bars_held", "is_open", "entry_fee", "exit_fee")


@dataclass(frozen=True)
class AnalyticsDeps:
    """What the use cases need from the outside world."""

    repo: AnalysisRepository
    store: LocalObjectStore
    publish: Publish
    clock: Clock


def compute_metrics(
    equity_path: Path, trades_path: Path, initial_cash: float, timeframe: str | None
) -> dict[str, float | None]:
    """Read the engine's result files and compute every metric (polars -> numpy here)."""
    equity = pl.read_parquet(equity_path, columns=["time", "equity"])
    trades = pl.read_parquet(trades_path)
    columns: dict[str, Any] = {
        name: trades[name].to_numpy() for name in TRADE_COLUMNS if name in trades.columns
    }
    return analyse(
        equity["equity"].to_numpy().astype(np.float64),
        equity["time"].dt.epoch("ns").to_numpy(),
        columns,
        initial_cash,
        timeframe,
    )


async def analyse_completed(event: BacktestCompleted, deps: AnalyticsDeps) -> None:
    """Analyse a completed run once; a redelivered event changes nothing."""
    metrics = await asyncio.to_thread(
        compute_metrics,
        deps.store.path(event.equity_uri),
        deps.store.path(event.trades_uri),
        event.options.initial_cash,
        event.timeframe,
    )
    stored = await deps.repo.add(
        {
            "run_id": event.run_id,
            "owner_id": event.owner_id,
            "dataset_id": event.dataset_id,
            "strategy": event.strategy,
            "parameters": dict(event.parameters),
            "status": "ready",
            "metrics": metrics,
            "created_at": deps.clock.now(),
        }
    )
    if stored:
        ready = ReportReady(
            run_id=event.run_id,
            owner_id=event.owner_id,
            metrics=metrics,
            correlation_id=correlation_of(event),
        )
        await deps.publish(ready, REPORT_READY, event.run_id.bytes)


async def get_analysis(cmd: GetAnalysis, deps: AnalyticsDeps) -> AnalyticsReply:
    """Return the owner's analysis of a run."""
    info = await deps.repo.get(cmd.owner_id, cmd.run_id)
    if info is None:
        return error_reply(cmd, AnalyticsErrorCode.NOT_FOUND, "No analysis for this run yet.")
    return AnalyticsReply(
        request_id=cmd.message_id, correlation_id=correlation_of(cmd), ok=True, analysis=info
    )


def error_reply(cmd: Message, code: AnalyticsErrorCode, message: str) -> AnalyticsReply:
    """A failed reply to ``cmd``."""
    return AnalyticsReply(
        request_id=cmd.message_id,
        correlation_id=correlation_of(cmd),
        ok=False,
        error=AnalyticsError(code=code, message=message),
    )
