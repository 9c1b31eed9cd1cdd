"""The integrity migrations, on a real PostgreSQL: data written under the previous revision survives
the upgrade (corrected where it broke a rule), and afterwards the database itself refuses bad rows.

Each test migrates one service to the revision before its integrity migration, writes rows with
edge values (and some that break the new rules), upgrades to head, looks at what survived, then
tries rows the constraints must refuse. The table metadata is checked to name the same
constraints as the database.
"""

import importlib
import math
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid4

import pytest
import pytest_asyncio
import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from sqlalchemy import Connection
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from tradelab_runtime import audit
from tradelab_runtime.migrations import upgrade_to_head

pytestmark = pytest.mark.integration

NOW = datetime(2026, 12, 1, tzinfo=UTC)
INTEGRITY = {"auth": "0004", "datasets": "0005", "engine": "0009", "analytics": "0005"}
"""Each service's integrity migration."""
BEFORE = {"auth": "0003", "datasets": "0004", "engine": "0008", "analytics": "0004"}


@pytest_asyncio.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    db = create_async_engine(database_url)
    yield db
    await db.dispose()


async def migrate(engine: AsyncEngine, service: str, revision: str = "head") -> None:
    await upgrade_to_head(engine, f"tradelab_{service}:migrations", service, revision)


def _downgrade(connection: Connection, service: str, revision: str) -> None:
    config = Config()
    config.set_main_option("script_location", f"tradelab_{service}:migrations")
    config.attributes["connection"] = connection
    config.attributes["schema"] = service
    command.downgrade(config, revision)


async def downgrade(engine: AsyncEngine, service: str, revision: str) -> None:
    async with engine.connect() as conn:
        await conn.run_sync(_downgrade, service, revision)
        await conn.commit()


def tables(service: str) -> Any:
    return importlib.import_module(f"tradelab_{service}.adapters.tables")


async def insert(engine: AsyncEngine, table: sa.Table, *rows: dict[str, Any]) -> None:
    """Insert ``rows`` naming only their own columns: the history is written at an older
    revision, which lacks later columns (whatever defaults today's table definition gives them)."""
    async with engine.begin() as conn:
        for row in rows:  # one by one: the rows name different columns
            then = sa.table(
                table.name, *(sa.column(c, table.c[c].type) for c in row), schema=table.schema
            )
            await conn.execute(sa.insert(then).values(row))


async def refused(engine: AsyncEngine, statement: sa.Executable) -> None:
    """The database refuses ``statement`` with an integrity error (and nothing is kept)."""
    with pytest.raises(IntegrityError):
        async with engine.begin() as conn:
            await conn.execute(statement)


async def audit_is_append_only(engine: AsyncEngine, schema: str) -> None:
    log = audit.audit_table(schema)
    async with engine.begin() as conn:
        await audit.record(conn, schema, None, "test.recorded", "test", "1", {"n": 1})
    await refused(engine, log.update().values(action="forged"))
    await refused(engine, log.delete())
    await refused(engine, sa.text(f"TRUNCATE {schema}.audit_log"))
    async with engine.connect() as conn:
        assert (await conn.scalar(sa.select(sa.func.count()).select_from(log)) or 0) >= 1


async def round_trip(engine: AsyncEngine, service: str) -> None:
    """The integrity revision downgrades and upgrades again over the data it now holds."""
    await downgrade(engine, service, BEFORE[service])
    await migrate(engine, service)


async def scalars(engine: AsyncEngine, query: sa.Select[Any]) -> list[Any]:
    async with engine.connect() as conn:
        return list((await conn.scalars(query)).all())


# --- the metadata names what the database holds ---------------------------------------------------
CONSTRAINTS = sa.text(
    "SELECT rel.relname, con.conname, con.contype::text, con.confdeltype::text "
    "FROM pg_constraint con "
    "JOIN pg_class rel ON rel.oid = con.conrelid "
    "JOIN pg_namespace ns ON ns.oid = rel.relnamespace "
    "WHERE ns.nspname = :schema AND con.contype IN ('c', 'f')"
)


def declared(metadata: sa.MetaData) -> set[tuple[str, str, str]]:
    found = set()
    for table in metadata.tables.values():
        for constraint in table.constraints:
            if isinstance(constraint, sa.CheckConstraint):
                found.add((table.name, str(constraint.name), "c"))
            elif isinstance(constraint, sa.ForeignKeyConstraint):
                column = constraint.column_keys[0]
                name = constraint.name or f"{table.name}_{column}_fkey"
                found.add((table.name, str(name), f"f:{constraint.ondelete}"))
    return found


