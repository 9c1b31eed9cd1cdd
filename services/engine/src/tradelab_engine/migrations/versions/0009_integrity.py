"""Integrity in the database: allowed statuses, failure reasons, methods and priorities; progress
within 0-1 and non-negative attempts, sequences and counters; user-entered money positive (or not
negative); optimisation chunks, results and folds tied to their optimisation (ON DELETE CASCADE);
and the append-only audit log.

The money a user enters (initial cash, fee rate, fixed fee) lives inside the JSONB ``options`` of a
run and ``spec->'options'`` of an optimisation or Monte Carlo study, not in columns of its own, so
it is checked there (a JSON number within range; an absent key means the contract's default).

Rows written before are brought within the rules first where a value can be corrected (an unknown
status becomes ``failed`` for an ``internal`` reason, progress is clamped, negative counters become
0, orphaned chunks, results and folds are deleted). Every constraint is added NOT VALID and then
validated when no row breaks it; one that a historic row still breaks (money or a method a
contract never let through) stays NOT VALID: new and updated rows are checked, history is kept.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-12
"""

import sqlalchemy as sa
from alembic import op

from tradelab_runtime.audit import create_audit_table, drop_audit_table
from tradelab_runtime.integrity import json_number, one_of

revision = "0009"
down_revision = "0008"
SCHEMA = "engine"
STATUSES = ("queued", "running", "completed", "failed", "cancelled")
FAILURE_REASONS = (
    "dataset_not_found",
    "dataset_unreadable",
    "source_run_not_found",
    "invalid_parameters",
    "unknown_strategy",
    "timeout",
    "cancelled",
    "internal",
    "attempts_exhausted",
)
METHODS = ("bootstrap_trades", "bootstrap_returns", "block_bootstrap", "gbm_paths")
PRIORITIES = ("high", "normal", "low")
CHILDREN = ("optimization_chunks", "optimization_results", "optimization_folds")


def money(document: str) -> dict[str, str]:
    """The money checks of one ``EngineOptions`` document, by constraint suffix."""
    return {
        "initial_cash": json_number(document, "initial_cash", "{v} > 0"),
        "fee_rate": json_number(document, "fee_rate", "{v} >= 0"),
        "fixed_fee": json_number(document, "fixed_fee", "{v} >= 0"),
    }


def _job(table: str) -> dict[str, str]:
    return {
        f"ck_{table}_status": one_of("status", STATUSES),
        f"ck_{table}_event_seq": "event_seq >= 0",
    }


CHECKS: dict[str, dict[str, str]] = {
    "runs": {
        **_job("runs"),
        "ck_runs_failure_reason": one_of("failure_reason", FAILURE_REASONS),
        "ck_runs_progress": "progress BETWEEN 0 AND 1",
        "ck_runs_attempt": "attempt >= 0",
        **{f"ck_runs_{k}": v for k, v in money("options").items()},
    },
    "optimizations": {
        **_job("optimizations"),
        "ck_optimizations_counts": "total >= 0 AND skipped >= 0 AND evaluated >= 0 AND folds >= 0",
        "ck_optimizations_chunks": "chunks >= 0 AND chunks_done BETWEEN 0 AND chunks",
        **{f"ck_optimizations_{k}": v for k, v in money("spec->'options'").items()},
    },
    "optimization_chunks": {"ck_optimization_chunks_size": "size >= 0"},
    "optimization_folds": {
        "ck_optimization_folds_chunks": "chunks >= 0 AND chunks_done BETWEEN 0 AND chunks",
    },
    "monte_carlo": {
        **_job("monte_carlo"),
        "ck_monte_carlo_failure_reason": one_of("failure_reason", FAILURE_REASONS),
        "ck_monte_carlo_method": one_of("method", METHODS),
        "ck_monte_carlo_priority": one_of("priority", PRIORITIES),
        "ck_monte_carlo_progress": "progress BETWEEN 0 AND 1",
        "ck_monte_carlo_attempt": "attempt >= 0",
        "ck_monte_carlo_n_simulations": "n_simulations > 0",
        "ck_monte_carlo_simulations_done": "simulations_done >= 0",
        **{f"ck_monte_carlo_{k}": v for k, v in money("spec->'options'").items()},
    },
}

