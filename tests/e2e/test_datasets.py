"""Datasets through the gateway: upload, ingest, quality, preview, download, delete, isolation."""

import csv
import io
import math
from datetime import UTC, datetime, timedelta
from importlib.resources import files
from pathlib import Path
from typing import Any

import httpx
import polars as pl
import pytest

from tests.e2e.helpers import auth
from tests.polling import wait_for

pytestmark = pytest.mark.e2e

GOOG = files("backtesting.test") / "GOOG.csv"


def upload(
    gateway: httpx.Client, token: str, content: bytes, filename: str = "data.csv", **fields: str
) -> httpx.Response:
    return gateway.post(
        "/api/v1/datasets",
        headers=auth(token),
        files={"file": (filename, content, "text/csv")},
        data=fields,
    )


def settled(gateway: httpx.Client, token: str, dataset_id: str) -> dict[str, Any]:
    def probe() -> dict[str, Any] | None:
        body: dict[str, Any] = gateway.get(
            f"/api/v1/datasets/{dataset_id}", headers=auth(token)
        ).json()
        return body if body["status"] != "pending" else None

    return wait_for(probe, 60, f"dataset {dataset_id} ingested")


def goog_reference() -> list[dict[str, str]]:
    """The GOOG file read with the csv module: an oracle independent of our parser."""
    return list(csv.DictReader(io.StringIO(GOOG.read_text())))


def minute_bars() -> tuple[bytes, int]:
    """Three sessions of 1-minute bars, 09:30-15:59 New York time, naive timestamps."""
    lines, price = ["timestamp,open,high,low,close,volume"], 100.0
    for day in (datetime(2024, 3, 4), datetime(2024, 3, 5), datetime(2024, 3, 6)):  # noqa: DTZ001
        t = day.replace(hour=9, minute=30)
        while t.hour < 16:
            price *= 1 + 0.0005 * math.sin(len(lines))
            lines.append(
                f"{t:%Y-%m-%d %H:%M:%S},{price},{price * 1.001},{price * 0.999},{price},10"
            )
            t += timedelta(minutes=1)
    return ("\n".join(lines) + "\n").encode(), len(lines) - 1


def test_goog_daily_becomes_ready_with_its_facts(gateway: httpx.Client, user_token: str) -> None:
    reference = goog_reference()
    response = upload(gateway, user_token, GOOG.read_bytes(), "GOOG.csv", symbol="GOOG")
    assert response.status_code == 202, response.text
    assert response.json()["status"] == "pending"
    dataset = settled(gateway, user_token, response.json()["id"])

    assert dataset["status"] == "ready", dataset
    assert dataset["timeframe"] == "1d"
    assert dataset["rows"] == len(reference)
    # GOOG.csv's date column has an empty header (a pandas index written out).
    assert dataset["start"] == f"{reference[0]['']}T00:00:00Z"
    assert dataset["end"] == f"{reference[-1]['']}T00:00:00Z"
    assert dataset["columns"] == ["time", "open", "high", "low", "close", "volume"]
    assert dataset["quality_score"] > 90

    quality = gateway.get(f"/api/v1/datasets/{dataset['id']}/quality", headers=auth(user_token))
    assert quality.status_code == 200
    assert quality.json()["score"] == dataset["quality_score"]