@pytest.mark.asyncio
@pytest.mark.parametrize("service", list(INTEGRITY))
async def test_table_metadata_names_the_constraints_the_database_holds(
    engine: AsyncEngine, service: str
) -> None:
    await migrate(engine, service)
    metadata = tables(service).metadata
    mine = {table.name for table in metadata.tables.values()}
    async with engine.connect() as conn:
        rows = (await conn.execute(CONSTRAINTS, {"schema": service})).all()
    cascade = {"c": "CASCADE"}
    in_db = {
        (table, name, "c" if kind == "c" else f"f:{cascade.get(on_delete)}")
        for table, name, kind, on_delete in rows
        if table in mine
    }
    assert in_db == declared(metadata)


# --- auth -------------------------------------------------------------------------------------
@pytest.mark.asyncio
async def test_auth_keeps_its_users_and_gains_an_append_only_audit_log(engine: AsyncEngine) -> None:
    t = tables("auth")
    await migrate(engine, "auth", BEFORE["auth"])
    user, token = uuid4(), uuid4()
    await insert(
        engine,
        t.users,
        {
            "id": user,
            "email": "a@example.com",
            "password_hash": "x",
            "created_at": NOW,
            "updated_at": NOW,
        },
    )
    await insert(
        engine,
        t.refresh_tokens,
        {
            "id": token,
            "user_id": user,
            "family_id": uuid4(),
            "token_hash": "h",
            "issued_at": NOW,
            "expires_at": NOW + timedelta(days=1),
        },
    )

    await migrate(engine, "auth")

    assert await scalars(engine, sa.select(t.refresh_tokens.c.id)) == [token]
    await audit_is_append_only(engine, "auth")
    await refused(
        engine,
        sa.insert(t.refresh_tokens).values(
            id=uuid4(),
            user_id=uuid4(),
            family_id=uuid4(),
            token_hash="orphan",
            issued_at=NOW,
            expires_at=NOW,
        ),
    )
    async with engine.begin() as conn:
        await conn.execute(sa.delete(t.users))
    assert await scalars(engine, sa.select(t.refresh_tokens.c.id)) == []
    await round_trip(engine, "auth")


# --- datasets ---------------------------------------------------------------------------------
def dataset(**values: Any) -> dict[str, Any]:
    row = {
        "id": uuid4(),
        "owner_id": uuid4(),
        "status": "ready",
        "filename": "bars.csv",
        "declared": {},
        "size_bytes": 0,
        "raw_sha256": uuid4().hex,
        "rows": 0,
        "quality_score": 0.0,
        "created_at": NOW,
        "updated_at": NOW,
    }
    return row | values


@pytest.mark.asyncio
async def test_datasets_survive_corrected_and_bad_ones_are_refused_after(
    engine: AsyncEngine,
) -> None:
    t = tables("datasets").datasets
    await migrate(engine, "datasets", BEFORE["datasets"])
    edge, full, odd, negative = (
        dataset(),
        dataset(quality_score=100.0, rows=10**12, size_bytes=2**40),
        dataset(status="half_done", reject_reason="gremlins"),
        dataset(size_bytes=-1, rows=-5, redrives=-2, quality_score=120.0),
    )
    unknown = dataset(status="rejected", reject_reason="gremlins", quality_score=math.nan)
    await insert(engine, t, edge, full, odd, negative, unknown)

    await migrate(engine, "datasets")

    async with engine.connect() as conn:
        rows = {r["id"]: r for r in (await conn.execute(sa.select(t))).mappings()}
    assert len(rows) == 5
    assert rows[edge["id"]]["quality_score"] == 0
    assert rows[full["id"]]["quality_score"] == 100
    assert rows[full["id"]]["size_bytes"] == 2**40
    assert rows[odd["id"]]["status"] == "rejected"
    assert rows[odd["id"]]["reject_reason"] == "internal"
    assert rows[odd["id"]]["reject_message"] == "unknown status half_done"
    assert (rows[negative["id"]]["size_bytes"], rows[negative["id"]]["rows"]) == (0, 0)
    assert rows[negative["id"]]["redrives"] == 0
    assert rows[negative["id"]]["quality_score"] == 100
    assert rows[unknown["id"]]["reject_reason"] == "internal"
    assert rows[unknown["id"]]["quality_score"] is None

    await insert(engine, t, dataset(), dataset(status="pending", rows=None, quality_score=None))
    for bad in (
        dataset(status="unknown"),
        dataset(status="rejected", reject_reason="gremlins"),
        dataset(size_bytes=-1),
        dataset(rows=-1),
        dataset(redrives=-1),
        dataset(quality_score=100.5),
        dataset(quality_score=-0.1),
    ):
        await refused(engine, sa.insert(t).values(bad))
    await refused(engine, t.update().values(status="deleted"))
    await audit_is_append_only(engine, "datasets")
    await round_trip(engine, "datasets")


