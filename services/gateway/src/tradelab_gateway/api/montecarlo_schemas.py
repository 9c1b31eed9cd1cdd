"""Request and response bodies of ``/api/v1/monte-carlo``."""

from datetime import datetime
from typing import Annotated, Any, Literal, TypeAlias
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from tradelab_contracts.base import Parameters, Seed, StrategyName
from tradelab_contracts.engine import EngineOptions
from tradelab_contracts.engine_rpc import MonteCarloInfo
from tradelab_contracts.montecarlo import MonteCarloMethod, MonteCarloResults, Priority

MAX_SIMULATIONS = 100_000


class _StudyCreate(BaseModel):
    """What every method of ``POST /api/v1/monte-carlo`` takes."""

    model_config = ConfigDict(extra="forbid")

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
    horizon_bars: int | None = Field(
        default=None,
        ge=1,
        le=1_000_000,
        description="Steps per path (bars; trades for bootstrap_trades); the source's length "
        "if absent.",
    )


class _ResampleCreate(_StudyCreate):
    run_id: UUID = Field(description="A completed backtest of yours.")

    @property
    def dataset_id(self) -> None:
        return None

    @property
    def strategy(self) -> None:
        return None

    @property
    def parameters(self) -> Parameters:
        return {}

    @property
    def options(self) -> EngineOptions:
        return EngineOptions()


class BootstrapCreate(_ResampleCreate):
    """Resample a finished backtest's trades or bar returns."""

    method: Literal[MonteCarloMethod.BOOTSTRAP_TRADES, MonteCarloMethod.BOOTSTRAP_RETURNS]

    @property
    def block_size(self) -> None:
        return None


class BlockBootstrapCreate(_ResampleCreate):
    """Resample a finished backtest's bar returns in blocks."""

    method: Literal[MonteCarloMethod.BLOCK_BOOTSTRAP]
    block_size: int | None = Field(
        default=None,
        ge=1,
        le=10_000,
        description="Bars per block; cube root of the bar count if absent.",
    )


class GbmPathsCreate(_StudyCreate):
    """Run a strategy on price paths simulated from a dataset's returns."""

    method: Literal[MonteCarloMethod.GBM_PATHS]
    dataset_id: UUID = Field(description="A ready dataset of yours.")
    strategy: StrategyName = Field(description="Name from /strategies.")
    parameters: Parameters = Field(
        default_factory=dict, description="Strategy parameters; defaults fill gaps."
    )
    options: EngineOptions = Field(default_factory=EngineOptions, description="Simulation options.")

    @property
    def run_id(self) -> None:
        return None

    @property
    def block_size(self) -> None:
        return None


MonteCarloCreate: TypeAlias = Annotated[
    BootstrapCreate | BlockBootstrapCreate | GbmPathsCreate, Field(discriminator="method")
]
"""``POST /api/v1/monte-carlo``: resample a finished backtest (``run_id``) or run a strategy on
simulated price paths (``gbm_paths``: ``dataset_id`` + ``strategy``), told apart by ``method``."""


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
