"""Strategy catalogue and backtest queries over Kafka request/reply (gateway -> engine).

The engine owns the strategy catalogue and its runs' state. A gateway publishes an `EngineRequest`
on ``engine.rpc.request.v1`` with ``reply_to`` set to its reply topic; the engine answers with the
request's own reply class (`REPLY_OF`, each an `EngineReply` told apart by its ``kind``). Run
requests name their owner: another user's run is ``not_found``.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any, ClassVar, Literal, Self, TypeAlias
from uuid import UUID

from pydantic import AwareDatetime, Field, TypeAdapter, model_validator

from tradelab_contracts.auth import ReplyTopic
from tradelab_contracts.base import (
    ContractModel,
    IdempotencyKey,
    Parameters,
    Reply,
    Request,
    Seed,
    Sha256,
    StorageUri,
    StrategyName,
)
from tradelab_contracts.engine import BacktestSummary, EngineOptions, FailureReason
from tradelab_contracts.montecarlo import (
    MonteCarloMethod,
    MonteCarloResults,
    MonteCarloSpec,
    Priority,
)
from tradelab_contracts.optimization import (
    BarWindow,
    Constraint,
    Objective,
    ParameterSpace,
    SearchMethod,
    WalkForward,
)
from tradelab_contracts.performance import MAX_REPORT_ROWS, DatabaseReport, JobsReport
from tradelab_contracts.quotas import QuotaUsage
from tradelab_contracts.rules import RuleSet

MAX_SAVED_STRATEGIES = 200
"""Saved rule strategies one user may keep, at most (the engine's quota setting,
``ENGINE_QUOTA_SAVED_STRATEGIES``, may only lower it)."""


class RunStatus(StrEnum):
    """Where a backtest run is in its lifecycle."""

    QUEUED = "queued"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"


class StrategyInfo(ContractModel):
    """A strategy a user may run: a catalogue entry (``builtin``), with its parameters' JSON
    schema, or one of the user's saved rule strategies (``saved``), which takes no parameters
    (its ``rules`` are run as the ``rules`` strategy's parameters)."""

    name: StrategyName = Field(description="Catalogue name, or the saved strategy's name.")
    description: str = Field(description="What the strategy does.")
    parameters_schema: dict[str, Any] = Field(
        description="JSON schema of the parameters ({} for a saved strategy)."
    )
    defaults: dict[str, Any] = Field(
        description="Default parameter values ({} for a saved strategy)."
    )
    kind: Literal["builtin", "saved"] = Field(
        default="builtin", description="builtin (the catalogue) or saved (a user's rules)."
    )
    rules: RuleSet | None = Field(default=None, description="A saved strategy's rules.")
    created_at: AwareDatetime | None = Field(
        default=None, description="When a saved strategy was saved."
    )


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


class EngineCommand(Request):
    """Fields every engine request has."""

    reply_to: ReplyTopic = Field(description="Topic the EngineReply is published to.")


class ListStrategies(EngineCommand):
    """The strategy catalogue, followed by ``owner_id``'s saved strategies (oldest first)."""

    kind: Literal["list_strategies"] = Field(
        default="list_strategies", description="Discriminator."
    )
    owner_id: UUID | None = Field(
        default=None, description="Whose saved strategies to add (None: the catalogue only)."
    )


class CreateStrategy(EngineCommand):
    """Save a rule strategy under a name of the owner's.

    Refused as ``invalid`` when the name is a catalogue name; as ``quota_exceeded`` when the
    owner already keeps as many as their quota allows; as ``conflict`` when the owner already has
    one of that name.
    """

    kind: Literal["create_strategy"] = Field(
        default="create_strategy", description="Discriminator."
    )
    owner_id: UUID = Field(description="Requesting user.")
    name: StrategyName = Field(description="Name to run it by; not a catalogue name.")
    description: str = Field(default="", max_length=500, description="What it does.")
    rules: RuleSet = Field(description="Entry and exit conditions.")


class DeleteStrategy(EngineCommand):
    """Delete one of the owner's saved strategies (runs made with it keep their rules).

    ``conflict`` for a catalogue name, ``not_found`` when the owner has none of that name.
    """

    kind: Literal["delete_strategy"] = Field(
        default="delete_strategy", description="Discriminator."
    )
    owner_id: UUID = Field(description="Requesting user.")
    name: str = Field(min_length=1, max_length=64, description="Saved strategy's name.")


class IdempotentSubmit(ContractModel):
    """Fields of a job submission that a client may retry safely.

    The engine keeps ``idempotency_key`` with the job it creates: a later submission of the same
    owner and kind with the same key is answered with that job (``request_sha256`` equal), or
    refused as ``idempotency_key_reused`` (``request_sha256`` different).
    """

    idempotency_key: IdempotencyKey | None = Field(
        default=None, description="The client's Idempotency-Key, if it sent one."
    )
    request_sha256: Sha256 | None = Field(
        default=None,
        description="Hash of the client's normalised request; set exactly with the key.",
    )

    @model_validator(mode="after")
    def _hash_iff_key(self) -> Self:
        if (self.idempotency_key is None) != (self.request_sha256 is None):
            msg = "idempotency_key and request_sha256 are set together or not at all"
            raise ValueError(msg)
        return self


class SubmitBacktest(EngineCommand, IdempotentSubmit):
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
    active: bool = Field(
        default=False, description="Only queued and running runs (status is then ignored)."
    )
    limit: int = Field(default=50, ge=1, le=500, description="Page size.")
    offset: int = Field(default=0, ge=0, description="Rows to skip.")
    status: RunStatus | None = Field(default=None, description="Only runs in this status.")


class ListActiveJobs(EngineCommand):
    """Every queued or running job of the owner, of each kind, in one answer: backtests in
    ``runs``, optimisations in ``optimizations``, Monte Carlo studies in ``monte_carlos`` (what
    a WebSocket shows when it connects)."""

    kind: Literal["list_active_jobs"] = Field(
        default="list_active_jobs", description="Discriminator."
    )
    owner_id: UUID = Field(description="Requesting user.")
    limit: int = Field(default=100, ge=1, le=500, description="Most jobs of each kind.")


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


class SubmitOptimization(EngineCommand, IdempotentSubmit):
    """Start a parameter search: the engine expands it and publishes chunks for the replicas."""

    kind: Literal["submit_optimization"] = Field(
        default="submit_optimization", description="Discriminator."
    )
    optimization_id: UUID = Field(description="Id chosen by the gateway.")
    owner_id: UUID = Field(description="Requesting user.")
    dataset_id: UUID = Field(description="Dataset, already checked to be the owner's and ready.")
    dataset_uri: StorageUri = Field(description="Where the dataset's Parquet file lives.")
    dataset_sha256: Sha256 = Field(description="Content hash of the dataset.")
    timeframe: str | None = Field(default=None, description="Bar size, for annualising.")
    strategy: StrategyName = Field(description="Strategy name in the catalogue.")
    parameter_space: ParameterSpace = Field(min_length=1, description="Values to search.")
    search: SearchMethod = Field(description="grid, random or genetic.")
    objective: Objective = Field(description="What to optimise.")
    constraints: list[Constraint] = Field(default_factory=list, description="Filters.")
    min_trades: int | None = Field(default=None, ge=0, description="Fewer trades: not ranked.")
    options: EngineOptions = Field(default_factory=EngineOptions, description="Simulation.")
    walk_forward: WalkForward | None = Field(default=None, description="Walk-forward scheme.")


class GetOptimization(EngineCommand):
    """One optimisation's status, progress and best result."""

    kind: Literal["get_optimization"] = Field(
        default="get_optimization", description="Discriminator."
    )
    owner_id: UUID = Field(description="Requesting user.")
    optimization_id: UUID = Field(description="Optimisation id.")


class ListOptimizations(EngineCommand):
    """A page of the user's optimisations, newest first."""

    kind: Literal["list_optimizations"] = Field(
        default="list_optimizations", description="Discriminator."
    )
    owner_id: UUID = Field(description="Requesting user.")
    status: RunStatus | None = Field(default=None, description="Only this status.")
    active: bool = Field(
        default=False, description="Only queued and running ones (status is then ignored)."
    )
    limit: int = Field(default=50, ge=1, le=500, description="Page size.")
    offset: int = Field(default=0, ge=0, description="Rows to skip.")


class CancelOptimizationRequest(EngineCommand):
    """Stop an optimisation; chunks not yet evaluated are skipped."""

    kind: Literal["cancel_optimization"] = Field(
        default="cancel_optimization", description="Discriminator."
    )
    owner_id: UUID = Field(description="Requesting user.")
    optimization_id: UUID = Field(description="Optimisation id.")


class GetOptimizationResults(EngineCommand):
    """A page of an optimisation's evaluated combinations, best first by default."""

    kind: Literal["get_optimization_results"] = Field(
        default="get_optimization_results", description="Discriminator."
    )
    owner_id: UUID = Field(description="Requesting user.")
    optimization_id: UUID = Field(description="Optimisation id.")
    order_by: str | None = Field(
        default=None, description="Metric to sort by; the objective when None."
    )
    descending: bool | None = Field(
        default=None, description="Sort direction; the objective's (best first) when None."
    )
    limit: int = Field(default=100, ge=1, le=1000, description="Page size.")
    offset: int = Field(default=0, ge=0, description="Rows to skip.")
    fold_index: int | None = Field(
        default=None, ge=0, description="Only this walk-forward fold's training results."
    )


class GetOptimizationHeatmap(EngineCommand):
    """A metric over two parameters (the best value over the other parameters per cell)."""

    kind: Literal["get_optimization_heatmap"] = Field(
        default="get_optimization_heatmap", description="Discriminator."
    )
    owner_id: UUID = Field(description="Requesting user.")
    optimization_id: UUID = Field(description="Optimisation id.")
    x: str = Field(min_length=1, description="Parameter on the x axis.")
    y: str = Field(min_length=1, description="Parameter on the y axis.")
    metric: str | None = Field(default=None, description="Metric; the objective's when None.")
    fold_index: int | None = Field(
        default=None, ge=0, description="Only this walk-forward fold's training results."
    )


class GetWalkForward(EngineCommand):
    """A walk-forward optimisation's folds and its stitched out-of-sample equity."""

    kind: Literal["get_walk_forward"] = Field(
        default="get_walk_forward", description="Discriminator."
    )
    owner_id: UUID = Field(description="Requesting user.")
    optimization_id: UUID = Field(description="Optimisation id.")
    max_points: int = Field(
        default=2000, ge=2, le=1_000_000, description="Equity points returned at most."
    )


# --- Monte Carlo studies ------------------------------------------------------------------------


class MonteCarloInfo(ContractModel):
    """A Monte Carlo study as the engine stores it."""

    id: UUID = Field(description="Study id.")
    owner_id: UUID = Field(description="Owning user.")
    method: MonteCarloMethod = Field(description="How outcomes are simulated.")
    n_simulations: int = Field(ge=1, description="Outcomes to simulate.")
    seed: Seed = Field(description="Random seed (the same seed reproduces the same numbers).")
    priority: Priority = Field(
        description="Order among the owner's own queued studies (never ahead of other users')."
    )
    drawdown_threshold: float = Field(gt=0, le=1, description="Drawdown threshold asked for.")
    block_size: int | None = Field(default=None, description="Bars per block (block_bootstrap).")
    horizon_bars: int | None = Field(default=None, description="Steps per path, if set.")
    source_run_id: UUID | None = Field(default=None, description="Run resampled (bootstrap).")
    dataset_id: UUID | None = Field(default=None, description="Dataset fitted (gbm_paths).")
    strategy: StrategyName | None = Field(default=None, description="Strategy run (gbm_paths).")
    parameters: Parameters = Field(default_factory=dict, description="Validated parameters (gbm).")
    options: EngineOptions | None = Field(default=None, description="Options (gbm_paths).")
    status: RunStatus = Field(description="queued, running, completed, failed or cancelled.")
    progress: float = Field(ge=0, le=1, description="Fraction done.")
    simulations_done: int = Field(default=0, ge=0, description="Outcomes simulated so far.")
    sequence: int = Field(default=0, ge=0, description="Number of the study's latest event.")
    results: MonteCarloResults | None = Field(default=None, description="When completed.")
    results_uri: StorageUri | None = Field(default=None, description="Outcomes Parquet.")
    failure_reason: FailureReason | None = Field(default=None, description="When failed.")
    failure_message: str | None = Field(default=None, description="When failed.")
    created_at: AwareDatetime = Field(description="When the study was submitted.")
    started_at: AwareDatetime | None = Field(default=None, description="When it started.")
    finished_at: AwareDatetime | None = Field(default=None, description="When it ended.")


class SubmitMonteCarlo(EngineCommand, MonteCarloSpec, IdempotentSubmit):
    """Validate and queue a Monte Carlo study.

    A bootstrap needs ``source_run_id`` to be a completed run of ``owner_id`` (``not_found``
    otherwise, ``conflict`` while it is not completed); ``gbm_paths`` needs the dataset fields
    (resolved by the gateway) and a valid strategy and parameters (``invalid`` otherwise).
    """

    kind: Literal["submit_monte_carlo"] = Field(
        default="submit_monte_carlo", description="Discriminator."
    )


class ListMonteCarlo(EngineCommand):
    """A page of the owner's Monte Carlo studies, newest first."""

    kind: Literal["list_monte_carlo"] = Field(
        default="list_monte_carlo", description="Discriminator."
    )
    owner_id: UUID = Field(description="Requesting user.")
    limit: int = Field(default=50, ge=1, le=500, description="Page size.")
    offset: int = Field(default=0, ge=0, description="Rows to skip.")
    status: RunStatus | None = Field(default=None, description="Only studies in this status.")
    method: MonteCarloMethod | None = Field(default=None, description="Only this method.")
    active: bool = Field(
        default=False, description="Only queued and running ones (status is then ignored)."
    )


class GetMonteCarlo(EngineCommand):
    """One Monte Carlo study."""

    kind: Literal["get_monte_carlo"] = Field(
        default="get_monte_carlo", description="Discriminator."
    )
    owner_id: UUID = Field(description="Requesting user.")
    simulation_id: UUID = Field(description="Study id.")


class CancelMonteCarloRequest(EngineCommand):
    """Ask for a queued or running Monte Carlo study to stop."""

    kind: Literal["cancel_monte_carlo"] = Field(
        default="cancel_monte_carlo", description="Discriminator."
    )
    owner_id: UUID = Field(description="Requesting user.")
    simulation_id: UUID = Field(description="Study id.")


class GetEngineUsage(EngineCommand):
    """The owner's usage and limit of every quota the engine enforces."""

    kind: Literal["get_usage"] = Field(default="get_usage", description="Discriminator.")
    owner_id: UUID = Field(description="Requesting user.")


class GetDatabasePerformance(EngineCommand):
    """The shared database's connections, sizes, index use and slowest statements (admins)."""

    kind: Literal["get_database_performance"] = Field(
        default="get_database_performance", description="Discriminator."
    )
    top: int = Field(
        default=20, ge=1, le=MAX_REPORT_ROWS, description="Rows of each list, at most."
    )


class GetJobsPerformance(EngineCommand):
    """Job queue depth, running jobs, throughput, durations and the engine's lag (admins)."""

    kind: Literal["get_jobs_performance"] = Field(
        default="get_jobs_performance", description="Discriminator."
    )
    top: int = Field(default=20, ge=1, le=MAX_REPORT_ROWS, description="Running jobs, at most.")


MonteCarloRequest: TypeAlias = (
    SubmitMonteCarlo | ListMonteCarlo | GetMonteCarlo | CancelMonteCarloRequest
)
"""The Monte Carlo members of `EngineRequest`."""

# --- end of Monte Carlo studies -----------------------------------------------------------------


EngineRequest: TypeAlias = Annotated[
    ListStrategies
    | SubmitBacktest
    | ListBacktests
    | GetBacktest
    | CancelBacktestRequest
    | DeleteBacktest
    | RunQuickBacktest
    | SubmitOptimization
    | GetOptimization
    | ListOptimizations
    | CancelOptimizationRequest
    | GetOptimizationResults
    | GetOptimizationHeatmap
    | GetWalkForward
    | ListActiveJobs
    | MonteCarloRequest
    | CreateStrategy
    | DeleteStrategy
    | GetEngineUsage
    | GetDatabasePerformance
    | GetJobsPerformance,
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
    SubmitOptimization,
    GetOptimization,
    ListOptimizations,
    CancelOptimizationRequest,
    GetOptimizationResults,
    GetOptimizationHeatmap,
    GetWalkForward,
    ListActiveJobs,
    SubmitMonteCarlo,
    ListMonteCarlo,
    GetMonteCarlo,
    CancelMonteCarloRequest,
    CreateStrategy,
    DeleteStrategy,
    GetEngineUsage,
    GetDatabasePerformance,
    GetJobsPerformance,
)
ENGINE_REQUEST_ADAPTER: TypeAdapter[EngineRequest] = TypeAdapter(EngineRequest)


class EngineErrorCode(StrEnum):
    """Why an engine request failed."""

    NOT_FOUND = "not_found"
    INVALID = "invalid"
    CONFLICT = "conflict"
    TIMEOUT = "timeout"
    INTERNAL = "internal"
    IDEMPOTENCY_KEY_REUSED = "idempotency_key_reused"
    """The owner's Idempotency-Key names an earlier job of a different request."""
    REPLY_TOO_LARGE = "reply_too_large"
    """The answer would not fit in one broker message (``KAFKA_MAX_MESSAGE_BYTES``)."""
    QUOTA_EXCEEDED = "quota_exceeded"
    """The request would take the owner over a quota (named in ``EngineError.quota``)."""


class EngineError(ContractModel):
    """A failed engine request's error."""

    code: EngineErrorCode = Field(description="Machine-readable code.")
    message: str = Field(max_length=2048, description="Human-readable explanation.")
    errors: list[dict[str, str]] = Field(
        default_factory=list, description="Field-level problems: {field, message}."
    )
    quota: QuotaUsage | None = Field(
        default=None, description="The quota a ``quota_exceeded`` refusal ran into."
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


class OptimizationInfo(ContractModel):
    """An optimisation as the engine stores it."""

    id: UUID = Field(description="Optimisation id.")
    owner_id: UUID = Field(description="Owning user.")
    dataset_id: UUID = Field(description="Dataset searched over.")
    strategy: StrategyName = Field(description="Strategy name.")
    parameter_space: ParameterSpace = Field(description="Values searched.")
    search: SearchMethod = Field(description="Search method.")
    objective: Objective = Field(description="What is optimised.")
    constraints: list[Constraint] = Field(description="Filters.")
    min_trades: int | None = Field(description="Fewer trades: not ranked.")
    options: EngineOptions = Field(description="Simulation options.")
    status: RunStatus = Field(description="queued, running, completed, failed or cancelled.")
    total: int = Field(ge=0, description="Combinations to evaluate.")
    evaluated: int = Field(ge=0, description="Combinations evaluated so far.")
    skipped: int = Field(ge=0, description="Combinations left out by constraints or bounds.")
    chunks: int = Field(ge=0, description="Chunks the work was split into.")
    chunks_done: int = Field(ge=0, description="Chunks evaluated.")
    progress: float = Field(ge=0, le=1, description="evaluated / total.")
    sequence: int = Field(ge=0, description="Sequence number of the latest event.")
    best_parameters: Parameters | None = Field(description="Best ranked combination so far.")
    best_value: float | None = Field(description="Its objective value.")
    best_metrics: dict[str, float | None] | None = Field(description="Its metrics.")
    results_uri: StorageUri | None = Field(description="Parquet of every result, when done.")
    failure_message: str | None = Field(description="When failed.")
    walk_forward: WalkForward | None = Field(
        default=None, description="Walk-forward scheme, when the search is run fold by fold."
    )
    folds: int = Field(default=0, ge=0, description="Walk-forward folds (0 without one).")
    out_of_sample: dict[str, float | None] | None = Field(
        default=None, description="Metrics of the stitched out-of-sample equity, when done."
    )
    created_at: AwareDatetime = Field(description="When submitted.")
    started_at: AwareDatetime | None = Field(description="When the first chunk started.")
    finished_at: AwareDatetime | None = Field(description="When it ended.")


class OptimizationResultRow(ContractModel):
    """One evaluated combination."""

    index: int = Field(ge=0, description="Position of the combination in the search.")
    parameters: Parameters = Field(description="The combination.")
    metrics: dict[str, float | None] = Field(description="Its metrics.")
    objective: float | None = Field(description="The objective's value (None: undefined).")
    ranked: bool = Field(description="Whether it meets min_trades (only those can be best).")
    fold_index: int | None = Field(
        default=None, description="Walk-forward fold whose training window it was run on."
    )


class WalkForwardFold(ContractModel):
    """One walk-forward fold: the best combination on its training window, run on its test."""

    fold_index: int = Field(ge=0, description="Fold number, from 0.")
    train: BarWindow = Field(description="Training bars (half-open index range).")
    test: BarWindow = Field(description="Out-of-sample test bars, right after training.")
    train_start: AwareDatetime = Field(description="Time of the first training bar.")
    train_end: AwareDatetime = Field(description="Time of the last training bar.")
    test_start: AwareDatetime = Field(description="Time of the first test bar.")
    test_end: AwareDatetime = Field(description="Time of the last test bar.")
    done: bool = Field(description="Whether training finished and the test was run.")
    best_parameters: Parameters | None = Field(
        description="Best ranked combination on the training window; None if none qualified."
    )
    train_metrics: dict[str, float | None] | None = Field(
        description="The best combination's metrics on the training window."
    )
    test_metrics: dict[str, float | None] | None = Field(
        description="The best combination's metrics on the test window."
    )


class WalkForwardReport(ContractModel):
    """Per-fold table and the stitched out-of-sample equity of a walk-forward optimisation."""

    optimization_id: UUID = Field(description="Optimisation id.")
    walk_forward: WalkForward = Field(description="The scheme.")
    folds: list[WalkForwardFold] = Field(description="Every fold, in order.")
    out_of_sample: dict[str, float | None] | None = Field(
        description="Metrics of the stitched test equity; None until the optimisation completes."
    )
    equity_time: list[AwareDatetime] = Field(
        description="Times of the stitched equity points (empty until completed)."
    )
    equity: list[float] = Field(description="Stitched out-of-sample equity at those times.")
    equity_fold: list[int] = Field(description="Fold each equity point belongs to.")
    equity_points: int = Field(ge=0, description="Points in the full stitched series.")


class Heatmap(ContractModel):
    """A metric over a grid of two parameters."""

    x: str = Field(description="Parameter on the x axis.")
    y: str = Field(description="Parameter on the y axis.")
    metric: str = Field(description="Metric shown.")
    x_values: list[Any] = Field(description="Distinct x values, ascending.")
    y_values: list[Any] = Field(description="Distinct y values, ascending.")
    z: list[list[float | None]] = Field(
        description="z[i][j]: best value at y_values[i], x_values[j]; null where none."
    )


class EngineReply(Reply):
    """Base of the engine's replies: one class per request kind (`REPLY_OF`), told apart by
    ``kind``. A failed reply carries ``error`` and no payload; an ok one, its whole payload."""

    kind: str = Field(description="Reply discriminator.")
    error: EngineError | None = Field(default=None, description="Why it failed.")

    payload: ClassVar[tuple[str, ...]] = ()
    """The fields an ok reply of the class always carries."""

    @model_validator(mode="after")
    def _payload_iff_ok(self) -> Self:
        missing = [name for name in self.payload if getattr(self, name) is None]
        if self.ok and missing:
            msg = f"an ok {type(self).__name__} lacks {', '.join(missing)}"
            raise ValueError(msg)
        return self


class StrategiesReply(EngineReply):
    """Answer to `ListStrategies`."""

    kind: Literal["engine.strategies"] = Field(default="engine.strategies")
    strategies: list[StrategyInfo] | None = Field(
        default=None, description="The catalogue, then the owner's saved strategies."
    )
    payload = ("strategies",)


class StrategyReply(EngineReply):
    """Answer to `CreateStrategy` and `DeleteStrategy`."""

    kind: Literal["engine.strategy"] = Field(default="engine.strategy")
    strategy: StrategyInfo | None = Field(default=None, description="The saved strategy.")
    payload = ("strategy",)


class BacktestReply(EngineReply):
    """Answer to `SubmitBacktest`, `GetBacktest`, `CancelBacktestRequest`, `DeleteBacktest`."""

    kind: Literal["engine.backtest"] = Field(default="engine.backtest")
    run: RunInfo | None = Field(default=None, description="The run.")
    payload = ("run",)


class BacktestPageReply(EngineReply):
    """Answer to `ListBacktests`."""

    kind: Literal["engine.backtests"] = Field(default="engine.backtests")
    runs: list[RunInfo] | None = Field(default=None, description="A page of runs.")
    total: int | None = Field(default=None, ge=0, description="Matching runs.")
    payload = ("runs", "total")


class QuickBacktestReply(EngineReply):
    """Answer to `RunQuickBacktest`."""

    kind: Literal["engine.quick"] = Field(default="engine.quick")
    quick: QuickBacktestResult | None = Field(default=None, description="The result.")
    payload = ("quick",)


class OptimizationReply(EngineReply):
    """Answer to `SubmitOptimization`, `GetOptimization`, `CancelOptimizationRequest`."""

    kind: Literal["engine.optimization"] = Field(default="engine.optimization")
    optimization: OptimizationInfo | None = Field(default=None, description="The optimisation.")
    payload = ("optimization",)


class OptimizationPageReply(EngineReply):
    """Answer to `ListOptimizations`."""

    kind: Literal["engine.optimizations"] = Field(default="engine.optimizations")
    optimizations: list[OptimizationInfo] | None = Field(
        default=None, description="A page of optimisations."
    )
    total: int | None = Field(default=None, ge=0, description="Matching optimisations.")
    payload = ("optimizations", "total")


class OptimizationResultsReply(EngineReply):
    """Answer to `GetOptimizationResults`."""

    kind: Literal["engine.optimization_results"] = Field(default="engine.optimization_results")
    results: list[OptimizationResultRow] | None = Field(
        default=None, description="A page of evaluated combinations."
    )
    total: int | None = Field(default=None, ge=0, description="Matching combinations.")
    optimization: OptimizationInfo | None = Field(default=None, description="The optimisation.")
    payload = ("results", "total", "optimization")


class HeatmapReply(EngineReply):
    """Answer to `GetOptimizationHeatmap`."""

    kind: Literal["engine.heatmap"] = Field(default="engine.heatmap")
    heatmap: Heatmap | None = Field(default=None, description="The heatmap.")
    payload = ("heatmap",)


class WalkForwardReply(EngineReply):
    """Answer to `GetWalkForward`."""

    kind: Literal["engine.walk_forward"] = Field(default="engine.walk_forward")
    walk_forward: WalkForwardReport | None = Field(
        default=None, description="Folds and out-of-sample equity."
    )
    payload = ("walk_forward",)


class MonteCarloReply(EngineReply):
    """Answer to `SubmitMonteCarlo`, `GetMonteCarlo`, `CancelMonteCarloRequest`."""

    kind: Literal["engine.monte_carlo"] = Field(default="engine.monte_carlo")
    monte_carlo: MonteCarloInfo | None = Field(default=None, description="The study.")
    payload = ("monte_carlo",)


class MonteCarloPageReply(EngineReply):
    """Answer to `ListMonteCarlo`."""

    kind: Literal["engine.monte_carlos"] = Field(default="engine.monte_carlos")
    monte_carlos: list[MonteCarloInfo] | None = Field(
        default=None, description="A page of studies."
    )
    total: int | None = Field(default=None, ge=0, description="Matching studies.")
    payload = ("monte_carlos", "total")


class ActiveJobsReply(EngineReply):
    """Answer to `ListActiveJobs`: the owner's queued and running jobs of every kind."""

    kind: Literal["engine.active_jobs"] = Field(default="engine.active_jobs")
    runs: list[RunInfo] | None = Field(default=None, description="Active backtests.")
    optimizations: list[OptimizationInfo] | None = Field(
        default=None, description="Active optimisations."
    )
    monte_carlos: list[MonteCarloInfo] | None = Field(
        default=None, description="Active Monte Carlo studies."
    )
    payload = ("runs", "optimizations", "monte_carlos")


class UsageReply(EngineReply):
    """Answer to `GetEngineUsage`."""

    kind: Literal["engine.usage"] = Field(default="engine.usage")
    quotas: list[QuotaUsage] | None = Field(
        default=None, description="Every quota the engine enforces, with usage and limit."
    )
    payload = ("quotas",)


class DatabasePerformanceReply(EngineReply):
    """Answer to `GetDatabasePerformance`."""

    kind: Literal["engine.database_performance"] = Field(default="engine.database_performance")
    report: DatabaseReport | None = Field(default=None, description="The figures.")
    payload = ("report",)


class JobsPerformanceReply(EngineReply):
    """Answer to `GetJobsPerformance`."""

    kind: Literal["engine.jobs_performance"] = Field(default="engine.jobs_performance")
    report: JobsReport | None = Field(default=None, description="The figures.")
    payload = ("report",)


REPLY_OF: dict[type[EngineCommand], type[EngineReply]] = {
    ListStrategies: StrategiesReply,
    CreateStrategy: StrategyReply,
    DeleteStrategy: StrategyReply,
    SubmitBacktest: BacktestReply,
    GetBacktest: BacktestReply,
    CancelBacktestRequest: BacktestReply,
    DeleteBacktest: BacktestReply,
    ListBacktests: BacktestPageReply,
    RunQuickBacktest: QuickBacktestReply,
    SubmitOptimization: OptimizationReply,
    GetOptimization: OptimizationReply,
    CancelOptimizationRequest: OptimizationReply,
    ListOptimizations: OptimizationPageReply,
    GetOptimizationResults: OptimizationResultsReply,
    GetOptimizationHeatmap: HeatmapReply,
    GetWalkForward: WalkForwardReply,
    SubmitMonteCarlo: MonteCarloReply,
    GetMonteCarlo: MonteCarloReply,
    CancelMonteCarloRequest: MonteCarloReply,
    ListMonteCarlo: MonteCarloPageReply,
    ListActiveJobs: ActiveJobsReply,
    GetEngineUsage: UsageReply,
    GetDatabasePerformance: DatabasePerformanceReply,
    GetJobsPerformance: JobsPerformanceReply,
}
"""The reply class of each engine request: the engine answers with it, the gateway expects it."""

ENGINE_REPLY_TYPES: tuple[type[EngineReply], ...] = tuple(dict.fromkeys(REPLY_OF.values()))
"""Every engine reply class, each once."""
