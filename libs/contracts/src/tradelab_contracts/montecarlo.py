"""Monte Carlo studies: resample a finished run, or simulate price paths, many times."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Self
from uuid import UUID

from pydantic import Field, StringConstraints, model_validator

from tradelab_contracts.base import (
    Command,
    ContractModel,
    Event,
    Parameters,
    Seed,
    Sha256,
    StorageUri,
    StrategyName,
)
from tradelab_contracts.engine import EngineOptions, FailureReason

Percentile = Annotated[str, StringConstraints(pattern=r"^p[0-9]{1,3}(\.[0-9]+)?$")]
"""A percentile label, e.g. ``p5``, ``p50``, ``p99.9``."""


class MonteCarloMethod(StrEnum):
    """How simulated outcomes are produced."""

    BOOTSTRAP_TRADES = "bootstrap_trades"
    """Resample the source run's trade returns with replacement."""
    BOOTSTRAP_RETURNS = "bootstrap_returns"
    """Resample the source run's bar returns with replacement."""
    BLOCK_BOOTSTRAP = "block_bootstrap"
    """Resample blocks of consecutive bar returns, keeping short-range dependence."""
    GBM_PATHS = "gbm_paths"
    """Run the strategy on geometric Brownian motion paths fitted to the dataset."""


BOOTSTRAP_METHODS = frozenset(
    {
        MonteCarloMethod.BOOTSTRAP_TRADES,
        MonteCarloMethod.BOOTSTRAP_RETURNS,
        MonteCarloMethod.BLOCK_BOOTSTRAP,
    }
)
"""Methods that resample a finished run (they need ``source_run_id``)."""


class Priority(StrEnum):
    """Scheduling priority of a study among its owner's own queued studies (users take turns
    first, whatever the priority)."""

    HIGH = "high"
    NORMAL = "normal"
    LOW = "low"


class MonteCarloSpec(ContractModel):
    """What a Monte Carlo study is asked to do; shared by the job command and the engine request.

    Bootstrap methods resample the finished run ``source_run_id``; ``gbm_paths`` needs the dataset
    and strategy fields instead.
    """

    simulation_id: UUID = Field(description="Id of the study.")
    owner_id: UUID = Field(description="Id of the requesting user.")
    method: MonteCarloMethod = Field(description="How outcomes are simulated.")
    n_simulations: int = Field(ge=1, le=1_000_000, description="Number of simulated outcomes.")
    seed: Seed = Field(description="Random seed; set by the gateway so a redelivery reproduces.")
    block_size: int | None = Field(
        default=None,
        ge=1,
        le=10_000,
        description="Bars per block (block_bootstrap); round(cube root of the bar count) if None.",
    )
    source_run_id: UUID | None = Field(
        default=None, description="Backtest run to resample (bootstrap methods)."
    )
    dataset_id: UUID | None = Field(default=None, description="Dataset to fit paths to (gbm).")
    dataset_uri: StorageUri | None = Field(
        default=None, description="Where the dataset's Parquet file lives (gbm)."
    )
    dataset_sha256: Sha256 | None = Field(default=None, description="Dataset content hash (gbm).")
    strategy: StrategyName | None = Field(default=None, description="Strategy to run (gbm).")
    parameters: Parameters = Field(default_factory=dict, description="Strategy parameters (gbm).")
    options: EngineOptions = Field(
        default_factory=EngineOptions, description="Simulation options (gbm)."
    )
    horizon_bars: int | None = Field(
        default=None,
        ge=1,
        le=1_000_000,
        description="Steps per simulated path: bars, or trades for bootstrap_trades; the source's "
        "length if None.",
    )
    drawdown_threshold: float = Field(
        default=0.2, gt=0, le=1, description="Drawdown whose probability of breach is reported."
    )
    priority: Priority = Field(
        default=Priority.NORMAL,
        description="Order among the owner's own queued studies (never ahead of other users').",
    )

    @model_validator(mode="after")
    def _inputs_match_method(self) -> Self:
        if self.method in BOOTSTRAP_METHODS:
            if self.source_run_id is None:
                msg = f"method {self.method} needs source_run_id"
                raise ValueError(msg)
        else:
            missing = [
                name
                for name in ("dataset_id", "dataset_uri", "dataset_sha256", "strategy")
                if getattr(self, name) is None
            ]
            if missing:
                msg = f"method {self.method} needs {', '.join(missing)}"
                raise ValueError(msg)
        return self


class RunMonteCarlo(Command, MonteCarloSpec):
    """Run a Monte Carlo study.

    Bootstrap methods resample the finished run ``source_run_id``; ``gbm_paths`` needs the dataset
    and strategy fields instead. The engine keeps its queue of studies in its database and, each
    time it takes one of these commands, runs the most urgent queued study (``priority``, then
    age), which is not necessarily the one this command names (docs/engine.md).
    """


class Histogram(ContractModel):
    """A histogram: ``counts[i]`` values fell in ``[edges[i], edges[i + 1])`` (last bin closed)."""

    edges: list[float] = Field(description="Bin edges, one more than the counts.")
    counts: list[int] = Field(description="Values per bin.")


