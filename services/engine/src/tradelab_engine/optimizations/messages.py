"""The messages and events of an optimisation, built from its stored rows: the same builders serve
the submission and the sweeper's re-dispatch, so a chunk published again is the chunk first
published."""

from collections.abc import Mapping
from typing import Any
from uuid import UUID

import sqlalchemy as sa

from tradelab_contracts.engine import EngineOptions, FailureReason
from tradelab_contracts.optimization import (
    BarWindow,
    Objective,
    OptimizationCancelled,
    OptimizationFailed,
    RunOptimization,
    RunOptimizationChunk,
)
from tradelab_contracts.topics import (
    ALL_TOPICS,
    OPTIMIZATION_CANCELLED,
    OPTIMIZATION_CHUNK_REQUESTED,
    OPTIMIZATION_FAILED,
    OPTIMIZATION_REQUESTED,
)
from tradelab_engine.lifecycle.store import Announcement

Row = sa.RowMapping | Mapping[str, Any]
CHUNK_PARTITIONS = next(
    spec.partitions for spec in ALL_TOPICS if spec.name == OPTIMIZATION_CHUNK_REQUESTED
)
PlacedChunk = tuple[RunOptimizationChunk, str, bytes, int]
"""A chunk message with its topic, key and partition."""


def is_genetic(spec: Mapping[str, Any]) -> bool:
    """Whether a stored search is genetic (one evolving job, not chunk messages)."""
    return bool(spec["search"].get("kind") == "genetic")


def chunk_message(
    optimization: Row, chunk: Row, fold: Row | None, correlation_id: UUID | None = None
) -> PlacedChunk:
    """The ``RunOptimizationChunk`` of a stored chunk, placed on partition ``i mod 16`` so the
    replicas of the chunk group get equal shares (hashed keys left one with 11 of 16)."""
    spec = optimization["spec"]
    windows: dict[str, Any] = {}
    if fold is not None:
        windows = {
            "window": BarWindow(start_bar=fold["train_start_bar"], end_bar=fold["train_end_bar"]),
            "test_window": BarWindow(
                start_bar=fold["test_start_bar"], end_bar=fold["test_end_bar"]
            ),
        }
    index = int(chunk["chunk_index"])
    message = RunOptimizationChunk(
        optimization_id=optimization["id"],
        owner_id=optimization["owner_id"],
        chunk_index=index,
        chunk_count=optimization["chunks"],
        fold_index=chunk["fold_index"],
        combinations=chunk["combinations"],
        first_index=chunk["first_index"],
        dataset_uri=optimization["dataset_uri"],
        dataset_sha256=optimization["dataset_sha256"],
        strategy=optimization["strategy"],
        options=EngineOptions.model_validate(spec["options"]),
        objective=Objective.model_validate(spec["objective"]),
        min_trades=spec.get("min_trades"),
        timeframe=optimization["timeframe"],
        correlation_id=correlation_id,
        **windows,
    )
    key = f"{optimization['id']}:{index}".encode()
    return message, OPTIMIZATION_CHUNK_REQUESTED, key, index % CHUNK_PARTITIONS


def genetic_job(optimization: Row, correlation_id: UUID | None = None) -> Announcement:
    """The ``RunOptimization`` that hands a genetic search to one replica."""
    job = genetic_run(optimization, correlation_id)
    return job, OPTIMIZATION_REQUESTED, optimization["id"].bytes


def genetic_run(optimization: Row, correlation_id: UUID | None = None) -> RunOptimization:
    """The ``RunOptimization`` of a stored genetic search."""
    spec = optimization["spec"]
    return RunOptimization.model_validate(
        {
            **{k: spec.get(k) for k in ("parameter_space", "search", "objective", "options")},
            "constraints": spec.get("constraints") or [],
            "min_trades": spec.get("min_trades"),
            "walk_forward": spec.get("walk_forward"),
            "optimization_id": optimization["id"],
            "owner_id": optimization["owner_id"],
            "dataset_id": optimization["dataset_id"],
            "dataset_uri": optimization["dataset_uri"],
            "dataset_sha256": optimization["dataset_sha256"],
            "strategy": optimization["strategy"],
            "timeframe": optimization["timeframe"],
            "correlation_id": correlation_id,
        }
    )


def failed_event(optimization: Row, correlation_id: UUID | None = None) -> Announcement:
    """The ``OptimizationFailed`` of an optimisation just failed (row already failed)."""
    event = OptimizationFailed(
        optimization_id=optimization["id"],
        owner_id=optimization["owner_id"],
        reason_code=FailureReason(optimization["failure_reason"] or FailureReason.INTERNAL),
        message=optimization["failure_message"] or "The optimisation failed.",
        sequence=optimization["event_seq"],
        correlation_id=correlation_id,
    )
    return event, OPTIMIZATION_FAILED, optimization["id"].bytes


def cancelled_event(optimization: Row, correlation_id: UUID | None = None) -> Announcement:
    """The ``OptimizationCancelled`` of an optimisation just cancelled."""
    event = OptimizationCancelled(
        optimization_id=optimization["id"],
        owner_id=optimization["owner_id"],
        sequence=optimization["event_seq"],
        correlation_id=correlation_id,
    )
    return event, OPTIMIZATION_CANCELLED, optimization["id"].bytes
