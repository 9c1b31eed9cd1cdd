"""Request and response bodies of ``/api/v1/backtests``."""

from datetime import datetime
from typing import Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from tradelab_contracts.engine import BacktestSummary, EngineOptions
from tradelab_contracts.engine_rpc import RunInfo


class BacktestCreate(BaseModel):
    """``POST /api/v1/backtests``."""

    model_config = ConfigDict(extra="forbid")

    dataset_id: UUID = Field(description="A ready dataset of yours.")
    strategy: str = Field(min_length=1, max_length=64, description="Name from /strategies.")
    parameters: dict[str, Any] = Field(
        default_factory=dict, description="Strategy parameters; defaults fill the gaps."
    )
    options: EngineOptions = Field(
        default_factory=EngineOptions, description="Fees, slippage, sizing, stops (docs/engine.md)."
    )


class BacktestPublic(BaseModel):
    """A backtest run as its owner sees it."""

    id: UUID
    dataset_id: UUID
    strategy: str
    parameters: dict[str, Any]
    options: EngineOptions
    status: str = Field(description="queued, running, completed, failed or cancelled")
    progress: float
    sequence: int = Field(
        description="Sequence number of the run's latest event (resume a WebSocket after it)"
    )
    summary: BacktestSummary | None
    cached: bool = Field(description="Answered from an identical earlier run")
    failure_reason: str | None
    failure_message: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None

    @classmethod
    def of(cls, run: RunInfo) -> "BacktestPublic":
        """Build from the engine's record."""
        return cls.model_validate(run.model_dump(exclude={"owner_id", "equity_uri", "trades_uri"}))


class BacktestPage(BaseModel):
    """A page of runs, newest first."""

    items: list[BacktestPublic]
    total: int
    limit: int
    offset: int


class EquityPublic(BaseModel):
    """The equity curve, possibly downsampled."""

    run_id: UUID
    total_points: int = Field(description="Bars in the full curve")
    points: list[dict[str, Any]] = Field(
        description="time, close (the asset), equity, cash, position, drawdown"
    )


class TradesPublic(BaseModel):
    """A page of trades (the open trade at the end, if any, included)."""

    run_id: UUID
    total: int
    items: list[dict[str, Any]]