# Corrections of rows written before; each statement only touches rows that need it.
CLEANUP = (
    *(
        f"UPDATE {SCHEMA}.{table} SET status = 'failed', {reason}"  # noqa: S608 - constants
        "failure_message = coalesce(failure_message, 'unknown status ' || status), "
        f"finished_at = coalesce(finished_at, now()) WHERE NOT ({one_of('status', STATUSES)})"
        for table, reason in (
            ("runs", "failure_reason = 'internal', "),
            ("monte_carlo", "failure_reason = 'internal', "),
            ("optimizations", ""),
        )
    ),
    *(
        f"UPDATE {SCHEMA}.{table} SET failure_reason = 'internal' "  # noqa: S608 - constants
        f"WHERE NOT ({one_of('failure_reason', FAILURE_REASONS)})"
        for table in ("runs", "monte_carlo")
    ),
    *(
        # NaN sorts above every number in PostgreSQL, so it is caught by > 1 and made 0.
        f"UPDATE {SCHEMA}.{table} SET progress = CASE WHEN progress = 'NaN' THEN 0 "  # noqa: S608 - constants
        "ELSE least(greatest(progress, 0), 1) END, attempt = greatest(attempt, 0), "
        "event_seq = greatest(event_seq, 0) "
        "WHERE NOT (progress BETWEEN 0 AND 1) OR attempt < 0 OR event_seq < 0"
        for table in ("runs", "monte_carlo")
    ),
    f"UPDATE {SCHEMA}.monte_carlo SET priority = 'normal', priority_rank = 1 "  # noqa: S608 - constants
    f"WHERE NOT ({one_of('priority', PRIORITIES)})",
    f"UPDATE {SCHEMA}.monte_carlo SET n_simulations = greatest(n_simulations, 1), "  # noqa: S608 - constants
    "simulations_done = greatest(simulations_done, 0) "
    "WHERE n_simulations < 1 OR simulations_done < 0",
    f"UPDATE {SCHEMA}.optimizations SET total = greatest(total, 0), "  # noqa: S608 - constants
    "skipped = greatest(skipped, 0), evaluated = greatest(evaluated, 0), "
    "folds = greatest(folds, 0), event_seq = greatest(event_seq, 0), "
    "chunks = greatest(chunks, 0), "
    "chunks_done = least(greatest(chunks_done, 0), greatest(chunks, 0)) "
    "WHERE least(total, skipped, evaluated, folds, event_seq, chunks, chunks_done) < 0 "
    "OR chunks_done > chunks",
    f"UPDATE {SCHEMA}.optimization_folds SET chunks = greatest(chunks, 0), "  # noqa: S608 - constants
    "chunks_done = least(greatest(chunks_done, 0), greatest(chunks, 0)) "
    "WHERE chunks < 0 OR chunks_done < 0 OR chunks_done > chunks",
    f"UPDATE {SCHEMA}.optimization_chunks SET size = 0 WHERE size < 0",  # noqa: S608 - constants
    *(
        f"DELETE FROM {SCHEMA}.{child} c WHERE NOT EXISTS "  # noqa: S608 - constants
        f"(SELECT FROM {SCHEMA}.optimizations o WHERE o.id = c.optimization_id)"
        for child in CHILDREN
    ),
)


def _add(table: str, name: str, definition: str) -> None:
    """Add a constraint NOT VALID, then validate it unless a historic row breaks it."""
    op.execute(f"ALTER TABLE {SCHEMA}.{table} ADD CONSTRAINT {name} {definition} NOT VALID")
    broken = f"SELECT EXISTS (SELECT FROM {SCHEMA}.{table} WHERE NOT ({{}}))"  # noqa: S608 - constants
    if definition.startswith("CHECK"):
        condition = definition.removeprefix("CHECK ")
        if op.get_bind().scalar(sa.text(broken.format(condition))):
            return
    op.execute(f"ALTER TABLE {SCHEMA}.{table} VALIDATE CONSTRAINT {name}")


def upgrade() -> None:
    for statement in CLEANUP:
        op.execute(statement)
    for table, checks in CHECKS.items():
        for name, condition in checks.items():
            _add(table, name, f"CHECK ({condition})")
    for child in CHILDREN:
        _add(
            child,
            f"fk_{child}_optimization",
            f"FOREIGN KEY (optimization_id) REFERENCES {SCHEMA}.optimizations (id) "
            "ON DELETE CASCADE",
        )
    create_audit_table(SCHEMA)


def downgrade() -> None:
    drop_audit_table(SCHEMA)
    for child in CHILDREN:
        op.drop_constraint(f"fk_{child}_optimization", child, schema=SCHEMA, type_="foreignkey")
    for table, checks in CHECKS.items():
        for name in checks:
            op.drop_constraint(name, table, schema=SCHEMA, type_="check")
