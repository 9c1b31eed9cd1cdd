"""Request and response bodies of ``/api/v1/monte-carlo``."""

from datetime import datetime
from typing import Any, Self
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, model_validator

from tradelab_contracts.base import Parameters, Seed, StrategyName
from tradelab_contracts.engine import EngineOptions
from tradelab_contracts.engine_rpc import MonteCarloInfo
from tradelab_contracts.montecarlo import (
    BOOTSTRAP_METHODS,
    MonteCarloMethod,
    MonteCarloResults,
    Priority,
)

MAX_SIMULATIONS = 100_000
GBM_ONLY = ("dataset_id", "strategy", "parameters", "options")


class MonteCarloCreate(BaseModel):
    """``POST /api/v1/monte-carlo``: resample a finished backtest (``run_id``) or run a strategy
    on simulated price paths (``dataset_id`` + ``strategy``)."""

    model_config = ConfigDict(extra="forbid")

    method: MonteCarloMethod = Field(
        description="bootstrap_trades, bootstrap_returns, block_bootstrap (need run_id) or "
        "gbm_paths (needs dataset_id and strategy)."
    )
    run_id: UUID | None = Field(default=None, description="A completed backtest of yours.")
    dataset_id: UUID | None = Field(default=None, description="A ready dataset (gbm_paths).")
    strategy: StrategyName | None = Field(default=None, description="Strategy (gbm_paths).")
    parameters: Parameters = Field(
        default_factory=dict, description="Strategy parameters (gbm_paths); defaults fill gaps."
    )
    options: EngineOptions = Field(
        default_factory=EngineOptions, description="Simulation options (gbm_paths)."
    )
    n_simulations: int = Field(
        default=1_000, ge=1, le=MAX_SIMULATIONS, description="Simulated outcomes."
    )
    seed: Seed | None = Field(
        default=None, description="Random seed; drawn (and returned) when absent."
    )
    priority: Priority = Field(
        default=Priority.NORMAL,
        description=(
            "Among your own queued studies, high are started before normal, then low; it never "
            "moves a study ahead of another user's (users take turns)."
        ),
    )
    drawdown_threshold: float = Field(
        default=0.2, gt=0, le=1, description="Report the probability of a drawdown beyond this."
    )
    block_size: int | None = Field(
        default=None,
        ge=1,
        le=10_000,
        description="Bars per block (block_bootstrap); cube root of the bar count if absent.",
    )
    horizon_bars: int | None = Field(
        default=None,
        ge=1,
        le=1_000_000,
        description="Steps per path (bars; trades for bootstrap_trades); the source's length "
        "if absent.",
    )

    @model_validator(mode="after")
    def _source_matches_method(self) -> Self:
        if self.method in BOOTSTRAP_METHODS:
            if self.run_id is None:
                msg = f"{self.method.value} resamples a finished backtest: give run_id"
                raise ValueError(msg)
            extra = [name for name in GBM_ONLY if name in self.model_fields_set]
            if extra:
                msg = f"{', '.join(extra)} only apply to gbm_paths"
                raise ValueError(msg)
        else:
            if self.run_id is not None:
                msg = "gbm_paths simulates a dataset: give dataset_id and strategy, not run_id"
                raise ValueError(msg)
            if self.dataset_id is None or self.strategy is None:
                msg = "gbm_paths needs dataset_id and strategy"
                raise ValueError(msg)
        if self.block_size is not None and self.method != MonteCarloMethod.BLOCK_BOOTSTRAP:
            msg = "block_size only applies to block_bootstrap"
            raise ValueError(msg)
        return self


class MonteCarloPublic(BaseModel):
    """A Monte Carlo study as its owner sees it."""

    id: UUID
    method: str
    status: str = Field(description="queued, running, completed, failed or cancelled")
    progress: float
    simulations_done: int
    n_simulations: int
    seed: int = Field(description="The seed used: the same seed reproduces the same numbers")
    priority: str
    drawdown_threshold: float
    block_size: int | None
    horizon_bars: int | None
    run_id: UUID | None = Field(description="The backtest resampled (bootstrap methods)")
    dataset_id: UUID | None
    strategy: str | None
    parameters: dict[str, Any]
    options: EngineOptions | None
    sequence: int = Field(description="Sequence number of the study's latest event")
    results: MonteCarloResults | None = Field(
        description="Percentiles, drawdown distribution, probabilities and fan chart, when "
        "completed (docs/engine.md, Monte Carlo)"
    )
    failure_reason: str | None
    failure_message: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None

    @classmethod
    def of(cls, info: MonteCarloInfo) -> "MonteCarloPublic":
        """Build from the engine's record."""
        fields = info.model_dump(exclude={"owner_id", "results_uri", "source_run_id"})
        return cls.model_validate({**fields, "run_id": info.source_run_id})


class MonteCarloPage(BaseModel):
    """A page of studies, newest first."""

    items: list[MonteCarloPublic]
    total: int
    limit: int
    offset: int
