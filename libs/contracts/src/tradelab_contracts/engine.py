"""Backtest jobs: engine options, the run command, and its lifecycle events.

Engine conventions the options refer to: signals are taken at bar close; orders fill at the next
bar's open by default (no look-ahead); fees are a fraction of traded notional plus an optional
fixed fee per fill; slippage moves the fill price against the trade; equity is marked to market at
each close.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Literal, Self
from uuid import UUID

from pydantic import ConfigDict, Field, model_validator

from tradelab_contracts.base import (
    Command,
    ContractModel,
    Event,
    MetricName,
    Parameters,
    Sha256,
    StorageUri,
    StrategyName,
)


class EngineOptions(ContractModel):
    """How the engine simulates fills, costs, sizing and exits.

    Unknown fields are refused, unlike other contracts: these come from the user, and silently
    ignoring a misspelt option would run a different backtest from the one asked for.
    """

    model_config = ConfigDict(extra="forbid")

    initial_cash: float = Field(default=100_000.0, gt=0, description="Starting equity.")
    fee_rate: float = Field(
        default=0.0, ge=0, le=0.1, description="Fee as a fraction of traded notional (0.001=0.1%)."
    )
    fixed_fee: float = Field(default=0.0, ge=0, description="Fixed fee per fill, in cash.")
    slippage_bps: float = Field(
        default=0.0, ge=0, le=1000, description="Price moved against each fill, in basis points."
    )
    sizing: Literal["fraction", "units"] = Field(
        default="fraction",
        description="'fraction': size is a fraction of equity; 'units': size is a unit count.",
    )
    size: float = Field(default=1.0, gt=0, description="Position size, read according to 'sizing'.")
    whole_units: bool = Field(
        default=False, description="Round positions down to whole units (fractional otherwise)."
    )
    allow_short: bool = Field(
        default=False, description="Allow short positions (long-only otherwise)."
    )
    stop_loss: float | None = Field(
        default=None, gt=0, lt=1, description="Exit when price moves this fraction against entry."
    )
    take_profit: float | None = Field(
        default=None, gt=0, lt=1, description="Exit when price moves this fraction in favour."
    )
    trailing_stop: float | None = Field(
        default=None,
        gt=0,
        lt=1,
        description="Exit when price retreats this fraction from its best since entry.",
    )
    both_hit_rule: Literal["stop_first", "target_first"] = Field(
        default="stop_first",
        description="Which exit fills when a stop and a target are both touched in one bar "
        "(intrabar order is unknown; 'stop_first' is the conservative choice).",
    )
    fill_at: Literal["next_open", "close"] = Field(
        default="next_open",
        description="Fill price of a signal: next bar's open (no look-ahead) or signal bar close.",
    )

    @model_validator(mode="after")
    def _fraction_at_most_one(self) -> Self:
        # Above 1 would be leverage, which the engine does not model.
        if self.sizing == "fraction" and self.size > 1:
            msg = "size is a fraction of equity when sizing='fraction' and must be in (0, 1]"
            raise ValueError(msg)
        return self


class FailureReason(StrEnum):
    """Why a job (backtest, optimisation, Monte Carlo) failed."""

    DATASET_NOT_FOUND = "dataset_not_found"
    DATASET_UNREADABLE = "dataset_unreadable"
    SOURCE_RUN_NOT_FOUND = "source_run_not_found"
    INVALID_PARAMETERS = "invalid_parameters"
    UNKNOWN_STRATEGY = "unknown_strategy"
    TIMEOUT = "timeout"
    CANCELLED = "cancelled"
    INTERNAL = "internal"
    ATTEMPTS_EXHAUSTED = "attempts_exhausted"
    """Its worker stopped (or lost its database) too many times; the job was given up."""


class RunBacktest(Command):
    """Run one strategy with one parameter set over one dataset."""

    run_id: UUID = Field(description="Id of the backtest run; results are keyed by it.")
    owner_id: UUID = Field(description="Id of the requesting user.")
    dataset_id: UUID = Field(description="Id of the dataset.")
    dataset_uri: StorageUri = Field(description="Where the dataset's Parquet file lives.")
    dataset_sha256: Sha256 = Field(description="Content hash of the dataset; part of cache key.")
    strategy: StrategyName = Field(description="Strategy name in the catalogue.")
    parameters: Parameters = Field(default_factory=dict, description="Strategy parameters.")
    options: EngineOptions = Field(default_factory=EngineOptions, description="Simulation options.")
    timeframe: str | None = Field(
        default=None, max_length=16, description="Bar size of the dataset, for annualising."
    )


class BacktestProgress(Event):
    """A running backtest advanced."""

    run_id: UUID = Field(description="Id of the backtest run.")
    owner_id: UUID = Field(description="Id of the requesting user.")
    progress: float = Field(ge=0, le=1, description="Fraction done, 0 to 1.")
    bars_done: int = Field(ge=0, description="Bars simulated so far.")
    bars_total: int = Field(ge=0, description="Bars to simulate.")
    sequence: int = Field(
        ge=0,
        description=(
            "Position of this event among every event of the run (progress and the final one), "
            "kept by the engine across attempts; a lower number than one already seen is stale."
        ),
    )


class BacktestSummary(ContractModel):
    """Headline results of a backtest; analytics computes the rest from the stored files."""

    final_equity: float = Field(description="Equity at the last bar.")
    total_return: float = Field(description="final_equity / initial_cash - 1.")
    max_drawdown: float = Field(
        ge=0,
        description="Largest peak-to-trough equity fall as a positive fraction (above 1 only "
        "when a short drives equity negative).",
    )
    sharpe: float | None = Field(
        description="Annualised Sharpe ratio (risk-free 0); None when undefined (no variance)."
    )
    trades: int = Field(ge=0, description="Closed trades.")
    exposure: float = Field(ge=0, le=1, description="Fraction of bars with an open position.")
    fees_paid: float = Field(ge=0, description="Total fees paid, in cash.")
    metrics: dict[MetricName, float | None] = Field(
        default_factory=dict, description="Further metrics by name; None when undefined."
    )


class BacktestCompleted(Event):
    """A backtest finished; its equity curve and trades are stored at the given URIs."""

    sequence: int = Field(
        default=0, ge=0, description="Position among the run's events; the final one is last."
    )
    run_id: UUID = Field(description="Id of the backtest run.")
    owner_id: UUID = Field(description="Id of the requesting user.")
    dataset_id: UUID = Field(description="Id of the dataset.")
    strategy: StrategyName = Field(description="Strategy name.")
    parameters: Parameters = Field(description="Strategy parameters used.")
    options: EngineOptions = Field(description="Simulation options used.")
    summary: BacktestSummary = Field(description="Headline results.")
    equity_uri: StorageUri = Field(description="Parquet file of the equity curve.")
    trades_uri: StorageUri = Field(description="Parquet file of the trades.")
    engine_version: str = Field(
        min_length=1, max_length=64, description="Engine version; part of the cache key."
    )
    duration_s: float = Field(ge=0, description="Wall-clock seconds the run took.")
    timeframe: str | None = Field(
        default=None, max_length=16, description="Bar size of the dataset, for annualising."
    )
    cached: bool = Field(
        default=False, description="Answered from the result cache without simulating."
    )


class BacktestFailed(Event):
    """A backtest ended in error."""

    sequence: int = Field(
        default=0, ge=0, description="Position among the run's events; the final one is last."
    )
    run_id: UUID = Field(description="Id of the backtest run.")
    owner_id: UUID = Field(description="Id of the requesting user.")
    reason_code: FailureReason = Field(description="Machine-readable reason.")
    message: str = Field(max_length=2048, description="Explanation for the user.")


class CancelBacktest(Command):
    """Stop a running backtest; a no-op if it already ended."""

    run_id: UUID = Field(description="Id of the backtest run.")
    owner_id: UUID = Field(description="Id of the requesting user.")


class BacktestCancelled(Event):
    """A backtest was stopped on request; no result will follow."""

    sequence: int = Field(
        default=0, ge=0, description="Position among the run's events; the final one is last."
    )
    run_id: UUID = Field(description="Id of the backtest run.")
    owner_id: UUID = Field(description="Id of the requesting user.")


class BacktestDeleted(Event):
    """A finished backtest was deleted by its owner; whatever other services keep of it goes."""

    run_id: UUID = Field(description="Id of the deleted backtest run.")
    owner_id: UUID = Field(description="Id of the owning user.")
    dataset_id: UUID = Field(description="Id of the dataset the run used.")
