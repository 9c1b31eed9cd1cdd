"""Monte Carlo studies: resample a finished run, or simulate price paths, many times."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Self
from uuid import UUID

from pydantic import Field, StringConstraints, model_validator

from tradelab_contracts.base import (
    Command,
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
    """Scheduling priority of a job among the engine's queued work."""

    HIGH = "high"
    NORMAL = "normal"
    LOW = "low"


class RunMonteCarlo(Command):
    """Run a Monte Carlo study.

    Bootstrap methods resample the finished run ``source_run_id``; ``gbm_paths`` needs the dataset
    and strategy fields instead.
    """

    simulation_id: UUID = Field(description="Id of the study.")
    owner_id: UUID = Field(description="Id of the requesting user.")
    method: MonteCarloMethod = Field(description="How outcomes are simulated.")
    n_simulations: int = Field(ge=1, le=1_000_000, description="Number of simulated outcomes.")
    seed: Seed = Field(description="Random seed; set by the gateway so a redelivery reproduces.")
    block_size: int | None = Field(
        default=None, ge=1, description="Bars per block (block_bootstrap); engine default if None."
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
        default=None, ge=1, description="Bars per simulated path; the source's length if None."
    )
    drawdown_threshold: float = Field(
        default=0.2, gt=0, le=1, description="Drawdown whose probability of breach is reported."
    )
    priority: Priority = Field(default=Priority.NORMAL, description="Scheduling priority.")

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


class MonteCarloProgress(Event):
    """A Monte Carlo study advanced."""

    simulation_id: UUID = Field(description="Id of the study.")
    owner_id: UUID = Field(description="Id of the requesting user.")
    progress: float = Field(ge=0, le=1, description="Fraction done, 0 to 1.")
    simulations_done: int = Field(ge=0, description="Outcomes simulated so far.")
    simulations_total: int = Field(ge=1, description="Outcomes to simulate.")
    sequence: int = Field(ge=0, description="Increases with each progress event; drop older ones.")


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


class MonteCarloFailed(Event):
    """A Monte Carlo study ended in error."""

    simulation_id: UUID = Field(description="Id of the study.")
    owner_id: UUID = Field(description="Id of the requesting user.")
    reason_code: FailureReason = Field(description="Machine-readable reason.")
    message: str = Field(max_length=2048, description="Explanation for the user.")


class CancelMonteCarlo(Command):
    """Stop a running Monte Carlo study; a no-op if it already ended."""

    simulation_id: UUID = Field(description="Id of the study.")
    owner_id: UUID = Field(description="Id of the requesting user.")


class MonteCarloCancelled(Event):
    """A Monte Carlo study was stopped on request; no result will follow."""

    simulation_id: UUID = Field(description="Id of the study.")
    owner_id: UUID = Field(description="Id of the requesting user.")
