"""The job kinds on the shared lifecycle: how each is dispatched and announced as given up."""

from dataclasses import dataclass

import sqlalchemy as sa

from tradelab_contracts.engine import (
    BacktestFailed,
    EngineOptions,
    FailureReason,
    RunBacktest,
)
from tradelab_contracts.montecarlo import MonteCarloFailed, MonteCarloSpec, RunMonteCarlo
from tradelab_contracts.topics import (
    BACKTEST_FAILED,
    BACKTEST_REQUESTED,
    MONTECARLO_FAILED,
    MONTECARLO_REQUESTED,
)
from tradelab_engine.adapters.tables import monte_carlo, runs

from .store import Announcement


@dataclass(frozen=True)
class BacktestJobs:
    """Backtest runs (``engine.runs``): one message per run, naming it."""

    table: sa.Table = runs

    def dispatch(self, row: sa.RowMapping) -> Announcement:
        """The ``RunBacktest`` of a queued run."""
        job = RunBacktest(
            run_id=row["id"],
            owner_id=row["owner_id"],
            dataset_id=row["dataset_id"],
            dataset_uri=row["dataset_uri"],
            dataset_sha256=row["dataset_sha256"],
            strategy=row["strategy"],
            parameters=row["parameters"],
            options=EngineOptions.model_validate(row["options"]),
            timeframe=row["timeframe"],
        )
        return job, BACKTEST_REQUESTED, row["id"].bytes

    def gave_up(self, row: sa.RowMapping) -> Announcement:
        """The ``BacktestFailed`` of a run given up."""
        event = BacktestFailed(
            run_id=row["id"],
            owner_id=row["owner_id"],
            reason_code=FailureReason(row["failure_reason"]),
            message=row["failure_message"],
            sequence=row["event_seq"],
        )
        return event, BACKTEST_FAILED, row["id"].bytes


@dataclass(frozen=True)
class MonteCarloJobs:
    """Monte Carlo studies (``engine.monte_carlo``): each message is a turn (docs/engine.md)."""

    table: sa.Table = monte_carlo

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
