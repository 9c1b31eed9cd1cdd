"""Issue 14, bounds before allocation: an upload whose data would take gigabytes once decoded is
rejected from what it says about itself (a Parquet footer, CSV lines read in bounded chunks),
quickly, without the datasets process growing, and every service stays healthy.

The Parquet case is the one measured before the bounds: 60,000,000 rows in a 1 MiB file (row
groups of repeating values compress to almost nothing) were decoded whole, ingestion peaking
5 GiB above its start (7.8 s), and a process killed by it would have read the upload again after
its restart."""

import time
from collections.abc import Callable
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import polars as pl
import pytest

from tests.e2e.abuse import MEMORY_BOUND_MIB, assert_all_healthy, memory_growth
from tests.e2e.helpers import auth
from tests.polling import wait_for
from tradelab_devstack.stack import Stack

pytestmark = pytest.mark.e2e

REJECTION_S = 10.0
"""Issue 14: a file over a bound is rejected within this long of its upload."""
ROW_GROUPS = 60
GROUP_ROWS = 1_000_000


def sixty_million_rows(path: Path) -> bytes:
    """60 row groups of 1,000,000 one-minute bars, one day's minutes over and over, close 1.0.

    Written by streaming one in-memory group 60 times, so the test holds one group, not 60.
    """
    minutes = pl.int_range(0, GROUP_ROWS) % 1440
    group = pl.select(
        time=pl.lit(datetime(2024, 1, 2)) + pl.duration(minutes=minutes),  # noqa: DTZ001 - naive bars
        close=pl.lit(1.0),
    )
    pl.concat([group.lazy()] * ROW_GROUPS).sink_parquet(path, row_group_size=GROUP_ROWS)
    return path.read_bytes()


def too_long_line() -> bytes:
    """A header and one row whose value is 1 MiB long."""
    return b"time,close\n2024-01-02," + b"1" * 1024**2 + b"\n"


def too_many_columns() -> bytes:
    """1,000 rows of 2,002 columns (each line within the line bound: this is the column bound)."""
    header = "time,close," + ",".join(f"c{i}" for i in range(2000))
    return (f"{header}\n" + f"2024-01-02,1{',0' * 2000}\n" * 1000).encode()


def rejected(
    stack: Stack, gateway: httpx.Client, token: str, name: str, content: bytes
) -> tuple[dict[str, Any], float, float]:
    """Upload ``content`` and wait until it settles: the dataset, seconds taken, MiB grown."""
    with memory_growth(stack, "datasets") as growth:
        started = time.monotonic()
        response = gateway.post(
            "/api/v1/datasets",
            headers=auth(token),
            files={"file": (name, content, "application/octet-stream")},
        )
        assert response.status_code == 202, response.text
        dataset_id = response.json()["id"]

        def settled() -> dict[str, Any] | None:
            body: dict[str, Any] = gateway.get(
                f"/api/v1/datasets/{dataset_id}", headers=auth(token)
            ).json()
            return body if body["status"] != "pending" else None

        dataset = wait_for(settled, 60, f"{name} settled")
        elapsed = time.monotonic() - started
    print(
        f"\n{name} ({len(content) / 1024**2:.2f} MiB): {dataset['status']} "
        f"({dataset['reject_reason']}) in {elapsed:.2f} s; datasets grew {growth.grown_mib:.1f} "
        f"MiB (peak {growth.peak_mib:.1f}); {dataset['reject_message']}"
    )
    return dataset, elapsed, growth.grown_mib


CASES: dict[str, tuple[Callable[[Path], bytes], str, str]] = {
    "rows.parquet": (sixty_million_rows, "too_many_rows", "60,000,000 rows; at most 10,000,000"),
    "line.csv": (lambda _: too_long_line(), "too_large", "Line 2 of the file is longer than"),
    "columns.csv": (lambda _: too_many_columns(), "too_large", "2,002 columns; at most 64"),
}


def removed(object_store: Path, size: int) -> bool | None:
    """True once no file in the store has ``size`` bytes (each case's upload has its own size)."""
    stored = [p for p in object_store.rglob("*") if p.is_file() and p.stat().st_size == size]
    return None if stored else True


@pytest.mark.parametrize("name", list(CASES))
def test_an_upload_over_a_bound_is_rejected_quickly_without_growing(
    name: str,
    stack: Stack,
    gateway: httpx.Client,
    user_token: str,
    object_store: Path,
    tmp_path: Path,
) -> None:
    make, reason, detail = CASES[name]
    content = make(tmp_path / name)

    dataset, elapsed, grown_mib = rejected(stack, gateway, user_token, name, content)

    assert dataset["status"] == "rejected", dataset
    assert dataset["reject_reason"] == reason
    assert detail in dataset["reject_message"]
    assert elapsed < REJECTION_S
    assert grown_mib < MEMORY_BOUND_MIB
    wait_for(partial(removed, object_store, len(content)), 5, f"{name}'s raw file removed")
    assert_all_healthy(stack)


def test_a_quick_backtest_of_sixty_million_rows_is_refused_with_422_without_growing(
    stack: Stack, gateway: httpx.Client, user_token: str, tmp_path: Path
) -> None:
    content = sixty_million_rows(tmp_path / "rows.parquet")
    with memory_growth(stack, "datasets") as growth:
        started = time.monotonic()
        response = gateway.post(
            "/api/v1/backtests/quick",
            headers=auth(user_token),
            files={"file": ("rows.parquet", content, "application/octet-stream")},
            data={"strategy": "sma_cross", "parameters": '{"fast": 10, "slow": 50}'},
        )
        elapsed = time.monotonic() - started
    problem = response.json()
    print(
        f"\nquick rows.parquet: {response.status_code} ({problem.get('reason')}) in "
        f"{elapsed:.2f} s; datasets grew {growth.grown_mib:.1f} MiB; {problem.get('detail')}"
    )
    assert response.status_code == 422, response.text
    assert (problem["code"], problem["reason"]) == ("rejected", "too_many_rows")
    assert elapsed < REJECTION_S
    assert growth.grown_mib < MEMORY_BOUND_MIB
    assert_all_healthy(stack)
