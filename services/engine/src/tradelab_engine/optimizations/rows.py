"""Stored optimisation rows as the contracts' shapes."""

from typing import Any

import sqlalchemy as sa

from tradelab_contracts.engine_rpc import OptimizationInfo, OptimizationResultRow, WalkForwardFold
from tradelab_contracts.optimization import BarWindow


def info_of(row: sa.RowMapping) -> OptimizationInfo:
    """An ``optimizations`` row as the contract describes it."""
    spec: dict[str, Any] = row["spec"]
    return OptimizationInfo.model_validate(
        {
            **spec,
            "id": row["id"],
            "owner_id": row["owner_id"],
            "dataset_id": row["dataset_id"],
            "strategy": row["strategy"],
            "status": row["status"],
            "total": row["total"],
            "evaluated": row["evaluated"],
            "skipped": row["skipped"],
            "chunks": row["chunks"],
            "chunks_done": row["chunks_done"],
            "progress": row["evaluated"] / row["total"] if row["total"] else 1.0,
            "sequence": row["event_seq"],
            "best_parameters": row["best_parameters"],
            "best_value": row["best_value"],
            "best_metrics": row["best_metrics"],
            "results_uri": row["results_uri"],
            "failure_message": row["failure_message"],
            "folds": row["folds"],
            "out_of_sample": row["out_of_sample"],
            "created_at": row["created_at"],
            "started_at": row["started_at"],
            "finished_at": row["finished_at"],
        }
    )


def result_of(row: sa.RowMapping) -> OptimizationResultRow:
    """An ``optimization_results`` row."""
    return OptimizationResultRow(
        index=row["combo_index"],
        parameters=row["parameters"],
        metrics=row["metrics"],
        objective=row["objective"],
        ranked=row["ranked"],
        fold_index=row["fold_index"],
    )


def fold_of(row: sa.RowMapping) -> WalkForwardFold:
    """An ``optimization_folds`` row."""
    return WalkForwardFold(
        fold_index=row["fold_index"],
        train=BarWindow(start_bar=row["train_start_bar"], end_bar=row["train_end_bar"]),
        test=BarWindow(start_bar=row["test_start_bar"], end_bar=row["test_end_bar"]),
        train_start=row["train_start"],
        train_end=row["train_end"],
        test_start=row["test_start"],
        test_end=row["test_end"],
        done=row["done"],
        best_parameters=row["best_parameters"],
        train_metrics=row["train_metrics"],
        test_metrics=row["test_metrics"],
    )