class FanChart(ContractModel):
    """Percentile bands of equity across the simulated paths, at (at most 201) thinned steps."""

    steps: list[int] = Field(description="Step of each point: 0 is the start, then bars or trades.")
    bands: dict[Percentile, list[float]] = Field(
        description="Equity at each step by percentile, e.g. {'p5': [...], 'p50': [...]}."
    )


class GbmFit(ContractModel):
    """Geometric Brownian motion fitted to the dataset's log returns, per bar."""

    mu: float = Field(description="Drift per bar: mean log return + sigma^2 / 2.")
    sigma: float = Field(ge=0, description="Volatility per bar: sample std of the log returns.")
    bars: int = Field(ge=2, description="Bars the fit used.")


class MonteCarloResults(ContractModel):
    """What a finished study found (conventions in docs/engine.md, "Monte Carlo")."""

    initial_cash: float = Field(gt=0, description="Equity every path starts from.")
    steps: int = Field(ge=1, description="Steps per path (bars, or trades for bootstrap_trades).")
    block_size: int | None = Field(default=None, description="Bars per block (block_bootstrap).")
    gbm_fit: GbmFit | None = Field(default=None, description="The fitted model (gbm_paths).")
    final_equity_percentiles: dict[Percentile, float] = Field(
        description="Final equity by percentile (p5 ... p95)."
    )
    final_equity_mean: float = Field(description="Mean final equity.")
    final_equity_std: float = Field(
        ge=0, description="Sample standard deviation (ddof=1) of final equity; 0 for one outcome."
    )
    max_drawdown_percentiles: dict[Percentile, float] = Field(
        description="Maximum drawdown (positive fraction) by percentile."
    )
    max_drawdown_histogram: Histogram = Field(description="Distribution of the maximum drawdowns.")
    probability_of_loss: float = Field(
        ge=0, le=1, description="Share of outcomes ending below initial equity."
    )
    drawdown_threshold: float = Field(gt=0, le=1, description="The requested drawdown threshold.")
    probability_of_drawdown_beyond: float = Field(
        ge=0, le=1, description="Share of outcomes whose max drawdown exceeds the threshold."
    )
    fan_chart: FanChart = Field(description="Equity percentile bands along the paths.")


class MonteCarloProgress(Event):
    """A Monte Carlo study advanced."""

    simulation_id: UUID = Field(description="Id of the study.")
    owner_id: UUID = Field(description="Id of the requesting user.")
    progress: float = Field(ge=0, le=1, description="Fraction done, 0 to 1.")
    simulations_done: int = Field(ge=0, description="Outcomes simulated so far.")
    simulations_total: int = Field(ge=1, description="Outcomes to simulate.")
    sequence: int = Field(
        ge=0, description="Increases with each event of the study; drop older ones."
    )


class MonteCarloCompleted(Event):
    """A Monte Carlo study finished; every simulated outcome is stored at ``results_uri``."""

    simulation_id: UUID = Field(description="Id of the study.")
    owner_id: UUID = Field(description="Id of the requesting user.")
    method: MonteCarloMethod = Field(description="How outcomes were simulated.")
    n_simulations: int = Field(ge=1, description="Number of simulated outcomes.")
    final_equity_percentiles: dict[Percentile, float] = Field(
        description="Final equity by percentile, e.g. {'p5': 91000.0, 'p50': 112000.0}."
    )
    max_drawdown_percentiles: dict[Percentile, float] = Field(
        description="Maximum drawdown (positive fraction) by percentile."
    )
    probability_of_loss: float = Field(
        ge=0, le=1, description="Share of outcomes ending below initial equity."
    )
    drawdown_threshold: float = Field(gt=0, le=1, description="The requested drawdown threshold.")
    probability_of_drawdown_beyond: float = Field(
        ge=0, le=1, description="Share of outcomes whose max drawdown exceeds the threshold."
    )
    results_uri: StorageUri = Field(description="Parquet file of every simulated outcome.")
    duration_s: float = Field(ge=0, description="Wall-clock seconds the study took.")
    sequence: int = Field(default=0, ge=0, description="The study's event number (see progress).")


class MonteCarloFailed(Event):
    """A Monte Carlo study ended in error."""

    simulation_id: UUID = Field(description="Id of the study.")
    owner_id: UUID = Field(description="Id of the requesting user.")
    reason_code: FailureReason = Field(description="Machine-readable reason.")
    message: str = Field(max_length=2048, description="Explanation for the user.")
    sequence: int = Field(default=0, ge=0, description="The study's event number (see progress).")


class CancelMonteCarlo(Command):
    """Stop a running Monte Carlo study; a no-op if it already ended."""

    simulation_id: UUID = Field(description="Id of the study.")
    owner_id: UUID = Field(description="Id of the requesting user.")


class MonteCarloCancelled(Event):
    """A Monte Carlo study was stopped on request; no result will follow."""

    simulation_id: UUID = Field(description="Id of the study.")
    owner_id: UUID = Field(description="Id of the requesting user.")
    sequence: int = Field(default=0, ge=0, description="The study's event number (see progress).")
