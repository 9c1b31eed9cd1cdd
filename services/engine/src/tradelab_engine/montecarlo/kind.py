"""Monte Carlo studies as a job kind of the shared lifecycle: how a study is dispatched and
given up."""

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from tradelab_contracts.engine import (
    FailureReason,
)
from tradelab_contracts.montecarlo import MonteCarloFailed, MonteCarloSpec, RunMonteCarlo
from tradelab_contracts.topics import (
    MONTECARLO_FAILED,
    MONTECARLO_REQUESTED,
)
from tradelab_engine.adapters.tables import monte_carlo
from tradelab_engine.lifecycle.store import Announcement


@dataclass(frozen=True)
class MonteCarloJobs:
    """Monte Carlo studies (``engine.monte_carlo``): each message is a turn (docs/engine.md)."""

    table: sa.Table = monte_carlo
    entity: str = "monte_carlo"

    @property
    def queue_order(self) -> tuple[sa.ColumnElement[Any], ...]:
        """A user's studies by their priority, then in order of submission: a priority reorders
        its owner's studies only (``lifecycle.fair`` chooses the user first)."""
        t = monte_carlo
        return (t.c.priority_rank, t.c.created_at, t.c.id)

    @property
    def turns(self) -> sa.ColumnElement[bool]:
        """Any study."""
        return sa.true()

    def dispatch(self, row: sa.RowMapping) -> Announcement:
        """A ``RunMonteCarlo`` turn for a queued study."""
        spec = MonteCarloSpec.model_validate(row["spec"])
        job = RunMonteCarlo(**spec.model_dump(include=set(MonteCarloSpec.model_fields)))
        return job, MONTECARLO_REQUESTED, row["id"].bytes

    def gave_up(self, row: sa.RowMapping) -> Announcement:
        """The ``MonteCarloFailed`` of a study given up."""
        event = MonteCarloFailed(
            simulation_id=row["id"],
            owner_id=row["owner_id"],
            reason_code=FailureReason(row["failure_reason"]),
            message=row["failure_message"],
            sequence=row["event_seq"],
        )
        return event, MONTECARLO_FAILED, row["id"].bytes
