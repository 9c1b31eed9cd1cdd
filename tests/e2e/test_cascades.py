"""Deleting a backtest, a dataset or an account takes everything that depends on it along, in
every service and in the object store (docs/architecture.md, "Deletion cascades")."""

import asyncio
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from tests.e2e.helpers import auth, minute_bars_csv, register, run_to_end, upload_goog
from tests.polling import wait_for
from tradelab_devstack.stack import Stack

SMA = {"strategy": "sma_cross", "parameters": {"fast": 10, "slow": 30}}
OWNED_ROWS = {
    "engine.runs": "owner_id",
    "engine.optimizations": "owner_id",
    "engine.monte_carlo": "owner_id",
    "engine.user_strategies": "owner_id",
    "datasets.datasets": "owner_id",
    "analytics.analyses": "owner_id",
    "auth.users": "id",
}
"""Every table that holds a user's rows, and the column naming the user."""


def analysed_with_report(gateway: httpx.Client, token: str, dataset_id: str) -> str:
    """A completed GOOG run whose analysis and HTML report exist; its id."""
    run = run_to_end(gateway, token, {"dataset_id": dataset_id, **SMA})
    assert run["status"] == "completed", run
    run_id: str = run["id"]

    def analysed() -> str | None:
        answer = gateway.get(f"/api/v1/analytics/{run_id}", headers=auth(token))
        return run_id if answer.status_code == 200 else None

    wait_for(analysed, 60, f"run {run_id} analysed")
    report = gateway.get(f"/api/v1/analytics/{run_id}/report", headers=auth(token))
    assert report.status_code == 200, report.text
    return run_id


def files_naming(root: Path, name: str) -> list[Path]:
    """Files under the object store whose path contains ``name``."""
    return [p for p in root.rglob("*") if p.is_file() and name in str(p.relative_to(root))]


def rows_left(database_url: str, owner_id: str) -> dict[str, int]:
    """How many rows each owned table still holds for ``owner_id``."""

    async def count() -> dict[str, int]:
        engine = create_async_engine(database_url)
        try:
            async with engine.connect() as conn:
                found = {}
                for table, column in OWNED_ROWS.items():
                    query = text(f"SELECT count(*) FROM {table} WHERE {column} = :owner")  # noqa: S608 - fixed names
                    found[table] = int(await conn.scalar(query, {"owner": owner_id}) or 0)
                return found
        finally:
            await engine.dispose()

    return asyncio.run(count())


def test_deleting_a_backtest_deletes_its_analysis_charts_report_and_files(
    gateway: httpx.Client, object_store: Path
) -> None:
    token = register(gateway, "cascade-run")
    run_id = analysed_with_report(gateway, token, upload_goog(gateway, token))
    assert files_naming(object_store, run_id)  # engine results, charts, report

    deleted = gateway.delete(f"/api/v1/backtests/{run_id}", headers=auth(token))
    assert deleted.status_code == 204, deleted.text

    paths = ("", "/charts", "/report", "/rolling")

    def all_gone() -> dict[str, int] | None:
        codes = {
            path: gateway.get(f"/api/v1/analytics/{run_id}{path}", headers=auth(token)).status_code
            for path in paths
        }
        assert all(code in (200, 404) for code in codes.values()), codes  # never a 500
        return codes if set(codes.values()) == {404} else None

    wait_for(all_gone, 30, "the run's analysis gone")
    wait_for(lambda: True if not files_naming(object_store, run_id) else None, 30, "files gone")
    assert gateway.get(f"/api/v1/backtests/{run_id}", headers=auth(token)).status_code == 404


def test_deleting_a_dataset_cancels_the_backtest_running_on_it(gateway: httpx.Client) -> None:
    token = register(gateway, "cascade-dataset")
    created = gateway.post(
        "/api/v1/datasets",
        headers=auth(token),
        files={"file": ("bars.csv", minute_bars_csv(40_000, seed=11), "text/csv")},
        data={"symbol": "RW"},
    )
    assert created.status_code in (200, 202), created.text
    dataset_id = created.json()["id"]

    def ready() -> str | None:
        body = gateway.get(f"/api/v1/datasets/{dataset_id}", headers=auth(token)).json()
        return dataset_id if body["status"] == "ready" else None

    wait_for(ready, 60, "dataset ingested")
    body = {"dataset_id": dataset_id, **SMA}
    submitted = gateway.post("/api/v1/backtests", headers=auth(token), json=body)
    assert submitted.status_code == 202, submitted.text
    run_id = submitted.json()["id"]

    def run() -> dict[str, Any]:
        found: dict[str, Any] = gateway.get(
            f"/api/v1/backtests/{run_id}", headers=auth(token)
        ).json()
        return found

    wait_for(lambda: True if run()["status"] == "running" else None, 30, "the run started")
    deleted = gateway.delete(f"/api/v1/datasets/{dataset_id}", headers=auth(token))
    assert deleted.status_code == 204, deleted.text

    ended = wait_for(lambda: r if (r := run())["status"] != "running" else None, 30, "run ended")
    assert ended["status"] == "cancelled", ended


def test_deleting_an_account_erases_what_it_owns_in_every_service(
    gateway: httpx.Client, stack: Stack, object_store: Path
) -> None:
    token = register(gateway, "cascade-user")
    owner_id = gateway.get("/api/v1/auth/me", headers=auth(token)).json()["id"]
    analysed_with_report(gateway, token, upload_goog(gateway, token))
    sma = {"type": "sma", "period": 10}
    cross = {"type": "compare", "left": {"type": "price", "field": "close"}, "op": "crosses_above"}
    rules = {
        "entry": {**cross, "right": sma},
        "exit": {**cross, "op": "crosses_below", "right": sma},
    }
    saved = gateway.post(
        "/api/v1/strategies", headers=auth(token), json={"name": "mine", "description": "", **rules}
    )
    assert saved.status_code == 201, saved.text
    assert files_naming(object_store, owner_id)
    assert any(rows_left(stack.database_url, owner_id).values())

    deleted = gateway.delete("/api/v1/auth/me", headers=auth(token))
    assert deleted.status_code == 204, deleted.text
    assert gateway.get("/api/v1/auth/me", headers=auth(token)).status_code in (401, 404)

    def erased() -> bool | None:
        left = rows_left(stack.database_url, owner_id)
        return True if not any(left.values()) else None

    wait_for(erased, 30, "every row of the user erased")
    wait_for(
        lambda: True if not files_naming(object_store, owner_id) else None,
        30,
        "every file of the user erased",
    )
    again = gateway.delete("/api/v1/auth/me", headers=auth(token))
    assert again.status_code in (401, 404)
