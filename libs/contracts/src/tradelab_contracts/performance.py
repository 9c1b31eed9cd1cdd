"""Performance reports the engine answers for the administrators' ``/performance`` endpoints.

The engine holds the job tables and a connection to the database every service shares, so it
reports the cluster-wide database figures (connections by ``application_name``, table and index
sizes, index usage, ``pg_stat_statements``) and the job queues. Every list is bounded
(``MAX_REPORT_ROWS``); the request names how many of each it wants.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import AwareDatetime, Field

from tradelab_contracts.base import ContractModel

MAX_REPORT_ROWS = 100
"""Most rows of any one list in a report (tables, indexes, statements, running jobs)."""

MAX_QUERY_CHARS = 500
"""Characters of a statement's normalised text kept in a report."""


class ConnectionCount(ContractModel):
    """Connections of one client application in one state (``pg_stat_activity``)."""

    application_name: str = Field(
        max_length=128, description="The client's application_name, e.g. 'tradelab-engine'."
    )
    state: str = Field(
        max_length=64, description="active, idle, idle in transaction, ... ('unknown' if hidden)."
    )
    count: int = Field(ge=0, description="How many.")


class TableSize(ContractModel):
    """One table's size and how it is read (``pg_stat_user_tables``)."""

    schema_name: str = Field(max_length=128, description="Schema (the owning service's name).")
    table: str = Field(max_length=128, description="Table name.")
    total_bytes: int = Field(ge=0, description="Table, indexes and TOAST together.")
    table_bytes: int = Field(ge=0, description="The table's heap alone.")
    index_bytes: int = Field(ge=0, description="Its indexes together.")
    live_rows: int = Field(ge=0, description="Estimated live rows (n_live_tup).")
    seq_scan: int = Field(ge=0, description="Sequential scans since statistics were reset.")
    idx_scan: int = Field(ge=0, description="Index scans since statistics were reset.")


class IndexUsage(ContractModel):
    """One index's size and use (``pg_stat_user_indexes``)."""

    schema_name: str = Field(max_length=128, description="Schema.")
    table: str = Field(max_length=128, description="Table the index is on.")
    index: str = Field(max_length=128, description="Index name.")
    size_bytes: int = Field(ge=0, description="Size on disk.")
    idx_scan: int = Field(ge=0, description="Scans that used it since statistics were reset.")


class SlowStatement(ContractModel):
    """One normalised statement from ``pg_stat_statements``."""

    query: str = Field(max_length=MAX_QUERY_CHARS, description="Normalised text, truncated.")
    calls: int = Field(ge=0, description="Times executed.")
    total_ms: float = Field(ge=0, description="Execution time over all calls.")
    mean_ms: float = Field(ge=0, description="Mean execution time.")
    max_ms: float = Field(ge=0, description="Slowest execution.")
    rows: int = Field(ge=0, description="Rows returned or affected over all calls.")


class StatementsReport(ContractModel):
    """The slowest statements, when ``pg_stat_statements`` is installed in the database."""

    available: bool = Field(description="Whether the extension is installed and readable.")
    reason: str | None = Field(
        default=None, max_length=500, description="Why not, when it is not available."
    )
    slowest: list[SlowStatement] = Field(
        default_factory=list,
        max_length=MAX_REPORT_ROWS,
        description="By mean execution time, slowest first.",
    )


class DatabaseReport(ContractModel):
    """The shared PostgreSQL database as the engine sees it."""

    collected_at: AwareDatetime = Field(description="When the figures were read.")
    database: str = Field(max_length=128, description="Database name.")
    database_bytes: int = Field(ge=0, description="Size of the whole database.")
    connections: list[ConnectionCount] = Field(
        description="Connections to this database by application and state."
    )
    tables: list[TableSize] = Field(
        max_length=MAX_REPORT_ROWS, description="The largest tables, largest first."
    )
    indexes: list[IndexUsage] = Field(
        max_length=MAX_REPORT_ROWS, description="The largest indexes, largest first."
    )
    statements: StatementsReport = Field(description="The slowest statements, if available.")


class JobKind(StrEnum):
    """The kinds of job the engine queues."""

    BACKTEST = "backtest"
    OPTIMIZATION = "optimization"
    MONTE_CARLO = "monte_carlo"


class JobCount(ContractModel):
    """How many jobs of one kind are in one state."""

    kind: JobKind = Field(description="Job kind.")
    status: str = Field(max_length=32, description="queued, running, completed, failed, ...")
    count: int = Field(ge=0, description="How many.")


class RunningJob(ContractModel):
    """A job being worked on now."""

    kind: JobKind = Field(description="Job kind.")
    id: str = Field(max_length=64, description="The job's id.")
    worker: str | None = Field(default=None, max_length=256, description="Who holds it.")
    started_at: AwareDatetime | None = Field(default=None, description="When it started.")


class Throughput(ContractModel):
    """Jobs of one kind that ended within a window."""

    kind: JobKind = Field(description="Job kind.")
    window_s: int = Field(gt=0, description="The window, seconds back from collected_at.")
    completed: int = Field(ge=0, description="Completed in it.")
    failed: int = Field(ge=0, description="Failed in it.")
    cancelled: int = Field(ge=0, description="Cancelled in it.")


class DurationStats(ContractModel):
    """Start-to-finish durations of the completed jobs of one kind within a window."""

    kind: JobKind = Field(description="Job kind.")
    window_s: int = Field(gt=0, description="The window, seconds back from collected_at.")
    count: int = Field(ge=0, description="Completed jobs measured.")
    p50_ms: float | None = Field(default=None, ge=0, description="Median; None without jobs.")
    p95_ms: float | None = Field(default=None, ge=0, description="95th percentile.")
    p99_ms: float | None = Field(default=None, ge=0, description="99th percentile.")
    max_ms: float | None = Field(default=None, ge=0, description="Longest.")


class ConsumerLag(ContractModel):
    """Messages one consumer group has still to read on one topic (end minus committed)."""

    group: str = Field(max_length=256, description="Consumer group.")
    topic: str = Field(max_length=249, description="Topic.")
    lag: int = Field(ge=0, description="Messages behind, over the partitions it holds.")


class JobsReport(ContractModel):
    """The engine's job queues, throughput and durations, and its consumers' lag."""

    collected_at: AwareDatetime = Field(description="When the figures were read.")
    instance_id: str = Field(max_length=128, description="The engine instance that answered.")
    counts: list[JobCount] = Field(description="Jobs by kind and status (queue depth included).")
    running: list[RunningJob] = Field(
        max_length=MAX_REPORT_ROWS, description="Running jobs, longest-running first."
    )
    throughput: list[Throughput] = Field(description="Ended jobs per kind, per window.")
    durations: list[DurationStats] = Field(description="Duration percentiles per kind.")
    lag: list[ConsumerLag] = Field(
        description="Lag of the answering engine instance's consumer groups (the groups all "
        "replicas share, over the partitions this instance holds)."
    )
