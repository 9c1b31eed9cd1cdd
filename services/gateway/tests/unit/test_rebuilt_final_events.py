"""Final events rebuilt from a stored job (for a client that connects after the job ended) are the
live final events the engine published: same type, fields and sequence."""

from datetime import UTC, datetime
from typing import Any
from uuid import uuid4

import pytest

from tradelab_contracts.engine import FailureReason
from tradelab_contracts.engine_rpc import MonteCarloInfo, OptimizationInfo, RunStatus
from tradelab_contracts.montecarlo import (
    FanChart,
    Histogram,
    MonteCarloCancelled,
    MonteCarloCompleted,
    MonteCarloFailed,
    MonteCarloMethod,
    MonteCarloResults,
)
from tradelab_contracts.optimization import OptimizationCompleted
from tradelab_gateway.domain.job_events import (
    final_monte_carlo_event_of,
    final_optimization_event_of,
    job_event,
)

OWNER = uuid4()
STARTED = datetime(2026, 1, 2, 3, 4, 0, tzinfo=UTC)
ENDED = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
RESULTS = MonteCarloResults(
    initial_cash=100_000.0,
    steps=40,
    final_equity_percentiles={"p5": 91_000.0, "p50": 104_000.0, "p95": 120_000.0},
    final_equity_mean=104_500.0,
    final_equity_std=8_000.0,
    max_drawdown_percentiles={"p5": 0.02, "p50": 0.08, "p95": 0.21},
    max_drawdown_histogram=Histogram(edges=[0.0, 0.1, 0.3], counts=[600, 400]),
    probability_of_loss=0.3,
    drawdown_threshold=0.2,
    probability_of_drawdown_beyond=0.07,
    fan_chart=FanChart(steps=[0, 40], bands={"p50": [100_000.0, 104_000.0]}),
)


def study(status: RunStatus, **fields: Any) -> MonteCarloInfo:
    values: dict[str, Any] = {
        "id": uuid4(),
        "owner_id": OWNER,
        "method": MonteCarloMethod.BOOTSTRAP_TRADES,
        "n_simulations": 1_000,
        "seed": 7,
        "priority": "normal",
        "drawdown_threshold": 0.2,
        "source_run_id": uuid4(),
        "status": status,
        "progress": 1.0,
        "simulations_done": 1_000,
        "sequence": 12,
        "created_at": STARTED,
        "started_at": STARTED,
        "finished_at": ENDED,
        **fields,
    }
    return MonteCarloInfo.model_validate(values)


def test_a_completed_studys_rebuilt_final_event_is_its_live_completed_event() -> None:
    stored = study(RunStatus.COMPLETED, results=RESULTS, results_uri="file:///mc.parquet")
    live = job_event(
        MonteCarloCompleted(
            simulation_id=stored.id,
            owner_id=OWNER,
            method=stored.method,
            n_simulations=1_000,
            final_equity_percentiles=RESULTS.final_equity_percentiles,
            max_drawdown_percentiles=RESULTS.max_drawdown_percentiles,
            probability_of_loss=RESULTS.probability_of_loss,
            drawdown_threshold=RESULTS.drawdown_threshold,
            probability_of_drawdown_beyond=RESULTS.probability_of_drawdown_beyond,
            results_uri="file:///mc.parquet",
            duration_s=5.0,
            sequence=12,
            occurred_at=ENDED,
        )
    )

    rebuilt = final_monte_carlo_event_of(stored)

    assert rebuilt is not None
    assert (rebuilt.run_id, rebuilt.owner_id, rebuilt.sequence) == (stored.id, OWNER, 12)
    assert rebuilt.final
    assert rebuilt.payload == live.payload
    assert rebuilt.payload["job_type"] == "monte_carlo"
    assert rebuilt.payload["simulation_id"] == str(stored.id)
    assert rebuilt.payload["method"] == "bootstrap_trades"
    assert rebuilt.payload["final_equity_percentiles"]["p50"] == 104_000.0
    assert rebuilt.payload["probability_of_drawdown_beyond"] == 0.07


def test_a_failed_studys_rebuilt_final_event_keeps_its_reason_and_message() -> None:
    stored = study(
        RunStatus.FAILED,
        failure_reason=FailureReason.DATASET_UNREADABLE,
        failure_message="the dataset is gone",
    )
    live = job_event(
        MonteCarloFailed(
            simulation_id=stored.id,
            owner_id=OWNER,
            reason_code=FailureReason.DATASET_UNREADABLE,
            message="the dataset is gone",
            sequence=12,
            occurred_at=ENDED,
        )
    )

    rebuilt = final_monte_carlo_event_of(stored)

    assert rebuilt is not None
    assert rebuilt.payload == live.payload
    assert (rebuilt.payload["reason_code"], rebuilt.type) == ("dataset_unreadable", "failed")


def test_a_cancelled_studys_rebuilt_final_event_is_its_live_cancelled_event() -> None:
    stored = study(RunStatus.CANCELLED, progress=0.4, simulations_done=400)
    live = job_event(
        MonteCarloCancelled(simulation_id=stored.id, owner_id=OWNER, sequence=12, occurred_at=ENDED)
    )

    rebuilt = final_monte_carlo_event_of(stored)

    assert rebuilt is not None
    assert rebuilt.payload == live.payload


@pytest.mark.parametrize("status", [RunStatus.QUEUED, RunStatus.RUNNING])
def test_an_active_study_has_no_final_event(status: RunStatus) -> None:
    assert final_monte_carlo_event_of(study(status, progress=0.5, finished_at=None)) is None


def test_a_completed_optimisations_rebuilt_final_event_is_its_live_completed_event() -> None:
    stored = OptimizationInfo.model_validate(
        {
            "id": uuid4(),
            "owner_id": OWNER,
            "dataset_id": uuid4(),
            "strategy": "sma_cross",
            "parameter_space": {"fast": [5, 10], "slow": [30, 40]},
            "search": {"kind": "grid"},
            "objective": {"metric": "sharpe"},
            "constraints": [],
            "min_trades": None,
            "options": {},
            "status": RunStatus.COMPLETED,
            "total": 4,
            "evaluated": 4,
            "skipped": 0,
            "chunks": 1,
            "chunks_done": 1,
            "progress": 1.0,
            "sequence": 3,
            "best_parameters": {"fast": 5, "slow": 30},
            "best_value": 1.2,
            "best_metrics": {"sharpe": 1.2},
            "results_uri": "file:///opt.parquet",
            "failure_message": None,
            "created_at": STARTED,
            "started_at": STARTED,
            "finished_at": ENDED,
        }
    )
    live = job_event(
        OptimizationCompleted(
            optimization_id=stored.id,
            owner_id=OWNER,
            evaluated=4,
            best_parameters={"fast": 5, "slow": 30},
            best_metrics={"sharpe": 1.2},
            results_uri="file:///opt.parquet",
            duration_s=1.0,
            sequence=3,
            occurred_at=ENDED,
        )
    )

    rebuilt = final_optimization_event_of(stored)

    assert rebuilt is not None
    assert rebuilt.payload == live.payload