def test_goog_preview_and_downloads_round_trip_the_data_exactly(
    gateway: httpx.Client, user_token: str
) -> None:
    reference = goog_reference()
    created = upload(gateway, user_token, GOOG.read_bytes(), "GOOG.csv").json()
    dataset = settled(gateway, user_token, created["id"])
    url = f"/api/v1/datasets/{dataset['id']}"

    preview = gateway.get(f"{url}/preview", params={"rows": 3}, headers=auth(user_token)).json()
    assert [row["close"] for row in preview["head"]] == [float(r["Close"]) for r in reference[:3]]
    assert [row["close"] for row in preview["tail"]] == [float(r["Close"]) for r in reference[-3:]]
    closes = [float(r["Close"]) for r in reference]
    assert preview["summary"]["close"]["max"] == max(closes)
    assert math.isclose(preview["summary"]["close"]["mean"], sum(closes) / len(closes))

    csv_body = gateway.get(f"{url}/download", headers=auth(user_token))
    assert csv_body.status_code == 200
    downloaded = list(csv.DictReader(io.StringIO(csv_body.text)))
    assert len(downloaded) == len(reference)
    for ours, theirs in zip(downloaded, reference, strict=True):
        assert ours["time"] == f"{theirs['']}T00:00:00Z"
        for column in ("Open", "High", "Low", "Close", "Volume"):
            assert float(ours[column.lower()]) == float(theirs[column])

    parquet = gateway.get(f"{url}/download", params={"format": "parquet"}, headers=auth(user_token))
    frame = pl.read_parquet(io.BytesIO(parquet.content))
    assert frame["close"].to_list() == closes
    assert frame["time"].dtype == pl.Datetime("us", "UTC")


def test_minute_data_in_new_york_time_is_stored_in_utc(
    gateway: httpx.Client, user_token: str
) -> None:
    content, rows = minute_bars()
    created = upload(gateway, user_token, content, "bars.csv", timezone="America/New_York")
    dataset = settled(gateway, user_token, created.json()["id"])
    assert dataset["status"] == "ready", dataset
    assert dataset["timeframe"] == "1m"
    assert dataset["rows"] == rows
    # 09:30 EST (UTC-5 on 2024-03-04) is 14:30 UTC.
    assert datetime.fromisoformat(dataset["start"]) == datetime(2024, 3, 4, 14, 30, tzinfo=UTC)


def test_the_same_file_twice_returns_the_existing_dataset(
    gateway: httpx.Client, user_token: str
) -> None:
    content, _ = minute_bars()
    first = upload(gateway, user_token, content + b"\n")
    second = upload(gateway, user_token, content + b"\n")
    assert first.status_code == 202
    assert second.status_code == 200
    assert second.json()["id"] == first.json()["id"]


def test_another_users_dataset_answers_404_everywhere(
    gateway: httpx.Client, user_token: str
) -> None:
    content, _ = minute_bars()
    created = upload(gateway, user_token, content + b"\n\n").json()
    settled(gateway, user_token, created["id"])
    other = gateway.post(
        "/api/v1/auth/register",
        json={"email": f"other-{created['id'][:8]}@example.com", "password": "another long one"},
    ).json()["access_token"]
    url = f"/api/v1/datasets/{created['id']}"
    for method, path in [
        ("GET", ""),
        ("GET", "/quality"),
        ("GET", "/preview"),
        ("GET", "/download"),
        ("DELETE", ""),
    ]:
        response = gateway.request(method, url + path, headers=auth(other))
        assert response.status_code == 404, (method, path)
    assert created["id"] not in [
        d["id"] for d in gateway.get("/api/v1/datasets", headers=auth(other)).json()["items"]
    ]
    assert gateway.get(url, headers=auth(user_token)).status_code == 200


def test_list_filters_and_pages(gateway: httpx.Client, user_token: str) -> None:
    content, _ = minute_bars()
    for i in range(3):
        upload(gateway, user_token, content + b"\n" * (3 + i), symbol="SPY" if i else "QQQ")
    page = gateway.get(
        "/api/v1/datasets", params={"symbol": "SPY", "limit": 1}, headers=auth(user_token)
    ).json()
    assert page["total"] == 2
    assert len(page["items"]) == 1
    assert page["items"][0]["symbol"] == "SPY"


def test_delete_removes_the_dataset_and_its_files(
    gateway: httpx.Client, user_token: str, object_store: Path
) -> None:
    content, _ = minute_bars()
    created = upload(gateway, user_token, content + b"\n" * 9).json()
    settled(gateway, user_token, created["id"])
    parquet_files = set(object_store.rglob("*.parquet"))
    url = f"/api/v1/datasets/{created['id']}"
    assert gateway.delete(url, headers=auth(user_token)).status_code == 204
    assert gateway.get(url, headers=auth(user_token)).status_code == 404
    # Parquet is keyed by owner and content, and only this dataset uses this user's file.
    remaining = set(object_store.rglob("*.parquet"))
    assert remaining < parquet_files
    assert len(parquet_files - remaining) == 1