# --- analytics --------------------------------------------------------------------------------
def analysis(**values: Any) -> dict[str, Any]:
    row = {
        "run_id": uuid4(),
        "owner_id": uuid4(),
        "dataset_id": uuid4(),
        "strategy": "sma_cross",
        "parameters": {},
        "status": "ready",
        "metrics": {},
        "created_at": NOW,
    }
    return row | values


@pytest.mark.asyncio
async def test_analyses_keep_their_starting_cash_as_numeric_and_refuse_bad_money(
    engine: AsyncEngine,
) -> None:
    t = tables("analytics").analyses
    await migrate(engine, "analytics", BEFORE["analytics"])
    cash, cent, unset, nan, negative, odd = (
        analysis(initial_cash=100_000.25, rolling_window=2),
        analysis(initial_cash=0.01),
        analysis(),
        analysis(initial_cash=math.nan),
        analysis(initial_cash=-5.0, rolling_window=0),
        analysis(status="pending", initial_cash=math.inf),
    )
    await insert(engine, t, cash, cent, unset, nan, negative, odd)

    await migrate(engine, "analytics")

    stored = sa.select(t.c.run_id, sa.cast(t.c.initial_cash, sa.Text), t.c.rolling_window)
    async with engine.connect() as conn:
        rows = {r[0]: r[1:] for r in (await conn.execute(stored)).all()}
        kind = await conn.scalar(
            sa.text(
                "SELECT data_type FROM information_schema.columns WHERE table_schema = "
                "'analytics' AND table_name = 'analyses' AND column_name = 'initial_cash'"
            )
        )
        statuses = set((await conn.scalars(sa.select(t.c.status))).all())
    assert kind == "numeric"
    assert rows[cash["run_id"]] == ("100000.25", 2)
    assert Decimal(rows[cent["run_id"]][0]) == Decimal("0.01")
    assert rows[unset["run_id"]] == (None, None)
    assert rows[nan["run_id"]] == (None, None)
    assert rows[negative["run_id"]] == (None, None)
    assert rows[odd["run_id"]][0] is None
    assert statuses == {"ready"}
    # Read back through the metadata, the money is a float again for the service.
    assert await scalars(
        engine, sa.select(t.c.initial_cash).where(t.c.run_id == cash["run_id"])
    ) == [100_000.25]

    await insert(engine, t, analysis(initial_cash=1e-9), analysis(initial_cash=None))
    for bad in (
        analysis(initial_cash=0.0),
        analysis(initial_cash=-0.01),
        analysis(initial_cash=math.nan),
        analysis(initial_cash=math.inf),
        analysis(rolling_window=0),
        analysis(status="failed"),
    ):
        await refused(engine, sa.insert(t).values(bad))
    await audit_is_append_only(engine, "analytics")
    await round_trip(engine, "analytics")


# --- engine -----------------------------------------------------------------------------------
OPTIONS = {"initial_cash": 100_000.0, "fee_rate": 0.0, "fixed_fee": 0.0}


def run(**values: Any) -> dict[str, Any]:
    row = {
        "id": uuid4(),
        "owner_id": uuid4(),
        "dataset_id": uuid4(),
        "dataset_uri": "s3://d",
        "dataset_sha256": "d",
        "strategy": "sma_cross",
        "parameters": {},
        "options": OPTIONS,
        "cache_key": "k",
        "status": "queued",
        "progress": 0.0,
        "attempt": 0,
        "cached": False,
        "engine_version": "1",
        "created_at": NOW,
        "updated_at": NOW,
    }
    return row | values


def optimization(**values: Any) -> dict[str, Any]:
    row = {
        "id": uuid4(),
        "owner_id": uuid4(),
        "dataset_id": uuid4(),
        "dataset_uri": "s3://d",
        "dataset_sha256": "d",
        "strategy": "sma_cross",
        "spec": {"options": OPTIONS},
        "status": "running",
        "total": 0,
        "skipped": 0,
        "evaluated": 0,
        "chunks": 2,
        "chunks_done": 2,
        "event_seq": 0,
        "created_at": NOW,
        "updated_at": NOW,
    }
    return row | values


