"""Strategy catalogue and backtest queries over Kafka request/reply (gateway -> engine).

The engine owns the strategy catalogue and its runs' state. A gateway publishes an `EngineRequest`
on ``engine.rpc.request.v1`` with ``reply_to`` set to its reply topic; the engine answers with an
`EngineReply` (``kind="engine"``). Run requests name their owner: another user's run is
``not_found``.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any, Literal, TypeAlias
from uuid import UUID

from pydantic import AwareDatetime, Field, TypeAdapter

from tradelab_contracts.auth import ReplyTopic
from tradelab_contracts.base import (
    Command,
    ContractModel,
    Parameters,
    Reply,
    Sha256,
    StorageUri,
    StrategyName,
)
from tradelab_contracts.engine import BacktestSummary, EngineOptions, FailureReason


class RunStatus(StrEnum):
    """Where a backtest run is in its lifecycle."""

    QUEUED = "queued"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"


class StrategyInfo(ContractModel):
    """A catalogue entry: what the strategy does and its parameters' JSON schema."""

    name: StrategyName = Field(description="Catalogue name.")
    description: str = Field(description="What the strategy does.")
    parameters_schema: dict[str, Any] = Field(description="JSON schema of the parameters.")
    defaults: dict[str, Any] = Field(description="Default parameter values.")


class RunInfo(ContractModel):
    """A backtest run as the engine stores it."""

    id: UUID = Field(description="Run id.")
    owner_id: UUID = Field(description="Owning user.")
    dataset_id: UUID = Field(description="Dataset backtested.")
    strategy: StrategyName = Field(description="Strategy name.")
    parameters: Parameters = Field(description="Validated parameters, defaults filled in.")
    options: EngineOptions = Field(description="Simulation options.")
    status: RunStatus = Field(description="queued, running, completed, failed or cancelled.")
    progress: float = Field(ge=0, le=1, description="Fraction done.")
    sequence: int = Field(
        default=0, ge=0, description="Sequence number of the run's latest event (0: none yet)."
    )
    summary: BacktestSummary | None = Field(default=None, description="When completed.")
    equity_uri: StorageUri | None = Field(default=None, description="Equity curve Parquet.")
    trades_uri: StorageUri | None = Field(default=None, description="Trades Parquet.")
    cached: bool = Field(default=False, description="Answered from an identical earlier run.")
    failure_reason: FailureReason | None = Field(default=None, description="When failed.")
    failure_message: str | None = Field(default=None, description="When failed.")
    created_at: AwareDatetime = Field(description="When the run was submitted.")
    started_at: AwareDatetime | None = Field(default=None, description="When it started.")
    finished_at: AwareDatetime | None = Field(default=None, description="When it ended.")


class EngineCommand(Command):
    """Fields every engine request has."""

    reply_to: ReplyTopic = Field(description="Topic the EngineReply is published to.")


class ListStrategies(EngineCommand):
    """The strategy catalogue."""

    kind: Literal["list_strategies"] = Field(
        default="list_strategies", description="Discriminator."
    )


class SubmitBacktest(EngineCommand):
    """Validate and queue a backtest (or answer it from an identical finished run)."""

    kind: Literal["submit_backtest"] = Field(
        default="submit_backtest", description="Discriminator."
    )
    run_id: UUID = Field(description="Id chosen by the gateway.")
    owner_id: UUID = Field(description="Requesting user.")
    dataset_id: UUID = Field(description="Dataset id (checked ready and owned by the gateway).")
    dataset_uri: StorageUri = Field(description="The dataset's Parquet file.")
    dataset_sha256: Sha256 = Field(description="The dataset's content hash (cache key).")
    timeframe: str | None = Field(default=None, max_length=16, description="Dataset bar size.")
    strategy: str = Field(min_length=1, max_length=64, description="Strategy name.")
    parameters: dict[str, Any] = Field(default_factory=dict, description="Raw parameters.")
    options: EngineOptions = Field(default_factory=EngineOptions, description="Options.")


class ListBacktests(EngineCommand):
    """A page of the owner's runs, newest first."""

    kind: Literal["list_backtests"] = Field(default="list_backtests", description="Discriminator.")
    owner_id: UUID = Field(description="Requesting user.")
    limit: int = Field(default=50, ge=1, le=500, description="Page size.")
    offset: int = Field(default=0, ge=0, description="Rows to skip.")
    status: RunStatus | None = Field(default=None, description="Only runs in this status.")


class GetBacktest(EngineCommand):
    """One run."""

    kind: Literal["get_backtest"] = Field(default="get_backtest", description="Discriminator.")
    owner_id: UUID = Field(description="Requesting user.")
    run_id: UUID = Field(description="Run id.")


