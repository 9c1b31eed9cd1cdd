"""Settings of the engine service (environment variables prefixed ``ENGINE_``)."""

from pydantic import Field, model_validator
from pydantic_settings import SettingsConfigDict

from tradelab_contracts.engine_rpc import MAX_SAVED_STRATEGIES
from tradelab_contracts.search_limits import DEFAULT_MAX_COMBINATIONS, DEFAULT_MAX_PARAMETER_VALUES
from tradelab_engine.domain.optimize import DEFAULT_HEATMAP_MAX_CELLS
from tradelab_engine.domain.search import DEFAULT_CHUNK_SIZE, DEFAULT_CHUNK_WORK
from tradelab_engine.quotas.limits import QuotaLimits
from tradelab_runtime.settings import ServiceSettings

QUOTA_DEFAULTS = QuotaLimits()


class EngineSettings(ServiceSettings):
    """Configuration of one engine process."""

    model_config = SettingsConfigDict(env_prefix="ENGINE_", extra="ignore", frozen=True)

    service_name: str = "engine"
    port: int = 8003
    chunk_bars: int = Field(default=50_000, ge=100, le=10_000_000)
    """Bars simulated between two progress and cancellation checks."""
    optimization_chunk_size: int = Field(default=DEFAULT_CHUNK_SIZE, ge=1, le=5_000)
    """Combinations per optimisation chunk at most (the chunk is the unit spread over engine
    replicas; ``optimization_chunk_work`` sizes it below that). A chunk's command lists its
    combinations, so 5,000 at most keeps it well within one broker message."""
    optimization_chunk_work: int = Field(default=DEFAULT_CHUNK_WORK, ge=1, le=10_000_000_000)
    """Bar-combinations (combinations times the bars each runs over) per optimisation chunk:
    a chunk holds ``ceil(work / bars)`` combinations, at most ``optimization_chunk_size``, so it
    costs about the same time whatever the dataset's length."""
    heatmap_max_cells: int = Field(default=DEFAULT_HEATMAP_MAX_CELLS, ge=4, le=40_000)
    """Cells (x values times y values) an optimisation heatmap answers at most; a larger grid is
    422 naming its size. 40,000 cells are about 900 KB of JSON, near the broker's 1 MiB."""
    optimization_max_combinations: int = Field(
        default=DEFAULT_MAX_COMBINATIONS, ge=1, le=100_000_000
    )
    """Combinations an optimisation evaluates at most: a grid's size, random samples, genetic
    population x generations, times the walk-forward folds. Larger searches are refused (422)
    before anything is expanded."""
    optimization_max_parameter_values: int = Field(
        default=DEFAULT_MAX_PARAMETER_VALUES, ge=1, le=1_000_000_000
    )
    """Values one parameter's range may hold in an optimisation, whatever the search method;
    counted from start, stop and step, never listed."""
    chunk_pause_s: float = Field(default=0.0, ge=0.0, le=10.0)
    """Fault injection for tests and demos: sleep this long after every chunk, so a backtest on a
    small dataset runs long enough to be watched, cancelled or killed mid-way. Refused in
    production."""
    quick_max_concurrent: int = Field(default=2, ge=1, le=64)
    """Quick backtests simulated at once by this process; more wait within their deadline."""
    lease_s: float = Field(default=30.0, ge=1.0, le=3600.0)
    """A running job whose worker has not renewed its lease for this long is presumed dead and
    re-queued (renewed every third of it)."""
    max_attempts: int = Field(default=3, ge=1, le=20)
    """Attempts a job gets (a worker dying counts as one) before it fails as given up."""
    redispatch_after_s: float = Field(default=60.0, ge=1.0, le=86_400.0)
    """A job queued this long since its message was published gets its message again (a broker
    restarted empty loses queued messages)."""
    sweep_interval_s: float = Field(default=5.0, gt=0.0, le=600.0)
    """How often the sweeper looks for expired leases and stale queued jobs."""
    quota_backtests: int = Field(default=QUOTA_DEFAULTS.backtests, ge=1, le=100_000)
    """Queued and running backtests one user may have; one more is refused (429,
    quota 'backtests')."""
    quota_optimizations: int = Field(default=QUOTA_DEFAULTS.optimizations, ge=1, le=10_000)
    """Queued and running optimisations (without walk-forward) one user may have."""
    quota_walk_forward: int = Field(default=QUOTA_DEFAULTS.walk_forward, ge=1, le=10_000)
    """Queued and running walk-forward optimisations one user may have."""
    quota_monte_carlo: int = Field(default=QUOTA_DEFAULTS.monte_carlo, ge=1, le=10_000)
    """Queued and running Monte Carlo studies one user may have."""
    quota_monte_carlo_simulation_bars: int = Field(
        default=QUOTA_DEFAULTS.monte_carlo_simulation_bars, ge=1, le=10**12
    )
    """Simulations x bars of one user's queued and running Monte Carlo studies together (a
    single study over it is refused too)."""
    quota_saved_strategies: int = Field(
        default=QUOTA_DEFAULTS.saved_strategies, ge=1, le=MAX_SAVED_STRATEGIES
    )
    """Saved rule strategies one user may keep."""

    def quota_limits(self) -> QuotaLimits:
        """The per-user quotas, for the use cases."""
        return QuotaLimits(
            backtests=self.quota_backtests,
            optimizations=self.quota_optimizations,
            walk_forward=self.quota_walk_forward,
            monte_carlo=self.quota_monte_carlo,
            monte_carlo_simulation_bars=self.quota_monte_carlo_simulation_bars,
            saved_strategies=self.quota_saved_strategies,
        )

    @model_validator(mode="after")
    def _no_pacing_in_production(self) -> "EngineSettings":
        if self.environment == "production" and self.chunk_pause_s > 0:
            msg = "ENGINE_CHUNK_PAUSE_S slows every backtest down; it is refused in production"
            raise ValueError(msg)
        return self
