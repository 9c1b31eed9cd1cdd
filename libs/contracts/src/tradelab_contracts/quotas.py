"""Per-user quotas: their names, and one quota's usage and limit as services report it.

The service that owns the data enforces each quota (datasets: datasets and stored bytes; engine:
active jobs of each kind, Monte Carlo work, saved strategies). A refusal carries a `QuotaUsage`
in its error (code ``quota_exceeded``); ``GET /api/v1/me/usage`` lists every quota the same way.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import Field

from tradelab_contracts.base import ContractModel


class Quota(StrEnum):
    """A per-user quota, named as problems and ``/me/usage`` name it."""

    DATASETS = "datasets"
    """Datasets kept, whatever their status."""
    STORED_BYTES = "stored_bytes"
    """Bytes of the uploads of pending and ready datasets."""
    BACKTESTS = "backtests"
    """Queued and running backtests."""
    OPTIMIZATIONS = "optimizations"
    """Queued and running optimisations without walk-forward."""
    WALK_FORWARD = "walk_forward"
    """Queued and running walk-forward optimisations."""
    MONTE_CARLO = "monte_carlo"
    """Queued and running Monte Carlo studies."""
    MONTE_CARLO_SIMULATION_BARS = "monte_carlo_simulation_bars"
    """Simulations x bars of the queued and running Monte Carlo studies together."""
    SAVED_STRATEGIES = "saved_strategies"
    """Saved rule strategies."""


class QuotaUsage(ContractModel):
    """One quota of one user: what is used and what is allowed.

    In a refusal, ``usage`` is what was used before the refused request and ``requested`` what
    the request would have added.
    """

    quota: Quota = Field(description="Which quota.")
    usage: int = Field(ge=0, description="Used now.")
    limit: int = Field(ge=0, description="Allowed at most.")
    requested: int | None = Field(
        default=None, ge=0, description="In a refusal: what the refused request would add."
    )