def study(**values: Any) -> dict[str, Any]:
    row = {
        "id": uuid4(),
        "owner_id": uuid4(),
        "method": "gbm_paths",
        "spec": {"options": OPTIONS},
        "n_simulations": 1,
        "seed": 7,
        "priority": "normal",
        "priority_rank": 1,
        "status": "completed",
        "progress": 1.0,
        "simulations_done": 1,
        "event_seq": 0,
        "attempt": 0,
        "created_at": NOW,
        "updated_at": NOW,
    }
    return row | values


def chunk(parent: UUID, index: int = 0, **values: Any) -> dict[str, Any]:
    return {"optimization_id": parent, "chunk_index": index, "size": 0, "done": False} | values


def fold(parent: UUID, **values: Any) -> dict[str, Any]:
    bars = {f"{p}_{e}_bar": 0 for p in ("train", "test") for e in ("start", "end")}
    times = {f"{p}_{e}": NOW for p in ("train", "test") for e in ("start", "end")}
    row = {"optimization_id": parent, "fold_index": 0, "chunks": 1, "chunks_done": 1, "done": True}
    return row | bars | times | values


def result(parent: UUID, **values: Any) -> dict[str, Any]:
    row = {"optimization_id": parent, "combo_index": 0, "chunk_index": 0, "parameters": {}}
    return row | {"metrics": {}, "ranked": False} | values


async def write_engine_history(engine: AsyncEngine) -> dict[str, Any]:
    """Rows as the engine could hold them at 0008, some breaking the new rules."""
    t = tables("engine")
    rows = {
        "edge": run(progress=1.0, status="completed", options={}),
        "odd": run(status="paused", failure_reason="gremlins", progress=1.5, attempt=-1),
        "nan": run(progress=math.nan, status="failed", failure_reason="timeout"),
        "rich": run(options=OPTIONS | {"fee_rate": -0.01}),
        "optimization": optimization(),
        "wild": optimization(status="halted", chunks=1, chunks_done=3, total=-1),
        "study": study(),
        "study_odd": study(priority="urgent", n_simulations=0, progress=-0.5),
    }
    await insert(engine, t.runs, rows["edge"], rows["odd"], rows["nan"], rows["rich"])
    await insert(engine, t.optimizations, rows["optimization"], rows["wild"])
    await insert(engine, t.monte_carlo, rows["study"], rows["study_odd"])
    parent, orphan = rows["optimization"]["id"], uuid4()
    await insert(engine, t.optimization_chunks, chunk(parent), chunk(parent, 1), chunk(orphan))
    await insert(engine, t.optimization_results, result(parent), result(orphan))
    await insert(engine, t.optimization_folds, fold(parent), fold(orphan))
    return rows


VALIDATED = sa.text("SELECT conname, convalidated FROM pg_constraint WHERE conname = :name")


@pytest.mark.asyncio
async def test_engine_jobs_survive_corrected_and_the_database_refuses_bad_ones(
    engine: AsyncEngine,
) -> None:
    t = tables("engine")
    await migrate(engine, "engine", BEFORE["engine"])
    rows = await write_engine_history(engine)

    await migrate(engine, "engine")

    async with engine.connect() as conn:
        runs = {r["id"]: r for r in (await conn.execute(sa.select(t.runs))).mappings()}
        opts = {r["id"]: r for r in (await conn.execute(sa.select(t.optimizations))).mappings()}
        studies = {r["id"]: r for r in (await conn.execute(sa.select(t.monte_carlo))).mappings()}
        valid: dict[str, bool] = dict(
            (await conn.execute(VALIDATED, {"name": "ck_runs_fee_rate"})).all()
        )
    assert len(runs) == 4
    assert runs[rows["edge"]["id"]]["progress"] == 1.0
    odd = runs[rows["odd"]["id"]]
    assert (odd["status"], odd["failure_reason"], odd["progress"], odd["attempt"]) == (
        "failed",
        "internal",
        1.0,
        0,
    )
    assert odd["failure_message"] == "unknown status paused"
    assert runs[rows["nan"]["id"]]["progress"] == 0
    assert runs[rows["rich"]["id"]]["options"]["fee_rate"] == -0.01  # history kept as it was run
    assert valid == {"ck_runs_fee_rate": False}  # ... so that one rule is checked from now on
    wild = opts[rows["wild"]["id"]]
    assert (wild["status"], wild["chunks_done"], wild["total"]) == ("failed", 1, 0)
    odd_study = studies[rows["study_odd"]["id"]]
    assert (odd_study["priority"], odd_study["n_simulations"], odd_study["progress"]) == (
        "normal",
        1,
        0,
    )
    parent = rows["optimization"]["id"]
    for child in (t.optimization_chunks, t.optimization_results, t.optimization_folds):
        assert set(await scalars(engine, sa.select(child.c.optimization_id))) == {parent}

    await engine_refuses_bad_rows(engine, parent)
    async with engine.begin() as conn:
        await conn.execute(t.optimizations.delete().where(t.optimizations.c.id == parent))
    for child in (t.optimization_chunks, t.optimization_results, t.optimization_folds):
        assert await scalars(engine, sa.select(child.c.optimization_id)) == []
    await audit_is_append_only(engine, "engine")
    await round_trip(engine, "engine")