class CancelBacktestRequest(EngineCommand):
    """Ask for a queued or running run to stop."""

    kind: Literal["cancel_backtest"] = Field(
        default="cancel_backtest", description="Discriminator."
    )
    owner_id: UUID = Field(description="Requesting user.")
    run_id: UUID = Field(description="Run id.")


class DeleteBacktest(EngineCommand):
    """Delete a finished run and its files."""

    kind: Literal["delete_backtest"] = Field(
        default="delete_backtest", description="Discriminator."
    )
    owner_id: UUID = Field(description="Requesting user.")
    run_id: UUID = Field(description="Run id.")


class RunQuickBacktest(EngineCommand):
    """Run one backtest at once and answer with its result, recording no run.

    The synchronous form of `SubmitBacktest` for small inputs: parameters are validated the same
    way (``invalid`` when refused), the same simulation runs over the bars at ``bars_uri``, and the
    equity curve and trades are written to ``equity_uri`` and ``trades_uri``, locations the
    requester chose and deletes when done. A run still going ``deadline_s`` after receipt is
    stopped between two chunks and answered with the ``timeout`` error; nothing is written then.
    """

    kind: Literal["run_quick_backtest"] = Field(
        default="run_quick_backtest", description="Discriminator."
    )
    owner_id: UUID = Field(description="Requesting user.")
    bars_uri: StorageUri = Field(description="Normalised bars (Parquet, as datasets writes them).")
    equity_uri: StorageUri = Field(description="Where to write the equity curve (Parquet).")
    trades_uri: StorageUri = Field(description="Where to write the trades (Parquet).")
    timeframe: str | None = Field(default=None, max_length=16, description="Bar size.")
    strategy: str = Field(min_length=1, max_length=64, description="Strategy name.")
    parameters: dict[str, Any] = Field(default_factory=dict, description="Raw parameters.")
    options: EngineOptions = Field(default_factory=EngineOptions, description="Options.")
    deadline_s: float = Field(
        gt=0, le=3600, description="Seconds from receipt the run may take before it is stopped."
    )


EngineRequest: TypeAlias = Annotated[
    ListStrategies
    | SubmitBacktest
    | ListBacktests
    | GetBacktest
    | CancelBacktestRequest
    | DeleteBacktest
    | RunQuickBacktest,
    Field(discriminator="kind"),
]
"""Any engine request, told apart by its ``kind``."""

ENGINE_REQUEST_TYPES: tuple[type[EngineCommand], ...] = (
    ListStrategies,
    SubmitBacktest,
    ListBacktests,
    GetBacktest,
    CancelBacktestRequest,
    DeleteBacktest,
    RunQuickBacktest,
)
ENGINE_REQUEST_ADAPTER: TypeAdapter[EngineRequest] = TypeAdapter(EngineRequest)


class EngineErrorCode(StrEnum):
    """Why an engine request failed."""

    NOT_FOUND = "not_found"
    INVALID = "invalid"
    CONFLICT = "conflict"
    TIMEOUT = "timeout"
    INTERNAL = "internal"


class EngineError(ContractModel):
    """A failed engine request's error."""

    code: EngineErrorCode = Field(description="Machine-readable code.")
    message: str = Field(max_length=2048, description="Human-readable explanation.")
    errors: list[dict[str, str]] = Field(
        default_factory=list, description="Field-level problems: {field, message}."
    )


class QuickBacktestResult(ContractModel):
    """What a `RunQuickBacktest` produced."""

    strategy: StrategyName = Field(description="Strategy name.")
    parameters: Parameters = Field(description="Validated parameters, defaults filled in.")
    options: EngineOptions = Field(description="Simulation options used.")
    summary: BacktestSummary = Field(description="Headline results.")
    equity_uri: StorageUri = Field(description="Equity curve Parquet (the request's equity_uri).")
    trades_uri: StorageUri = Field(description="Trades Parquet (the request's trades_uri).")
    bars: int = Field(ge=1, description="Bars simulated.")
    engine_version: str = Field(min_length=1, max_length=64, description="Engine version.")
    duration_s: float = Field(ge=0, description="Seconds spent loading, simulating and writing.")


class EngineReply(Reply):
    """Answer to an `EngineRequest`."""

    kind: Literal["engine"] = Field(default="engine", description="Reply discriminator.")
    error: EngineError | None = Field(default=None, description="Why it failed.")
    strategies: list[StrategyInfo] | None = Field(default=None, description="The catalogue.")
    run: RunInfo | None = Field(default=None, description="The run (submit, get, cancel).")
    runs: list[RunInfo] | None = Field(default=None, description="A page (list).")
    total: int | None = Field(default=None, ge=0, description="Matching runs (list).")
    quick: QuickBacktestResult | None = Field(
        default=None, description="The result (run_quick_backtest)."
    )