BAD_INPUTS: dict[str, tuple[bytes, str]] = {
    "empty file": (b"", "empty_file"),
    "header only": (b"date,open,high,low,close\n", "header_only"),
    "binary bytes": (bytes(range(256)) * 8, "not_utf8"),
    "latin-1 bytes": (
        "date,close\n2024-01-02,1\n2024-01-03,2\ncaf\xe9,3\n".encode("latin-1"),
        "not_utf8",
    ),
    "no time column": (b"open,close\n1,2\n3,4\n", "no_time_column"),
    "no close column": (b"date,open\n2024-01-02,1\n2024-01-03,2\n", "no_close_column"),
    "non-numeric prices": (b"date,close\n2024-01-02,1\n2024-01-03,abc\n", "non_numeric_prices"),
    "zero price": (b"date,close\n2024-01-02,1\n2024-01-03,0\n", "non_positive_prices"),
    "negative price": (b"date,close\n2024-01-02,1\n2024-01-03,-2\n", "non_positive_prices"),
    "unparseable dates": (b"date,close\n2024-01-02,1\nnot a date,2\n", "unparseable_dates"),
    "same timestamp": (b"date,close\n2024-01-02,1\n2024-01-02,1\n", "single_timestamp"),
    "more columns than header": (b"date,close\n2024-01-02,1,7\n2024-01-03,2\n", "ragged_rows"),
}


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_bad_input_is_rejected_with_a_reason_and_leaves_no_file(
    gateway: httpx.Client, user_token: str, object_store: Path, case: str
) -> None:
    content, reason = BAD_INPUTS[case]
    response = upload(gateway, user_token, content, f"{case}.csv")
    assert response.status_code == 202, response.text
    dataset = settled(gateway, user_token, response.json()["id"])
    assert dataset["status"] == "rejected"
    assert dataset["reject_reason"] == reason
    assert dataset["reject_message"]
    assert not list(object_store.glob(f"raw/*/{dataset['id']}")), "raw upload left behind"
    quality = gateway.get(f"/api/v1/datasets/{dataset['id']}/quality", headers=auth(user_token))
    assert quality.status_code == 409


@pytest.mark.parametrize(
    "content",
    [
        b"\xef\xbb\xbfdate,close\r\n2024-01-02,1\r\n2024-01-03,2\r\n",
        b"Date;Close\n2024-01-02;1\n2024-01-03;2\n",
    ],
    ids=["bom and crlf", "semicolons"],
)
def test_bom_crlf_and_other_delimiters_are_accepted(
    gateway: httpx.Client, user_token: str, content: bytes
) -> None:
    dataset = settled(gateway, user_token, upload(gateway, user_token, content).json()["id"])
    assert dataset["status"] == "ready", dataset
    assert dataset["rows"] == 2


def test_file_over_the_limit_is_refused_with_413_and_leaves_nothing(
    gateway: httpx.Client, user_token: str, object_store: Path
) -> None:
    before = {p for p in object_store.rglob("*") if p.is_file()}
    big = b"date,close\n" + b"2024-01-02,1\n" * (6 * 1024 * 1024 // 13)
    # Sent chunked (no Content-Length), so the limit is enforced while streaming.
    response = gateway.post(
        "/api/v1/datasets",
        headers={**auth(user_token), "Content-Type": "multipart/form-data; boundary=xyz"},
        content=iter(
            [
                b'--xyz\r\nContent-Disposition: form-data; name="file"; filename="big.csv"\r\n\r\n',
                big,
                b"\r\n--xyz--\r\n",
            ]
        ),
    )
    assert response.status_code == 413
    assert response.json()["code"] == "too_large"
    assert {p for p in object_store.rglob("*") if p.is_file()} == before


def test_upload_needs_a_token(gateway: httpx.Client) -> None:
    assert upload(gateway, "not-a-token", b"date,close\n").status_code == 401
