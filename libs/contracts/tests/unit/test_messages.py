"""Behaviour shared by every message: immutability, tolerance, JSON round trips."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import UUID

import pytest
from pydantic import ValidationError

from tradelab_contracts.analytics import ReportReady
from tradelab_contracts.auth import AuthReply, UserInfo
from tradelab_contracts.base import Message, correlation_of
from tradelab_contracts.datasets import DatasetIngested
from tradelab_contracts.engine import (
    BacktestCompleted,
    BacktestSummary,
    CancelBacktest,
    EngineOptions,
    RunBacktest,
)
from tradelab_contracts.montecarlo import MonteCarloMethod, RunMonteCarlo
from tradelab_contracts.optimization import (
    Constraint,
    GeneticSearch,
    Objective,
    ParameterRange,
    RunOptimization,
    WalkForward,
)
from tradelab_contracts.sealed import SealedSecret, SealedTokenPair
from tradelab_contracts.system import ServiceHeartbeat, ServiceStatus, payload_preview

OWNER = UUID(int=1)
RUN = UUID(int=2)
DATASET = UUID(int=3)
SHA = "ab" * 32
T0 = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
SEALED = SealedSecret(kid="k1", nonce="A" * 16, ciphertext="B" * 32)

ONE_PER_MODULE: list[Message] = [
    ServiceHeartbeat(
        service="engine",
        instance_id="engine-0",
        status=ServiceStatus.DEGRADED,
        version="0.1.0",
        started_at=T0,
        interval_s=5.0,
        checks={"broker": True, "database": False},
    ),
    AuthReply(
        request_id=RUN,
        ok=True,
        tokens=SealedTokenPair(access_token=SEALED, refresh_token=SEALED, expires_in=900),
        user=UserInfo(id=OWNER, email="quant@example.com", created_at=T0),
    ),
    DatasetIngested(
        dataset_id=DATASET,
        owner_id=OWNER,
        storage_uri="file:///data/goog.parquet",
        content_sha256=SHA,
        rows=2_520,
        start=T0,
        end=datetime(2036, 1, 2, tzinfo=UTC),
        timeframe="1d",
        columns=["time", "open", "high", "low", "close", "volume"],
        quality_score=97.5,
    ),
    BacktestCompleted(
        run_id=RUN,
        owner_id=OWNER,
        dataset_id=DATASET,
        strategy="sma_cross",
        parameters={"fast": 10, "slow": 50, "ratio": 0.5, "short": False, "ma": "ema"},
        options=EngineOptions(fee_rate=0.001, stop_loss=0.05),
        summary=BacktestSummary(
            final_equity=123_456.0,
            total_return=0.23456,
            max_drawdown=0.12,
            sharpe=None,
            trades=42,
            exposure=0.6,
            fees_paid=321.0,
            metrics={"sortino": 1.4, "calmar": None},
        ),
        equity_uri="file:///results/equity.parquet",
        trades_uri="file:///results/trades.parquet",
        engine_version="0.1.0",
        duration_s=0.8,
        correlation_id=UUID(int=9),
    ),
    RunOptimization(
        optimization_id=RUN,
        owner_id=OWNER,
        dataset_id=DATASET,
        dataset_uri="file:///data/goog.parquet",
        dataset_sha256=SHA,
        strategy="sma_cross",
        parameter_space={
            "fast": ParameterRange(start=5, stop=50, step=5),
            "slow": [20, 50, 100, 200],
        },
        search=GeneticSearch(population=50, generations=20, seed=7),
        objective=Objective(metric="sharpe"),
        constraints=[Constraint(left="fast", op="<", right="slow")],
        min_trades=10,
        walk_forward=WalkForward(mode="anchored", train_bars=500, test_bars=100),
    ),
    RunMonteCarlo(
        simulation_id=RUN,
        owner_id=OWNER,
        method=MonteCarloMethod.BLOCK_BOOTSTRAP,
        n_simulations=10_000,
        seed=42,
        block_size=20,
        source_run_id=UUID(int=5),
    ),
    ReportReady(run_id=RUN, owner_id=OWNER, metrics={"sharpe": 1.2, "sortino": None}),
]


@pytest.mark.parametrize("message", ONE_PER_MODULE, ids=lambda m: type(m).__name__)
def test_message_survives_a_json_round_trip_unchanged(message: Message) -> None:
    received = type(message).model_validate_json(message.model_dump_json())

    assert received == message


def test_parameter_values_keep_their_json_type_across_the_wire() -> None:
    sent = ONE_PER_MODULE[3]
    assert isinstance(sent, BacktestCompleted)

    received = BacktestCompleted.model_validate_json(sent.model_dump_json())

    assert [type(v) for v in received.parameters.values()] == [int, int, float, bool, str]


def test_assigning_to_a_message_field_raises() -> None:
    message = CancelBacktest(run_id=RUN, owner_id=OWNER)

    with pytest.raises(ValidationError, match="frozen"):
        message.run_id = UUID(int=99)  # type: ignore[misc]  # the refused assignment is the test


def test_unknown_fields_from_a_newer_producer_are_ignored() -> None:
    payload = {"run_id": str(RUN), "owner_id": str(OWNER), "added_in_v2": {"x": 1}}

    message = CancelBacktest.model_validate(payload)

    assert message.run_id == RUN
    assert "added_in_v2" not in message.model_dump()


def test_envelope_defaults_give_each_message_a_fresh_id_and_aware_times() -> None:
    first = CancelBacktest(run_id=RUN, owner_id=OWNER)
    second = CancelBacktest(run_id=RUN, owner_id=OWNER)

    assert first.message_id != second.message_id
    assert first.schema_version == 1
    assert first.correlation_id is None
    assert first.occurred_at.utcoffset() is not None
    assert first.created_at.tzinfo is not None


def test_naive_timestamps_are_refused() -> None:
    naive = datetime(2026, 1, 1)  # noqa: DTZ001 - the naive time is the input under test

    with pytest.raises(ValidationError, match="timezone"):
        CancelBacktest(run_id=RUN, owner_id=OWNER, occurred_at=naive)


def test_correlation_starts_at_the_first_message_and_is_carried_after() -> None:
    command = RunBacktest(
        run_id=RUN,
        owner_id=OWNER,
        dataset_id=DATASET,
        dataset_uri="file:///d.parquet",
        dataset_sha256=SHA,
        strategy="buy_and_hold",
    )
    follow_up = CancelBacktest(run_id=RUN, owner_id=OWNER, correlation_id=correlation_of(command))

    assert correlation_of(command) == command.message_id
    assert correlation_of(follow_up) == command.message_id


def test_non_finite_floats_are_refused_because_json_cannot_carry_them() -> None:
    with pytest.raises(ValidationError, match="finite"):
        ReportReady(run_id=RUN, owner_id=OWNER, metrics={"profit_factor": float("inf")})


def test_dead_letter_payload_preview_replaces_bad_bytes_and_truncates() -> None:
    raw = b"\xff{" + "é".encode() * 10

    preview = payload_preview(raw, limit=5)

    assert preview == "\ufffd{ééé"