async def engine_refuses_bad_rows(engine: AsyncEngine, parent: UUID) -> None:
    t = tables("engine")
    # Good rows, edge values included, are still taken.
    await insert(engine, t.runs, run(), run(progress=1.0, options=OPTIONS | {"fee_rate": 0.1}))
    await insert(engine, t.optimizations, optimization(chunks=0, chunks_done=0))
    await insert(engine, t.monte_carlo, study(), study(spec={}, status="queued", progress=0.0))
    await insert(engine, t.optimization_chunks, chunk(parent, 9))
    for bad in (
        run(progress=1.5),
        run(progress=-0.1),
        run(status="paused"),
        run(failure_reason="gremlins"),
        run(attempt=-1),
        run(event_seq=-1),
        run(options=OPTIONS | {"fee_rate": -0.001}),
        run(options=OPTIONS | {"fixed_fee": -1}),
        run(options=OPTIONS | {"initial_cash": 0}),
        run(options=OPTIONS | {"initial_cash": "lots"}),
        run(options=OPTIONS | {"initial_cash": None}),
    ):
        await refused(engine, sa.insert(t.runs).values(bad))
    for bad in (
        optimization(status="halted"),
        optimization(chunks=1, chunks_done=2),
        optimization(evaluated=-1),
        optimization(spec={"options": OPTIONS | {"fixed_fee": -0.5}}),
        optimization(failure_reason="gremlins"),  # 0011
        optimization(attempt=-1),
    ):
        await refused(engine, sa.insert(t.optimizations).values(bad))
    for bad in (
        study(n_simulations=0),
        study(method="guesswork"),
        study(priority="urgent"),
        study(progress=2.0),
        study(spec={"options": OPTIONS | {"initial_cash": -1}}),
    ):
        await refused(engine, sa.insert(t.monte_carlo).values(bad))
    orphan = uuid4()
    await refused(engine, sa.insert(t.optimization_chunks).values(chunk(orphan)))
    await refused(engine, sa.insert(t.optimization_results).values(result(orphan)))
    await refused(engine, sa.insert(t.optimization_folds).values(fold(orphan)))
    await refused(engine, sa.insert(t.optimization_chunks).values(chunk(parent, 5, size=-1)))
    await refused(engine, sa.insert(t.optimization_chunks).values(chunk(parent, 6, first_index=-1)))
    await refused(engine, sa.insert(t.optimization_chunks).values(chunk(parent, 7, fold_index=-2)))
    await refused(
        engine, sa.insert(t.optimization_folds).values(fold(parent, fold_index=1, chunks_done=2))
    )


@pytest.mark.asyncio
async def test_analyses_may_end_failed_with_a_reason_and_erasures_leave_tombstones(
    engine: AsyncEngine,
) -> None:
    t = tables("analytics")
    await migrate(engine, "analytics", "0005")
    kept = analysis(initial_cash=1_000.0)
    await insert(engine, t.analyses, kept)

    await migrate(engine, "analytics")

    assert await scalars(engine, sa.select(t.analyses.c.status)) == ["ready"]
    failed = {"status": "failed", "failure_reason": "internal", "failure_message": "why"}
    gone = uuid4()
    await insert(engine, t.analyses, analysis(**failed))
    await insert(engine, t.tombstones, {"entity": "run", "entity_id": gone})
    for bad in (
        analysis(status="failed"),
        analysis(status="failed", failure_reason="internal"),
        analysis(status="failed", failure_reason="gremlins", failure_message="why"),
        analysis(failure_reason="internal", failure_message="why"),
        analysis(failure_message="why"),
    ):
        await refused(engine, sa.insert(t.analyses).values(bad))
    await refused(engine, sa.insert(t.tombstones).values(entity="dataset", entity_id=uuid4()))
    await refused(engine, sa.insert(t.tombstones).values(entity="run", entity_id=gone))

    await downgrade(engine, "analytics", "0005")  # failed analyses cannot be kept at 0005
    analyses_0005 = sa.table("analyses", sa.column("run_id"), schema="analytics")
    assert await scalars(engine, sa.select(analyses_0005.c.run_id)) == [kept["run_id"]]
    await migrate(engine, "analytics")
