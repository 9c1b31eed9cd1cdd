"""The engine's quota limits, and which quota a job submission counts against (pure)."""

from dataclasses import dataclass

from tradelab_contracts.quotas import Quota


@dataclass(frozen=True)
class QuotaLimits:
    """What one user may hold in the engine at once (``ENGINE_QUOTA_*`` settings)."""

    backtests: int = 50
    optimizations: int = 10
    walk_forward: int = 10
    monte_carlo: int = 10
    monte_carlo_simulation_bars: int = 500_000_000
    saved_strategies: int = 100

    def of(self, quota: Quota) -> int:
        """The limit of ``quota`` (one the engine enforces)."""
        limit: int = getattr(self, quota.value)
        return limit


ENGINE_QUOTAS = (
    Quota.BACKTESTS,
    Quota.OPTIMIZATIONS,
    Quota.WALK_FORWARD,
    Quota.MONTE_CARLO,
    Quota.MONTE_CARLO_SIMULATION_BARS,
    Quota.SAVED_STRATEGIES,
)
"""Every quota the engine enforces, in the order ``/me/usage`` lists them."""


def optimization_quota(folds: int) -> Quota:
    """The quota an optimisation counts against: walk-forward ones (with folds) have their own."""
    return Quota.WALK_FORWARD if folds > 0 else Quota.OPTIMIZATIONS


def simulation_bars(n_simulations: int, bars: int) -> int:
    """The Monte Carlo work of a study: every simulation steps through ``bars`` bars."""
    return n_simulations * bars
