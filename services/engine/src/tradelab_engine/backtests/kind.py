"""Backtest runs as a job kind of the shared lifecycle: how a run is dispatched and given up."""

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from tradelab_contracts.engine import (
    BacktestFailed,
    EngineOptions,
    FailureReason,
    RunBacktest,
)
from tradelab_contracts.topics import (
    BACKTEST_FAILED,
    BACKTEST_REQUESTED,
)
from tradelab_engine.adapters.tables import runs
from tradelab_engine.lifecycle.store import Announcement


@dataclass(frozen=True)
class BacktestJobs:
    """Backtest runs (``engine.runs``): one message per run, naming it."""

    table: sa.Table = runs
    entity: str = "backtest"

    @property
    def queue_order(self) -> tuple[sa.ColumnElement[Any], ...]:
        """A user's runs in order of submission."""
        return (runs.c.created_at, runs.c.id)

    @property
    def turns(self) -> sa.ColumnElement[bool]:
        """Any run."""
        return sa.true()

    def dispatch(self, row: sa.RowMapping) -> Announcement:
        """The ``RunBacktest`` of a queued run."""
        return self.job(row), BACKTEST_REQUESTED, row["id"].bytes

    def job(self, row: sa.RowMapping) -> RunBacktest:
        """The ``RunBacktest`` of a run's row."""
        return RunBacktest(
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
